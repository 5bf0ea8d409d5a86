"""The side panel's "break it" buttons: failures a visitor stages to watch Deckhand react.

`Breakers` acts on a running `SandboxEnv` directly (in-process, like an operator with
admin rights would): revoke or rotate the registry token the pods pull with, delete an
image tag, stage a crash in a Deployment's pods, point a Deployment's probes at another
path (admin's "probe path → /admin/", the seed's 404 incident), restart a pod, push a
new image (good amd64, arm64-only, a bad tag) that Gitea's webhook announces. A restarted pod would
find its image already on the node (pull policy `IfNotPresent`) and never pull, so
"restart" also evicts that image from every node's image store (what image garbage
collection or a fresh node does): the replacement pulls, with the current pull secret.

Every method returns a one-line description of what it did for the page to show, and
raises `BreakError` (a short, user-facing message) on a bad
request: unknown namespace, deployment, pod or tag.

Deckhand has its own registry token (see `sandbox.demo.run`): revoking the pods' token
breaks pulls, not Deckhand's own registry checks — as when a pull secret goes stale.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from sandbox.cluster.controllers.knobs import CRASH
from sandbox.cluster.errors import ApiError
from sandbox.cluster.imageref import BadReference, containerd_ref, parse_ref
from sandbox.cluster.resources import DEPLOYMENTS, PODS, SECRETS
from sandbox.env import ARM64, ENVIRONMENTS, OWNER, PULL_SECRET, SERVICES, SandboxEnv
from sandbox.registry.store import StoreError

CRASH_KNOB = "exit-code=1,after=1,message=panic: demo crash staged from the sandbox panel"


class BreakError(ValueError):
    """The request names something that does not exist (message shown to the visitor)."""


def repository_name(service: str) -> str:
    """The registry repository (owner/name) of a seeded service."""
    return f"{OWNER}/honeydue-{service}"


class Breakers:
    """Staged failures on one `SandboxEnv` (see the module docstring)."""

    def __init__(self, env: SandboxEnv) -> None:
        self._env = env
        self.token_revoked = False
        self.changes = 0  # bumped by every action (the page's feed watches it)
        self._pushes = 0

    def _namespace(self, namespace: str) -> str:
        if namespace not in ENVIRONMENTS.values():
            raise BreakError(f"no namespace {namespace!r} in the sandbox")
        return namespace

    def revoke_token(self) -> str:
        """Revoke the token in the pods' pull secret (pulls then fail with 401)."""
        self._env.registry.revoke_token(self._env.token)
        self.token_revoked = True
        self.changes += 1
        return f"revoked the registry token in the pull secret `{PULL_SECRET}`"

    def restore_token(self) -> str:
        """Issue a new token, put it in every pull secret, revoke the old one."""
        old, new = self._env.token, "gta_" + secrets.token_hex(20)
        self._env.registry.add_user(OWNER, new)
        self._env.token = new
        data = self._env.pull_secret()["data"]
        for namespace in ENVIRONMENTS.values():
            self._env.cluster.store.mutate(
                SECRETS, namespace, PULL_SECRET, lambda obj: obj.update(data=data)
            )
        self._env.registry.revoke_token(old)
        self.token_revoked = False
        self.changes += 1
        return f"issued a new registry token and updated `{PULL_SECRET}` in every namespace"

    def delete_tag(self, service: str, tag: str) -> str:
        """Delete `tag` from the service's repository (the registry keeps the blobs)."""
        if service not in {s.name for s in SERVICES}:
            raise BreakError(f"no service {service!r} in the sandbox")
        if tag.lower() not in self._tags(service):
            raise BreakError(f"no tag {tag!r} in {repository_name(service)}")
        self._env.registry.delete_tag(repository_name(service), tag)
        self.changes += 1
        return f"deleted tag `{tag}` from `{repository_name(service)}`"

    def push_image(self, service: str, kind: str) -> str:
        """Push a new image of `service`, as the operator's `docker buildx … --push`:
        `good` (linux/amd64, a new tag of the newest commit), `arm64` (built on the
        laptop: linux/arm64 only) or `bad-tag` (a tag the policy refuses). Gitea then
        sends its package webhook and Deckhand announces it."""
        if service not in {s.name for s in SERVICES}:
            raise BreakError(f"no service {service!r} in the sandbox")
        seeded = next(s for s in SERVICES if s.name == service)
        revision = self._env.revision(service, seeded.good[-1]) or ""
        self._pushes += 1
        if kind == "good":
            tag = f"{revision[:7]}{self._pushes:x}"[:12]
            self._env.push(service, tag, revision=revision or None)
        elif kind == "arm64":
            tag = f"{secrets.token_hex(4)}"[:7]
            self._env.push(service, tag, platforms=[ARM64])
        elif kind == "bad-tag":
            tag = f"release-{self._pushes}"
            self._env.push(service, tag)
        else:
            raise BreakError(f"no such push {kind!r} (good, arm64 or bad-tag)")
        self.changes += 1
        return f"pushed `{repository_name(service)}:{tag}` ({kind}) as alice"

    def stage_crash(self, namespace: str, deployment: str, *, crash: bool) -> str:
        """Annotate (or un-annotate) the pod template so new pods crash (a rollout starts)."""

        def edit(obj: dict[str, Any]) -> None:
            meta = obj["spec"]["template"].setdefault("metadata", {})
            notes = meta.setdefault("annotations", {})
            if crash:
                notes[CRASH] = CRASH_KNOB
            else:
                notes.pop(CRASH, None)

        try:
            self._env.cluster.store.mutate(
                DEPLOYMENTS, self._namespace(namespace), deployment, edit
            )
        except ApiError as e:
            raise BreakError(f"no deployment {deployment!r} in {namespace}") from e
        if crash:
            return f"{namespace}/{deployment}: new pods will crash (CrashLoopBackOff)"
        return f"{namespace}/{deployment}: crash removed; new pods start normally"

    def probe_path(self, namespace: str, deployment: str, *, path: str) -> str:
        """Point every HTTP probe of the Deployment at `path` (a rollout starts). admin serves
        only `/`: `/admin/` gets 404, the pods never get Ready and liveness kills them."""
        if not path.startswith("/"):
            raise BreakError(f"a probe path starts with /, got {path!r}")

        def edit(obj: dict[str, Any]) -> None:
            for container in obj["spec"]["template"]["spec"].get("containers") or []:
                for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                    get = (container.get(kind) or {}).get("httpGet")
                    if get is not None:
                        get["path"] = path

        try:
            self._env.cluster.store.mutate(
                DEPLOYMENTS, self._namespace(namespace), deployment, edit
            )
        except ApiError as e:
            raise BreakError(f"no deployment {deployment!r} in {namespace}") from e
        self.changes += 1
        return f"{namespace}/{deployment}: probes now on `{path}` (new pods are probed there)"

    def restart_pod(self, namespace: str, pod: str) -> str:
        """Evict the pod's images from the nodes, delete it; the replacement pulls again."""
        store = self._env.cluster.store
        try:
            obj = store.get(PODS, self._namespace(namespace), pod)
        except ApiError as e:
            raise BreakError(f"no pod {pod!r} in {namespace}") from e
        for container in obj.get("spec", {}).get("containers") or []:
            self._evict(str(container.get("image", "")))
        with contextlib.suppress(ApiError):  # already gone: the replacement is coming anyway
            store.delete(PODS, namespace, pod)
        return f"restarted pod {namespace}/{pod}: its replacement pulls the image again"

    def _evict(self, image: str) -> None:
        try:
            name = containerd_ref(parse_ref(image))
        except BadReference:
            return
        for node in self._env.cluster.controllers.nodes.values():
            node.images.pop(name, None)

    def registry_view(self) -> dict[str, Any]:
        """The registry side of the panel: token state and each service's tags."""
        repositories = []
        for service in SERVICES:
            name = repository_name(service.name)
            tags = self._tags(service.name)
            repositories.append({"service": service.name, "repository": name, "tags": tags})
        return {"token_revoked": self.token_revoked, "repositories": repositories}

    def _tags(self, service: str) -> list[str]:
        try:
            return self._env.registry.store.tag_list(repository_name(service), n=None, last="")
        except StoreError:
            return []
