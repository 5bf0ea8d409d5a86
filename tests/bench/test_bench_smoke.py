"""Smoke test of the benchmark harness (`bench/`), so it can't rot between full runs.

Covers: the quickest benchmark (registry checks, a few rounds) produces figures with
units, the table renders them, and `bench/results.json`'s writer round-trips. Figures are
not judged: benchmarks print numbers, they never pass or fail.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import registry_check
from bench.report import Figure, not_measured, quantile, table, write_json


async def test_registry_benchmark_prints_figures_with_units(tmp_path: Path) -> None:
    figures = await registry_check.measure(3)

    assert len(figures) == 4
    assert all(f.unit == "requests" and f.value is not None and f.value > 0 for f in figures)
    rendered = table([*figures, not_measured("x", "y", "why")])
    assert "warm check" in rendered
    assert "not measured: why" in rendered
    out = tmp_path / "results.json"
    write_json(out, figures, {"quick": True})
    data = json.loads(out.read_text())
    assert data["machine"]["nproc"] >= 1
    assert [f["metric"] for f in data["figures"]] == [f.metric for f in figures]


def test_peer_ratio_and_quantiles() -> None:
    figure = Figure("1", "bad tag", 2.0, "s wall", peer=600.0, peer_name="kubectl")
    assert figure.ratio == 300.0
    assert quantile([float(n) for n in range(1, 101)], 0.99) == 99.0
    assert quantile([5.0], 0.99) == 5.0
