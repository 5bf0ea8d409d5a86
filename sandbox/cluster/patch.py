"""The three PATCH flavours of the Kubernetes API, on plain JSON values.

Pure functions; the input is never modified.

* `merge_patch` — RFC 7386 JSON merge patch (`application/merge-patch+json`):
  maps merge recursively, `null` deletes a key, anything else (lists too) replaces.
* `json_patch` — RFC 6902 JSON patch (`application/json-patch+json`): `add`,
  `remove`, `replace`, `move`, `copy`, `test` on JSON pointers.
* `strategic_merge` — Kubernetes' strategic merge patch
  (`application/strategic-merge-patch+json`): like a merge patch, except that the
  lists the API marks `patchStrategy: merge` are merged element by element on their
  merge key (containers, volumes and env by `name`, container ports by
  `containerPort`, ...), and the directives `$patch: replace|delete|merge`,
  `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`
  are honoured. The merge keys come from a table of the fields the sandbox's
  resources use rather than from OpenAPI schemas.

A patch that cannot be applied raises `PatchError`; the HTTP layer turns it into
the same Status the real apiserver sends.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = Any

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

# Lists merged by a key (patchStrategy=merge, patchMergeKey=...) in the core and apps types.
_MERGE_KEYS: dict[str, str] = {
    **dict.fromkeys(_CONTAINER_LISTS, "name"),
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    "taints": "key",
}
# Lists of scalars merged as sets (patchStrategy=merge without a key).
_PRIMITIVE_MERGE = frozenset({"finalizers"})


class PatchError(Exception):
    """A patch that is well-formed JSON but cannot be applied to the object."""


def merge_key(path: tuple[str, ...], field: str) -> str | None:
    """The merge key of list `field` found under `path` (field names from the root), or None."""
    if field == "ports":
        return "containerPort" if path and path[-1] in _CONTAINER_LISTS else "port"
    return _MERGE_KEYS.get(field)


# ---------------------------------------------------------------- RFC 7386


def merge_patch(target: JSON, patch: JSON) -> JSON:
    """Apply an RFC 7386 merge patch; returns a new value."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---------------------------------------------------------------- RFC 6902


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'invalid JSON pointer "{path}"')
    return [_unescape(p) for p in path[1:].split("/")]


def _parent(doc: JSON, tokens: list[str], op: str, path: str) -> JSON:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise PatchError(
                f'{op} operation does not apply: doc is missing path: "{path}": missing value'
            )
        if not isinstance(node, (dict, list)):
            raise PatchError(
                f'{op} operation does not apply: doc is missing path: "{path}": missing value'
            )
    return node


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.lstrip("-").isdigit():
        raise PatchError(f"Unable to access invalid index: {token}: invalid index referenced")
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index < 0 or index > limit:
        raise PatchError(f"Unable to access invalid index: {index}: invalid index referenced")
    return index


def _get(doc: JSON, path: str, op: str) -> JSON:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(
                f'{op} operation does not apply: doc is missing from path: "{path}": missing value'
            )
        return parent[last]
    return parent[_index(parent, last, allow_end=False)]


def _add(doc: JSON, path: str, value: JSON, op: str = "add") -> JSON:
    tokens = _pointer(path)
    if not tokens:
        return copy.deepcopy(value)
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    else:
        parent.insert(_index(parent, last, allow_end=True), copy.deepcopy(value))
    return doc


def _remove(doc: JSON, path: str, op: str = "remove") -> tuple[JSON, JSON]:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError(
            f'{op} operation does not apply: doc is missing path: "{path}": missing value'
        )
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"Unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    return doc, parent.pop(_index(parent, last, allow_end=False))


def json_patch(doc: JSON, operations: JSON) -> JSON:
    """Apply an RFC 6902 patch (a list of operations); returns a new value."""
    if not isinstance(operations, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    result = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict):
            raise PatchError("json: cannot unmarshal into Go value of type jsonpatch.Operation")
        op = operation.get("op")
        path = operation.get("path")
        if not isinstance(path, str):
            raise PatchError(f"{op} operation does not apply: missing path")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"{op} operation does not apply: missing value")
        value = operation.get("value")
        if op == "add":
            result = _add(result, path, value)
        elif op == "remove":
            result, _ = _remove(result, path)
        elif op == "replace":
            tokens = _pointer(path)
            if tokens:
                parent = _parent(result, tokens, "replace", path)
                last = tokens[-1]
                if isinstance(parent, dict):
                    if last not in parent:
                        raise PatchError(
                            "replace operation does not apply: doc is missing key: "
                            f"{path}: missing value"
                        )
                    parent[last] = copy.deepcopy(value)
                else:
                    parent[_index(parent, last, allow_end=False)] = copy.deepcopy(value)
            else:
                result = copy.deepcopy(value)
        elif op in ("move", "copy"):
            source = operation.get("from")
            if not isinstance(source, str):
                raise PatchError(f"{op} operation does not apply: missing from path")
            if op == "move":
                result, moved = _remove(result, source, "move")
            else:
                moved = copy.deepcopy(_get(result, source, "copy"))
            result = _add(result, path, moved, op)
        elif op == "test":
            try:
                actual = _get(result, path, "test")
            except PatchError:
                actual = None
            if actual != value:
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {op}")
    return result


# ---------------------------------------------------------------- strategic merge

_DELETE = object()
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


def _clean(value: JSON) -> JSON:
    """A patch value stripped of `$` directives (for values added without merging)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [
            _clean(v)
            for v in value
            if not (
                isinstance(v, dict) and v.get("$patch") in ("delete", "replace") and len(v) == 1
            )
        ]
    return copy.deepcopy(value)


def strategic_merge(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a strategic merge patch to an object; returns a new object."""
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object")
    merged = _merge_map(original, patch, ())
    return {} if merged is _DELETE else merged


def _merge_map(original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> Any:
    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "replace":
        return _clean(patch)
    if directive == "delete":
        return _DELETE
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive} in map: {patch}")
    retain = patch.pop("$retainKeys", None)
    orders = {k[len(_ORDER) :]: patch.pop(k) for k in list(patch) if k.startswith(_ORDER)}
    removals = {
        k[len(_DELETE_PRIMITIVES) :]: patch.pop(k)
        for k in list(patch)
        if k.startswith(_DELETE_PRIMITIVES)
    }
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(value, dict):
            merged = _merge_map(current if isinstance(current, dict) else {}, value, (*path, key))
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(current, value, path, key)
        else:
            result[key] = value
    for key, values in removals.items():
        if isinstance(result.get(key), list):
            result[key] = [v for v in result[key] if v not in values]
    for key, order in orders.items():
        if isinstance(result.get(key), list):
            result[key] = _reorder(result[key], order, merge_key(path, key))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: Any, patch: list[Any], path: tuple[str, ...], field: str) -> list[Any]:
    key = merge_key(path, field)
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        kept = [i for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
        return [_clean(item) for item in kept]
    if not isinstance(current, list):
        current = []
    if field in _PRIMITIVE_MERGE:
        result = list(current)
        result.extend(v for v in patch if v not in result)
        return result
    if key is None:
        return [_clean(item) for item in patch]
    result = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"map: {item!r} does not contain declared merge key: {key}")
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        index = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(_clean(item))
        else:
            merged = _merge_map(result[index], item, (*path, field))
            if merged is _DELETE:
                result.pop(index)
            else:
                result[index] = merged
    return result


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    ranked = [i for w in wanted for i in items if ident(i) == w]
    rest = [i for i in items if ident(i) not in wanted]
    return ranked + rest
