"""managedFields as the apiserver's field manager records them (pure).

The real apiserver (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager`,
structured-merge-diff) keeps, per object, one `metadata.managedFields` entry per
(manager, operation, apiVersion, subresource) with the set of fields that manager
last wrote, serialized as `FieldsV1`. What this module models of it:

* the manager: the request's `fieldManager` query parameter, else
  `prefixFromUserAgent` (the User-Agent up to its first `/`, printable runes, at most
  128 bytes): kubectl always sends one (`kubectl-set`, `kubectl-client-side-apply`,
  `kubectl-edit`, `kubectl-rollout`, `kubectl-create`, ...); kubernetes clients that
  don't appear as their User-Agent's product (`OpenAPI-Generator`);
* operation `Update` for create, update and patch (server-side apply is not served:
  the sandbox answers `application/apply-patch+yaml` with 415);
* create: the writer owns every field of the (defaulted) object; update: the writer
  gains the fields it added or changed, which every other manager loses, fields that
  disappeared leave every manager, and a manager left with no fields is dropped;
  a write that changes nothing changes no entry;
* the main resource's entry never covers `status`, the `status` subresource's entry
  (`subresource: status`) covers only `status`; a write through `scale` is recorded
  with `subresource: scale` owning the parent's `spec.replicas` (taken from whoever
  owned it);
* `FieldsV1`: `f:<field>` for map keys, `k:{"name":"api"}` for items of lists keyed
  by a merge key (`name`; `containerPort`+`protocol` for ports), other lists atomic;
  `"."` marks a map or list item owned as a whole (the real set also omits it for
  plain structs such as `spec`; here the few such structs are listed by name).
"""

from __future__ import annotations

import json
from typing import Any

Obj = dict[str, Any]
Path = tuple[str, ...]

MAX_MANAGER_LENGTH = 128  # validation.FieldManagerMaxLength
_SERVER_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
# Non-pointer structs: the real field set names their fields but not the struct itself.
_STRUCTS = frozenset({"metadata", "spec", "template", "strategy", "status", "resources"})


def prefix_from_user_agent(user_agent: str) -> str:
    """`prefixFromUserAgent`: what precedes the first `/`, printable only, ≤ 128 bytes."""
    out = ""
    for char in user_agent.split("/")[0]:
        if not char.isprintable():
            continue
        if len((out + char).encode()) > MAX_MANAGER_LENGTH:
            break
        out += char
    return out


def manager_of(field_manager: str | None, user_agent: str | None) -> str:
    """`managerOrUserAgent`: the explicit manager, else the User-Agent's prefix."""
    return field_manager or prefix_from_user_agent(user_agent or "")


def _item_key(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    if "containerPort" in item:
        return json.dumps(
            {"containerPort": item["containerPort"], "protocol": item.get("protocol", "TCP")},
            separators=(",", ":"),
        )
    if "name" in item:
        return json.dumps({"name": item["name"]}, separators=(",", ":"))
    return None


def leaves(obj: Obj, *, subresource: str | None) -> dict[Path, Any]:
    """Every owned path of `obj` (leaves with their values, wholes with None)."""
    top: Obj = {}
    if subresource == "status":
        if "status" in obj:
            top["status"] = obj["status"]
    elif subresource == "scale":  # the Scale's spec.replicas is the parent's
        if "replicas" in (obj.get("spec") or {}):
            top["spec"] = {"replicas": obj["spec"]["replicas"]}
    else:
        top = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")}
        meta = {k: v for k, v in (top.get("metadata") or {}).items() if k not in _SERVER_META}
        if meta:
            top["metadata"] = meta
        else:
            top.pop("metadata", None)
    out: dict[Path, Any] = {}
    _walk(top, (), out, whole=False)
    return out


def _walk(value: Any, path: Path, out: dict[Path, Any], *, whole: bool) -> None:
    if isinstance(value, dict) and value:
        if whole:
            out[(*path, ".")] = None
        for key, child in value.items():
            _walk(child, (*path, f"f:{key}"), out, whole=key not in _STRUCTS)
        return
    if isinstance(value, list) and value:
        keys = [_item_key(item) for item in value]
        if all(k is not None for k in keys) and len(set(keys)) == len(keys):
            for key, item in zip(keys, value, strict=True):
                _walk(item, (*path, f"k:{key}"), out, whole=True)
            return
    out[path] = json.dumps(value, sort_keys=True)


def to_fields_v1(paths: set[Path]) -> Obj:
    """The `FieldsV1` JSON of a set of paths."""
    root: Obj = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(part, {})
    return root


def from_fields_v1(fields: Obj) -> set[Path]:
    """The paths a `FieldsV1` names (its leaves)."""
    out: set[Path] = set()

    def walk(node: Obj, path: Path) -> None:
        if not node:
            if path:
                out.add(path)
            return
        for key, child in node.items():
            walk(child if isinstance(child, dict) else {}, (*path, key))

    walk(fields, ())
    return out


def record(
    old: Obj | None,
    new: Obj,
    *,
    manager: str,
    api_version: str,
    time: str,
    subresource: str | None = None,
) -> list[Obj]:
    """The `managedFields` of `new` after `manager` wrote it over `old` (None: a create)."""
    after = leaves(new, subresource=subresource)
    before = leaves(old, subresource=subresource) if old is not None else {}
    entries = [dict(e) for e in ((old or {}).get("metadata") or {}).get("managedFields") or []]
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = set(before) - set(after)
    if not changed and not removed and old is not None:
        return entries
    kept: list[Obj] = []
    mine: set[Path] = set()
    for entry in entries:
        same_subresource = entry.get("subresource") == subresource
        if (entry.get("subresource") == "status") != (subresource == "status"):
            kept.append(entry)  # status and the rest never share a field: untouched
            continue
        owned = from_fields_v1(entry.get("fieldsV1") or {})
        if (
            entry.get("manager") == manager
            and entry.get("operation") == "Update"
            and entry.get("apiVersion") == api_version
            and same_subresource
        ):
            mine = owned
            continue
        owned -= changed | removed
        if owned:
            kept.append({**entry, "fieldsV1": to_fields_v1(owned)})
    mine = (mine - removed) | changed
    if mine:
        entry = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(mine),
        }
        if subresource:
            entry["subresource"] = subresource
        kept.append(entry)
    return kept


def owner_of(obj: Obj, path: Path) -> Obj | None:
    """The managedFields entry that owns `path` (or a field under it), else None."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        owned = from_fields_v1(entry.get("fieldsV1") or {})
        if any(p[: len(path)] == path for p in owned):
            return dict(entry)
    return None
