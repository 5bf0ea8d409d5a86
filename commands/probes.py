"""A container's probes as Kubernetes runs them, and what the kubelet says about them.

    probes_of(container) -> {kind: Probe}      a pod spec container's probes (API defaults)
    Probe.handler                              `GET http://:3000/admin/`, `tcp :5432`, `exec …`
    Probe.budget_s                             initialDelaySeconds + periodSeconds ×
                                               failureThreshold + timeoutSeconds: the kubelet
                                               gives up on a starting container by then
    parse_unhealthy(message) -> (kind, output) an `Unhealthy` event (`Readiness probe failed: …`)
    parse_kill(message) -> (container, kind)   a `Killing` event after a liveness/startup failure
    Seen.of(output)                            what the kubelet saw: a status code, a timeout,
                                               a refused connection, an exec command's output
    evidence_by_kind(specs, container, …)      per kind, the latest failure: `ProbeEvidence`

The texts are the kubelet's own (pkg/kubelet/prober/prober.go: `"%s probe failed: %s"`
with the probe type `Startup|Readiness|Liveness`; pkg/probe/http: `HTTP probe failed
with statuscode: %d`, Go's client errors; kuberuntime: `Container %s failed liveness
probe, will be restarted`).

Everything here is a purely computational function with no side-effects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Any

STARTUP, READINESS, LIVENESS = "startup", "readiness", "liveness"
FIELDS = {STARTUP: "startupProbe", READINESS: "readinessProbe", LIVENESS: "livenessProbe"}

_UNHEALTHY = re.compile(
    r"^(Startup|Readiness|Liveness) probe (?:failed|errored[^:]*): ?(.*)$", re.S
)
_KILL = re.compile(r"^Container (\S+) failed (liveness|startup) probe, will be restarted")
_STATUS = re.compile(r"HTTP probe failed with statuscode: (\d{3})")


def _int(value: object, default: int) -> int:
    try:
        return int(str(value)) if value is not None else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Probe:
    """One probe of a container, with the API's defaults."""

    kind: str
    """`startup`, `readiness` or `liveness`."""
    action: str
    """`http`, `tcp`, `exec` or `grpc`."""
    initial_delay_s: int = 0
    period_s: int = 10
    timeout_s: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    path: str = ""
    port: str = ""
    scheme: str = "http"
    host: str = ""
    command: tuple[str, ...] = ()

    @property
    def field(self) -> str:
        """The spec field: `startupProbe`, `readinessProbe`, `livenessProbe`."""
        return FIELDS[self.kind]

    @property
    def handler(self) -> str:
        """How `kubectl describe` would name what it does, shortened."""
        if self.action == "http":
            return f"GET {self.scheme}://{self.host}:{self.port}{self.path}"
        if self.action == "tcp":
            return f"tcp {self.host}:{self.port}"
        if self.action == "grpc":
            return f"grpc :{self.port}"
        return "exec " + " ".join(self.command)

    @property
    def threshold_s(self) -> int:
        """How long failures take to cross `failureThreshold` once probing started."""
        return self.period_s * self.failure_threshold

    @property
    def budget_s(self) -> int:
        """The longest the kubelet probes a starting container before giving up on it."""
        return self.initial_delay_s + self.threshold_s + self.timeout_s

    @classmethod
    def from_dict(cls, kind: str, probe: Mapping[str, Any]) -> Probe | None:
        base = cls(
            kind,
            "",
            initial_delay_s=max(0, _int(probe.get("initialDelaySeconds"), 0)),
            period_s=max(1, _int(probe.get("periodSeconds"), 10)),
            timeout_s=max(1, _int(probe.get("timeoutSeconds"), 1)),
            success_threshold=max(1, _int(probe.get("successThreshold"), 1)),
            failure_threshold=max(1, _int(probe.get("failureThreshold"), 3)),
        )
        if isinstance(probe.get("httpGet"), Mapping):
            get = probe["httpGet"]
            return replace(
                base,
                action="http",
                path=str(get.get("path") or "/"),
                port=str(get.get("port") or ""),
                scheme=str(get.get("scheme") or "HTTP").lower(),
                host=str(get.get("host") or ""),
            )
        if isinstance(probe.get("tcpSocket"), Mapping):
            sock = probe["tcpSocket"]
            port, host = str(sock.get("port") or ""), str(sock.get("host") or "")
            return replace(base, action="tcp", port=port, host=host)
        if isinstance(probe.get("exec"), Mapping):
            command = tuple(str(a) for a in probe["exec"].get("command") or ())
            return replace(base, action="exec", command=command)
        if isinstance(probe.get("grpc"), Mapping):
            return replace(base, action="grpc", port=str(probe["grpc"].get("port") or ""))
        return None


def probes_of(container: Mapping[str, Any]) -> dict[str, Probe]:
    """The container's probes by kind (a probe without a handler is left out)."""
    found = {}
    for kind, field in FIELDS.items():
        raw = container.get(field)
        if isinstance(raw, Mapping):
            probe = Probe.from_dict(kind, raw)
            if probe is not None:
                found[kind] = probe
    return found


def parse_unhealthy(message: str) -> tuple[str, str] | None:
    """(kind, output) of an `Unhealthy` event's message, or None if it is no probe's."""
    match = _UNHEALTHY.match(message.strip())
    return (match.group(1).lower(), match.group(2).strip()) if match else None


def parse_kill(message: str) -> tuple[str, str] | None:
    """(container, kind) of a `Killing` event after a liveness or startup failure."""
    match = _KILL.match(message.strip())
    return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class Seen:
    """What the kubelet saw when a probe failed, classified."""

    what: str
    """`status`, `timeout`, `refused`, `exec` or `other`."""
    status: int | None = None
    output: str = ""

    @classmethod
    def of(cls, output: str) -> Seen:
        status = _STATUS.search(output)
        if status:
            return cls("status", int(status.group(1)), output)
        low = output.lower()
        if "connection refused" in low:
            return cls("refused", output=output)
        if "deadline exceeded" in low or "timeout" in low or "timed out" in low:
            return cls("timeout", output=output)
        return cls("exec" if output else "other", output=output)

    @property
    def is_definitive(self) -> bool:
        """The app is up and answers that the probe's target isn't there (waiting won't help):
        an HTTP 4xx other than 408/429."""
        return (
            self.status is not None and 400 <= self.status < 500 and self.status not in (408, 429)
        )


@dataclass(frozen=True)
class ProbeEvidence:
    """A failing probe, named: which, on which container, doing what, and what the kubelet saw."""

    kind: str
    """`startup`, `readiness` or `liveness`."""
    container: str
    handler: str
    """`GET http://:3000/admin/`, `tcp :5432`, `exec pg_isready` (the spec's, else unknown)."""
    seen: Seen
    count: int
    """How many failures with that answer the events counted."""
    probe: Probe | None = None
    killed: bool = False
    """The kubelet killed the container for it (exit 137) and restarts it."""
    passing: tuple[str, ...] = ()
    """Other HTTP paths of the same container whose probes ran without a failure."""


def evidence_by_kind(
    specs: Mapping[str, Probe],
    container: str,
    *,
    started: bool | None,
    failures: Sequence[tuple[str, str, int]],
    killed: Set[str],
) -> dict[str, ProbeEvidence]:
    """Per probe kind, the latest failure: `failures` are (kind, output, count), oldest
    first, from `Unhealthy` events; `killed`: kinds a `Killing` event named."""
    latest: dict[str, tuple[str, int]] = {}
    for kind, output, count in failures:
        before = latest.get(kind)
        latest[kind] = (output, count + (before[1] if before and before[0] == output else 0))
    found = {}
    for kind, (output, count) in latest.items():
        spec = specs.get(kind)
        passing = tuple(
            dict.fromkeys(
                p.path
                for other, p in specs.items()
                if spec is not None
                and other not in latest
                and p.action == "http"
                and p.path != spec.path
                and (started if other == STARTUP else started is not False)
            )
        )
        found[kind] = ProbeEvidence(
            kind,
            container,
            spec.handler if spec else "",
            Seen.of(output),
            count,
            spec,
            killed=kind in killed,
            passing=passing,
        )
    return found
