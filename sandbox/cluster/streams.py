"""The two long-lived answers of the sandbox apiserver: watches and followed pod logs.

A watch streams newline-delimited JSON events (chunked) until `timeoutSeconds`
wall seconds pass, the client goes away, or the server shuts down (`closing`);
with `allowWatchBookmarks=true` an idle watch gets a BOOKMARK every
`bookmark_interval` wall seconds.
A resourceVersion older than the store's history answers HTTP 200 and then one
`ERROR` event carrying the 410 Expired Status, as the real watch cache does.
`kubectl get -w` asks for Table events, which are printed rows.

A followed log (`?follow=true`) sends the lines so far, then new lines as the
kubelet stand-in appends them, until the pod is deleted.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from sandbox.cluster import tables
from sandbox.cluster.bodies import TRUE
from sandbox.cluster.clock import Clock
from sandbox.cluster.errors import ApiError
from sandbox.cluster.resources import Resource
from sandbox.cluster.store import Store, Watch

Obj = dict[str, Any]

DEFAULT_WATCH_TIMEOUT = 1800.0  # wall seconds, like the apiserver's --min-request-timeout
# With allowWatchBookmarks, an idle watch gets a BOOKMARK (the current resourceVersion)
# this often by default, in wall seconds (the real server: about a minute).
BOOKMARK_INTERVAL = 10.0
_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-cache, private"}


def wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


async def _send(response: web.StreamResponse, event: Obj) -> None:
    await response.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")


def _bookmark(resource: Resource, rv: str, *, initial_events_end: bool = True) -> Obj:
    metadata: Obj = {"resourceVersion": rv}
    if initial_events_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {
        "type": "BOOKMARK",
        "object": {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata},
    }


async def serve_watch(
    request: web.Request,
    *,
    store: Store,
    clock: Clock,
    closing: asyncio.Event,
    resource: Resource,
    namespace: str | None,
    name: str | None,
    bookmark_interval: float = BOOKMARK_INTERVAL,
) -> web.StreamResponse:
    """Answer `?watch=1` on a collection (or, with `name`, on one object)."""
    query = request.query
    field_selector = query.get("fieldSelector") or None
    if name is not None:
        by_name = f"metadata.name={name}"
        field_selector = f"{field_selector},{by_name}" if field_selector else by_name
    initial = query.get("sendInitialEvents") in TRUE
    try:
        timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
    except ValueError:
        raise ApiError.bad_request(
            f'invalid timeoutSeconds "{query.get("timeoutSeconds")}"'
        ) from None
    watch: Watch | None = None
    expired: ApiError | None = None
    try:
        watch = store.watch(
            resource,
            namespace,
            resource_version=None if initial else query.get("resourceVersion"),
            label_selector=query.get("labelSelector"),
            field_selector=field_selector,
        )
    except ApiError as error:
        if error.code != 410:
            raise
        expired = error
    start_rv = store.resource_version
    response = web.StreamResponse(status=200, headers=_HEADERS)
    response.enable_chunked_encoding()
    await response.prepare(request)
    if watch is None:
        assert expired is not None
        await _send(response, {"type": "ERROR", "object": expired.status()})
        return response
    try:
        await _stream_events(
            request,
            response,
            watch,
            store=store,
            clock=clock,
            closing=closing,
            resource=resource,
            bookmark_interval=bookmark_interval,
            timeout_s=timeout,
            initial_left=watch.pending() if initial else -1,
            start_rv=start_rv,
        )
    except ConnectionError:
        pass  # the client went away
    finally:
        watch.close()
    return response


async def _stream_events(
    request: web.Request,
    response: web.StreamResponse,
    watch: Watch,
    *,
    store: Store,
    clock: Clock,
    closing: asyncio.Event,
    resource: Resource,
    bookmark_interval: float,
    timeout_s: float,
    initial_left: int,
    start_rv: str,
) -> None:
    loop = asyncio.get_running_loop()
    table = wants_table(request)
    include = request.query.get("includeObject", "Metadata")
    bookmarks = request.query.get("allowWatchBookmarks") in TRUE and not table
    last_bookmark = loop.time()
    if initial_left == 0:
        await _send(response, _bookmark(resource, start_rv))
    deadline = loop.time() + timeout_s
    first_table = True
    while not closing.is_set():
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            kind, obj = await asyncio.wait_for(anext(watch), min(remaining, 1.0))
        except TimeoutError:
            if _gone(request):
                return
            idle = loop.time() - last_bookmark >= bookmark_interval and watch.pending() == 0
            if bookmarks and initial_left <= 0 and idle:
                # Every change up to the store's revision has reached this watch's queue
                # (the store is synchronous), and the queue is empty: the client has them.
                rv = store.resource_version
                await _send(response, _bookmark(resource, rv, initial_events_end=False))
                last_bookmark = loop.time()
            continue
        except StopAsyncIteration:
            return
        body: Obj = obj
        if table:
            rv = obj["metadata"].get("resourceVersion", "")
            body = tables.table(resource, [obj], rv, clock.now(), include_object=include)
            if not first_table:
                body["columnDefinitions"] = []
            first_table = False
        await _send(response, {"type": kind, "object": body})
        if initial_left > 0:
            initial_left -= 1
            if initial_left == 0:
                await _send(response, _bookmark(resource, start_rv))


def check_started(pod: Obj, container: str) -> None:
    """400 with the kubelet's text when the container has not started (no logs yet)."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") != container:
            continue
        waiting = (status.get("state") or {}).get("waiting")
        if waiting is not None:
            reason = waiting.get("reason") or "ContainerCreating"
            if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                reason = "trying and failing to pull image"
            raise ApiError.bad_request(
                f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting '
                f"to start: {reason}"
            )
        return
    if pod.get("status", {}).get("phase") == "Pending":
        raise ApiError.bad_request(
            f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to '
            "start: ContainerCreating"
        )


async def serve_log(
    request: web.Request, *, store: Store, closing: asyncio.Event, namespace: str, pod_name: str
) -> web.StreamResponse:
    """Answer `pods/log` (text/plain): `container`, `tailLines`, `follow`."""
    from sandbox.cluster.resources import PODS

    query = request.query
    container = query.get("container") or None
    pod = store.get(PODS, namespace, pod_name)
    tail_text = query.get("tailLines", "")
    tail = int(tail_text) if tail_text.lstrip("-").isdigit() else None
    lines = store.read_log(namespace, pod_name, container, tail=tail)
    if not lines:
        check_started(pod, container or pod["spec"]["containers"][0]["name"])
    if query.get("follow") not in TRUE:
        return web.Response(text="".join(line + "\n" for line in lines), content_type="text/plain")
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    sent = len(store.read_log(namespace, pod_name, container))
    try:
        for line in lines:
            await response.write(line.encode() + b"\n")
        while not closing.is_set() and not _gone(request):
            await asyncio.sleep(0.05)
            try:
                now = store.read_log(namespace, pod_name, container)
            except ApiError:
                break  # the pod is gone
            for line in now[sent:]:
                await response.write(line.encode() + b"\n")
            sent = len(now)
    except ConnectionError:
        pass  # the client went away
    return response
