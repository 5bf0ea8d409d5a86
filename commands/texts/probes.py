"""Texts: probes (budgets, the starting line, a failing probe named with its evidence).

Purely computational functions with no side-effects.
"""

from __future__ import annotations

from commands.texts._format import _code


def _s(seconds: float) -> str:
    return f"{seconds:.0f} s"


def startup_budget_spent(delay_s: int, threshold: int, period_s: int) -> str:
    """`startup probe: 48 × 5 s = 240 s passed without success`."""
    total = delay_s + threshold * period_s
    lead = f"{delay_s} s + " if delay_s else ""
    return f"startup probe: {lead}{threshold} × {period_s} s = {total} s passed without success"


def readiness_budget_spent(timeout_s: float, delay_s: int) -> str:
    """`readiness: not Ready 20 s (rollout.readiness_timeout_s) after starting`."""
    delay = f" and its readiness probe's {delay_s} s initial delay" if delay_s else ""
    return (
        f"readiness: not Ready {_s(timeout_s)} (rollout.readiness_timeout_s) after starting{delay}"
    )


def starting_line(elapsed_s: float, budget_s: float) -> str:
    """`starting: 95 s of a 240 s startup budget` (elapsed in steps of 5 s)."""
    shown = int(elapsed_s // 5 * 5)
    return f"starting: {shown} s of a {budget_s:.0f} s startup budget"


def probe_seen(what: str, status: int | None, output: str, timeout_s: int | None) -> str:
    """What the kubelet saw, for people."""
    if what == "status":
        return f"HTTP {status}"
    if what == "refused":
        return "connection refused (nothing listens on that port)"
    if what == "timeout":
        limit = f" within {timeout_s} s" if timeout_s else ""
        return f"no answer{limit} (timeout)"
    if what == "exec":
        return f"the command failed: {_code(output.strip()[:200])}"
    return output.strip()[:200] or "a failure without output"


def times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def probe_sentence(
    kind: str,
    *,
    container: str,
    pod: str | None,
    handler: str,
    seen: str,
    count: int,
    killed: bool,
    budget: str,
) -> str:
    """The cause line: which probe, on which container, doing what, what the kubelet saw."""
    where = f"container {_code(container)}" + (f" of pod {_code(pod)}" if pod else "")
    probe = f"its {kind} probe" + (f" {_code(handler)}" if handler else "")
    saw = f"the kubelet saw {seen}, {times(count)}"
    if kind == "startup":
        spent = f" ({budget})" if budget else ""
        restarted = "; the kubelet restarts it" if killed else ""
        return f"{where.capitalize()} never passed {probe}{spent}: {saw}{restarted}."
    if killed:
        return (
            f"The kubelet killed {where} (exit code 137) because {probe} failed: {saw}; "
            "a liveness failure, not a crash."
        )
    spent = f" ({budget})" if budget else ""
    return f"{where.capitalize()} runs but {probe} fails{spent}: {saw}."


def probe_next_step(
    kind: str,
    *,
    field: str,
    what: str,
    status: int | None,
    path: str,
    port: str,
    passing: tuple[str, ...],
    namespace: str,
    pod: str | None,
) -> str:
    """The next step, fitted to what the kubelet saw."""
    describe = f"`kubectl describe pod -n {namespace} {pod or '-l app=…'}`"
    logs = f"`kubectl logs -n {namespace} {pod or '…'}" + (
        " --previous`" if kind != "readiness" else "`"
    )
    if kind == "startup" and what in ("refused", "timeout", "other", "exec"):
        return (
            f"If a first start really takes longer (migrations), raise "
            f"`{field}.failureThreshold`; otherwise see why it doesn't come up: {logs}."
        )
    if what == "status" and status is not None and 400 <= status < 500:
        also = ""
        if passing:
            paths = ", ".join(_code(p) for p in passing)
            verb = "probes on {} pass" if len(passing) > 1 else "probe on {} passes"
            also = "; its other " + verb.format(paths)
        return (
            f"Check the probe path: the app answers {status} at {_code(path)}{also}. "
            f"Point `{field}.httpGet.path` at a path it serves, then deploy again."
        )
    if what == "status":
        return f"The app's health check reports a failure (HTTP {status}): {logs}."
    if what == "refused":
        return (
            f"Check that the app listens on port {_code(port)} (the probe's port and the "
            f"container's `containerPort`), and that it started: {logs}."
        )
    if what == "timeout":
        return (
            f"The endpoint is slow or hangs: raise `{field}.timeoutSeconds` or find out why "
            f"it doesn't answer: {logs}."
        )
    return f"Run the probe's command in the container and read its output: {describe}."
