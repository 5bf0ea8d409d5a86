"""The real kubectl (1.32) drives rollouts on the sandbox cluster's controllers.

Covers: a 3-replica Deployment of an image pushed to the sandbox Gitea registry,
pulled with a `gitea-credentials` secret made by `kubectl create secret
docker-registry`; `kubectl set image` + `annotate kubernetes.io/change-cause`;
`kubectl rollout status` (success, and failure on the progress deadline);
`kubectl rollout history` (both revisions and their change-causes); `kubectl rollout
undo` (back to the first template, pods running the first image's digest); a
missing tag showing `ErrImagePull` / `ImagePullBackOff` in `kubectl get pods` and a
`Failed` event saying the image was not found in `kubectl get events`; probes on a
path the app doesn't serve: `kubectl describe pod` shows the probes and the
`Unhealthy` / `Killing` events, `kubectl get events` lists them with reason `Unhealthy`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from sandbox.cluster.server import SandboxCluster
from sandbox.registry.gitea import GiteaRegistry
from sandbox.registry.images import build_image
from tests.fixtures.cluster import kubectl_path, run_kubectl
from tests.fixtures.registry import ADMIN_TOKEN

pytestmark = pytest.mark.kubectl

FIRST, SECOND, MISSING = "1a2b3c4", "5d6e7f8", "0000000"
Kubectl = Callable[..., Awaitable[subprocess.CompletedProcess[str]]]


def deployment(image: str, *, name: str = "api", deadline: int | None = None) -> str:
    extra = f"  progressDeadlineSeconds: {deadline}\n" if deadline is not None else ""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  annotations:
    kubernetes.io/change-cause: deploy {FIRST}
spec:
  replicas: 3
{extra}  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      imagePullSecrets:
      - name: gitea-credentials
      containers:
      - name: api
        image: {image}
        ports:
        - containerPort: 8080
"""


@pytest.fixture
async def registry() -> AsyncIterator[GiteaRegistry]:
    async with GiteaRegistry(users={"admin": ADMIN_TOKEN}) as reg:
        reg.seed("admin/api", FIRST, build_image(salt=FIRST))
        reg.seed("admin/api", SECOND, build_image(salt=SECOND))
        yield reg


@pytest.fixture
async def kubectl(
    kubeconfig: Path, registry: GiteaRegistry, sandbox_cluster: SandboxCluster
) -> Kubectl:
    """`await kubectl(*args)` (checked), with the pull secret for the registry in place."""
    kubectl_path()

    async def run(
        *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return await run_kubectl(kubeconfig, *args, check=check, stdin=stdin)

    # kubectl generates the secret; `apply` sends it as JSON (the sandbox speaks no protobuf).
    secret = await run(
        "create", "secret", "docker-registry", "gitea-credentials",
        f"--docker-server={registry.host}", "--docker-username=admin",
        f"--docker-password={ADMIN_TOKEN}", "--dry-run=client", "-o", "yaml",
    )  # fmt: skip
    await run("apply", "-f", "-", stdin=secret.stdout)
    return run


async def running_images(kubectl: Kubectl, app: str) -> list[tuple[str, str]]:
    """(image, imageID) of every container of the app's pods that are not terminating."""
    pods = json.loads((await kubectl("get", "pods", "-l", f"app={app}", "-o", "json")).stdout)
    return sorted(
        (c["image"], c["imageID"])
        for p in pods["items"]
        if not p["metadata"].get("deletionTimestamp")
        for c in p["status"].get("containerStatuses", [])
    )


def history_rows(text: str) -> list[list[str]]:
    return [line.split(None, 1) for line in text.splitlines()[2:] if line.strip()]


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 20.0) -> None:
    """Poll `check` (each call runs kubectl) until it holds; fail after `seconds`."""
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 (polling an outside process)
            await asyncio.sleep(0.1)


async def test_set_image_history_and_undo(kubectl: Kubectl, registry: GiteaRegistry) -> None:
    first = f"{registry.host}/admin/api:{FIRST}"
    second = f"{registry.host}/admin/api:{SECOND}"
    first_id = f"{registry.host}/admin/api@" + registry.seed(
        "admin/api", FIRST, build_image(salt=FIRST)
    )
    await kubectl("apply", "-f", "-", stdin=deployment(first))
    done = await kubectl("rollout", "status", "deployment/api", "--timeout=60s")
    assert 'deployment "api" successfully rolled out' in done.stdout
    assert await running_images(kubectl, "api") == [(first, first_id)] * 3

    await kubectl("set", "image", "deployment/api", f"api={second}")
    await kubectl(
        "annotate", "deployment/api", f"kubernetes.io/change-cause=deploy {SECOND}", "--overwrite"
    )
    done = await kubectl("rollout", "status", "deployment/api", "--timeout=60s")
    assert 'deployment "api" successfully rolled out' in done.stdout
    assert [image for image, _ in await running_images(kubectl, "api")] == [second] * 3

    history = (await kubectl("rollout", "history", "deployment/api")).stdout
    assert history_rows(history) == [["1", f"deploy {FIRST}"], ["2", f"deploy {SECOND}"]], history

    undo = await kubectl("rollout", "undo", "deployment/api")
    assert "rolled back" in undo.stdout
    await kubectl("rollout", "status", "deployment/api", "--timeout=60s")
    got = json.loads((await kubectl("get", "deployment/api", "-o", "json")).stdout)
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == first
    assert await running_images(kubectl, "api") == [(first, first_id)] * 3
    # The first ReplicaSet is re-used and becomes revision 3.
    history = (await kubectl("rollout", "history", "deployment/api")).stdout
    assert history_rows(history) == [["2", f"deploy {SECOND}"], ["3", f"deploy {FIRST}"]], history


async def test_missing_tag_shows_image_pull_errors(
    kubectl: Kubectl, registry: GiteaRegistry
) -> None:
    missing = f"{registry.host}/admin/api:{MISSING}"
    await kubectl("apply", "-f", "-", stdin=deployment(missing))

    async def pods_fail_to_pull() -> bool:
        table = (await kubectl("get", "pods", "-l", "app=api")).stdout
        return any(word in table for word in ("ErrImagePull", "ImagePullBackOff"))

    await eventually(pods_fail_to_pull)

    async def back_off_shows() -> bool:
        return "ImagePullBackOff" in (await kubectl("get", "pods", "-l", "app=api")).stdout

    await eventually(back_off_shows)
    events = (await kubectl("get", "events", "--field-selector", "reason=Failed")).stdout
    assert f'Failed to pull image "{missing}"' in events
    assert f"{missing}: not found" in events
    assert "Error: ErrImagePull" in events


async def test_rollout_status_fails_at_the_progress_deadline(
    kubectl: Kubectl, registry: GiteaRegistry
) -> None:
    missing = f"{registry.host}/admin/api:{MISSING}"
    await kubectl("apply", "-f", "-", stdin=deployment(missing, name="stuck", deadline=5))
    result = await kubectl("rollout", "status", "deployment/stuck", "--timeout=60s", check=False)
    assert result.returncode != 0
    assert 'deployment "stuck" exceeded its progress deadline' in result.stderr
    got = json.loads((await kubectl("get", "deployment/stuck", "-o", "json")).stdout)
    progressing = next(c for c in got["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert progressing["message"].endswith("has timed out progressing.")


async def test_probe_failures_show_in_describe_and_get_events(
    kubectl: Kubectl, registry: GiteaRegistry
) -> None:
    image = f"{registry.host}/admin/api:{FIRST}"
    manifest = (
        deployment(image, name="admin")
        .replace(
            "      labels: {app: admin}\n",
            "      labels: {app: admin}\n"
            "      annotations: {sandbox.deckhand.dev/healthy-paths: /}\n",
        )
        .replace(
            "        - containerPort: 8080\n",
            "        - containerPort: 8080\n"
            "        readinessProbe: {httpGet: {path: /admin/, port: 8080}, periodSeconds: 5}\n"
            "        livenessProbe: {httpGet: {path: /admin/, port: 8080}, periodSeconds: 5}\n",
        )
    )
    await kubectl("apply", "-f", "-", stdin=manifest)

    async def killed() -> bool:
        got = await kubectl("get", "events", "--field-selector", "reason=Killing")
        return "failed liveness probe, will be restarted" in got.stdout

    await eventually(killed, seconds=40)
    events = (await kubectl("get", "events", "--field-selector", "reason=Unhealthy")).stdout
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in events
    assert "Liveness probe failed: HTTP probe failed with statuscode: 404" in events
    pods = json.loads((await kubectl("get", "pods", "-l", "app=admin", "-o", "json")).stdout)
    name = pods["items"][0]["metadata"]["name"]
    described = (await kubectl("describe", "pod", name)).stdout
    assert (
        "Liveness:       http-get http://:8080/admin/ delay=0s timeout=1s period=5s "
        "#success=1 #failure=3"
    ) in described
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in described
    assert "Container api failed liveness probe, will be restarted" in described
    lines = [line.split() for line in described.splitlines()]
    assert any(line[:2] == ["Warning", "Unhealthy"] for line in lines), described
