"""The Kubernetes boundary's errors: what went wrong, in words a user can act on.

Every failure of a call to the Kubernetes API leaves `bot.kube` as one of these;
nothing from aiohttp or kubernetes-asyncio crosses the boundary (the original is
kept as `__cause__`). Each error knows the request it belongs to (verb, resource,
namespace, name) so its `sentence()` names them:

    KubeError                     any failed call; .sentence() is safe for a chat message
    ├── NotFound        404       `deployment "api" not found in honeydue`
    ├── Forbidden       403       `Deckhand's service account may not patch deployments in honeydue`
    ├── Unauthorized    401       the credentials were rejected
    ├── Conflict        409       a stale resourceVersion or an object that already exists
    ├── Gone            410       a watch's resourceVersion is too old (handled inside `watch`)
    ├── Invalid         400/422   the server refused the object (its message is kept)
    ├── ServerError     5xx, other statuses
    ├── Unreachable     no answer: connection refused, DNS, TLS, timeout
    └── BadKubeconfig   the kubeconfig / in-cluster credentials could not be loaded

A response body is never copied into a message: only the `message` field of the
server's `Status` object (the apiserver's own summary), trimmed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

_MAX_MESSAGE = 300


@dataclass(frozen=True)
class Request:
    """Which call failed: `patch deployments honeydue/api`."""

    verb: str
    resource: str
    namespace: str | None = None
    name: str | None = None

    def where(self) -> str:
        return f" in {self.namespace}" if self.namespace else " cluster-wide"


class KubeError(Exception):
    """A call to the Kubernetes API failed."""

    def __init__(self, request: Request, *, status: int | None = None, message: str = "") -> None:
        self.request = request
        self.status = status
        self.message = message
        super().__init__(self.sentence())

    def sentence(self) -> str:
        r = self.request
        detail = f": {self.message}" if self.message else ""
        return f"Kubernetes refused to {r.verb} {r.resource}{r.where()} ({self.status}){detail}"


class NotFound(KubeError):
    def sentence(self) -> str:
        r = self.request
        kind = r.resource[:-1] if r.resource.endswith("s") else r.resource
        named = f' "{r.name}"' if r.name else ""
        return f"{kind}{named} not found{r.where()}"


class Forbidden(KubeError):
    def sentence(self) -> str:
        r = self.request
        return f"Deckhand's service account may not {r.verb} {r.resource}{r.where()}"


class Unauthorized(KubeError):
    def sentence(self) -> str:
        return "the Kubernetes API rejected Deckhand's credentials (401): check the kubeconfig"


class Conflict(KubeError):
    def sentence(self) -> str:
        r = self.request
        named = f" {r.name}" if r.name else ""
        return f"{r.resource}{named} was changed by someone else{r.where()}: {self.message}"


class Gone(KubeError):
    """410: the resourceVersion a watch asked for is no longer in the server's history."""


class Invalid(KubeError):
    def sentence(self) -> str:
        r = self.request
        return f"Kubernetes rejected the {r.verb} of {r.resource}{r.where()}: {self.message}"


class ServerError(KubeError):
    pass


class Unreachable(KubeError):
    """No HTTP answer at all."""

    def __init__(self, request: Request, *, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(request, message=cause)

    def sentence(self) -> str:
        return f"can't reach the Kubernetes API at {self.url}: {self.cause}"


def status_message(body: bytes | str | None) -> str:
    """The `message` of a `kind: Status` body, trimmed; '' when the body is something else."""
    if not body:
        return ""
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, str):
        return ""
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def from_status(request: Request, status: int, body: bytes | str | None) -> KubeError:
    """The error for an HTTP answer outside 2xx (pure)."""
    message = status_message(body)
    kinds: dict[int, type[KubeError]] = {
        401: Unauthorized,
        403: Forbidden,
        404: NotFound,
        409: Conflict,
        410: Gone,
        400: Invalid,
        422: Invalid,
    }
    return kinds.get(status, ServerError)(request, status=status, message=message)


class BadKubeconfig(KubeError):
    """The client could not even be built: a missing or invalid kubeconfig / context."""

    def __init__(self, source: str, cause: str) -> None:
        self.source = source
        self.cause = cause
        super().__init__(Request("load", "kubeconfig"), message=cause)

    def sentence(self) -> str:
        return f"Deckhand can't load its Kubernetes credentials from {self.source}: {self.cause}"
