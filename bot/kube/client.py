"""A small typed client for the Kubernetes API calls Deckhand makes.

kubernetes-asyncio provides the connection (kubeconfig / in-cluster loading, TLS,
bearer tokens, the aiohttp session); this module makes the calls itself with raw
JSON bodies so every answer is checked in one place (`_call`) and every failure
leaves as a `bot.kube.errors.KubeError` naming the verb, resource and namespace.

    async with KubeClient.from_kubeconfig(path, context="prod") as kube:
        deployment = await kube.get(DEPLOYMENTS, "api", namespace="honeydue")
        await kube.patch(DEPLOYMENTS, "api", {"spec": …}, namespace="honeydue")

Requests go through a `bot.kube.transport.Transport`: `ApiTransport` (kubernetes-asyncio's
`ApiClient`, closed with its aiohttp session when the `async with` ends) in production,
`MockTransport` (a table of canned answers) in unit tests.
A 409 on a patch is retried (bounded, `KubeOptions.conflict_backoff_s`); `update()`
is compare-and-swap: let the caller change the object, replace it with that object's
`resourceVersion`, and on 409 read again and ask the caller again. It starts from the
version of the object this client last read or wrote (`KNOWN_VERSIONS` of them are
kept), so a process writing the same Lease or ConfigMap again (a lock's heartbeat, a
deploy record's phases) sends one PUT, not GET + PUT; only the server's acceptance is
trusted: a 409, or a change that declines or raises on a remembered version, is asked
again on a fresh read. Streams for watches come from `open_stream`; `bot.kube.watch`
builds the reconnecting watch on it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import ApiClient, Configuration

from bot.kube.clusterclock import ClusterClock, ClusterTime
from bot.kube.errors import (
    BadKubeconfig,
    Conflict,
    KubeError,
    NotFound,
    Request,
    Unreachable,
    from_status,
)
from bot.kube.kinds import ACCESS_REVIEWS, PODS, Kind, KubeObject, meta
from bot.kube.transport import Answer, ApiTransport, Outgoing, Transport

log = logging.getLogger(__name__)

STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
LIST_PAGE_SIZE = 500
"""Objects per list request (kubectl's chunk size): big lists arrive in pieces."""
KNOWN_VERSIONS = 256
"""Objects whose last-seen version the client keeps for `update` (least recently used go)."""
FIELD_MANAGER = "deckhand"
"""The `fieldManager` of every write: how `metadata.managedFields` names Deckhand's changes
(drift notices tell them apart from `kubectl-set`, `helm`, ...)."""


@dataclass(frozen=True)
class KubeOptions:
    """Timeouts and retries of the client (seconds)."""

    request_timeout_s: float = 15.0
    """Deadline of one ordinary request."""
    watch_timeout_s: int = 60
    """`timeoutSeconds` asked of the server for one watch connection; then it reconnects."""
    watch_read_timeout_s: float = 75.0
    """Longest silence on a watch connection before it is treated as dead and reopened."""
    conflict_backoff_s: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0)
    """Waits between retries after a 409 Conflict (one retry per entry)."""
    reconnect_backoff_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0)
    """Waits between attempts to reopen a failing watch (then the error is raised, unless
    the watch is persistent: the last wait repeats) and between retries of writes that
    must land (`bot.kube.retry`); `DECKHAND_KUBE_RETRY_BACKOFF_S`."""
    on_watch_reconnect: Callable[[str], None] = field(default=lambda resource: None)
    """Told the resource (plural) each time a watch reopens after a drop, failure or 410
    (metrics); must not block."""


@dataclass(frozen=True)
class ObjectList:
    """A list answer: its items and the collection's resourceVersion (to watch from)."""

    items: list[KubeObject]
    resource_version: str


@dataclass
class KubeClient:
    """Typed calls to one cluster. Build with `from_kubeconfig` / `in_cluster`."""

    transport: Transport
    """How requests reach the API server (`ApiTransport`; `MockTransport` in unit tests)."""
    options: KubeOptions = field(default_factory=KubeOptions)
    time: ClusterTime = field(default_factory=ClusterTime)
    """The API server's clock, from the `Date` of every answer (`bot.kube.clusterclock`)."""

    def __post_init__(self) -> None:
        self.clock = ClusterClock(self.time, self.version)
        """This cluster's time as a `Clock`: what the rollout's time rules run on."""
        self._known: OrderedDict[tuple[str, str | None, str], KubeObject | None] = OrderedDict()
        """(plural, namespace, name) -> a copy of the object as last read or written here
        (None: it did not exist); where `update` starts (see the module docstring)."""

    def _remember(
        self, kind: Kind, namespace: str | None, name: str, obj: KubeObject | None
    ) -> None:
        key = (kind.plural, namespace, name)
        self._known[key] = copy.deepcopy(obj)
        self._known.move_to_end(key)
        while len(self._known) > KNOWN_VERSIONS:
            self._known.popitem(last=False)

    def known(self, kind: Kind, name: str, *, namespace: str | None) -> KubeObject | None:
        """A copy of `name` as this client last read or wrote it (None: not known, or it
        did not exist then); possibly stale, so only a starting point for a
        compare-and-swap write (`update`, or a patch carrying its resourceVersion)."""
        obj = self._known.get((kind.plural, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    @classmethod
    @asynccontextmanager
    async def from_kubeconfig(
        cls,
        path: Path | str | None = None,
        *,
        context: str | None = None,
        options: KubeOptions | None = None,
    ) -> AsyncIterator[KubeClient]:
        configuration = type.__call__(Configuration)
        try:
            await kube_config.load_kube_config(
                config_file=str(path) if path else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (kube_config.ConfigException, OSError) as e:
            raise BadKubeconfig(str(path or "~/.kube/config"), str(e)) from e
        async with ApiClient(configuration) as api:
            yield cls(ApiTransport(api), options or KubeOptions())

    @classmethod
    @asynccontextmanager
    async def from_config_dict(
        cls,
        config: dict[str, Any],
        *,
        where: str,
        context: str | None = None,
        options: KubeOptions | None = None,
    ) -> AsyncIterator[KubeClient]:
        """A client from an already merged kubeconfig (`bot.kube.config`); `where` names
        its files in errors."""
        configuration = type.__call__(Configuration)
        try:
            await kube_config.load_kube_config_from_dict(
                config, context=context, client_configuration=configuration
            )
        except (kube_config.ConfigException, OSError) as e:
            raise BadKubeconfig(where, str(e)) from e
        async with ApiClient(configuration) as api:
            yield cls(ApiTransport(api), options or KubeOptions())

    @classmethod
    @asynccontextmanager
    async def in_cluster(cls, *, options: KubeOptions | None = None) -> AsyncIterator[KubeClient]:
        configuration = type.__call__(Configuration)
        try:
            kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except kube_config.ConfigException as e:
            raise BadKubeconfig("the in-cluster service account", str(e)) from e
        async with ApiClient(configuration) as api:
            yield cls(ApiTransport(api), options or KubeOptions())

    @property
    def url(self) -> str:
        return self.transport.url

    # ---- the one place requests are made ----

    @asynccontextmanager
    async def open_stream(
        self,
        method: str,
        path: str,
        *,
        request: Request,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> AsyncIterator[Answer]:
        """The raw response of a 2xx answer, closed on exit; other answers raise `KubeError`."""
        params = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        if method in ("POST", "PUT", "PATCH"):
            params.append(("fieldManager", FIELD_MANAGER))
        try:
            response = await self.transport.send(
                Outgoing(
                    method,
                    path,
                    query=params,
                    body=body,
                    headers={"Content-Type": content_type, "Accept": "application/json"},
                    deadline=client_timeout
                    or aiohttp.ClientTimeout(total=self.options.request_timeout_s),
                )
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise Unreachable(request, url=self.url, cause=_describe(e)) from e
        self.time.observe(response.headers.get("Date"))
        try:
            if not 200 <= response.status <= 299:
                try:
                    text = await response.read()
                except (aiohttp.ClientError, TimeoutError) as e:
                    raise Unreachable(request, url=self.url, cause=_describe(e)) from e
                raise from_status(request, response.status, text)
            yield response
        finally:
            if response.content.is_eof():
                response.release()  # fully read: the connection goes back to the pool
            else:
                response.close()  # a watch left mid-stream: that connection is done

    async def _call(
        self,
        method: str,
        path: str,
        *,
        request: Request,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        async with self.open_stream(
            method, path, request=request, query=query, body=body, content_type=content_type
        ) as response:
            try:
                if response.content_type.startswith("text/"):
                    return await response.text()
                return await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError) as e:
                raise Unreachable(request, url=self.url, cause=_describe(e)) from e

    # ---- generic verbs ----

    async def version(self) -> KubeObject:
        """`GET /version` (readable by every client): the cheapest fresh `Date`."""
        info: KubeObject = await self._call(
            "GET", "/version", request=Request("get", "version", None)
        )
        return info

    async def get(self, kind: Kind, name: str, *, namespace: str | None) -> KubeObject:
        request = Request("get", kind.plural, namespace, name)
        try:
            obj: KubeObject = await self._call("GET", kind.path(namespace, name), request=request)
        except NotFound:
            self._remember(kind, namespace, name, None)
            raise
        self._remember(kind, namespace, name, obj)
        return obj

    async def list(
        self,
        kind: Kind,
        *,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        items: list[KubeObject] = []
        version = ""
        async for page in self.pages(
            kind, namespace=namespace, label_selector=label_selector, field_selector=field_selector
        ):
            items.extend(page.items)
            version = version or page.resource_version
        return ObjectList(items=items, resource_version=version)

    async def pages(
        self,
        kind: Kind,
        *,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = LIST_PAGE_SIZE,
    ) -> AsyncIterator[ObjectList]:
        """A list in chunks of `limit` (`continue` tokens, as kubectl lists): each chunk
        can be handled and dropped before the next is read. Every chunk carries the
        first one's resourceVersion (the list's: watch from it)."""
        request = Request("list", kind.plural, namespace)
        query: dict[str, Any] = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit,
        }
        version = ""
        while True:
            data = await self._call("GET", kind.path(namespace), request=request, query=query)
            version = version or str(meta(data).get("resourceVersion", ""))
            yield ObjectList(items=list(data.get("items") or []), resource_version=version)
            token = meta(data).get("continue")
            if not token:
                return
            query["continue"] = token

    async def create(self, kind: Kind, obj: KubeObject, *, namespace: str | None) -> KubeObject:
        request = Request("create", kind.plural, namespace, meta(obj).get("name"))
        created: KubeObject = await self._call(
            "POST", kind.path(namespace), request=request, body=obj
        )
        self._remember(kind, namespace, str(meta(created).get("name", "")), created)
        return created

    async def replace(self, kind: Kind, obj: KubeObject, *, namespace: str | None) -> KubeObject:
        """PUT the object; its `metadata.resourceVersion` makes this compare-and-swap."""
        name = str(meta(obj)["name"])
        request = Request("update", kind.plural, namespace, name)
        try:
            replaced: KubeObject = await self._call(
                "PUT", kind.path(namespace, name), request=request, body=obj
            )
        except Conflict:
            self._known.pop((kind.plural, namespace, name), None)
            raise
        self._remember(kind, namespace, name, replaced)
        return replaced

    async def delete(self, kind: Kind, name: str, *, namespace: str | None) -> None:
        request = Request("delete", kind.plural, namespace, name)
        self._known.pop((kind.plural, namespace, name), None)
        await self._call("DELETE", kind.path(namespace, name), request=request)

    async def patch(
        self,
        kind: Kind,
        name: str,
        patch: Any,
        *,
        namespace: str | None,
        content_type: str = STRATEGIC,
        resource_version: str | None = None,
    ) -> KubeObject:
        """Patch (strategic merge by default); a 409 is retried a bounded number of times.

        `resource_version` (a merge patch's precondition, as the API server applies it):
        the patch lands only on that version of the object, else `Conflict` (not retried:
        the caller read something older and must read again)."""
        request = Request("patch", kind.plural, namespace, name)
        body = patch
        if resource_version is not None:
            body = {**patch, "metadata": {**(patch.get("metadata") or {})}}
            body["metadata"]["resourceVersion"] = resource_version

        async def attempt() -> KubeObject:
            patched: KubeObject = await self._call(
                "PATCH",
                kind.path(namespace, name),
                request=request,
                body=body,
                content_type=content_type,
            )
            self._remember(kind, namespace, name, patched)
            return patched

        if resource_version is not None:
            return await attempt()
        return await self._retry_conflicts(attempt, what=f"patch {kind.plural} {namespace}/{name}")

    async def update(
        self,
        kind: Kind,
        name: str,
        change: Callable[[KubeObject], KubeObject | None],
        *,
        namespace: str | None,
        missing: KubeObject | None = None,
    ) -> KubeObject:
        """Compare-and-swap: `change(obj)` → new object (None: leave it), replace.

        `obj` is the version this client last read or wrote, else a fresh read. On 409
        the object is read again and `change` asked again (bounded); `change` may raise
        to give up (e.g. a lock now held by someone else) — on a remembered version it
        is asked again on a fresh read first, so only a current object can refuse.
        `missing`: created instead when the object doesn't exist (else `NotFound`).
        """
        key = (kind.plural, namespace, name)

        async def attempt() -> KubeObject:
            while True:
                remembered = key in self._known
                current = self._known.get(key)
                if not remembered:
                    try:
                        current = await self.get(kind, name, namespace=namespace)
                    except NotFound:
                        if missing is None:
                            raise
                if current is None:
                    if missing is None:  # it was gone then: is it still?
                        self._known.pop(key, None)
                        continue
                    try:
                        return await self.create(kind, copy.deepcopy(missing), namespace=namespace)
                    except Conflict:  # AlreadyExists: someone made it meanwhile
                        self._known.pop(key, None)
                        continue
                try:
                    wanted = change(copy.deepcopy(current))
                except Exception:
                    if not remembered:
                        raise
                    self._known.pop(key, None)  # decided on a fresh read only
                    continue
                if wanted is None:
                    if not remembered:
                        return current
                    self._known.pop(key, None)
                    continue
                wanted.setdefault("metadata", {})["resourceVersion"] = meta(current).get(
                    "resourceVersion"
                )
                try:
                    return await self.replace(kind, wanted, namespace=namespace)
                except Conflict:
                    if not remembered:
                        raise
                    continue  # the remembered version was stale: read, ask again

        return await self._retry_conflicts(attempt, what=f"update {kind.plural} {namespace}/{name}")

    async def _retry_conflicts(
        self, attempt: Callable[[], Awaitable[KubeObject]], *, what: str
    ) -> KubeObject:
        """Run `attempt`; on 409 Conflict wait and run it again, once per entry of
        `conflict_backoff_s`, then let the last Conflict through."""
        backoff = self.options.conflict_backoff_s
        for number, wait in enumerate(backoff, start=1):
            try:
                return await attempt()
            except Conflict:
                log.info("409 on %s, retry %d", what, number)
                await asyncio.sleep(wait)
        return await attempt()

    # ---- special calls ----

    async def read_log(
        self,
        pod: str,
        *,
        namespace: str,
        container: str | None = None,
        tail_lines: int = 20,
        previous: bool = False,
    ) -> str:
        """The last `tail_lines` of a container's log ('' when there is none yet)."""
        request = Request("get", "pods/log", namespace, pod)
        query = {"container": container, "tailLines": tail_lines, "previous": previous or None}
        try:
            text = await self._call(
                "GET", PODS.path(namespace, pod, "log"), request=request, query=query
            )
        except KubeError as e:
            if e.status in (400, 404):  # container not started yet / no previous instance
                return ""
            raise
        return text if isinstance(text, str) else str(text)

    async def can_i(
        self,
        verb: str,
        resource: str,
        *,
        namespace: str | None,
        group: str = "",
        name: str | None = None,
    ) -> bool:
        """SelfSubjectAccessReview: may Deckhand's own identity do this?"""
        attributes = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        request = Request("create", "selfsubjectaccessreviews")
        answer = await self._call("POST", ACCESS_REVIEWS.path(), request=request, body=review)
        return bool((answer.get("status") or {}).get("allowed"))


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer before the deadline (timeout)"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"connection refused or unreachable ({error.os_error.strerror or error})"
    text = str(error) or type(error).__name__
    return text
