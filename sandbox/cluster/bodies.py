"""Reading request bodies and options, with the real apiserver's answers when they are bad.

Object bodies come as JSON, YAML or (from kubectl's typed clients) Kubernetes
protobuf; patches as one of the three patch media types; DeleteOptions as JSON.
What cannot be parsed becomes the same 400/415 Status the real apiserver sends,
with Go's wording of JSON syntax errors (`jsonerrors`).
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web

from sandbox.cluster import protobuf
from sandbox.cluster.errors import ApiError
from sandbox.cluster.jsonerrors import go_json_error
from sandbox.cluster.resources import Resource

Obj = dict[str, Any]

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
BODY_TYPES = ("application/json", "application/yaml")
PROTOBUF = "application/vnd.kubernetes.protobuf"
TRUE = ("1", "true", "True")


def _unrecognized(resource: Resource, why: str) -> ApiError:
    return ApiError.bad_request(
        f"the object provided is unrecognized (must be of type {resource.kind}): {why}"
    )


async def read_object(request: web.Request, resource: Resource) -> Obj:
    """The object in a POST/PUT body (its kind checked against `resource`)."""
    content_type = request.content_type or "application/json"
    raw = await request.read()
    if content_type == PROTOBUF:
        try:
            return protobuf.decode(raw)
        except (protobuf.ProtobufUnsupported, ValueError, UnicodeDecodeError) as error:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the sandbox apiserver cannot decode this protobuf body ({error}); send "
                "application/json",
            ) from None
    if content_type not in BODY_TYPES:
        raise ApiError.unsupported_media_type([*BODY_TYPES, PROTOBUF])
    if content_type == "application/yaml":
        try:
            data = yaml.safe_load(raw.decode())
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise _unrecognized(
                resource, f"couldn't get version/kind; yaml parse error: {error}"
            ) from None
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _unrecognized(
                resource,
                f"couldn't get version/kind; json parse error: {go_json_error(raw)} "
                f"({summarize(raw)})",
            ) from None
    if not isinstance(data, dict):
        raise _unrecognized(
            resource,
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{_go_type(data)} into Go value of type struct {{ APIVersion string "
            '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
            f" ({summarize(raw)})",
        )
    kind, api_version = data.get("kind"), data.get("apiVersion")
    if kind and kind != resource.kind and kind not in ("Scale", "DeleteOptions"):
        raise ApiError.bad_request(
            f'{kind} in version "{api_version}" cannot be handled as a {resource.kind}: '
            f'no kind "{kind}" is registered for version "{api_version}" in scheme '
            '"pkg/api/legacyscheme/scheme.go:30"'
        )
    if api_version and kind == resource.kind and api_version != resource.api_version:
        raise ApiError.bad_request(
            f'{kind} in version "{api_version}" cannot be handled as a {resource.kind}: '
            f'no kind "{kind}" is registered for version "{api_version}"'
        )
    return data


async def read_patch(request: web.Request) -> tuple[str, Any]:
    """(patch media type, parsed patch) of a PATCH request."""
    content_type = request.content_type
    if content_type not in PATCH_TYPES:
        raise ApiError.unsupported_media_type(list(PATCH_TYPES))
    raw = await request.read()
    try:
        return content_type, json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        if content_type == "application/merge-patch+json":
            raise ApiError.bad_request("Invalid JSON Patch") from None
        raise ApiError.bad_request(go_json_error(raw)) from None


async def read_delete_options(request: web.Request) -> Obj:
    """The DeleteOptions body of a DELETE ({} when there is none)."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        options = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError.bad_request(go_json_error(raw)) from None
    return options if isinstance(options, dict) else {}


def propagation(request: web.Request, options: Obj) -> str:
    """`Background`, `Foreground` or `Orphan`, from the query or the DeleteOptions."""
    policy = request.query.get("propagationPolicy") or options.get("propagationPolicy")
    if policy is None and (
        options.get("orphanDependents") is True or request.query.get("orphanDependents") in TRUE
    ):
        policy = "Orphan"
    policy = policy or "Background"
    if policy not in ("Background", "Foreground", "Orphan"):
        raise ApiError.invalid("DeleteOptions", "", [])
    return str(policy)


def dry_run(request: web.Request, options: Obj | None = None) -> bool:
    """`?dryRun=All` (or DeleteOptions.dryRun): validate and answer, store nothing."""
    return bool(request.query.getall("dryRun", [])) or bool((options or {}).get("dryRun"))


def summarize(raw: bytes, limit: int = 30) -> str:
    """apiserver's `summarizeData`: the start of the body, as text for `{...`, else hex."""
    if not raw:
        return "<empty>"
    if raw[:1] == b"{":
        text = raw.decode(errors="replace")
        return text[:limit] + " ..." if len(raw) > limit else text
    return raw[:limit].hex() + " ..." if len(raw) > limit else raw.hex()


def _go_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null"
