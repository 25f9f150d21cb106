"""End-to-end benchmark: one real night of Vigie on a synthetic portfolio of a given size.

    python benchmarks/run.py --help
    python benchmarks/run.py                      # 1,000,000 buyers, 3M limits, 10M payments
    python benchmarks/run.py --buyers 20000       # quicker
    python benchmarks/run.py --record             # also append the figures to benchmarks/RESULTS.md

The feeds are generated once per (size, seed, business date) into the cache folder and reused.
Each stage then runs the real ``vigie`` command line as a subprocess with VIGIE_WORKDIR set to
the work folder (fresh by default):

    vigie db upgrade
    vigie ingest folder <drop folder>
    vigie model train --as-of D
    vigie model promote <version printed by train>
    vigie nightly --as-of D
    vigie nightly --as-of D+1     (the quiet night after: no new feed file; every buyer scored
                                   and every limit evaluated again, few decisions)

For every stage it prints wall seconds, rows/s and the stage's peak RSS (from wait4's rusage
of that child), then reads the run ledger (tables ``run`` and ``run_step``) from the work
folder's database and prints the per-step seconds and counts the nightly recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
CACHE_MARKER = "generated.json"
STAGES = ("db-upgrade", "ingest", "model-train", "model-promote", "nightly", "nightly-next")
OK_EXIT = {"ingest": {0, 1}}  # ingest exits 1 when some rows were quarantined: the night goes on


@dataclass
class StageResult:
    name: str
    command: list[str]
    seconds: float
    peak_rss_mb: float
    exit_code: int
    rows: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code in OK_EXIT.get(self.name, {0})


# ---------------------------------------------------------------------------------------------
# Machine and RESULTS.md


def machine_label() -> str:
    """``<n> cores / <GiB> GiB / Python x.y.z`` (the machine column of RESULTS.md)."""
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cores = len(os.sched_getaffinity(0))  # what `nproc` prints
    return f"{cores} cores / {memory_gib:.0f} GiB / Python {platform.python_version()}"


RESULTS_HEADER = """# Benchmark results

Figures measured with `benchmarks/generate.py` and `benchmarks/run.py` (see README.md here).
Each row names its machine and date: compare rows of the same machine only; the machines are
shared, so read single runs as orders of magnitude.

First machine: {machine} ({platform}), first recorded {today}.

| date | machine | stage | size | seconds | rows/s | peak RSS MB | note |
|---|---|---|---|---|---|---|---|
"""


def append_result(
    *,
    stage: str,
    size: str,
    seconds: float,
    rows_per_s: float | None,
    peak_rss_mb: float | None,
    note: str = "",
) -> None:
    """Append one row to RESULTS.md (creating it with its header the first time)."""
    if not RESULTS.exists():
        RESULTS.write_text(
            RESULTS_HEADER.format(
                machine=machine_label(),
                platform=platform.platform(),
                today=datetime.now(UTC).date().isoformat(),
            ),
            encoding="utf-8",
        )
    rate = f"{rows_per_s:,.0f}" if rows_per_s else ""
    rss = f"{peak_rss_mb:,.0f}" if peak_rss_mb else ""
    row = f"| {datetime.now(UTC).date()} | {machine_label()} | {stage} | {size} | {seconds:.1f} | {rate} | {rss} | {note} |\n"
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(row)


# ---------------------------------------------------------------------------------------------
# Feeds cache


def cached_feeds(cache: Path, *, buyers: int, seed: int, as_of: date) -> dict[str, object] | None:
    """The marker of feeds generated earlier with these parameters, or None."""
    wanted = {"buyers": buyers, "seed": seed, "as_of": as_of.isoformat()}
    marker = cache / CACHE_MARKER
    if not marker.exists() or not (cache / "drop").is_dir():
        return None
    previous: dict[str, object] = json.loads(marker.read_text(encoding="utf-8"))
    return previous if {k: previous.get(k) for k in wanted} == wanted else None


def prepare_cache(cache: Path, *, buyers: int, seed: int, as_of: date) -> dict[str, object]:
    """Generate the feeds into ``cache/drop`` (truth in ``cache/truth``) unless a previous run
    with the same parameters left them there. Returns the marker (parameters, counts, seconds)."""
    previous = cached_feeds(cache, buyers=buyers, seed=seed, as_of=as_of)
    if previous is not None:
        return {**previous, "reused": True}
    wanted = {"buyers": buyers, "seed": seed, "as_of": as_of.isoformat()}
    marker = cache / CACHE_MARKER
    shutil.rmtree(cache / "drop", ignore_errors=True)
    shutil.rmtree(cache / "truth", ignore_errors=True)
    sys.path.insert(0, str(ROOT))
    from feeds.synthetic import generate

    started = time.perf_counter()
    result = generate(
        cache / "drop", buyers=buyers, seed=seed, business_date=as_of, truth_dir=cache / "truth"
    )
    info: dict[str, object] = {
        **wanted,
        "seconds": round(time.perf_counter() - started, 2),
        "counts": result.counts,
        "files": {k: p.name for k, p in result.files.items()},
    }
    marker.write_text(json.dumps(info, indent=2), encoding="utf-8")
    info["reused"] = False
    return info


def stage_drop_folder(cache: Path, workdir: Path, as_of: date) -> Path:
    """Hard-link (or copy) the cached feeds into the work folder, so ingest may move or archive them."""
    drop = workdir / "feeds" / as_of.isoformat()  # where the nightly looks for its drop folder
    drop.mkdir(parents=True, exist_ok=True)
    for source in sorted((cache / "drop").iterdir()):
        target = drop / source.name
        if target.exists():
            continue
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return drop


# ---------------------------------------------------------------------------------------------
# Stages


def vigie_command(explicit: str | None) -> list[str]:
    """The ``vigie`` console script of this interpreter's environment (or ``--vigie``)."""
    if explicit:
        return explicit.split()
    beside = Path(sys.executable).with_name("vigie")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("vigie")
    if found:
        return [found]
    return [sys.executable, "-c", "from jobs.launcher import main; main()"]


def run_stage(
    name: str, command: list[str], *, env: dict[str, str], rows: int | None, log: Path
) -> StageResult:
    """Run one command, measuring its wall time and the peak RSS of that child alone."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    return StageResult(
        name=name,
        command=command,
        seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
        exit_code=process.returncode,
        rows=rows,
        output=log.read_text(encoding="utf-8", errors="replace"),
    )


VERSION_PATTERN = re.compile(r"\bversion\b\D{0,20}(\d+)", re.IGNORECASE)


def trained_version(output: str) -> str | None:
    """The model version ``vigie model train`` printed (the last 'version N' in its output)."""
    found = VERSION_PATTERN.findall(output)
    return found[-1] if found else None


@dataclass
class LedgerStep:
    name: str
    status: str
    seconds: float
    counts: dict[str, object]

    @property
    def rows(self) -> int | None:
        """The largest integer the step counted (its rows), to turn seconds into rows/s; amounts
        (``*_cents``) are money, not rows."""
        numbers = [
            v
            for k, v in self.counts.items()
            if isinstance(v, int) and not isinstance(v, bool) and not k.endswith("_cents")
        ]
        return max(numbers) if numbers else None


def read_ledger(database_url: str, as_of: date) -> list[LedgerStep]:
    """The nightly's steps for ``as_of`` from the run ledger (empty when there is none yet)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    query = text(
        "SELECT s.name, s.ordinal, s.status, s.seconds, s.counts FROM run_step s "
        "JOIN run r ON r.run_id = s.run_id WHERE r.business_date = :d ORDER BY s.ordinal"
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(query, {"d": as_of}).mappings().all()
    except Exception as exc:  # the ledger is optional reading: say why it is missing
        print(f"run ledger not readable at {database_url}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return []
    finally:
        engine.dispose()
    return [
        LedgerStep(
            name=str(row["name"]),
            status=str(row["status"]),
            seconds=float(row["seconds"] or 0.0),
            counts=json.loads(row["counts"] or "{}"),
        )
        for row in rows
    ]


def print_stage(result: StageResult) -> None:
    rate = (
        f"{result.rows / result.seconds:>12,.0f} rows/s"
        if result.rows and result.seconds > 0
        else f"{'':>19}"
    )
    status = "ok" if result.ok else f"FAILED (exit {result.exit_code})"
    print(f"{result.name:<14} {result.seconds:>9.1f} s {rate} {result.peak_rss_mb:>9,.0f} MB  {status}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--buyers", type=int, default=1_000_000, help="buyers (limits 3x, payments 10x); default 1,000,000"
    )
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=date(2026, 6, 30),
        help="business date D (default 2026-06-30)",
    )
    parser.add_argument(
        "--cache", type=Path, help="feeds cache (default benchmarks/.cache/<N>): generated once, reused"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="Vigie work folder (default benchmarks/.cache/<N>/work, emptied at each run)",
    )
    parser.add_argument(
        "--database-url", help="database to read the run ledger from (default: SQLite in the workdir)"
    )
    parser.add_argument(
        "--vigie", help="command that runs the CLI (default: the vigie script of this Python)"
    )
    parser.add_argument("--generate-only", action="store_true", help="prepare the feeds cache and stop")
    parser.add_argument("--keep-going", action="store_true", help="run the later stages even after a failure")
    parser.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    parser.add_argument(
        "--from-stage",
        choices=STAGES,
        help="start at this stage on an existing --workdir (the earlier stages already ran there)",
    )
    args = parser.parse_args(argv)
    if args.from_stage and args.workdir is None:
        parser.error("--from-stage needs the --workdir where the earlier stages ran")

    cache = args.cache or HERE / ".cache" / str(args.buyers)
    cache.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine_label()}; buyers {args.buyers:,}; business date {args.as_of}; cache {cache}")
    if args.generate_only:
        prepared = prepare_cache(cache, buyers=args.buyers, seed=args.seed, as_of=args.as_of)
        how = "reused" if prepared["reused"] else "generated"
        print(f"feeds {how} in {cache} ({prepared['seconds']} s to generate)")
        return 0

    # Generate in a child process: a parent that held gigabytes would lend its peak RSS to the
    # children it spawns afterwards (Linux carries maxrss across fork and exec).
    info = cached_feeds(cache, buyers=args.buyers, seed=args.seed, as_of=args.as_of)
    generation: StageResult | None = None
    if info is None:
        command = [sys.executable, str(Path(__file__).resolve()), "--buyers", str(args.buyers)]
        command += ["--seed", str(args.seed), "--as-of", args.as_of.isoformat(), "--cache", str(cache)]
        generation = run_stage(
            "generate",
            [*command, "--generate-only"],
            env=dict(os.environ),
            rows=None,
            log=cache / "generate.log",
        )
        info = cached_feeds(cache, buyers=args.buyers, seed=args.seed, as_of=args.as_of)
        if not generation.ok or info is None:
            print(f"generation failed (exit {generation.exit_code}):\n{generation.output[-2000:]}")
            return 1
    counts: dict[str, int] = info["counts"]  # type: ignore[assignment]
    files: dict[str, str] = info["files"]  # type: ignore[assignment]
    total_rows = sum(counts[k] for k in files)
    size = f"{args.buyers:,} buyers / {counts['portfolio_limits']:,} limits / {counts['payments']:,} payments"
    if generation is None:
        print(f"feeds reused: {total_rows:,} records (generated earlier in {info['seconds']} s)")
    else:
        generation.rows = total_rows
        print(
            f"feeds generated: {total_rows:,} records in {info['seconds']} s (peak RSS {generation.peak_rss_mb:,.0f} MB)"
        )
        if args.record:
            seconds = float(info["seconds"])  # type: ignore[arg-type]
            append_result(
                stage="generate synthetic feeds",
                size=size,
                seconds=seconds,
                rows_per_s=total_rows / seconds,
                peak_rss_mb=generation.peak_rss_mb,
            )

    workdir = args.workdir or cache / "work"
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    drop = stage_drop_folder(cache, workdir, args.as_of)
    env = {**os.environ, "VIGIE_WORKDIR": str(workdir)}
    vigie = vigie_command(args.vigie)
    day = args.as_of.isoformat()
    next_day = (args.as_of + timedelta(days=1)).isoformat()
    logs = workdir / "benchmark-logs"

    plan: list[tuple[str, list[str], int | None]] = [
        ("db-upgrade", ["db", "upgrade"], None),
        ("ingest", ["ingest", "folder", str(drop)], total_rows),
        ("model-train", ["model", "train", "--as-of", day], args.buyers),
        ("model-promote", ["model", "promote", "{version}"], None),
        ("nightly", ["nightly", "--as-of", day], counts["portfolio_limits"]),
        ("nightly-next", ["nightly", "--as-of", next_day], counts["portfolio_limits"]),
    ]
    if [name for name, _, _ in plan] != list(STAGES):
        raise RuntimeError("STAGES and the plan disagree")
    if args.from_stage:
        plan = plan[STAGES.index(args.from_stage) :]
    print(f"\n{'stage':<14} {'seconds':>11} {'rows/s':>19} {'peak RSS':>12}")
    results: list[StageResult] = []
    failed = False
    version: str | None = None
    for name, arguments, rows in plan:
        if failed and not args.keep_going:
            print(f"{name:<14} skipped (an earlier stage failed)")
            continue
        if "{version}" in arguments and version is None:
            print(f"{name:<14} skipped (no version trained in this run: promote it by hand)")
            continue
        filled = [a.replace("{version}", version or "") for a in arguments]
        result = run_stage(name, vigie + filled, env=env, rows=rows, log=logs / f"{name}.log")
        results.append(result)
        print_stage(result)
        if name == "model-train" and result.ok:
            version = trained_version(result.output)
        if not result.ok:
            failed = True
            tail = "\n".join(line[:300] for line in result.output.strip().splitlines()[-8:])
            print(
                f"  command: {' '.join(result.command)}\n  last lines of {logs / (name + '.log')}:\n    "
                + tail.replace("\n", "\n    ")
            )

    database_url = args.database_url or f"sqlite:///{(workdir / 'vigie.db').as_posix()}"
    steps: list[LedgerStep] = []
    for night in (args.as_of, args.as_of + timedelta(days=1)):
        night_steps = read_ledger(database_url, night)
        if night_steps:
            print(f"\nrun ledger for {night}:")
            print(f"{'step':<24} {'status':<10} {'seconds':>9} {'rows/s':>12}  counts")
            for step in night_steps:
                rate = f"{step.rows / step.seconds:>12,.0f}" if step.rows and step.seconds else f"{'':>12}"
                print(
                    f"{step.name:<24} {step.status:<10} {step.seconds:>9.2f} {rate}  {json.dumps(step.counts)}"
                )
                steps.append(LedgerStep(f"{step.name} ({night})", step.status, step.seconds, step.counts))

    if args.record:
        for result in results:
            append_result(
                stage=f"vigie {' '.join(result.command[len(vigie) :][:2])}"
                + ("" if result.ok else " (FAILED)"),
                size=size,
                seconds=result.seconds,
                rows_per_s=result.rows / result.seconds if result.rows else None,
                peak_rss_mb=result.peak_rss_mb,
            )
        for step in steps:
            append_result(
                stage=f"nightly step {step.name}",
                size=size,
                seconds=step.seconds,
                rows_per_s=step.rows / step.seconds if step.rows and step.seconds else None,
                peak_rss_mb=None,
                note=json.dumps(step.counts),
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
