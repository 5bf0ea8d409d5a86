"""Load kubernetes-asyncio without its ~1,300 generated modules (≈40 MB of RSS).

`kubernetes_asyncio.client/__init__.py` imports every generated API class and model,
and `api_client.py` imports `client.models`, which imports the rest. Deckhand uses
`Configuration`, `ApiClient` and the kubeconfig / in-cluster loaders only: its calls
are raw HTTP (`bot/kube/client.py`). Measured in `bench/` (docs/benchmarks.md): idle
`deckhand run` RSS went from ≈100 MB to ≈60 MB with this.

`install()` puts lazy package objects in `sys.modules` for `kubernetes_asyncio.client`,
`.client.api` and `.client.models` before anything imports them. Each is a real
package object (same `__path__`, so `import kubernetes_asyncio.client.configuration`
works as usual) whose attributes are imported on first access (PEP 562 module
`__getattr__`): `client.V1Pod` imports `client/models/v1_pod.py`, `client.CoreV1Api`
imports `client/api/core_v1_api.py`. Code that uses the library normally keeps
working; it only pays for what it touches. Call it before the first import of
`kubernetes_asyncio` (`bot/kube/__init__.py` does); a no-op when already loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path

_PACKAGE = "kubernetes_asyncio"
# Names `client/__init__.py` exports that don't follow the class ↔ module naming.
_CLIENT_NAMES = {
    "ApiClient": "api_client",
    "Configuration": "configuration",
    "OpenApiException": "exceptions",
    "ApiAttributeError": "exceptions",
    "ApiTypeError": "exceptions",
    "ApiValueError": "exceptions",
    "ApiKeyError": "exceptions",
    "ApiException": "exceptions",
}


def _snake(name: str) -> str:
    """`CoreV1Api` → `core_v1_api`, `V1ObjectMeta` → `v1_object_meta`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _lazy_package(name: str, path: Path, resolve: types.FunctionType) -> types.ModuleType:
    module = types.ModuleType(name, f"{name} (loaded lazily by bot.kube.lazy_import)")
    module.__path__ = [str(path)]
    module.__package__ = name
    module.__spec__ = importlib.util.spec_from_file_location(
        name, path / "__init__.py", submodule_search_locations=[str(path)]
    )
    module.__getattr__ = resolve  # type: ignore[method-assign]
    return module


def install() -> None:
    """Make the generated parts of kubernetes-asyncio load on first use (see above)."""
    if _PACKAGE in sys.modules or f"{_PACKAGE}.client" in sys.modules:
        return
    spec = importlib.util.find_spec(_PACKAGE)  # finds, doesn't execute, the package
    if spec is None or not spec.submodule_search_locations:
        return
    root = Path(next(iter(spec.submodule_search_locations))) / "client"

    def from_models(attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(importlib.import_module(f"{_PACKAGE}.client.models.{_snake(attr)}"), attr)

    def from_apis(attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(importlib.import_module(f"{_PACKAGE}.client.api.{_snake(attr)}"), attr)

    def from_client(attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr in _CLIENT_NAMES:
            return getattr(
                importlib.import_module(f"{_PACKAGE}.client.{_CLIENT_NAMES[attr]}"), attr
            )
        if (root / f"{attr}.py").exists() or (root / attr).is_dir():
            return importlib.import_module(f"{_PACKAGE}.client.{attr}")
        return from_apis(attr) if attr.endswith("Api") else from_models(attr)

    sys.modules[f"{_PACKAGE}.client.models"] = _lazy_package(
        f"{_PACKAGE}.client.models",
        root / "models",
        from_models,  # type: ignore[arg-type]
    )
    sys.modules[f"{_PACKAGE}.client.api"] = _lazy_package(
        f"{_PACKAGE}.client.api",
        root / "api",
        from_apis,  # type: ignore[arg-type]
    )
    sys.modules[f"{_PACKAGE}.client"] = _lazy_package(
        f"{_PACKAGE}.client",
        root,
        from_client,  # type: ignore[arg-type]
    )
