"""Where Deckhand's Kubernetes credentials come from, resolved as kubectl resolves them.

    source = kube_source(settings)                      # or explicit=args.kubeconfig
    async with open_kube_client(source, context="prod") as kube: ...

The order (kubectl's, plus Deckhand's own variable first):

1. `--kubeconfig` / `DECKHAND_KUBECONFIG`: that one file;
2. `KUBECONFIG`: a colon-separated list of files, merged: for clusters, contexts and
   users the first file naming one wins, and so does the first `current-context`;
   files that don't exist are skipped (an empty list falls through);
3. in-cluster, when the pod's service-account token exists
   (`/var/run/secrets/kubernetes.io/serviceaccount/token`);
4. `~/.kube/config`.

An environment's `kube_context` selects a context in whichever of these is used
(in-cluster has none: naming one there is an error, said as such). `resolve` and
`merge_kubeconfigs` are pure; `kube_source` looks at the filesystem only.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.kube.client import KubeClient, KubeOptions
from bot.kube.errors import BadKubeconfig
from bot.settings import Settings

KUBECONFIG_HELP = (
    "default: DECKHAND_KUBECONFIG, else KUBECONFIG, else in-cluster, else ~/.kube/config"
)
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
DEFAULT_KUBECONFIG = Path(".kube") / "config"
# Per-entry fields holding a file path, resolved against the file that names them.
_PATH_FIELDS = {
    "clusters": ("cluster", ("certificate-authority",)),
    "users": ("user", ("client-certificate", "client-key", "tokenFile")),
}


@dataclass(frozen=True)
class KubeSource:
    """The credentials to use: kubeconfig `files` (merged, first wins), or in-cluster."""

    files: tuple[Path, ...] = ()
    origin: str = "in-cluster"
    """What chose it (for messages): DECKHAND_KUBECONFIG, KUBECONFIG, ~/.kube/config."""

    @property
    def in_cluster(self) -> bool:
        return not self.files

    def describe(self) -> str:
        if self.in_cluster:
            return "the in-cluster service account"
        return f"{self.origin} ({os.pathsep.join(str(f) for f in self.files)})"


def resolve(
    *,
    explicit: Path | None,
    kubeconfig_env: str | None,
    home: Path,
    in_cluster: bool,
    exists: Any = Path.exists,
) -> KubeSource:
    """kubectl's order (see the module docstring). `exists(path)` is asked of KUBECONFIG's
    files only. Pure but for `exists`."""
    if explicit is not None:
        return KubeSource((explicit,), "DECKHAND_KUBECONFIG")
    if kubeconfig_env:
        listed = [Path(p).expanduser() for p in kubeconfig_env.split(os.pathsep) if p]
        found = tuple(dict.fromkeys(p for p in listed if exists(p)))
        if found:
            return KubeSource(found, "KUBECONFIG")
    if in_cluster:
        return KubeSource()
    return KubeSource((home / DEFAULT_KUBECONFIG,), "~/.kube/config")


def kube_source(settings: Settings, *, explicit: Path | None = None) -> KubeSource:
    """Where this process's credentials come from (`explicit`: a --kubeconfig flag)."""
    return resolve(
        explicit=explicit or settings.kubeconfig,
        kubeconfig_env=settings.kubeconfig_env,
        home=Path.home(),
        in_cluster=SERVICE_ACCOUNT_TOKEN.exists(),
    )


def _absolute(entry: Mapping[str, Any], kind: str, base: Path) -> dict[str, Any]:
    inner_key, fields = _PATH_FIELDS.get(kind, ("", ()))
    entry = dict(entry)
    inner = entry.get(inner_key)
    if isinstance(inner, dict):
        inner = dict(inner)
        for name in fields:
            value = inner.get(name)
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                inner[name] = str(base / value)
        entry[inner_key] = inner
    return entry


def merge_kubeconfigs(documents: Sequence[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any]:
    """One kubeconfig from several, as kubectl merges KUBECONFIG: per name, the first
    file's cluster / context / user wins; the first `current-context` set wins;
    relative file paths are resolved against the file that names them. Pure."""
    merged: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "contexts": [],
        "users": [],
    }
    for path, document in documents:
        for kind in ("clusters", "contexts", "users"):
            known = {e.get("name") for e in merged[kind]}
            for entry in document.get(kind) or []:
                if isinstance(entry, Mapping) and entry.get("name") not in known:
                    merged[kind].append(_absolute(entry, kind, path.parent))
                    known.add(entry.get("name"))
        if not merged.get("current-context") and document.get("current-context"):
            merged["current-context"] = document["current-context"]
    return merged


def _read(path: Path) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise BadKubeconfig(str(path), type(e).__name__) from e
    if not isinstance(document, Mapping):
        raise BadKubeconfig(str(path), "not a kubeconfig (no mapping at the top)")
    return document


@asynccontextmanager
async def open_kube_client(
    source: KubeSource, *, context: str | None = None, options: KubeOptions | None = None
) -> AsyncIterator[KubeClient]:
    """A client from `source` (a `context` in it, or its current one). `BadKubeconfig`
    when the credentials can't be loaded."""
    if source.in_cluster:
        if context is not None:
            raise BadKubeconfig(
                "the in-cluster service account", f"it has no kube context {context!r}"
            )
        async with KubeClient.in_cluster(options=options) as kube:
            yield kube
        return
    if len(source.files) == 1:
        async with KubeClient.from_kubeconfig(
            source.files[0], context=context, options=options
        ) as kube:
            yield kube
        return
    merged = merge_kubeconfigs([(path, _read(path)) for path in source.files])
    async with KubeClient.from_config_dict(
        merged, where=source.describe(), context=context, options=options
    ) as kube:
        yield kube
