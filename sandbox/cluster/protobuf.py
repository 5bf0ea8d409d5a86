"""Decoding the Kubernetes protobuf bodies that kubectl's typed clients send.

`kubectl create namespace|configmap|secret|deployment|service` and `kubectl auth
can-i` POST `application/vnd.kubernetes.protobuf`: the `k8s\\x00` magic, then a
`runtime.Unknown` envelope (typeMeta, raw) whose `raw` is the object in the
generated.proto encoding. This module turns such a body into the object's JSON
dict for the kinds in `_ROOTS`, using field tables for the messages those
commands fill in (field numbers as in k8s.io/api generated.proto).

Go encodes every non-pointer field, zero or not; zero values decode to "absent"
(as JSON `omitempty` would print them), except fields marked as pointers. A
non-empty field this table does not know raises `ProtobufUnsupported` (the API
answers 415 and names it) rather than being dropped. Pure functions.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

MAGIC = b"k8s\x00"
Obj = dict[str, Any]


class ProtobufUnsupported(Exception):
    """A body this decoder cannot turn into JSON faithfully."""


# A field: (json name, type, flags). Types: "s" string, "b" bytes (base64 in JSON),
# "i" varint integer, "?" bool, "m:Name" message, "map" map<string,string>,
# "map:b" map<string,bytes>, "map:m:Name" map<string,Name>, "ios" IntOrString,
# "time" metav1.Time, "skip" (dropped: e.g. status, set by the server).
# Flags: "r" repeated, "p" pointer (zero values kept).
Field = tuple[str, str, str]

_S: dict[str, dict[int, Field]] = {
    "Unknown": {
        1: ("typeMeta", "m:TypeMeta", ""),
        2: ("raw", "b", ""),
        3: ("contentEncoding", "s", ""),
        4: ("contentType", "s", ""),
    },
    "TypeMeta": {1: ("apiVersion", "s", ""), 2: ("kind", "s", "")},
    "ObjectMeta": {
        1: ("name", "s", ""),
        2: ("generateName", "s", ""),
        3: ("namespace", "s", ""),
        4: ("selfLink", "s", ""),
        5: ("uid", "s", ""),
        6: ("resourceVersion", "s", ""),
        7: ("generation", "i", ""),
        8: ("creationTimestamp", "time", ""),
        9: ("deletionTimestamp", "time", ""),
        10: ("deletionGracePeriodSeconds", "i", "p"),
        11: ("labels", "map", ""),
        12: ("annotations", "map", ""),
        13: ("ownerReferences", "m:OwnerReference", "r"),
        14: ("finalizers", "s", "r"),
    },
    "OwnerReference": {
        1: ("kind", "s", ""),
        3: ("name", "s", ""),
        4: ("uid", "s", ""),
        5: ("apiVersion", "s", ""),
        6: ("controller", "?", "p"),
        7: ("blockOwnerDeletion", "?", "p"),
    },
    "Namespace": {
        1: ("metadata", "m:ObjectMeta", ""),
        2: ("spec", "m:NamespaceSpec", ""),
        3: ("status", "skip", ""),
    },
    "NamespaceSpec": {1: ("finalizers", "s", "r")},
    "ConfigMap": {
        1: ("metadata", "m:ObjectMeta", ""),
        2: ("data", "map", ""),
        3: ("binaryData", "map:b", ""),
        4: ("immutable", "?", "p"),
    },
    "Secret": {
        1: ("metadata", "m:ObjectMeta", ""),
        2: ("data", "map:b", ""),
        3: ("type", "s", ""),
        4: ("stringData", "map", ""),
        5: ("immutable", "?", "p"),
    },
    "Deployment": {
        1: ("metadata", "m:ObjectMeta", ""),
        2: ("spec", "m:DeploymentSpec", ""),
        3: ("status", "skip", ""),
    },
    "DeploymentSpec": {
        1: ("replicas", "i", "p"),
        2: ("selector", "m:LabelSelector", "p"),
        3: ("template", "m:PodTemplateSpec", ""),
        4: ("strategy", "m:DeploymentStrategy", ""),
        5: ("minReadySeconds", "i", ""),
        6: ("revisionHistoryLimit", "i", "p"),
        7: ("paused", "?", ""),
        9: ("progressDeadlineSeconds", "i", "p"),
    },
    "DeploymentStrategy": {
        1: ("type", "s", ""),
        2: ("rollingUpdate", "m:RollingUpdateDeployment", "p"),
    },
    "RollingUpdateDeployment": {1: ("maxUnavailable", "ios", "p"), 2: ("maxSurge", "ios", "p")},
    "LabelSelector": {
        1: ("matchLabels", "map", ""),
        2: ("matchExpressions", "m:LabelSelectorRequirement", "r"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "s", ""),
        2: ("operator", "s", ""),
        3: ("values", "s", "r"),
    },
    "PodTemplateSpec": {1: ("metadata", "m:ObjectMeta", ""), 2: ("spec", "m:PodSpec", "")},
    "PodSpec": {
        2: ("containers", "m:Container", "r"),
        3: ("restartPolicy", "s", ""),
        4: ("terminationGracePeriodSeconds", "i", "p"),
        6: ("dnsPolicy", "s", ""),
        7: ("nodeSelector", "map", ""),
        8: ("serviceAccountName", "s", ""),
        9: ("serviceAccount", "s", ""),
        10: ("nodeName", "s", ""),
        11: ("hostNetwork", "?", ""),
        12: ("hostPID", "?", ""),
        13: ("hostIPC", "?", ""),
        15: ("imagePullSecrets", "m:LocalObjectReference", "r"),
        16: ("hostname", "s", ""),
        17: ("subdomain", "s", ""),
        19: ("schedulerName", "s", ""),
        20: ("initContainers", "m:Container", "r"),
        24: ("priorityClassName", "s", ""),
    },
    "LocalObjectReference": {1: ("name", "s", "")},
    "Container": {
        1: ("name", "s", ""),
        2: ("image", "s", ""),
        3: ("command", "s", "r"),
        4: ("args", "s", "r"),
        5: ("workingDir", "s", ""),
        6: ("ports", "m:ContainerPort", "r"),
        7: ("env", "m:EnvVar", "r"),
        8: ("resources", "m:ResourceRequirements", ""),
        13: ("terminationMessagePath", "s", ""),
        14: ("imagePullPolicy", "s", ""),
        16: ("stdin", "?", ""),
        17: ("stdinOnce", "?", ""),
        18: ("tty", "?", ""),
        20: ("terminationMessagePolicy", "s", ""),
    },
    "ContainerPort": {
        1: ("name", "s", ""),
        2: ("hostPort", "i", ""),
        3: ("containerPort", "i", ""),
        4: ("protocol", "s", ""),
        5: ("hostIP", "s", ""),
    },
    "EnvVar": {1: ("name", "s", ""), 2: ("value", "s", "")},
    "ResourceRequirements": {
        1: ("limits", "map:m:Quantity", ""),
        2: ("requests", "map:m:Quantity", ""),
    },
    "Quantity": {1: ("string", "s", "")},
    "Service": {
        1: ("metadata", "m:ObjectMeta", ""),
        2: ("spec", "m:ServiceSpec", ""),
        3: ("status", "skip", ""),
    },
    "ServiceSpec": {
        1: ("ports", "m:ServicePort", "r"),
        2: ("selector", "map", ""),
        3: ("clusterIP", "s", ""),
        4: ("type", "s", ""),
        5: ("externalIPs", "s", "r"),
        7: ("sessionAffinity", "s", ""),
        8: ("loadBalancerIP", "s", ""),
        10: ("externalName", "s", ""),
        11: ("externalTrafficPolicy", "s", ""),
        12: ("healthCheckNodePort", "i", ""),
        13: ("publishNotReadyAddresses", "?", ""),
    },
    "ServicePort": {
        1: ("name", "s", ""),
        2: ("protocol", "s", ""),
        3: ("port", "i", ""),
        4: ("targetPort", "ios", ""),
        5: ("nodePort", "i", ""),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", "m:ObjectMeta", ""),
        2: ("spec", "m:SelfSubjectAccessReviewSpec", ""),
        3: ("status", "skip", ""),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "m:ResourceAttributes", "p"),
        2: ("nonResourceAttributes", "m:NonResourceAttributes", "p"),
    },
    "ResourceAttributes": {
        1: ("namespace", "s", ""),
        2: ("verb", "s", ""),
        3: ("group", "s", ""),
        4: ("version", "s", ""),
        5: ("resource", "s", ""),
        6: ("subresource", "s", ""),
        7: ("name", "s", ""),
    },
    "NonResourceAttributes": {1: ("path", "s", ""), 2: ("verb", "s", "")},
}
# The kinds a body may carry, by (apiVersion, kind).
_ROOTS = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufUnsupported("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, raw value) of each field, in order."""
    out = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ProtobufUnsupported(f"wire type {wire}")
        out.append((number, wire, value))
    return out


def _is_zero(wire: int, value: Any) -> bool:
    return value == 0 if wire == 0 else not value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, wire: int, value: Any, where: str) -> Any:
    if kind == "s":
        return bytes(value).decode()
    if kind == "b":
        return base64.b64encode(bytes(value)).decode()
    if kind == "i":
        return _signed(value)
    if kind == "?":
        return bool(value)
    raise ProtobufUnsupported(f"{where}: type {kind}")


def _map_entry(data: bytes, kind: str, where: str) -> tuple[str, Any]:
    key: str = ""
    value: Any = None
    for number, _wire, raw in _fields(data):
        if number == 1:
            key = bytes(raw).decode()
        elif number == 2:
            if kind == "map":
                value = bytes(raw).decode()
            elif kind == "map:b":
                value = base64.b64encode(bytes(raw)).decode()
            else:
                value = _message(kind[len("map:m:") :], raw, where)
    if value is None:
        value = "" if kind in ("map", "map:b") else {}
    return key, value


def _int_or_string(data: bytes) -> int | str:
    fields = {n: v for n, _, v in _fields(data)}
    if fields.get(1, 0) == 1:
        return bytes(fields.get(3, b"")).decode()
    return _signed(fields.get(2, 0))


def _time(data: bytes) -> str | None:
    seconds = _signed({n: v for n, _, v in _fields(data)}.get(1, 0))
    if seconds == 0:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(name: str, data: bytes, where: str = "") -> Any:
    if name == "Quantity":
        return bytes({n: v for n, _, v in _fields(data)}.get(1, b"")).decode()
    schema = _S[name]
    out: Obj = {}
    for number, wire, raw in _fields(data):
        field = schema.get(number)
        if field is None:
            if _is_zero(wire, raw):
                continue
            raise ProtobufUnsupported(f"field {number} of {name}{where}")
        json_name, kind, flags = field
        path = f"{where}.{json_name}" if where else json_name
        if kind == "skip":
            continue
        if kind.startswith("map"):
            key, value = _map_entry(raw, kind, path)
            out.setdefault(json_name, {})[key] = value
            continue
        if kind.startswith("m:"):
            value = _message(kind[2:], raw, path)
        elif kind == "ios":
            value = _int_or_string(raw)
        elif kind == "time":
            value = _time(raw)
            if value is None:
                continue
        else:
            if "r" not in flags and "p" not in flags and _is_zero(wire, raw):
                continue
            value = _scalar(kind, wire, raw, path)
        if "r" in flags:
            out.setdefault(json_name, []).append(value)
        elif isinstance(value, dict) and not value and "p" not in flags:
            continue
        else:
            out[json_name] = value
    return out


def decode(body: bytes) -> Obj:
    """The JSON form of a `application/vnd.kubernetes.protobuf` object body."""
    if not body.startswith(MAGIC):
        raise ProtobufUnsupported("the body does not start with the k8s protobuf magic")
    envelope = _message("Unknown", body[len(MAGIC) :])
    type_meta = envelope.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if (api_version, kind) not in _ROOTS:
        raise ProtobufUnsupported(f"kind {kind} in {api_version or 'no apiVersion'}")
    raw = base64.b64decode(envelope.get("raw", ""))
    return {"apiVersion": api_version, "kind": kind, **_message(kind, raw)}
