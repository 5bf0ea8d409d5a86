"""The kubelet's prober, stood in: startup, readiness and liveness probe workers.

Modelled on the real kubelet (pkg/kubelet/prober: `worker.doProbe`, `prober.probe`;
pkg/probe/http, tcp, exec). No I/O: the kubelet stand-in (`kubelet`) asks a worker
to probe when it is due and acts on the answer (events, readiness, kills).

* One worker per probe per container. It ticks every `periodSeconds` from the moment
  the kubelet got the pod (not from the container's start), as the real worker's
  ticker does; a readiness probe is also run at once when the container starts and
  when its startup probe succeeds (the kubelet's manual trigger from `UpdatePodStatus`).
* A tick does nothing while the container has run fewer whole seconds than
  `initialDelaySeconds`; the startup probe runs only until it succeeds, liveness and
  readiness only after that (at once when there is no startup probe).
* Results count in runs: `failureThreshold` consecutive failures (or
  `successThreshold` successes) change the result; a liveness or startup failure puts
  the worker on hold until the next container (the kubelet kills this one).
* Every failed probe is reported as `<Kind> probe failed: <output>`, where the output
  is the probe's own: `HTTP probe failed with statuscode: 404`, Go's `Get "http://…":
  dial tcp …: connect: connection refused`, a client timeout, or an exec command's output.

`App` is what answers inside the container, from the pod's knobs: nothing
listens until it has booted (`boot-seconds`), then it listens on its ports and answers
HTTP 200 on its healthy paths, 404 elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sandbox.cluster.controllers import texts
from sandbox.cluster.controllers.knobs import Knobs

Obj = dict[str, Any]
STARTUP, READINESS, LIVENESS = "Startup", "Readiness", "Liveness"
_FIELDS = {STARTUP: "startupProbe", READINESS: "readinessProbe", LIVENESS: "livenessProbe"}


@dataclass(frozen=True)
class Handler:
    """What a probe does: `http` (GET), `tcp`, `exec` or `grpc`."""

    kind: str
    port: int | None = None
    path: str = ""
    host: str = ""
    scheme: str = "http"
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeSpec:
    """A container's probe with the API's defaults applied."""

    kind: str  # STARTUP | READINESS | LIVENESS
    handler: Handler
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3


def _int(value: object, default: int) -> int:
    try:
        return int(str(value)) if value is not None else default
    except ValueError:
        return default


def _port(value: object, container: Obj) -> int | None:
    """`extractPort`: a number, or the name of one of the container's ports."""
    if isinstance(value, int):
        return value
    for port in container.get("ports") or []:
        if port.get("name") == value:
            return _int(port.get("containerPort"), 0) or None
    return _int(value, 0) or None


def _handler(probe: Obj, container: Obj) -> Handler | None:
    if "httpGet" in probe:
        get = probe["httpGet"] or {}
        return Handler(
            "http",
            _port(get.get("port"), container),
            path=str(get.get("path") or ""),
            host=str(get.get("host") or ""),
            scheme=str(get.get("scheme") or "HTTP").lower(),
        )
    if "tcpSocket" in probe:
        sock = probe["tcpSocket"] or {}
        return Handler("tcp", _port(sock.get("port"), container), host=str(sock.get("host") or ""))
    if "exec" in probe:
        return Handler(
            "exec", command=tuple(str(a) for a in (probe["exec"] or {}).get("command") or ())
        )
    if "grpc" in probe:
        return Handler("grpc", _int((probe["grpc"] or {}).get("port"), 0) or None)
    return None


def probes_of(container: Obj) -> list[ProbeSpec]:
    """The container's probes, startup first (a probe without a handler is skipped)."""
    found = []
    for kind, field in _FIELDS.items():
        probe = container.get(field)
        if not isinstance(probe, dict):
            continue
        handler = _handler(probe, container)
        if handler is None:
            continue
        found.append(
            ProbeSpec(
                kind,
                handler,
                initial_delay=_int(probe.get("initialDelaySeconds"), 0),
                period=max(1, _int(probe.get("periodSeconds"), 10)),
                timeout=max(1, _int(probe.get("timeoutSeconds"), 1)),
                success_threshold=max(1, _int(probe.get("successThreshold"), 1)),
                failure_threshold=max(1, _int(probe.get("failureThreshold"), 3)),
            )
        )
    return found


@dataclass(frozen=True)
class App:
    """The process inside one container, as its probes see it."""

    ip: str
    boot_at: float
    """Scaled monotonic time from which it listens."""
    ports: frozenset[int] | None
    """Where it listens; None: on any port."""
    knobs: Knobs

    @classmethod
    def of(cls, container: Obj, *, ip: str, boot_at: float, knobs: Knobs) -> App:
        ports = knobs.listen_ports
        if ports is None:
            declared = {_int(p.get("containerPort"), 0) for p in container.get("ports") or []}
            ports = frozenset(declared - {0}) or None
        return cls(ip, boot_at, ports, knobs)

    def answer(self, handler: Handler, now: float) -> tuple[bool, str]:
        """(success, output) of one probe at `now`; the output is what a failure reports."""
        if handler.kind == "exec":
            if now < self.boot_at:
                return False, ""
            failing = self.knobs.exec_fails
            return (True, "") if failing is None else (False, failing)
        host = handler.host or self.ip
        port = handler.port or 0
        host_port = f"{host}:{port}"
        listening = now >= self.boot_at and (self.ports is None or port in self.ports)
        if handler.kind == "http":
            path = (
                handler.path
                if not handler.path or handler.path.startswith("/")
                else "/" + handler.path
            )
            url = f"{handler.scheme}://{host_port}{path}"
            if not listening:
                return False, texts.http_refused(url, host_port)
            if handler.path in self.knobs.hang_paths:
                return False, texts.http_timeout(url)
            status = self.knobs.probe_status(handler.path)
            if 200 <= status < 400:
                return True, ""
            return False, texts.http_status_failed(status)
        if not listening:  # tcp (and grpc: a connection is all the stand-in checks)
            return False, texts.tcp_refused(host_port)
        return True, ""


@dataclass
class ProbeWorker:
    """One probe of one container: its schedule and its run of results."""

    spec: ProbeSpec
    origin: float
    """When the kubelet got the pod: the ticks are `origin + k × period`."""
    next_at: float
    run: int = 0
    last: bool | None = None
    on_hold: bool = False

    @classmethod
    def start(cls, spec: ProbeSpec, *, origin: float, now: float) -> ProbeWorker:
        """The worker for a container started at `now` (readiness is probed at once)."""
        at = (
            now if spec.kind == READINESS else _tick_after(origin, spec.period, now, inclusive=True)
        )
        return cls(spec, origin, at)

    def due(self) -> float | None:
        return None if self.on_hold else self.next_at

    def trigger(self, now: float) -> None:
        """The kubelet's manual trigger: probe at `now` (the ticker keeps its phase)."""
        if not self.on_hold:
            self.next_at = min(self.next_at, now)


@dataclass(frozen=True)
class Probed:
    """One probe's outcome: `output` when it failed; `verdict` when a threshold was met."""

    ok: bool
    output: str
    verdict: bool | None


def _tick_after(origin: float, period: float, now: float, *, inclusive: bool = False) -> float:
    ticks = (now - origin) / period
    k = math.ceil(ticks - 1e-9) if inclusive else math.floor(ticks + 1e-9) + 1
    return origin + max(0, k) * period


def run_probe(
    worker: ProbeWorker, *, now: float, running_for: float, started: bool, app: App
) -> Probed | None:
    """`worker.doProbe` at `now` (None: skipped). `started`: the startup phase is over."""
    worker.next_at = _tick_after(worker.origin, worker.spec.period, now)
    if worker.on_hold or int(running_for) < worker.spec.initial_delay:
        return None
    if started == (worker.spec.kind == STARTUP):
        return None  # startup runs only until the container started; the others only after
    ok, output = app.answer(worker.spec.handler, now)
    if worker.last == ok:
        worker.run += 1
    else:
        worker.last, worker.run = ok, 1
    threshold = worker.spec.success_threshold if ok else worker.spec.failure_threshold
    if worker.run < threshold:
        return Probed(ok, output, None)
    if not ok and worker.spec.kind in (LIVENESS, STARTUP):
        worker.on_hold, worker.run = True, 0
    return Probed(ok, output, ok)
