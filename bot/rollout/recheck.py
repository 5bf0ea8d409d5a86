"""After a pull failure, ask the registry again — with the cluster's own pull secret.

Kubelet's error text alone can't tell "the tag was deleted since the check" from "the
namespace's pull secret stopped working": both can surface as `not found` (registries
hide private images from callers they don't trust). So the engine reads the
namespace's image pull secret (the env's `pull_secret`, else the pod template's first
`imagePullSecrets`), builds registry credentials from its `.dockerconfigjson`, and
runs the same `RegistryClient.inspect` the pre-check ran:

    PullRecheck.TAG_GONE          the registry says the tag is not there (for a trusted caller)
    PullRecheck.SECRET_REJECTED   the secret's credentials are refused (401/403)
    PullRecheck.SECRET_MISSING    there is no pull secret to read, or it is unreadable
    PullRecheck.PLATFORM_MISSING  the image has no variant for the nodes' platform
    PullRecheck.IMAGE_OK          the registry serves it with that secret: the nodes' side is wrong
    PullRecheck.UNKNOWN           the registry could not be asked (unreachable, other error)
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from enum import StrEnum

from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.kube.kinds import SECRETS, KubeObject
from bot.registry.client import RegistryClient
from bot.registry.credentials import CredentialsError, CredentialStore, parse_docker_config
from bot.registry.errors import (
    AccessDenied,
    AuthenticationFailed,
    PlatformNotAvailable,
    RegistryError,
    RepositoryNotFound,
    TagNotFound,
)
from commands.images import ImageReference, InvalidReference, Platform

log = logging.getLogger(__name__)


class PullRecheck(StrEnum):
    TAG_GONE = "tag_gone"
    SECRET_REJECTED = "secret_rejected"
    SECRET_MISSING = "secret_missing"
    PLATFORM_MISSING = "platform_missing"
    IMAGE_OK = "image_ok"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RecheckResult:
    outcome: PullRecheck
    detail: str
    """The registry's / API's sentence behind the outcome."""
    secret: str | None


def pull_secret_of(deployment: KubeObject) -> str | None:
    """The first `imagePullSecrets` name of the Deployment's pod template (pure)."""
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for ref in spec.get("imagePullSecrets") or []:
        if isinstance(ref, dict) and ref.get("name"):
            return str(ref["name"])
    return None


def credentials_from_secret(secret: KubeObject) -> CredentialStore:
    """Registry credentials from a `kubernetes.io/dockerconfigjson` Secret (pure)."""
    data = secret.get("data") or {}
    raw = data.get(".dockerconfigjson") or data.get(".dockercfg")
    if not raw:
        raise CredentialsError("the secret has no .dockerconfigjson")
    try:
        config = json.loads(base64.b64decode(raw))
    except ValueError as e:
        raise CredentialsError("the secret's .dockerconfigjson is not base64 JSON") from e
    if "auths" not in config:  # legacy .dockercfg: the auths map itself
        config = {"auths": config}
    return CredentialStore(parse_docker_config(config, source="the pull secret"))


async def recheck_pull(
    kube: KubeClient,
    registry: RegistryClient,
    *,
    namespace: str,
    secret_name: str | None,
    image: str,
    platform: Platform,
) -> RecheckResult:
    """Inspect `image` as the nodes would, with the namespace's pull secret."""
    if secret_name is None:
        return RecheckResult(PullRecheck.SECRET_MISSING, "no image pull secret is configured", None)
    try:
        secret = await kube.get(SECRETS, secret_name, namespace=namespace)
        credentials = credentials_from_secret(secret)
    except KubeError as e:
        return RecheckResult(PullRecheck.SECRET_MISSING, e.sentence(), secret_name)
    except CredentialsError as e:
        return RecheckResult(PullRecheck.SECRET_MISSING, str(e), secret_name)
    try:
        reference = ImageReference.parse(image)
        async with registry.with_credentials(credentials) as as_nodes:
            # By tag first: "the tag is gone" is what a person can act on; then the digest.
            if reference.tag is not None:
                await as_nodes.inspect(reference.with_tag(reference.tag), platform=platform)
            if reference.digest is not None:
                await as_nodes.inspect(reference, platform=platform)
    except (AuthenticationFailed, AccessDenied) as e:
        return RecheckResult(PullRecheck.SECRET_REJECTED, e.sentence(), secret_name)
    except (TagNotFound, RepositoryNotFound) as e:
        return RecheckResult(PullRecheck.TAG_GONE, e.sentence(), secret_name)
    except PlatformNotAvailable as e:
        return RecheckResult(PullRecheck.PLATFORM_MISSING, e.sentence(), secret_name)
    except RegistryError as e:
        return RecheckResult(PullRecheck.UNKNOWN, e.sentence(), secret_name)
    except InvalidReference as e:
        return RecheckResult(PullRecheck.UNKNOWN, str(e), secret_name)
    return RecheckResult(
        PullRecheck.IMAGE_OK, "the registry serves it with the pull secret", secret_name
    )
