"""kubernetes-asyncio loaded through `bot.kube.lazy_import`: importing Deckhand's Kubernetes
client doesn't load the ~1,000 generated API and model modules, and the library still
resolves every public name on first use (a fresh interpreter, so the check is real)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import bot.kube.client  # installs the lazy packages, then loads what the client needs
generated = [m for m in sys.modules if m.startswith("kubernetes_asyncio.client.models.")]
assert len(generated) < 20, len(generated)
from kubernetes_asyncio import client, config
assert client.V1Pod.__name__ == "V1Pod"
assert client.CoreV1Api.__name__ == "CoreV1Api"
assert client.ApiClient.__name__ == "ApiClient"
assert client.ApiException.__name__ == "ApiException"
from kubernetes_asyncio.client.models import V1ObjectMeta
from kubernetes_asyncio.client.rest import RESTClientObject
import kubernetes_asyncio.client.models as models
assert getattr(models, "V1Deployment").__name__ == "V1Deployment"
print("ok", len([m for m in sys.modules if m.startswith("kubernetes_asyncio")]))
"""


def test_generated_code_loads_only_on_use() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
    assert int(result.stdout.split()[1]) < 200  # the eager import loads ~1,300
