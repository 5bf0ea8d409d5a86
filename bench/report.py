"""Figures, the printed table and `bench/results.json`.

A `Figure` is one measured number with its unit spelled out: "s wall" (real seconds),
"s scaled" (the sandbox cluster's seconds: wall × speed), "ms wall", "MB", "requests".
Where a peer was measured in the same run (`kubectl rollout status`) it sits beside
Deckhand's figure and the table shows the ratio peer / Deckhand. A benchmark that could
not measure something adds a Figure whose value is None and whose note says why.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    section: str
    metric: str
    value: float | None
    unit: str
    peer: float | None = None
    peer_name: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer is None or not self.value:
            return None
        return self.peer / self.value


def not_measured(section: str, metric: str, why: str) -> Figure:
    return Figure(section, metric, None, "", note=f"not measured: {why}")


def quantile(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of `samples`, nearest-rank (p99 of 50 samples is the max)."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    """The figures as a fixed-width text table (also valid Markdown)."""
    header = ("section", "metric", "Deckhand", "unit", "peer", "peer/Deckhand", "note")
    rows = [header]
    for f in figures:
        peer = f"{_number(f.peer)} ({f.peer_name})" if f.peer is not None else ""
        ratio = f"{f.ratio:.1f}x" if f.ratio is not None else ""
        rows.append((f.section, f.metric, _number(f.value), f.unit, peer, ratio, f.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> dict[str, object]:
    """What the figures ran on: cores, memory, Python."""
    import os

    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
    }


def write_json(path: Path, figures: list[Figure], extra: dict[str, object]) -> None:
    payload = {**extra, "machine": machine(), "figures": [asdict(f) for f in figures]}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
