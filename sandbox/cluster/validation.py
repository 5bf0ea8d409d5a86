"""Server-side defaulting and the small validation the sandbox apiserver does.

Pure functions on plain JSON objects, called by the store on create and update
(so objects written by controllers get them too). Defaults are the ones kubectl
and the Deployment machinery rely on; validation covers what clients hit in
practice (names, selectors matching template labels, containers and images
present, non-negative replicas), with the real apiserver's field paths and texts.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from sandbox.cluster.errors import ApiError, FieldError, GoLiteral
from sandbox.cluster.resources import Resource
from sandbox.cluster.selectors import selector_from_match_labels

Obj = dict[str, Any]

_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_TEXT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_TEXT = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


# ---------------------------------------------------------------- round trip

# Map-typed fields (`map[string]string` with omitempty): dropped when empty, as the real
# server's Go types do. Other empty objects are structs (`emptyDir: {}`) and stay.
_MAP_FIELDS = frozenset(
    {"labels", "annotations", "nodeSelector", "data", "binaryData", "matchLabels", "stringData"}
)
# Slices the API serializes even when empty (no omitempty).
_KEPT_LISTS = frozenset({"containers"})


def normalize(value: Any) -> Any:
    """Drop what a round trip through the real server's Go types drops: nulls, empty
    lists (but `containers`) and empty maps of the map-typed fields. In place; returns it."""
    if isinstance(value, dict):
        for key in list(value):
            item = value[key]
            if item is None:
                del value[key]
                continue
            normalize(item)
            if (isinstance(item, list) and not item and key not in _KEPT_LISTS) or (
                isinstance(item, dict) and not item and key in _MAP_FIELDS
            ):
                del value[key]
    elif isinstance(value, list):
        for item in value:
            normalize(item)
    return value


# ---------------------------------------------------------------- decoding


def _go_json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _string_fields(resource: Resource, obj: Obj) -> list[tuple[str, str, Any]]:
    """(Go struct, JSON path, value) of the string fields whose type the sandbox checks."""
    meta = _dict(obj.get("metadata"))
    found: list[tuple[str, str, Any]] = [
        ("ObjectMeta", "metadata.name", meta.get("name")),
        ("ObjectMeta", "metadata.namespace", meta.get("namespace")),
    ]
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if isinstance(values, dict):
            found += [("ObjectMeta", f"metadata.{field}", v) for v in values.values()]
    if resource.kind == "ConfigMap" and isinstance(obj.get("data"), dict):
        found += [("ConfigMap", "data", v) for v in obj["data"].values()]
    spec = _dict(obj.get("spec"))
    prefix = "spec"
    if resource.kind in ("Deployment", "ReplicaSet"):
        spec = _dict(_dict(spec.get("template")).get("spec"))
        prefix = "spec.template.spec"
    elif resource.kind != "Pod":
        return found
    for list_name in ("containers", "initContainers"):
        containers = spec.get(list_name)
        for container in containers if isinstance(containers, list) else []:
            if not isinstance(container, dict):
                continue
            where = f"{prefix}.{list_name}"
            found += [("Container", f"{where}.{f}", container.get(f)) for f in ("name", "image")]
            env = container.get("env")
            for var in env if isinstance(env, list) else []:
                if isinstance(var, dict):
                    found += [("EnvVar", f"{where}.env.{f}", var.get(f)) for f in ("name", "value")]
    return found


def check_types(resource: Resource, obj: Obj) -> None:
    """400 like the real server's JSON decoding when a checked string field is not a string.

    (`value: 1` or `name: Y` left unquoted in YAML reach the server as a number or a bool.)
    """
    for struct, path, value in _string_fields(resource, obj):
        if value is not None and not isinstance(value, str):
            raise ApiError.bad_request(
                f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                f"{resource.kind}: json: cannot unmarshal {_go_json_type(value)} into Go struct "
                f"field {struct}.{path} of type string"
            )


# ---------------------------------------------------------------- defaults


def default(resource: Resource, obj: Obj) -> None:
    """Fill in server-side defaults, in place (after `normalize`)."""
    normalize(obj)
    kind = resource.kind
    if kind == "Deployment":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        _default_template(spec)
    elif kind == "ReplicaSet":
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        _default_template(spec)
    elif kind == "Pod":
        _default_pod_spec(obj.setdefault("spec", {}))
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", "BestEffort")
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj[
            "metadata"
        ].get("name", "")
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")


def _default_template(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        _default_pod_spec(template.setdefault("spec", {}))


def _default_pod_spec(pod_spec: Obj) -> None:
    pod_spec.setdefault("restartPolicy", "Always")
    pod_spec.setdefault("terminationGracePeriodSeconds", 30)
    pod_spec.setdefault("dnsPolicy", "ClusterFirst")
    pod_spec.setdefault("securityContext", {})
    pod_spec.setdefault("schedulerName", "default-scheduler")
    for field in ("containers", "initContainers"):
        for container in pod_spec.get(field) or []:
            if not isinstance(container, dict):
                continue
            image = str(container.get("image", ""))
            tag = image.rsplit("/", 1)[-1]
            latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("resources", {})
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = container.get(kind)
                if isinstance(probe, dict):
                    _default_probe(probe)


def _default_probe(probe: Obj) -> None:
    """`SetDefaults_Probe` and `SetDefaults_HTTPGetAction` (core/v1 defaults.go)."""
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    get = probe.get("httpGet")
    if isinstance(get, dict):
        get.setdefault("path", "/")
        get.setdefault("scheme", "HTTP")


# ---------------------------------------------------------------- validation


def validate(resource: Resource, obj: Obj, old: Obj | None) -> None:
    """Raise ApiError 422 Invalid when the object breaks a rule the sandbox checks."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    errors: list[FieldError] = []
    if not name:
        errors.append(
            FieldError("FieldValueRequired", "metadata.name", "name or generateName is required")
        )
    elif resource.kind == "Namespace" and not _DNS1123_LABEL.match(name):
        errors.append(FieldError("FieldValueInvalid", "metadata.name", _LABEL_TEXT, name))
    elif not _DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
        errors.append(FieldError("FieldValueInvalid", "metadata.name", _SUBDOMAIN_TEXT, name))
    errors.extend(_validate_labels(meta.get("labels"), "metadata.labels"))
    if resource.kind in ("Deployment", "ReplicaSet"):
        errors.extend(_validate_workload(obj.get("spec") or {}))
    elif resource.kind == "Pod":
        errors.extend(_validate_pod_spec(obj.get("spec") or {}, "spec"))
    if errors:
        raise ApiError.invalid(resource.group_kind, name, errors)


def _validate_labels(labels: Any, path: str) -> list[FieldError]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [FieldError("FieldValueInvalid", path, "must be a map", GoLiteral(str(labels)))]
    return [
        FieldError(
            "FieldValueInvalid",
            path,
            "a valid label must be an empty string or consist "
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character",
            value,
        )
        for value in labels.values()
        if not isinstance(value, str)
        or len(value) > 63
        or not re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", value)
    ]


def _validate_workload(spec: Obj) -> list[FieldError]:
    errors: list[FieldError] = []
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        errors.append(
            FieldError(
                "FieldValueInvalid", "spec.replicas", "must be greater than or equal to 0", replicas
            )
        )
    selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else None
    raw_template = spec.get("template")
    template: Obj = raw_template if isinstance(raw_template, dict) else {}
    labels = (template.get("metadata") or {}).get("labels")
    if not selector:
        errors.append(FieldError("FieldValueRequired", "spec.selector"))
    elif not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errors.append(
            FieldError(
                "FieldValueInvalid",
                "spec.selector",
                "empty selector is invalid for deployment",
                GoLiteral(
                    "v1.LabelSelector{MatchLabels:map[string]string(nil), "
                    "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
                ),
            )
        )
    if selector and (not labels or not selector_from_match_labels(selector).matches(labels)):
        shown = labels if labels else GoLiteral("map[string]string(nil)")
        errors.append(
            FieldError(
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                "`selector` does not match template `labels`",
                shown,
            )
        )
    errors.extend(_validate_pod_spec(template.get("spec") or {}, "spec.template.spec"))
    return errors


def _validate_pod_spec(spec: Obj, path: str) -> list[FieldError]:
    containers = spec.get("containers")
    if not containers:
        return [FieldError("FieldValueRequired", f"{path}.containers")]
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, container in enumerate(containers):
        where = f"{path}.containers[{index}]"
        if not isinstance(container, dict):
            errors.append(
                FieldError(
                    "FieldValueInvalid", where, "must be an object", GoLiteral(str(container))
                )
            )
            continue
        name = container.get("name")
        if not name:
            errors.append(FieldError("FieldValueRequired", f"{where}.name"))
        elif not _DNS1123_LABEL.match(str(name)):
            errors.append(FieldError("FieldValueInvalid", f"{where}.name", _LABEL_TEXT, name))
        elif name in seen:
            errors.append(FieldError("FieldValueDuplicate", f"{where}.name", "", name))
        else:
            seen.add(name)
        if not container.get("image"):
            errors.append(FieldError("FieldValueRequired", f"{where}.image"))
    return errors
