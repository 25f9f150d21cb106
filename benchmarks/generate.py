"""Time the synthetic generator: how long writing a whole drop folder takes at a given size.

    python benchmarks/generate.py                 # 1,000,000 buyers, 3M limits, 10M payments
    python benchmarks/generate.py --buyers 2000   # the demo's size
    python benchmarks/generate.py --record        # also append the figure to benchmarks/RESULTS.md

Target (feeds issue): 1M buyers / 3M limits / 10M payments written in <= 2 minutes.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from run import append_result, machine_label  # benchmarks/run.py, beside this file

from feeds.synthetic import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=1_000_000, help="buyers (limits 3x, payments 10x)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30), help="business date")
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary folder, removed after)")
    parser.add_argument("--record", action="store_true", help="append the figure to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    out: Path = args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="vigie-gen-"))
    scratch = None if args.out is not None else out
    try:
        started = time.perf_counter()
        result = generate(out / "drop", buyers=args.buyers, seed=args.seed, business_date=args.as_of)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size_mb = sum(p.stat().st_size for p in result.files.values()) / 1e6
        print(
            f"generated {args.buyers:,} buyers in {seconds:.1f} s (peak RSS {peak_mb:,.0f} MB, {size_mb:,.0f} MB written)"
        )
        for key, count in sorted(result.counts.items()):
            print(f"  {key:<24} {count:>12,}")
        records = sum(result.counts[k] for k in result.files)
        print(f"  {'records/s':<24} {records / seconds:>12,.0f}")
        if args.record:
            limits = result.counts["portfolio_limits"]
            payments = result.counts["payments"]
            append_result(
                stage="generate synthetic feeds (feeds.synthetic.generate)",
                size=f"{args.buyers:,} buyers / {limits:,} limits / {payments:,} payments",
                seconds=seconds,
                rows_per_s=records / seconds,
                peak_rss_mb=peak_mb,
                note="target <= 120 s at 1M buyers",
            )
            print(f"recorded in benchmarks/RESULTS.md ({machine_label()})")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
