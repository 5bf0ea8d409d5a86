"""`python -m bench` (`make bench`): every benchmark, one table, `bench/results.json`.

    python -m bench                  the full run (about 5 minutes on 2 cores)
    python -m bench --quick          tiny sizes, a smoke run (about a minute)
    python -m bench --only ack,registry

Sections (see `docs/benchmarks.md`): registry (`bench.registry_check`), detection
(`bench.detection`), process (idle RSS, slash acks, API economy: `bench.process`),
watch (alerts at 500 / 5,000 / 20,000 pods: `bench.watch`), delivery (push →
announcement, webhook and poll; packages API requests per poll: `bench.delivery`).
Each section's sandbox lives in a temporary directory; a section that fails is
reported as "not measured" and the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import delivery, detection, process, registry_check, watch
from bench.report import Figure, machine, not_measured, table, write_json

SECTIONS = ("registry", "detection", "process", "watch", "delivery")
RESULTS = Path(__file__).with_name("results.json")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--sizes", default="", help="pod counts for the watch section")
    parser.add_argument("--rate", type=float, default=500.0, help="pod updates/s of churn")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--keep", type=Path, help="keep the sandboxes and logs in this folder")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy (env BENCH_PY_SPY names the binary) records Deckhand's churn window of "
        "each watch size into this folder as collapsed stacks (watch-<pods>.txt)",
    )
    return parser.parse_args(argv)


async def section(
    name: str, figures: list[Figure], work: Callable[[], Awaitable[list[Figure]]]
) -> None:
    began = time.monotonic()
    print(f"-- {name} ...", flush=True)
    try:
        found = await work()
    except Exception as error:  # one broken section must not cost the others
        traceback.print_exc()
        found = [not_measured(name, "(whole section)", f"{type(error).__name__}: {error}")]
    figures += found
    print(table(found), flush=True)
    print(f"-- {name}: {time.monotonic() - began:.0f} s wall\n", flush=True)


async def main(args: argparse.Namespace, root: Path) -> tuple[list[Figure], dict[str, object]]:
    only = {s.strip() for s in args.only.split(",") if s.strip()} or set(SECTIONS)
    unknown = only - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    quick = args.quick
    figures: list[Figure] = []
    extra: dict[str, object] = {"quick": quick, "rate": args.rate}
    if "registry" in only:
        await section("registry", figures, lambda: registry_check.measure(20 if quick else 200))
    if "detection" in only:
        speed = 100.0 if quick else 20.0
        await section("detection", figures, lambda: detection.run(root / "detection", speed=speed))
    if "process" in only:

        async def run_process() -> list[Figure]:
            found, details = await process.run(root / "process", commands=20 if quick else 200)
            extra.update(details)
            return found

        await section("process", figures, run_process)
    if "watch" in only:
        default = "200" if quick else "5000,500,20000"
        sizes = [int(s) for s in (args.sizes or default).split(",")]
        window = 5.0 if quick else 30.0
        growth: list[watch.SizeResult] = []
        for pods in sizes:

            async def run_size(pods: int = pods) -> list[Figure]:
                spy = args.profile / f"watch-{pods}.txt" if args.profile else None
                result = await watch.measure(
                    root / f"watch-{pods}", pods, rate=args.rate, window_s=window, profile=spy
                )
                growth.append(result)
                first = pods == sizes[0]
                return watch.figures(
                    result,
                    section="4 alerts" if first else "7 growth",
                    rate=args.rate,
                    memory_section="5 memory" if first else None,
                )

            await section(f"watch {pods:,} pods", figures, run_size)
        extra["growth"] = watch.growth_rows(growth)
        print(watch.growth_table(growth))
    if "delivery" in only:
        rounds = 5 if quick else 20
        await section(
            "delivery", figures, lambda: delivery.measure(root / "delivery", rounds=rounds)
        )
    return figures, extra


def run(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    began = time.monotonic()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deckhand-bench-") as scratch:
        root = args.keep or Path(scratch)
        figures, extra = asyncio.run(main(args, root))
    extra["total_wall_s"] = round(time.monotonic() - began, 1)
    figures.sort(key=lambda f: f.section)  # stable: each section keeps its own order
    print("== Deckhand benchmarks ==")
    print(table(figures))
    info = machine()
    print(
        f"machine: {info['nproc']} cores, {info['memory_gb']} GB, Python {info['python']}; "
        f"{extra['total_wall_s']} s wall; JSON: {args.out}"
    )
    write_json(args.out, figures, extra)
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
