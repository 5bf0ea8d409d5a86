"""Test knobs: annotations on a pod template that make the simulated kubelet misbehave.

Pure parsing. A test (or the sandbox demo) stages a failure by annotating the pod
template of a Deployment; the ReplicaSet copies it to every pod and the kubelet
stand-in reads it with `knobs_for(pod)`:

| annotation (prefix `sandbox.deckhand.dev/`) | effect |
|---|---|
| `boot-seconds: "150"` | the app boots that long after its container starts (1) |
| `crash: "exit-code=1,message=boom"` | exits `after` s (default 1) after start: CrashLoopBackOff |
| `crash: "exit-code=137,reason=OOMKilled"` | killed by the kernel's OOM killer (no log line) |
| `never-ready: "true"` | Running, never Ready |
| `config-error: 'secret "x" not found'` | CreateContainerConfigError with that message |
| `healthy-paths: "/healthz,/ready"` | an HTTP probe (any kind) on a path not listed gets 404 |
| `listen-ports: "3000"` | the app listens only there (2) |
| `hang-paths: "/slow"` | HTTP probes on these paths time out |
| `exec-fails: "no response"` | exec probes exit 1 with that output (default: exit 0 once booted) |
| `evict-after-seconds: "2"` | the node runs low on memory that long after the pod starts: evicted |

(1) Probes get `connection refused` until then; a container without probes is Ready
then. `ready-after-seconds` is the older name of the same knob.

An image can carry the knobs of what runs in it (boot time, healthy paths, ports...)
as config labels of the same names: a slow first start, or a build that serves
another path, seeded in the registry. The pod's annotations win over its labels.
(2) By default the app listens on the container's `ports`, or on any port when it
declares none; a probe on another port gets `connection refused`.

`crash` takes comma-separated `key=value` pairs: `exit-code`, `after` (seconds),
`container` (only that container crashes), `reason` (the terminated state's reason:
`Error`, or `OOMKilled` as the runtime reports a cgroup OOM kill) and `message` (the
last log line; it must come last and may contain commas).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "sandbox.deckhand.dev/"
READY_AFTER = PREFIX + "ready-after-seconds"
CRASH = PREFIX + "crash"
NEVER_READY = PREFIX + "never-ready"
CONFIG_ERROR = PREFIX + "config-error"
HEALTHY_PATHS = PREFIX + "healthy-paths"
BOOT = PREFIX + "boot-seconds"
LISTEN_PORTS = PREFIX + "listen-ports"
HANG_PATHS = PREFIX + "hang-paths"
EXEC_FAILS = PREFIX + "exec-fails"
EVICT_AFTER = PREFIX + "evict-after-seconds"


@dataclass(frozen=True)
class Crash:
    exit_code: int = 1
    message: str | None = None  # None: "fatal error", or nothing for an OOM kill
    after_seconds: float = 1.0
    container: str | None = None
    reason: str = "Error"

    @property
    def log_line(self) -> str | None:
        """What the process writes before it dies (an OOM kill leaves no last words)."""
        if self.message is not None:
            return self.message
        return None if self.reason == "OOMKilled" else "fatal error"

    def applies_to(self, container: str) -> bool:
        return self.container is None or self.container == container


@dataclass(frozen=True)
class Knobs:
    """What a pod's annotations ask the kubelet stand-in to do (all off by default)."""

    ready_after: float | None = None
    """The app's boot time (`boot-seconds`, or the older `ready-after-seconds`)."""
    crash: Crash | None = None
    never_ready: bool = False
    config_error: str | None = None
    healthy_paths: frozenset[str] | None = None
    listen_ports: frozenset[int] | None = None
    hang_paths: frozenset[str] = frozenset()
    exec_fails: str | None = None
    evict_after: float | None = None

    def probe_status(self, path: str | None) -> int:
        """HTTP status a probe on `path` gets once the app is up (200 unless staged otherwise)."""
        if self.healthy_paths is None or path is None or path in self.healthy_paths:
            return 200
        return 404


def parse_crash(text: str) -> Crash:
    """Parse `exit-code=2,after=3,message=...`; raise ValueError on a malformed value."""
    fields: dict[str, str] = {}
    rest = text.strip()
    while rest:
        key, sep, value = rest.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"crash knob {text!r}: expected key=value, got {rest!r}")
        if key == "message":
            fields[key] = value
            break
        value, _, rest = value.partition(",")
        fields[key] = value.strip()
        rest = rest.strip()
    unknown = set(fields) - {"exit-code", "after", "container", "message", "reason"}
    if unknown:
        raise ValueError(f"crash knob {text!r}: unknown keys {sorted(unknown)}")
    return Crash(
        exit_code=int(fields.get("exit-code", 1)),
        message=fields.get("message"),
        after_seconds=float(fields.get("after", Crash.after_seconds)),
        container=fields.get("container") or None,
        reason=fields.get("reason") or "Error",
    )


def knobs_for(pod: dict[str, Any], image_labels: Mapping[str, str] | None = None) -> Knobs:
    """The knobs set on `pod` (over those its image's labels carry); malformed values are
    ignored (the pod then behaves)."""
    notes = {
        **{k: v for k, v in (image_labels or {}).items() if k.startswith(PREFIX)},
        **(pod.get("metadata", {}).get("annotations") or {}),
    }
    ready_after = None
    for knob in (READY_AFTER, BOOT):  # boot-seconds wins when both are set
        if knob in notes:
            with contextlib.suppress(ValueError):
                ready_after = max(0.0, float(notes[knob]))
    crash = None
    if CRASH in notes:
        try:
            crash = parse_crash(notes[CRASH])
        except ValueError:
            crash = None
    paths = None
    if HEALTHY_PATHS in notes:
        paths = _items(notes[HEALTHY_PATHS])
    ports = None
    if LISTEN_PORTS in notes:
        ports = frozenset(int(p) for p in _items(notes[LISTEN_PORTS]) if p.isdigit())
    return Knobs(
        ready_after=ready_after,
        crash=crash,
        never_ready=notes.get(NEVER_READY, "").strip().lower() == "true",
        config_error=notes.get(CONFIG_ERROR) or None,
        healthy_paths=paths,
        listen_ports=ports,
        hang_paths=_items(notes.get(HANG_PATHS, "")),
        exec_fails=notes.get(EXEC_FAILS),
        evict_after=_seconds(notes.get(EVICT_AFTER)),
    )


def _seconds(text: str | None) -> float | None:
    try:
        return max(0.0, float(text)) if text is not None else None
    except ValueError:
        return None


def _items(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in text.split(",") if p.strip())
