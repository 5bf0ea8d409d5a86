"""The seam under `KubeClient`: how one request reaches an API server, and its answer.

    kube = KubeClient(ApiTransport(api_client))            # production: kubernetes-asyncio
    kube = KubeClient(MockTransport(routes({...})))        # unit tests: canned answers

Like httpx's `MockTransport`: `KubeClient` builds every request (an `Outgoing`: path,
query, body, headers, deadline) and reads every answer itself, so a unit test of the client, the
watch or the engine can hand it a table of canned responses instead of a server; the
sandbox API server stays for the integration tests. An `Answer` offers what the client
reads of an `aiohttp.ClientResponse`: `status`, `headers`, `content_type`, `read`,
`text`, `json`, `content.readline` / `content.is_eof` (watch streams), `release`, `close`.

`routes(table)` serves `{(METHOD, path): Canned | [Canned, ...]}`: a list is answered in
order (the last one repeats), an unknown route is a 404 `Status` like the API server's.
`listed(items, rv)` and `gone(rv)` are a list's answer and a watch's 410 ERROR event.
`MockTransport.sent` records every request in order, to assert on.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from kubernetes_asyncio.client import ApiClient
from multidict import CIMultiDict, CIMultiDictProxy


class Content(Protocol):
    async def readline(self) -> bytes: ...

    def is_eof(self) -> bool: ...


class Answer(Protocol):
    """What `KubeClient` reads of an answer (an `aiohttp.ClientResponse` satisfies it)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...

    @property
    def content_type(self) -> str: ...

    @property
    def content(self) -> Content: ...

    async def read(self) -> bytes: ...

    async def text(self) -> str: ...

    async def json(self, *, content_type: str | None = ...) -> Any: ...

    def release(self) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    """One request as `KubeClient` built it: what every transport sends."""

    method: str
    path: str
    query: Sequence[tuple[str, str]]
    body: Any
    headers: Mapping[str, str]
    deadline: aiohttp.ClientTimeout


class Transport(Protocol):
    """Sends one request; raises `aiohttp.ClientError` / `TimeoutError` / `OSError` when
    no answer came (the client turns those into `Unreachable`)."""

    @property
    def url(self) -> str: ...

    async def send(self, request: Outgoing) -> Answer: ...


@dataclass
class ApiTransport:
    """The real one: kubernetes-asyncio's `ApiClient` (kubeconfig or in-cluster auth, TLS,
    its aiohttp session)."""

    api: ApiClient

    @property
    def url(self) -> str:
        return str(self.api.configuration.host)

    async def send(self, request: Outgoing) -> Answer:
        response: aiohttp.ClientResponse = await self.api.call_api(
            request.path,
            request.method,
            query_params=list(request.query),
            body=request.body,
            header_params=dict(request.headers),
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=request.deadline,
        )
        return response


# ---- canned answers for unit tests ----


@dataclass(frozen=True)
class Sent:
    """One request as the transport received it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Canned:
    """One answer: `body` as JSON (or text when it is a `str`), or `events` as the lines
    of a watch stream (`{"type": "ADDED", "object": {...}}`, one per line)."""

    status: int = 200
    body: Any = None
    events: Sequence[Mapping[str, Any]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


class _Lines:
    def __init__(self, data: bytes) -> None:
        self._lines = data.splitlines(keepends=True)

    async def readline(self) -> bytes:
        return self._lines.pop(0) if self._lines else b""

    def is_eof(self) -> bool:
        return not self._lines


class CannedAnswer:
    """A `Canned` as an `Answer`."""

    def __init__(self, canned: Canned) -> None:
        self.status = canned.status
        if canned.events:
            self._data = b"".join(json.dumps(e).encode() + b"\n" for e in canned.events)
            kind = "application/json"
        elif isinstance(canned.body, str):
            self._data, kind = canned.body.encode(), "text/plain"
        else:
            self._data, kind = json.dumps(canned.body).encode(), "application/json"
        headers = CIMultiDict({"Content-Type": kind, **canned.headers})
        self.headers = CIMultiDictProxy(headers)
        self.content_type = kind
        self.content = _Lines(self._data)
        self.released = False

    async def read(self) -> bytes:
        self.content = _Lines(b"")
        return self._data

    async def text(self) -> str:
        return (await self.read()).decode()

    async def json(self, *, content_type: str | None = None) -> Any:
        return json.loads(await self.read())

    def release(self) -> None:
        self.released = True

    def close(self) -> None:
        self.released = True


Handler = Callable[[Sent], Canned | Awaitable[Canned]]


@dataclass
class MockTransport:
    """Answers every request with `handler(sent)` (see the module docstring)."""

    handler: Handler
    url: str = "https://kube.test"
    sent: list[Sent] = field(default_factory=list)

    async def send(self, request: Outgoing) -> Answer:
        sent = Sent(request.method, request.path, dict(request.query), request.body)
        self.sent.append(sent)
        answer = self.handler(sent)
        if inspect.isawaitable(answer):
            answer = await answer
        assert isinstance(answer, Canned)
        return CannedAnswer(answer)


def not_found(path: str) -> Canned:
    """The API server's 404 `Status` for `path`."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return Canned(
        404,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": f'"{name}" not found',
            "reason": "NotFound",
            "code": 404,
        },
    )


def listed(items: Sequence[Mapping[str, Any]], resource_version: str) -> Canned:
    """A list's answer: `items` at `resource_version`."""
    return Canned(body={"metadata": {"resourceVersion": resource_version}, "items": list(items)})


def gone(resource_version: str) -> Mapping[str, Any]:
    """The watch stream's ERROR event for a resourceVersion compacted away (410 Expired),
    as the API server words it."""
    return {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"too old resource version: {resource_version}",
            "reason": "Expired",
            "code": 410,
        },
    }


def routes(table: Mapping[tuple[str, str], Canned | Sequence[Canned]]) -> Handler:
    """A handler answering from `table` (see the module docstring)."""
    queues = {key: list(v) if not isinstance(v, Canned) else [v] for key, v in table.items()}

    def handle(sent: Sent) -> Canned:
        queue = queues.get((sent.method, sent.path))
        if not queue:
            return not_found(sent.path)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle
