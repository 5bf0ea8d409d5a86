"""Server-side printing: `meta.k8s.io/v1 Table` answers for `kubectl get`.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints
the cells the server computed (a plain list would print only NAME and AGE).
Pure functions; the columns follow the real apiserver's printers
(`pkg/printers/internalversion`) for the resources the sandbox serves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox.cluster.resources import Resource

Obj = dict[str, Any]
Column = tuple[str, str, int, str]  # name, type, priority, description
Cells = Callable[[Obj, datetime], list[Any]]


def human_duration(seconds: float) -> str:
    """apimachinery's `duration.HumanDuration` (what the AGE column shows)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _since(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration((now - then).total_seconds())


def _age(obj: Obj, now: datetime) -> str:
    return _since(obj.get("metadata", {}).get("creationTimestamp"), now)


def _name(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def _selector_text(selector: Obj | None) -> str:
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            parts.append(expr["key"])
        else:
            parts.append(f"!{expr['key']}")
    return ",".join(parts) or "<none>"


def _containers(spec: Obj) -> tuple[str, str]:
    containers = spec.get("containers") or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _deployment(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(spec.get("template", {}).get("spec", {}))
    return [
        _name(obj),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
        names,
        images,
        _selector_text(spec.get("selector")),
    ]


def _replicaset(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    names, images = _containers(spec.get("template", {}).get("spec", {}))
    return [
        _name(obj),
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj, now),
        names,
        images,
        _selector_text(spec.get("selector")),
    ]


def pod_status_text(pod: Obj) -> str:
    """The STATUS column of `kubectl get pods` (ErrImagePull, CrashLoopBackOff, Running, ...)."""
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif "terminated" in state:
            code = state["terminated"].get("exitCode", 0)
            reason = f"ExitCode:{code}"
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod(obj: Obj, now: datetime) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    return [
        _name(obj),
        f"{ready}/{len(spec.get('containers') or [])}",
        pod_status_text(obj),
        str(restarts),
        _age(obj, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _event(obj: Obj, now: datetime) -> list[Any]:
    ref = obj.get("involvedObject", {})
    last = (
        obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    )
    first = obj.get("firstTimestamp") or obj.get("eventTime")
    return [
        _since(last, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}",
        obj.get("message", ""),
        ref.get("fieldPath", ""),
        (obj.get("source") or {}).get("component", ""),
        _since(first, now),
        obj.get("count", 1),
        _name(obj),
    ]


def _namespace(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), obj.get("status", {}).get("phase", ""), _age(obj, now)]


def _node(obj: Obj, now: datetime) -> list[Any]:
    conditions = {
        c.get("type"): c.get("status") for c in obj.get("status", {}).get("conditions") or []
    }
    ready = "Ready" if conditions.get("Ready") == "True" else "NotReady"
    roles = [
        k.split("/", 1)[1]
        for k in obj.get("metadata", {}).get("labels", {})
        if k.startswith("node-role.kubernetes.io/")
    ]
    version = obj.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
    return [_name(obj), ready, ",".join(roles) or "<none>", _age(obj, now), version]


def _configmap(obj: Obj, now: datetime) -> list[Any]:
    return [
        _name(obj),
        len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
        _age(obj, now),
    ]


def _secret(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), obj.get("type", ""), len(obj.get("data") or {}), _age(obj, now)]


def _service(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec", {})
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [
        _name(obj),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        "<none>",
        ports or "<none>",
        _age(obj, now),
    ]


def _lease(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), obj.get("spec", {}).get("holderIdentity") or "", _age(obj, now)]


def _default(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), _age(obj, now)]


_NAME: Column = ("Name", "string", 0, "Name must be unique within a namespace.")
_AGE: Column = (
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)
_WIDE_WORKLOAD: list[Column] = [
    ("Containers", "string", 1, "Names of each container in the template."),
    ("Images", "string", 1, "Images referenced by each container in the template."),
    ("Selector", "string", 1, "Label selector for pods."),
]
_PRINTERS: dict[str, tuple[list[Column], Cells]] = {
    "Deployment": (
        [
            _NAME,
            ("Ready", "string", 0, "Number of the pod with ready state"),
            (
                "Up-to-date",
                "string",
                0,
                "Total number of non-terminated pods targeted "
                "by this deployment that have the desired template spec.",
            ),
            ("Available", "string", 0, "Total number of available pods."),
            _AGE,
            *_WIDE_WORKLOAD,
        ],
        _deployment,
    ),
    "ReplicaSet": (
        [
            _NAME,
            ("Desired", "integer", 0, "Number of desired pods."),
            ("Current", "integer", 0, "Number of actual replicas."),
            ("Ready", "integer", 0, "The number of ready replicas."),
            _AGE,
            *_WIDE_WORKLOAD,
        ],
        _replicaset,
    ),
    "Pod": (
        [
            _NAME,
            ("Ready", "string", 0, "The aggregate readiness state of this pod."),
            ("Status", "string", 0, "The aggregate status of the containers in this pod."),
            (
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted.",
            ),
            _AGE,
            ("IP", "string", 1, "IP address allocated to the pod."),
            ("Node", "string", 1, "Name of the node the pod is assigned to."),
            ("Nominated Node", "string", 1, "Nominated node name."),
            ("Readiness Gates", "string", 1, "Pod readiness gates."),
        ],
        _pod,
    ),
    "Event": (
        [
            ("Last Seen", "string", 0, "Time of the last occurrence."),
            ("Type", "string", 0, "Type of this event."),
            ("Reason", "string", 0, "Why the action was taken."),
            ("Object", "string", 0, "The object this event is about."),
            ("Message", "string", 0, "A human-readable description of the status."),
            ("Subobject", "string", 1, "The field of the object."),
            ("Source", "string", 1, "The component reporting this event."),
            ("First Seen", "string", 1, "Time of the first occurrence."),
            ("Count", "string", 1, "The number of times this event has occurred."),
            ("Name", "string", 1, "The name of the event."),
        ],
        _event,
    ),
    "Namespace": (
        [_NAME, ("Status", "string", 0, "The status of the namespace"), _AGE],
        _namespace,
    ),
    "Node": (
        [
            _NAME,
            ("Status", "string", 0, "The status of the node"),
            ("Roles", "string", 0, "The roles of the node"),
            _AGE,
            ("Version", "string", 0, "Kubelet Version reported by the node."),
        ],
        _node,
    ),
    "ConfigMap": ([_NAME, ("Data", "string", 0, "Number of data entries."), _AGE], _configmap),
    "Secret": (
        [
            _NAME,
            ("Type", "string", 0, "The type of the secret"),
            ("Data", "string", 0, "Number of data entries."),
            _AGE,
        ],
        _secret,
    ),
    "Service": (
        [
            _NAME,
            ("Type", "string", 0, "Type of the service."),
            ("Cluster-IP", "string", 0, "Cluster IP of the service."),
            ("External-IP", "string", 0, "External IPs of the service."),
            ("Port(s)", "string", 0, "Port(s) of the service."),
            _AGE,
        ],
        _service,
    ),
    "Lease": ([_NAME, ("Holder", "string", 0, "The holder of the lease."), _AGE], _lease),
}


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(
    resource: Resource,
    items: list[Obj],
    resource_version: str,
    now: datetime,
    *,
    include_object: str = "Metadata",
) -> Obj:
    """A `Table` for a list (or one object) of `resource`, with rows as of `now`."""
    columns, cells = _PRINTERS.get(resource.kind, ([_NAME, _AGE], _default))
    rows = []
    for obj in items:
        row: Obj = {"cells": cells(obj, now)}
        row_object = _row_object(obj, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": text,
                "priority": priority,
            }
            for name, kind, priority, text in columns
        ],
        "rows": rows,
    }
