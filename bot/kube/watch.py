"""A watch that survives the network: list, then watch, reconnect, re-list on 410.

    async with contextlib.aclosing(watch(kube, PODS, namespace="honeydue",
                                         label_selector="app=api")) as events:
        async for event in events:
            ...  # event.type in ADDED / MODIFIED / DELETED, event.object is the JSON

Without a `resource_version` it lists first and yields every listed object as
ADDED, then watches from the list's resourceVersion. With `list_first=False` the first
connection is a watch with no resourceVersion instead: every API server (and the
sandbox, `sandbox.cluster.store.Store.watch`) answers it "Get State and Start at Most
Recent", a synthetic ADDED for every matching object, then the changes
(https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch): one
request where a list and a watch are two, without WatchList (`sendInitialEvents`, beta
only since 1.32) and so nothing to fall back from on an older server; the end of that
initial state is not marked, which a caller that judges every batch as it comes (the
rollout follower) doesn't need. A re-start after something was seen (410, an outage)
lists either way, so what vanished meanwhile can be told as DELETED: what it remembers of
each object it yielded is only its identity (`_identity`: name, namespace, uid,
resourceVersion), never the whole JSON, so a DELETED told after a re-list carries just
that (a pod with its managedFields is ~17 KB parsed; 5,000 of them held whole for the
watch's life were most of the process). Each connection asks the server
for `timeoutSeconds` and carries a client read timeout, so a dead connection cannot
hang it; a closed or silent connection is reopened from the last resourceVersion
seen (bookmarks included); `410 Gone` (as a status or as an ERROR event) re-lists.
Repeated failures to reconnect raise the last `KubeError` after
`KubeOptions.reconnect_backoff_s`, unless the watch is `persistent`: then an outage
is waited out (capped back-off, `on_contact` told) and ends in a re-list that also
reports what was deleted meanwhile. The generator holds an open HTTP response: close
it (`aclosing`, or run it to completion) or the connection leaks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp

from bot.kube.client import KubeClient
from bot.kube.errors import Gone, KubeError, Request, ServerError, Unreachable, from_status
from bot.kube.kinds import Kind, KubeObject, meta
from bot.kube.kinds import resource_version as version_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchEvent:
    type: str
    """ADDED, MODIFIED or DELETED."""
    object: KubeObject


OnContact = Callable[[str | None], None]
"""Told why contact with the API is lost (a sentence) at each failed attempt, and None
once it is back; must not block."""


def _ignore(lost: str | None) -> None:
    return None


_IDENTITY = ("name", "namespace", "uid", "resourceVersion")


def _identity(obj: KubeObject) -> KubeObject:
    """What a watch remembers of an object it yielded: what names it, nothing else."""
    return {"metadata": {k: v for k, v in meta(obj).items() if k in _IDENTITY}}


def _key(obj: KubeObject) -> str:
    m = meta(obj)
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


async def watch(
    kube: KubeClient,
    kind: Kind,
    *,
    namespace: str | None,
    field_selector: str | None = None,
    label_selector: str | None = None,
    resource_version: str | None = None,
    persistent: bool = False,
    on_contact: OnContact = _ignore,
    list_first: bool = True,
    on_listed: Callable[[], None] = lambda: None,
) -> AsyncGenerator[WatchEvent, None]:
    """Every change of the matching objects, for as long as the caller keeps reading.

    `persistent`: an unreachable or failing API (`Unreachable`, `ServerError`) never
    ends the watch: it retries forever, waiting the back-off list's entries and then
    its last (the cap), telling `on_contact`; once the API answers it re-lists, and
    every object seen before that the new list lacks is yielded as DELETED (it went
    while Deckhand could not see), carrying only its identity (name, namespace, uid,
    resourceVersion). The caller's deadline is the only limit.

    `list_first=False`: start with a watch without resourceVersion, not a list (see
    the module docstring). `on_listed` is told each time every listed object has been
    yielded (the consumer has the whole state)."""
    request = Request("watch", kind.plural, namespace)
    rv = resource_version
    failures = 0
    backoff = kube.options.reconnect_backoff_s
    seen: dict[str, KubeObject] = {}  # key -> identity only
    lost = False
    while True:
        try:
            if not rv and (list_first or seen or lost):
                listed = await kube.list(
                    kind,
                    namespace=namespace,
                    label_selector=label_selector,
                    field_selector=field_selector,
                )
                if lost:
                    lost = False
                    on_contact(None)
                    log.info("watch %s in %s: the API answers again", kind.plural, namespace)
                failures = 0
                current = {_key(item): item for item in listed.items}
                for key in [k for k in seen if k not in current]:
                    yield WatchEvent("DELETED", seen.pop(key))
                for key, item in current.items():
                    seen[key] = _identity(item)
                    yield WatchEvent("ADDED", item)
                on_listed()
                rv = listed.resource_version
            async for event in _one_connection(
                kube,
                kind,
                request,
                namespace=namespace,
                rv=rv or None,
                field_selector=field_selector,
                label_selector=label_selector,
            ):
                failures = 0
                if event.type == "BOOKMARK":
                    rv = version_of(event.object) or rv
                    continue
                rv = version_of(event.object) or rv
                if event.type == "DELETED":
                    seen.pop(_key(event.object), None)
                else:
                    seen[_key(event.object)] = _identity(event.object)
                yield event
        except Gone:
            kube.options.on_watch_reconnect(kind.plural)
            log.info(
                "watch %s in %s: resourceVersion %s expired, re-listing", kind.plural, namespace, rv
            )
            rv = None
        except (Unreachable, ServerError) as e:
            if failures >= len(backoff) and not persistent:
                raise
            kube.options.on_watch_reconnect(kind.plural)
            log.warning(
                "watch %s in %s failed (%s), reconnect %d",
                kind.plural,
                namespace,
                e.sentence(),
                failures + 1,
            )
            if persistent:
                lost = True
                rv = None  # what happened meanwhile is read again, not replayed
                on_contact(e.sentence())
            await asyncio.sleep(backoff[min(failures, len(backoff) - 1)])
            failures += 1


async def _one_connection(
    kube: KubeClient,
    kind: Kind,
    request: Request,
    *,
    namespace: str | None,
    rv: str | None,
    field_selector: str | None,
    label_selector: str | None,
) -> AsyncIterator[WatchEvent]:
    """The events of one watch connection (`rv` None: the current state first, as ADDED);
    returns when the server or the network ends it."""
    options = kube.options
    query = {
        "watch": True,
        "resourceVersion": rv,
        "allowWatchBookmarks": True,
        "timeoutSeconds": options.watch_timeout_s,
        "fieldSelector": field_selector,
        "labelSelector": label_selector,
    }
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=options.request_timeout_s, sock_read=options.watch_read_timeout_s
    )
    async with kube.open_stream(
        "GET", kind.path(namespace), request=request, query=query, client_timeout=timeout
    ) as response:
        while True:
            try:
                line = await response.content.readline()
            except (aiohttp.ClientError, TimeoutError) as e:
                # A dropped or silent connection: the caller reopens from the last rv.
                options.on_watch_reconnect(kind.plural)
                log.info(
                    "watch %s in %s: connection ended (%s)",
                    kind.plural,
                    namespace,
                    type(e).__name__,
                )
                return
            if not line:
                return
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                log.warning("watch %s: unreadable line skipped", kind.plural)
                continue
            event_type = str(data.get("type", ""))
            obj = data.get("object") or {}
            if event_type == "ERROR":
                code = int(obj.get("code") or 500)
                error: KubeError = from_status(request, code, json.dumps(obj))
                raise error
            yield WatchEvent(event_type, obj)
