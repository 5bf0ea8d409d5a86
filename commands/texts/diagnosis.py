"""Texts: diagnosis.

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from commands.texts._format import _code


def _registry_of(image: str) -> str:
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first) else "docker.io"


def cause(
    kind: str,
    *,
    image: str,
    namespace: str,
    pod: str | None,
    evidence: str,
    pull_secret: str | None,
    platform: str,
) -> tuple[str, str]:
    """(sentence, next step) for a `commands.diagnosis.Cause` value."""
    registry = _registry_of(image)
    target = f"pod {_code(pod)}" if pod else "the new pods"
    describe = f"`kubectl describe pod -n {namespace} {pod or '-l app=…'}`"
    seen = f" ({evidence})" if evidence else ""
    secret = pull_secret or "registry-credentials"
    table = {
        "tag_not_found": (
            f"The nodes can't find {_code(image)} in {_code(registry)}{seen}.",
            "Check the tag exists (`/deploy tags SERVICE`); if it does, the nodes pull from "
            "a different registry or mirror than Deckhand checks.",
        ),
        "pull_auth": (
            f"{_code(registry)} refused the cluster's pull credentials for {_code(image)}{seen}.",
            f"Renew the pull secret {_code(secret)} with a token that has `read:package`: "
            f"`kubectl create secret docker-registry {secret} --docker-server={registry} "
            "--docker-username=<user> --docker-password=<new token> "
            f"-n {namespace} --dry-run=client -o yaml | kubectl apply -f -`"
            + ("" if pull_secret else ", and list it in the Deployment's `imagePullSecrets`")
            + restart_after_secret(),
        ),
        "platform_mismatch": (
            f"{_code(image)} isn't built for the nodes' platform {_code(platform)}{seen}.",
            f"Rebuild for it: `docker buildx build --platform {platform} --push …`, "
            "then deploy the new tag.",
        ),
        "registry_unreachable": (
            f"The nodes can't reach {_code(registry)}{seen}.",
            "Check DNS and network from a node to the registry; Deckhand keeps waiting until "
            "the rollout deadline.",
        ),
        "invalid_image": (
            f"The image reference {_code(image)} is invalid{seen}.",
            "Check the service's `image` in Deckhand's config and the Deployment's "
            "`imagePullPolicy`.",
        ),
        "crash_loop": (
            f"The new container in {target} keeps crashing{seen}.",
            f"Read its last logs: `kubectl logs -n {namespace} {pod or '…'} --previous`.",
        ),
        "startup_probe": (
            f"{target[0].upper()}{target[1:]} never passed its startup probe{seen}.",
            "If a first start really takes longer (migrations), raise "
            "`startupProbe.failureThreshold`; otherwise read its logs: "
            f"`kubectl logs -n {namespace} {pod or '…'} --previous`.",
        ),
        "liveness_probe": (
            f"The kubelet killed the container in {target} for failing its liveness probe{seen}.",
            f"Check the probe and the app's logs: {describe}.",
        ),
        "readiness_probe": (
            f"{target[0].upper()}{target[1:]} runs but fails its readiness probe{seen}.",
            f"Check the probe and the app's logs: {describe}.",
        ),
        "config_error": (
            f"Kubernetes can't create the container in {target}{seen}.",
            f"A missing Secret or ConfigMap is the usual cause: {describe}.",
        ),
        "unschedulable": (
            f"Kubernetes can't place {target} on any node{seen}.",
            f"Free or add capacity, or relax the pod's requests or node selector: {describe}.",
        ),
        "not_ready": (
            f"{target[0].upper()}{target[1:]} runs but isn't Ready{seen}.",
            f"Check the probe and the app's logs: {describe}.",
        ),
        "progress_deadline": (
            f"The rollout made no progress before the Deployment's deadline{seen}.",
            f"`kubectl rollout status -n {namespace} deployment/…` and {describe}.",
        ),
    }
    return table.get(
        kind,
        (
            f"The new pods aren't becoming available{seen}.",
            f"Look at the pod's events: {describe}.",
        ),
    )


def restart_after_secret() -> str:
    """After a renewed pull secret: the pods in back-off only retry slowly; restart them."""
    return (
        ". Then restart the pods that are in back-off: `/deploy restart SERVICE ENV` "
        "(or `deckhand restart SERVICE --env ENV`)."
    )
