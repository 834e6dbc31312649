"""Dashboard and CSV export against a large history in MySQL/MariaDB, through gunicorn.

bench.history times the same pages in a throwaway SQLite through the test client; this one
runs where production runs (the production profile, MySQL, gunicorn on 127.0.0.1).

Seeds synthetic predictions (benchmark data, not results: case reference BENCH-SYNTHETIC,
model version bench-synthetic, no image files) for two clinicians, one with `--small` rows
and one with `--rows` rows. Then, through gunicorn on 127.0.0.1:
- the dashboard's page time (first page, a deep page, a filtered page), p50/p95/max;
- the CSV export's peak memory (growth of the resident set of a process that streams the
  whole export) and time, for both clinicians: constant memory means the same peak for both.

    python -m bench.history_mysql --rows 100000 --small 10000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bench.machine import busy_training, describe, machine_line
from bench.stack import ROOT, WebServer, clinician_client, forget_sign_in_attempts, sign_in
from ml.cli.bench import percentiles

if TYPE_CHECKING:  # Django is set up before the apps are imported
    from accounts.models import User

SYNTHETIC = "BENCH-SYNTHETIC"
RESULTS = ROOT / "bench" / "results"
PAGES = {
    "first page": "/scans/",
    "page 2000": "/scans/?page=2000",
    "filtered (glioma, high risk)": "/scans/?label=glioma&risk=high",
}


def clinician_with_password(email: str) -> tuple[User, str]:
    from accounts.models import User
    from accounts.roles import approve_clinician
    from accounts.verification import mark_email_verified

    password = secrets.token_urlsafe(24)
    user = User.objects.filter(email=email).first() or User(email=email)
    user.set_password(password)
    user.save()
    mark_email_verified(user)
    approve_clinician(user)
    return user, password


def seed(user, count: int, chunk: int = 5000) -> int:
    """Top the user's synthetic history up to `count` rows; returns how many were added."""
    from predictions.models import Scan

    have = Scan.objects.filter(owner=user, case_reference=SYNTHETIC).count()
    rng = random.Random(user.pk)
    for start in range(have, count, chunk):
        size = min(chunk, count - start)
        _seed_chunk(user, start, size, rng)
    return max(0, count - have)


def _seed_chunk(user, start: int, size: int, rng: random.Random) -> None:
    from django.db import transaction
    from django.utils import timezone

    from predictions.models import Prediction, Scan

    now = timezone.now()
    with transaction.atomic():
        scans = Scan.objects.bulk_create(
            Scan(
                owner=user,
                case_reference=SYNTHETIC,
                sha256=secrets.token_hex(32),
                source_format="PNG",
                content_type="image/png",
                width=512,
                height=512,
                file_size=40_000,
                uploaded_at=now - timedelta(minutes=start + i),
            )
            for i in range(size)
        )
        if scans[0].pk is None:  # a backend that does not return ids from bulk inserts
            scans = list(Scan.objects.filter(owner=user, prediction__isnull=True))
        Prediction.objects.bulk_create(_prediction(scan, rng) for scan in scans)


def _prediction(scan, rng: random.Random):
    from predictions.models import Prediction

    weights = [rng.random() for _ in range(4)]
    total = sum(weights)
    probabilities = dict(
        zip(
            ("glioma", "meningioma", "notumor", "pituitary"),
            (w / total for w in weights),
            strict=True,
        )
    )
    label = max(probabilities, key=probabilities.__getitem__)
    tumour = 1.0 - probabilities["notumor"]
    return Prediction(
        scan=scan,
        owner_id=scan.owner_id,  # bulk_create does not call save(), which copies these
        uploaded_at=scan.uploaded_at,
        status=Prediction.Status.DONE,
        attempts=1,
        created_at=scan.uploaded_at,
        started_at=scan.uploaded_at,
        finished_at=scan.uploaded_at + timedelta(seconds=1),
        label=label,
        confidence=probabilities[label],
        probabilities=probabilities,
        tumour_probability=tumour,
        risk="high" if tumour > 0.5 else "medium" if tumour > 0.2 else "low",
        gate_accepted=True,
        gate_score=rng.random(),
        model_version="bench-synthetic",
        timings={"total": 100.0},
    )


def page_times(base_url: str, email: str, password: str, repeats: int) -> dict[str, dict]:
    client = clinician_client(base_url)
    sign_in(client, email, password)
    results = {}
    for name, path in PAGES.items():
        for _ in range(3):  # warm caches and connections
            client.get(path).raise_for_status()
        times = []
        for _ in range(repeats):
            begin = time.perf_counter()
            client.get(path).raise_for_status()
            times.append((time.perf_counter() - begin) * 1000)
        summary = percentiles(times, digits=1)
        results[name] = {
            "p50_ms": summary["p50"],
            "p95_ms": summary["p95"],
            "max_ms": round(max(times), 1),
        }
    return results


def export_in_fresh_process(env: dict[str, str], email: str) -> dict:
    """Stream one export in a new process: its peak RSS growth is the export's memory."""
    command = [sys.executable, "-m", "bench.history_mysql", "--export-for", email]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def export_once(email: str) -> dict:
    """Django's test client in this process: the view's own streaming, no socket between.

    The kernel's high-water mark of the resident set is reset just before the export
    (/proc/self/clear_refs), so the peak covers the export alone, C buffers of the MySQL
    client library included (tracemalloc would see only Python objects).
    """
    from django.http import StreamingHttpResponse
    from django.test import Client

    from accounts.models import User

    client = Client(HTTP_HOST="localhost")  # a host ALLOWED_HOSTS has in production
    client.force_login(User.objects.get(email=email))
    warm = client.get("/scans/")  # load templates and code before measuring
    if warm.status_code != 200:
        raise RuntimeError(f"dashboard answered {warm.status_code}")
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    begin = time.perf_counter()
    response = client.get("/scans/export.csv")
    if not isinstance(response, StreamingHttpResponse):
        raise RuntimeError(f"the export answered {response.status_code} without streaming")
    size = lines = 0
    for block in response.streaming_content:
        size += len(block)
        lines += block.count(b"\n")
    seconds = time.perf_counter() - begin
    return {
        "rows": lines - 1,
        "bytes": size,
        "seconds": round(seconds, 2),
        "peak_rss_growth_mib": round((_status_kib("VmHWM") - before) / 1024, 1),
        "rss_before_mib": round(before / 1024, 1),
    }


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def markdown(result: dict) -> str:
    lines = [
        f"History: dashboard and CSV export with {result['rows']:,} synthetic predictions "
        f"for one clinician ({result['total_rows']:,} in the database)",
        f"Machine: {machine_line(result['machine'])}",
        "",
        "| dashboard page | p50 (ms) | p95 (ms) | max (ms) |",
        "|---|---:|---:|---:|",
    ]
    for name, times in result["dashboard"].items():
        lines.append(f"| {name} | {times['p50_ms']} | {times['p95_ms']} | {times['max_ms']} |")
    lines += [
        "",
        "| CSV export | rows | MB | seconds | peak RSS growth (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, export in result["export"].items():
        lines.append(
            f"| {name} | {export['rows']:,} | {export['bytes'] / 1e6:.1f} | {export['seconds']} "
            f"| {export['peak_rss_growth_mib']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--allow-busy", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--export-for", help=argparse.SUPPRESS)  # the child process's mode
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brainscan.settings")
    import django

    django.setup()
    if args.export_for:
        print(json.dumps(export_once(args.export_for)))
        return
    if busy_training() and not args.allow_busy:
        raise SystemExit("a training run (ml.train) is using the cores: numbers would be wrong")
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"history-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(result, indent=2)
    )
    print(markdown(result))


def run(args: argparse.Namespace) -> dict:
    from predictions.models import Prediction

    machine = describe()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    forget_sign_in_attempts()
    big, big_password = clinician_with_password("bench-history-large@bench.invalid")
    small, _ = clinician_with_password("bench-history-small@bench.invalid")
    added = seed(big, args.rows) + seed(small, args.small)
    with tempfile.TemporaryDirectory(prefix="brainscan-bench-") as workdir:
        web = WebServer(env, Path(workdir) / "web.log", workers=2)
        try:
            web.wait_ready()
            dashboard = page_times(web.base_url, big.email, big_password, args.repeats)
        finally:
            web.stop()
    export = {
        f"{args.small:,} rows": export_in_fresh_process(env, small.email),
        f"{args.rows:,} rows": export_in_fresh_process(env, big.email),
    }
    return {
        "kind": "history",
        "machine": machine,
        "rows": args.rows,
        "total_rows": Prediction.objects.count(),
        "rows_added_now": added,
        "dashboard": dashboard,
        "export": export,
    }


if __name__ == "__main__":
    main()
