"""The HTTP layer of the sandbox apiserver: the Kubernetes REST API over the `Store`.

`ApiServer.app()` is an aiohttp application that routes each request to a
resource, checks the configured denials, and answers like the real apiserver
(always in JSON; request bodies are read by `bodies`, watches and followed logs
streamed by `streams`):

* discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/{g}[/{v}]`; see
  `discovery.py`) and the minimal OpenAPI v3 kubectl needs (`openapi.py`);
* get, list (label and field selectors; `limit`/`continue` chunk a JSON list as
  the real server does; a Table list is returned whole), watch (`?watch=1`, from a
  `resourceVersion`, for
  `timeoutSeconds` wall seconds; a too-old resourceVersion gives HTTP 200 and then
  an `ERROR` event carrying a 410 Expired Status, as the real watch cache does;
  `sendInitialEvents=true` ends the initial events with the annotated BOOKMARK),
  create, update (PUT, optimistic concurrency), delete (DeleteOptions:
  propagationPolicy and preconditions), deletecollection, and patch of the three
  types (strategic merge, JSON merge, JSON patch; apply-patch is 415);
* subresources `status`, `scale` (autoscaling/v1 Scale) and `pods/log`
  (text/plain, `container`, `tailLines`, `follow`);
* `selfsubjectaccessreviews`, answered from the denials set with `deny()`, which
  also make the matching requests fail with 403 Forbidden as RBAC would;
* `Accept: ...;as=Table;g=meta.k8s.io` answers a server-side printed `Table`
  (`tables.py`), so `kubectl get` prints the usual columns;
* writes record `metadata.managedFields` (`fields.py`) for the request's manager:
  `?fieldManager=`, else the User-Agent's prefix;
* every request is counted in `ApiServer.served` by client and route (`route_of`:
  `GET pods watch`, `PUT leases/deckhand-lock-api-prod`), what the API-economy bench
  and its test read.

Every error is a `kind: Status` with the real code, reason and message, and a
request that fails leaves the store unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.cluster import bodies, discovery, fields, openapi, streams, tables
from sandbox.cluster.clock import Clock, http_date
from sandbox.cluster.errors import ApiError, FieldError
from sandbox.cluster.patch import PatchError, json_patch, merge_patch, strategic_merge
from sandbox.cluster.resources import PODS, RESOURCES, Resource
from sandbox.cluster.store import Obj, Store, clone

log = logging.getLogger(__name__)

USER = "sandbox-admin"


@dataclass(frozen=True)
class Target:
    """What a resource URL names."""

    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass(frozen=True)
class Denial:
    verb: str
    resource: str
    namespace: str | None
    name: str | None = None


def _json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
    )


def error_response(error: ApiError) -> web.Response:
    return _json_response(error.status(), error.code)


def agent_of(user_agent: str) -> str:
    """The client kind of a User-Agent: `kubectl`, else `deckhand` (kubernetes-asyncio's)."""
    return "kubectl" if user_agent.startswith("kubectl") else "deckhand"


def route_of(request: web.Request) -> str:
    """`GET deployments`, `GET pods watch`, `PUT leases/deckhand-lock-api-prod`: the
    method and resource of a request (a Lease by name: the leader's apart from locks)."""
    parts = [p for p in request.path.split("/") if p]
    resource = next((p for p in reversed(parts) if p.endswith("s")), request.path)
    if resource == "leases" and parts[-1] != "leases":
        resource = f"leases/{parts[-1]}"
    watch = "watch" if request.query.get("watch") in ("1", "true") else ""
    return f"{request.method} {resource} {watch}".strip()


class ApiServer:
    """The Kubernetes REST API of one `Store`."""

    def __init__(
        self, store: Store, clock: Clock, *, bookmark_interval: float = streams.BOOKMARK_INTERVAL
    ) -> None:
        """`bookmark_interval`: wall seconds between BOOKMARKs on an idle watch that asked."""
        self.store = store
        self.clock = clock
        self.bookmark_interval = bookmark_interval
        self._denials: set[Denial] = set()
        self._closing = asyncio.Event()
        self.served: Counter[tuple[str, str]] = Counter()
        """Requests answered, by (`agent_of`, `route_of`)."""

    # ------------------------------------------------------------ configuration

    def deny(
        self, verb: str, resource: str, namespace: str | None = None, name: str | None = None
    ) -> None:
        """Answer `verb` on `resource` (`deployments`, `pods/log`; `*` = any verb) with 403,
        in `namespace` or everywhere, for the object `name` or all (as RBAC's
        `resourceNames`); access reviews for it say "not allowed"."""
        self._denials.add(Denial(verb, resource, namespace, name))

    def allow_all(self) -> None:
        self._denials.clear()

    def allowed(
        self, verb: str, resource: str, namespace: str | None, name: str | None = None
    ) -> bool:
        return not any(
            d.verb in (verb, "*")
            and d.resource == resource
            and d.namespace in (None, namespace)
            and d.name in (None, name)
            for d in self._denials
        )

    def close(self) -> None:
        """End open watches and log streams (at shutdown)."""
        self._closing.set()
        self.store.close()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_response_prepare.append(self._date)
        return app

    async def _date(self, request: web.Request, response: web.StreamResponse) -> None:
        """`Date` in the cluster's clock, as Go's net/http writes it (RFC 1123, GMT, seconds):
        a client can read the cluster's time off any answer."""
        response.headers["Date"] = http_date(self.clock.now())

    # ------------------------------------------------------------ dispatch

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.served[(agent_of(request.headers.get("User-Agent", "")), route_of(request))] += 1
        try:
            return await self._dispatch(request)
        except ApiError as error:
            return error_response(error)
        except Exception as error:  # an unexpected bug: answer 500 like the real server
            log.exception("sandbox apiserver: %s %s failed", request.method, request.path_qs)
            return error_response(ApiError.internal(repr(error)))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.path.strip("/")
        method = request.method
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        static = self._discovery(path, request)
        if static is not None:
            if method != "GET":
                raise ApiError.method_not_allowed()
            return _json_response(static)
        target = self._route(path)
        handler = self._handler(method, target, request)
        verb, checked = self._verb(method, target, request)
        resource_name = target.resource.plural + (
            f"/{target.subresource}" if target.subresource else ""
        )
        if checked and not self.allowed(verb, resource_name, target.namespace, target.name):
            raise self._forbidden(verb, target, resource_name)
        return await handler(request, target)

    def _discovery(self, path: str, request: web.Request) -> Obj | None:
        if path == "/version":
            return discovery.version()
        if path == "/api":
            return discovery.api_versions(request.host)
        if path == "/apis":
            return discovery.api_group_list(RESOURCES)
        if path == "/openapi/v3":
            return openapi.root(RESOURCES)
        parts = path.strip("/").split("/")
        if parts[:2] == ["openapi", "v3"]:
            group, version = (
                (parts[3], parts[4])
                if parts[2:3] == ["apis"] and len(parts) == 5
                else ("", parts[3])
                if parts[2:3] == ["api"] and len(parts) == 4
                else ("", "")
            )
            return openapi.group_version(RESOURCES, group, version) or _raise(ApiError.no_route())
        if parts[0] == "apis" and len(parts) == 2:
            return discovery.api_group(RESOURCES, parts[1]) or _raise(ApiError.no_route())
        if parts[0] == "apis" and len(parts) == 3:
            return discovery.resource_list(RESOURCES, parts[1], parts[2]) or _raise(
                ApiError.no_route()
            )
        if parts[0] == "api" and len(parts) == 2:
            return discovery.resource_list(RESOURCES, "", parts[1]) or _raise(ApiError.no_route())
        return None

    def _route(self, path: str) -> Target:
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) > 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) > 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError.no_route()
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            inner = RESOURCES.by_path(group, version, rest[2])
            if inner is not None and inner.namespaced:
                namespace, rest = rest[1], rest[2:]
        resource = RESOURCES.by_path(group, version, rest[0])
        if resource is None or len(rest) > 3:
            raise ApiError.no_route()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if resource.namespaced and namespace is None and name is not None:
            raise ApiError.no_route()
        if sub is not None and sub not in resource.subresources:
            raise ApiError.no_route()
        return Target(resource, namespace, name, sub)

    def _handler(
        self, method: str, target: Target, request: web.Request
    ) -> Callable[[web.Request, Target], Awaitable[web.StreamResponse]]:
        routes: dict[str, Callable[[web.Request, Target], Awaitable[web.StreamResponse]]]
        if target.subresource == "log":
            routes = {"GET": self._log}
        elif target.subresource == "scale":
            routes = {"GET": self._get_scale, "PUT": self._put_scale, "PATCH": self._patch}
        elif target.subresource == "status":
            routes = {"GET": self._get, "PUT": self._update, "PATCH": self._patch}
        elif target.name is None:
            routes = {"GET": self._list, "POST": self._create, "DELETE": self._delete_collection}
        else:
            routes = {
                "GET": self._get,
                "PUT": self._update,
                "PATCH": self._patch,
                "DELETE": self._delete,
            }
        verb, _ = self._verb(method, target, request)
        handler = routes.get(method)
        if handler is None or (target.subresource is None and not target.resource.allows(verb)):
            raise ApiError.method_not_allowed()
        return handler

    @staticmethod
    def _verb(method: str, target: Target, request: web.Request) -> tuple[str, bool]:
        """The RBAC verb of a request, and whether denials apply to it."""
        watching = request.query.get("watch") in bodies.TRUE
        if method == "GET":
            if target.name is None:
                return ("watch" if watching else "list"), True
            return ("watch" if watching else "get"), True
        verb = {
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if target.name else "deletecollection",
        }.get(method, "")
        return verb, True

    def _forbidden(self, verb: str, target: Target, resource_name: str) -> ApiError:
        where = (
            f'in the namespace "{target.namespace}"' if target.namespace else "at the cluster scope"
        )
        why = (
            f'User "{USER}" cannot {verb} resource "{resource_name}" in API group '
            f'"{target.resource.group}" {where}'
        )
        return ApiError.forbidden(target.resource.group_resource, target.name or "", why)

    # ------------------------------------------------------------ reads

    async def _get(self, request: web.Request, target: Target) -> web.StreamResponse:
        assert target.name is not None
        if request.query.get("watch") in bodies.TRUE:
            return await self._watch(request, target)
        obj = self.store.get(target.resource, target.namespace, target.name)
        if streams.wants_table(request):
            return _json_response(
                tables.table(
                    target.resource,
                    [obj],
                    obj["metadata"].get("resourceVersion", ""),
                    self.clock.now(),
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        return _json_response(obj)

    async def _list(self, request: web.Request, target: Target) -> web.StreamResponse:
        if request.query.get("watch") in bodies.TRUE:
            return await self._watch(request, target)
        items, rv = self.store.list(
            target.resource,
            target.namespace,
            label_selector=request.query.get("labelSelector"),
            field_selector=request.query.get("fieldSelector"),
            copy=False,  # only the chunk served is copied
        )
        if streams.wants_table(request):
            return _json_response(
                tables.table(
                    target.resource,
                    [clone(i) for i in items],
                    rv,
                    self.clock.now(),
                    include_object=request.query.get("includeObject", "Metadata"),
                )
            )
        (chunk, remaining), rv, token = _page(
            items, rv, request.query.get("limit"), request.query.get("continue")
        )
        body = self._list_body(target.resource, [clone(i) for i in chunk], rv)
        if token:
            body["metadata"]["continue"] = token
            body["metadata"]["remainingItemCount"] = remaining
        return _json_response(body)

    @staticmethod
    def _list_body(resource: Resource, items: list[Obj], rv: str) -> Obj:
        for item in items:  # a typed list's items carry no apiVersion/kind
            item.pop("apiVersion", None)
            item.pop("kind", None)
        return {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": rv},
            "items": items,
        }

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        return await streams.serve_watch(
            request,
            store=self.store,
            clock=self.clock,
            closing=self._closing,
            resource=target.resource,
            namespace=target.namespace,
            name=target.name,
            bookmark_interval=self.bookmark_interval,
        )

    # ------------------------------------------------------------ writes

    async def _create(self, request: web.Request, target: Target) -> web.StreamResponse:
        if target.resource.kind == "SelfSubjectAccessReview":
            return await self._access_review(request, target)
        obj = await bodies.read_object(request, target.resource)
        meta = obj.get("metadata") or {}
        if target.namespace and meta.get("namespace") not in (None, "", target.namespace):
            raise ApiError.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        created = self.store.create(
            target.resource,
            obj,
            namespace=target.namespace,
            dry_run=bodies.dry_run(request),
            manager=_manager(request),
        )
        return _json_response(created, 201)

    async def _update(self, request: web.Request, target: Target) -> web.StreamResponse:
        assert target.name is not None
        obj = await bodies.read_object(request, target.resource)
        obj = self._aim(obj, target)
        return _json_response(
            self.store.replace(
                target.resource,
                obj,
                subresource=target.subresource,
                dry_run=bodies.dry_run(request),
                manager=_manager(request),
            )
        )

    def _aim(self, obj: Obj, target: Target) -> Obj:
        """Check the body's name and namespace against the URL's; fill them in when absent."""
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if meta.get("name") and meta["name"] != target.name:
            raise ApiError.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({target.name})"
            )
        if target.namespace and meta.get("namespace") not in (None, "", target.namespace):
            raise ApiError.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        meta["name"] = target.name
        if target.namespace:
            meta["namespace"] = target.namespace
        return obj

    async def _patch(self, request: web.Request, target: Target) -> web.StreamResponse:
        assert target.name is not None
        content_type, patch = await bodies.read_patch(request)
        current = self.store.get(target.resource, target.namespace, target.name)
        scale = target.subresource == "scale"
        base = self._scale_of(target.resource, current) if scale else current
        try:
            if content_type == "application/json-patch+json":
                if not isinstance(patch, list):
                    raise ApiError.bad_request(
                        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                    )
                patched = json_patch(base, patch)
            elif content_type == "application/merge-patch+json":
                patched = merge_patch(base, patch)
            else:
                if not isinstance(patch, dict):
                    raise ApiError.bad_request(
                        "json: cannot unmarshal array into Go value of type map[string]interface {}"
                    )
                patched = strategic_merge(base, patch)
        except PatchError as error:
            log.debug("patch of %s/%s failed: %s", target.resource.plural, target.name, error)
            raise ApiError.invalid_request() from None
        if not isinstance(patched, dict):
            raise ApiError.invalid_request()
        if scale:
            return _json_response(
                self._write_scale(
                    target,
                    current,
                    patched,
                    dry_run=bodies.dry_run(request),
                    manager=_manager(request),
                )
            )
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            meta = patched["metadata"] = {}
        meta["name"] = target.name
        if target.namespace:
            meta["namespace"] = target.namespace
        return _json_response(
            self.store.replace(
                target.resource,
                patched,
                subresource=target.subresource,
                dry_run=bodies.dry_run(request),
                manager=_manager(request),
            )
        )

    async def _delete(self, request: web.Request, target: Target) -> web.StreamResponse:
        assert target.name is not None
        options = await bodies.read_delete_options(request)
        preconditions = options.get("preconditions") or {}
        obj = self.store.delete(
            target.resource,
            target.namespace,
            target.name,
            propagation=bodies.propagation(request, options),
            uid=preconditions.get("uid"),
            resource_version=preconditions.get("resourceVersion"),
            dry_run=bodies.dry_run(request, options),
        )
        if obj["metadata"].get("deletionTimestamp") or target.resource == PODS:
            return _json_response(obj)
        details: Obj = {"name": target.name}
        if target.resource.group:
            details["group"] = target.resource.group
        details["kind"] = target.resource.plural
        details["uid"] = obj["metadata"].get("uid")
        return _json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
        )

    async def _delete_collection(self, request: web.Request, target: Target) -> web.StreamResponse:
        options = await bodies.read_delete_options(request)
        items, _ = self.store.list(
            target.resource,
            target.namespace,
            label_selector=request.query.get("labelSelector"),
            field_selector=request.query.get("fieldSelector"),
        )
        deleted = []
        for item in items:
            try:
                deleted.append(
                    self.store.delete(
                        target.resource,
                        item["metadata"].get("namespace"),
                        item["metadata"]["name"],
                        propagation=bodies.propagation(request, options),
                        dry_run=bodies.dry_run(request, options),
                    )
                )
            except ApiError as error:
                if error.code != 404:  # already gone through garbage collection
                    raise
        return _json_response(
            self._list_body(target.resource, deleted, self.store.resource_version)
        )

    # ------------------------------------------------------------ subresources

    @staticmethod
    def _scale_of(resource: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        selector = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
            "status": {
                "replicas": obj.get("status", {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
            },
        }

    async def _get_scale(self, request: web.Request, target: Target) -> web.StreamResponse:
        assert target.name is not None
        obj = self.store.get(target.resource, target.namespace, target.name)
        return _json_response(self._scale_of(target.resource, obj))

    async def _put_scale(self, request: web.Request, target: Target) -> web.StreamResponse:
        assert target.name is not None
        scale = await bodies.read_object(request, target.resource)
        current = self.store.get(target.resource, target.namespace, target.name)
        return _json_response(
            self._write_scale(
                target, current, scale, dry_run=bodies.dry_run(request), manager=_manager(request)
            )
        )

    def _write_scale(
        self, target: Target, current: Obj, scale: Obj, *, dry_run: bool = False, manager: str
    ) -> Obj:
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError.invalid(
                "Scale.autoscaling",
                target.name or "",
                [
                    FieldError(
                        "FieldValueInvalid",
                        "spec.replicas",
                        "must be greater than or equal to 0",
                        replicas,
                    )
                ],
            )
        updated = clone(current)
        updated["spec"]["replicas"] = replicas
        wanted = (scale.get("metadata") or {}).get("resourceVersion")
        updated["metadata"]["resourceVersion"] = wanted or current["metadata"]["resourceVersion"]
        stored = self.store.replace(
            target.resource, updated, dry_run=dry_run, manager=manager, fields_subresource="scale"
        )
        return self._scale_of(target.resource, stored)

    async def _log(self, request: web.Request, target: Target) -> web.StreamResponse:
        assert target.name is not None
        assert target.namespace is not None
        return await streams.serve_log(
            request,
            store=self.store,
            closing=self._closing,
            namespace=target.namespace,
            pod_name=target.name,
        )

    async def _access_review(self, request: web.Request, target: Target) -> web.StreamResponse:
        review = await bodies.read_object(request, target.resource)
        attrs = (review.get("spec") or {}).get("resourceAttributes") or {}
        resource = attrs.get("resource", "")
        if attrs.get("subresource"):
            resource = f"{resource}/{attrs['subresource']}"
        allowed = self.allowed(
            attrs.get("verb", ""),
            resource,
            attrs.get("namespace") or None,
            attrs.get("name") or None,
        )
        review = {**review, "apiVersion": target.resource.api_version, "kind": target.resource.kind}
        review.setdefault("metadata", {})["creationTimestamp"] = None
        review["status"] = {"allowed": allowed}
        return _json_response(review, 201)


def _key(item: Obj) -> tuple[str, str]:
    """The store's order: (namespace, name)."""
    meta = item.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")))


def _start(key: tuple[str, str]) -> str:
    return f"{key[0]}/{key[1]}\x00"


def _page(
    items: list[Obj], rv: str, limit: str | None, token: str | None
) -> tuple[tuple[list[Obj], int], str, str]:
    """A chunk of a list as the real apiserver serves `limit`/`continue`: ((items, how
    many remain), the list's resourceVersion (the first chunk's), the next token or '').

    The token is base64url JSON `{"v": "meta.k8s.io/v1", "rv": N, "start": "ns/name\\x00"}`
    as the apiserver's storage encodes it; later chunks read the store as it is now (the
    sandbox keeps no old revisions), from the key after the last one served."""
    if token:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            start, rv = str(raw["start"]), str(int(raw["rv"]))
        except (ValueError, KeyError, TypeError):
            raise ApiError.bad_request(
                "continue key is not valid: the token is not a base64 JSON continue key"
            ) from None
        namespace, _, name = start.rstrip("\x00").partition("/")
        items = [i for i in items if _key(i) >= (namespace, name)]
    try:
        size = int(limit) if limit else 0
    except ValueError:
        size = 0
    if size <= 0 or len(items) <= size:
        return (items, 0), rv, ""
    page, rest = items[:size], items[size:]
    start = _start(_key(rest[0]))
    encoded = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": start}).encode()
    return (page, len(rest)), rv, base64.urlsafe_b64encode(encoded).decode().rstrip("=")


def _manager(request: web.Request) -> str:
    """Who writes, as the real handlers' `managerOrUserAgent` names it."""
    return fields.manager_of(request.query.get("fieldManager"), request.headers.get("User-Agent"))


def _raise(error: ApiError) -> Obj:
    raise error
