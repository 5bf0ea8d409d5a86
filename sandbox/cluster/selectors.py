"""Label and field selectors, parsed once and matched against plain JSON objects.

Pure functions. Label selectors follow `k8s.io/apimachinery/pkg/labels`:
`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a` (exists), `!a` (does not
exist), joined by commas. Field selectors follow `pkg/fields`: `path=value`,
`path==value`, `path!=value`, with only the fields each resource supports (the
real server answers 400 for others).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.cluster.errors import ApiError

_KEY = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector."""

    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!"


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def matches_object(self, obj: dict[str, Any]) -> bool:
        return self.matches(obj.get("metadata", {}).get("labels"))


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _bad(selector: str, why: str) -> ApiError:
    return ApiError.bad_request(f"unable to parse requirement: {why}" if why else selector)


def _check_key(key: str) -> str:
    if not key or not _KEY.match(key):
        raise _bad(
            key,
            f"invalid label key {key!r}: name part must consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character",
        )
    return key


def _check_value(value: str) -> str:
    if len(value) > 63 or not _VALUE.match(value):
        raise _bad(
            value,
            f"invalid label value: {value!r}: a valid label must be an empty "
            "string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character",
        )
    return value


_SET_OP = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")


def parse_label_selector(selector: str | None) -> LabelSelector:
    """Parse `app=api,tier in (web,worker),!canary`; ApiError 400 when malformed."""
    if selector is None or not selector.strip():
        return LabelSelector()
    requirements: list[Requirement] = []
    for raw in _split_top(selector):
        part = raw.strip()
        if not part:
            raise _bad(selector, "found '', expected: identifier")
        set_op = _SET_OP.match(part)
        if set_op:
            key, op, inner = set_op.groups()
            values = tuple(sorted({_check_value(v.strip()) for v in inner.split(",")}))
            requirements.append(Requirement(_check_key(key), op, values))
        elif "!=" in part:
            key, value = part.split("!=", 1)
            requirements.append(
                Requirement(_check_key(key.strip()), "!=", (_check_value(value.strip()),))
            )
        elif "==" in part or "=" in part:
            key, value = part.split("==", 1) if "==" in part else part.split("=", 1)
            requirements.append(
                Requirement(_check_key(key.strip()), "=", (_check_value(value.strip()),))
            )
        elif part.startswith("!"):
            requirements.append(Requirement(_check_key(part[1:].strip()), "!"))
        else:
            requirements.append(Requirement(_check_key(part), "exists"))
    return LabelSelector(tuple(requirements))


def selector_from_match_labels(match: dict[str, Any] | None) -> LabelSelector:
    """A `metav1.LabelSelector` (`matchLabels` + `matchExpressions`) as a LabelSelector."""
    match = match or {}
    reqs = [
        Requirement(k, "=", (str(v),)) for k, v in sorted((match.get("matchLabels") or {}).items())
    ]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in match.get("matchExpressions") or []:
        reqs.append(
            Requirement(expr["key"], ops[expr["operator"]], tuple(sorted(expr.get("values") or ())))
        )
    return LabelSelector(tuple(reqs))


# ---- field selectors ----

_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
SUPPORTED_FIELDS: dict[str, tuple[str, ...]] = {
    "pods": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
    "nodes": ("spec.unschedulable",),
    "replicasets": ("status.replicas",),
}


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    op: str  # "=" or "!="
    value: str

    def matches(self, obj: dict[str, Any]) -> bool:
        actual = _field_value(obj, self.path)
        return (actual == self.value) if self.op == "=" else (actual != self.value)


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source":  # events: `source` means source.component
        path = "source.component"
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: dict[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)


def parse_field_selector(selector: str | None, plural: str) -> FieldSelector:
    """Parse `involvedObject.name=api,type!=Normal` for resource `plural`; 400 when unsupported."""
    if selector is None or not selector.strip():
        return FieldSelector()
    allowed = set(_COMMON_FIELDS) | set(SUPPORTED_FIELDS.get(plural, ()))
    requirements = []
    for raw in selector.split(","):
        part = raw.strip()
        if "!=" in part:
            path, value = part.split("!=", 1)
            op = "!="
        elif "==" in part:
            path, value = part.split("==", 1)
            op = "="
        elif "=" in part:
            path, value = part.split("=", 1)
            op = "="
        else:
            raise ApiError.bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        path = path.strip()
        if path not in allowed:
            raise ApiError.bad_request(f"field label not supported: {path}")
        requirements.append(FieldRequirement(path, op, value.strip()))
    return FieldSelector(tuple(requirements))


Matcher = Callable[[dict[str, Any]], bool]


def matcher(plural: str, label_selector: str | None, field_selector: str | None) -> Matcher:
    """One predicate for both selectors (parsing errors raise ApiError 400 right away)."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, plural)
    if not labels.requirements and not fields.requirements:
        return lambda obj: True
    return lambda obj: labels.matches_object(obj) and fields.matches(obj)
