"""Admin endpoint latency: p95 of the queue and dossier pages with 1,000,000 buyers.

Builds a SQLite database (tables from the models) with N buyers, one limit, one score history
point pair and one payment aggregate each, decisions on 20 % of the limits (10 % of those
referred to eight desks), then starts the real app under uvicorn in a subprocess on a free
loopback port, signs in an arbiter (two desks) through the login form and drives a bounded
load generator: C client threads, each sending R requests in turn to the queue (random desk /
sort / page) and to the dossier of a random buyer of those desks. Prints p50 / p95 / p99.

    python benchmarks/admin_load.py [--buyers 1000000] [--requests 400] [--concurrency 2]

Target: p95 <= 100 ms for both pages.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

DESKS = ["AUTO", "MEAT", "CONSTRUCTION", "RETAIL", "LATAM", "ASIA", "AFRICA", "EUROPE"]
MY_DESKS = ["AUTO", "LATAM"]
PASSWORD = "benchmark password"
AS_OF = date(2026, 11, 20)


QUEUE_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_decision_queue "
    "ON decision (status, desk, required_authority_cents, business_date, proposed_cents, buyer_id)"
)
"""Asked of models/decision.py (covering index of the queue's filters and sort keys): without it
the queue page reads every referred decision row of the user's desks to sort them."""


def prepare_indexes(workdir: Path) -> None:
    from sqlalchemy import text

    from config.settings import load_settings
    from models.db import make_engine

    engine = make_engine(load_settings(workdir=workdir).database_url)
    with engine.begin() as connection:
        connection.execute(text(QUEUE_INDEX))
        connection.execute(text("ANALYZE"))
    engine.dispose()


def buyers_in_scope(workdir: Path) -> list[str]:
    from sqlalchemy import text

    from config.settings import load_settings
    from models.db import make_engine

    engine = make_engine(load_settings(workdir=workdir).database_url)
    marks = ", ".join(f"'{d}'" for d in MY_DESKS)
    with engine.connect() as connection:
        found = [
            r[0] for r in connection.execute(text(f"SELECT buyer_id FROM decision WHERE desk IN ({marks})"))
        ]
    engine.dispose()
    return found


def build(workdir: Path, buyers: int) -> list[str]:
    from arbitration.users import add_user
    from config.settings import load_settings
    from models.base import Base
    from models.db import bulk_insert, make_engine

    settings = load_settings(workdir=workdir)
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    ids = pd.Series(np.arange(100_000_000, 100_000_000 + buyers).astype(str))
    n_ph = 1000
    with Session(engine) as s:
        phs = pd.DataFrame(
            {
                "policyholder_id": [f"PH{i}" for i in range(n_ph)],
                "name": [f"Policyholder {i}" for i in range(n_ph)],
                "emails": "x@example.com",
                "language": "fr",
            }
        )
        bulk_insert(s, "policyholder", phs, list(phs.columns))
        pol = pd.DataFrame(
            {
                "policy_id": [f"P{i}" for i in range(n_ph)],
                "policyholder_id": phs["policyholder_id"],
                "territory": "BOTH",
                "named_threshold_domestic_cents": 500_000,
                "named_threshold_export_cents": 1_000_000,
                "indemnity_share_named": 0.9,
                "indemnity_share_unnamed": 0.7,
                "oal_option": False,
                "currency": "EUR",
            }
        )
        bulk_insert(s, "policy", pol, list(pol.columns))
        b = pd.DataFrame(
            {
                "buyer_id": ids,
                "siren": ids.str[:9],
                "name": "Buyer " + ids,
                "country": "FR",
                "naf_code": "45.20A",
                "status": "A",
                "is_natural_person": False,
                "updated_at": pd.Timestamp("2026-11-20", tz="UTC"),
            }
        )
        bulk_insert(s, "buyer", b, list(b.columns))
        granted = rng.integers(1, 500, buyers) * 1_000_00
        lim = pd.DataFrame(
            {
                "limit_id": np.arange(1, buyers + 1),
                "policy_id": "P" + pd.Series(rng.integers(0, n_ph, buyers)).astype(str),
                "buyer_id": ids,
                "granted_cents": granted,
                "outstanding_cents": granted // 2,
                "status": "active",
                "version": 1,
                "updated_at": pd.Timestamp("2026-11-20", tz="UTC"),
            }
        )
        bulk_insert(s, "credit_limit", lim, list(lim.columns))
        for k, as_of in enumerate((AS_OF - timedelta(days=30), AS_OF)):
            pd_ = rng.beta(1, 60, buyers) * (1 + 0.2 * k)
            sc = pd.DataFrame(
                {
                    "buyer_id": ids,
                    "as_of": pd.Timestamp(as_of),
                    "role": "champion",
                    "pd_12m": pd_,
                    "grade": np.clip((pd_ * 300).astype(int), 1, 10),
                    "rating": "BB",
                    "model_name": "vigie-buyer-pd",
                    "model_version": "3",
                    "reason_codes": "DBT_UP",
                }
            )
            bulk_insert(s, "score", sc, list(sc.columns))
        pa = pd.DataFrame(
            {
                "buyer_id": ids,
                "as_of": pd.Timestamp(AS_OF),
                "invoices": 10,
                "amount_cents": 100_000,
                "days_beyond_terms": 5.0,
                "overdue_share": 0.1,
                "overdue_declarations": 0,
                "reporting_policyholders": 2,
            }
        )
        bulk_insert(s, "payment_aggregate", pa, list(pa.columns))
        n_dec = buyers // 5
        pick = rng.choice(buyers, n_dec, replace=False)
        referred = rng.random(n_dec) < 0.1
        dec = pd.DataFrame(
            {
                "decision_id": np.arange(1, n_dec + 1),
                "limit_id": pick + 1,
                "business_date": pd.Timestamp(AS_OF),
                "policy_id": lim["policy_id"].to_numpy()[pick],
                "buyer_id": ids.to_numpy()[pick],
                "policyholder_id": "PH1",
                "decision_type": 9,
                "reason_code": 12,
                "previous_cents": granted[pick],
                "proposed_cents": granted[pick] // 2,
                "status": np.where(referred, "referred", "applied"),
                "desk": np.array(DESKS)[rng.integers(0, 8, n_dec)],
                "required_authority_cents": granted[pick],
                "four_eyes": False,
                "effective_date": pd.Timestamp(AS_OF),
                "rule_set_version": "2026-11-01",
                "model_version": "3",
                "fired_rules": '["R1"]',
                "observed": '{"pd_12m": 0.05}',
                "notified": False,
                "version": 1,
                "created_at": pd.Timestamp("2026-11-20", tz="UTC"),
            }
        )
        bulk_insert(s, "decision", dec, list(dec.columns))
        ref = dec[referred]
        task = pd.DataFrame(
            {
                "decision_id": ref["decision_id"],
                "desk": ref["desk"],
                "status": "open",
                "required_authority_cents": ref["required_authority_cents"],
                "approvals_needed": 1,
                "version": 1,
                "created_at": pd.Timestamp("2026-11-20", tz="UTC"),
            }
        )
        bulk_insert(s, "review_task", task, list(task.columns))
        add_user(
            s,
            username="bench",
            role="arbiter",
            desks=",".join(MY_DESKS),
            authority_cents=10**10,
            password=PASSWORD,
        )
        s.commit()
        mine = dec.loc[dec["desk"].isin(MY_DESKS), "buyer_id"].tolist()
    engine.dispose()
    print(
        f"built {buyers:,} buyers, {buyers:,} limits, {2 * buyers:,} scores, {n_dec:,} decisions "
        f"({int(referred.sum()):,} referred) in {time.perf_counter() - t0:.1f} s"
    )
    return mine


def serve(workdir: Path, port: int) -> None:
    import uvicorn

    from arbitration.api import create_app
    from config.settings import load_settings

    app = create_app(load_settings(workdir=workdir), secret_key="benchmark")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    r = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)})
    if r.status_code not in (200, 303) or "Review queue" not in client.get("/queue").text:
        raise RuntimeError(f"login failed: {r.status_code}")
    return client


def load(base: str, buyers: list[str], requests: int, concurrency: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"queue": [], "dossier": []}
    lock = threading.Lock()
    sorts = ["-authority", "authority", "-date", "-amount", "buyer"]

    def worker(seed: int) -> None:
        rng = np.random.default_rng(seed)
        client = _login(base)
        for i in range(requests):
            if i % 2 == 0:
                kind = "queue"
                desk = rng.choice(["", *MY_DESKS])
                url = f"/queue?desk={desk}&status=referred&sort={rng.choice(sorts)}&page={int(rng.integers(1, 20))}"
            else:
                kind = "dossier"
                url = f"/buyers/{buyers[int(rng.integers(0, len(buyers)))]}"
            t = time.perf_counter()
            r = client.get(url)
            elapsed = (time.perf_counter() - t) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"{url} -> {r.status_code}")
            with lock:
                times[kind].append(elapsed)
        client.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=400, help="requests per client thread")
    parser.add_argument("--concurrency", type=int, default=2, help="client threads")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="reuse the database already in --workdir")
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.port)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vigie-admin-bench-"))
    if args.reuse and (workdir / "vigie.db").exists():
        buyers = buyers_in_scope(workdir)
    else:
        buyers = build(workdir, args.buyers)
    prepare_indexes(workdir)
    port = _port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(workdir), "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        load(base, buyers, 20, 1)  # warm-up (page cache, template compilation)
        t0 = time.perf_counter()
        times = load(base, buyers, args.requests, args.concurrency)
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=10)
    total = sum(len(v) for v in times.values())
    print(f"load: {args.concurrency} client threads x {args.requests} requests, {total / wall:.0f} req/s")
    for kind, values in times.items():
        q = np.percentile(values, [50, 95, 99])
        verdict = "OK" if q[1] <= 100 else "ABOVE TARGET"
        print(
            f"{kind:8s} n={len(values):5d} mean={statistics.fmean(values):6.1f} ms  p50={q[0]:6.1f}  "
            f"p95={q[1]:6.1f}  p99={q[2]:6.1f} ms  (target p95 <= 100 ms: {verdict})"
        )


if __name__ == "__main__":
    main()
