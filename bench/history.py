"""History dashboard and CSV export at scale: one clinician with N scans in a throwaway SQLite.

    .venv/bin/python -m bench.history --rows 100000

Fills a fresh SQLite file in a temporary folder (never the configured database), then times
the dashboard (first page, a deep page, filtered pages) through the Django test client and
streams the whole CSV export, measuring its peak Python memory with tracemalloc. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

LABELS = ["glioma", "meningioma", "notumor", "pituitary"]
RISK = {"glioma": "high", "meningioma": "medium", "notumor": "low", "pituitary": "high"}


def configure(folder: Path) -> None:
    """Point Django at a new SQLite file before settings load; refuse any other database."""
    os.environ["DB"] = "sqlite"
    os.environ["VAR_DIR"] = str(folder)
    os.environ["SQLITE_PATH"] = str(folder / "bench.sqlite3")
    os.environ["PRIVATE_MEDIA_ROOT"] = str(folder / "private")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brainscan.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(rows: int, batch_size: int = 5000):
    from accounts.models import User
    from accounts.roles import approve_clinician
    from accounts.verification import mark_email_verified
    from predictions.models import Prediction, Scan

    owner = User.objects.create_user("bench@example.org", "bench-password-123")
    mark_email_verified(owner)
    approve_clinician(owner)
    other = User.objects.create_user("other@example.org", "bench-password-123")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for offset in range(0, rows, batch_size):
        scans = [
            _scan(owner if n % 10 else other, start, n)
            for n in range(offset, min(rows, offset + batch_size))
        ]
        Scan.objects.bulk_create(scans)
        Prediction.objects.bulk_create(
            [_prediction(scan, n) for n, scan in enumerate(scans, offset)]
        )
    return User.objects.get(pk=owner.pk)


def _scan(owner, start: datetime, n: int):
    from predictions.models import Scan

    return Scan(
        owner=owner,
        batch=uuid.uuid4(),
        case_reference=f"ward-{n % 50}",
        sha256=f"{n:064x}",
        source_format="PNG",
        content_type="image/png",
        width=512,
        height=512,
        file_size=100_000,
        uploaded_at=start + timedelta(minutes=n),
    )


def _prediction(scan, n: int):
    from predictions.models import Prediction

    if n % 17 == 0:
        return Prediction(scan=scan, status="rejected", error="Not a brain MRI slice.")
    label = LABELS[n % 4]
    probabilities = {name: (0.85 if name == label else 0.05) for name in LABELS}
    return Prediction(
        scan=scan,
        status="done",
        label=label,
        confidence=0.85,
        probabilities=probabilities,
        tumour_probability=1 - probabilities["notumor"],
        risk=RISK[label],
        model_version="bench-1",
        review_verdict="agree" if n % 9 == 0 else "",
    )


def timed(client, url: str, runs: int = 5) -> dict[str, float]:
    from django.db import connection, reset_queries

    times = []
    for _ in range(runs):
        reset_queries()
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {"median_ms": round(statistics.median(times), 1), "queries": len(connection.queries)}


def export(client) -> dict[str, float]:
    """Stream the whole export twice: timed alone, then under tracemalloc for peak memory."""
    began = time.perf_counter()
    size, lines = _drain(client)
    seconds = time.perf_counter() - began
    tracemalloc.start()
    _drain(client)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "rows": lines - 1,
        "seconds": round(seconds, 2),
        "megabytes": round(size / 1e6, 1),
        "peak_python_memory_mb": round(peak / 1e6, 1),
    }


def _drain(client) -> tuple[int, int]:
    size = lines = 0
    for block in client.get("/scans/export.csv").streaming_content:
        size += len(block)
        lines += block.count(b"\n")
    return size, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="scans in the database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="brainscan-bench-") as folder:
        configure(Path(folder))
        from django.conf import settings
        from django.test import Client
        from django.test.utils import override_settings

        began = time.perf_counter()
        owner = fill(args.rows)
        fill_seconds = time.perf_counter() - began
        client = Client()
        client.force_login(owner)
        with override_settings(DEBUG=True, ALLOWED_HOSTS=["testserver", *settings.ALLOWED_HOSTS]):
            pages = {
                "first page": timed(client, "/scans/"),
                "page 2000": timed(client, "/scans/?page=2000"),
                "class + risk": timed(client, "/scans/?label=glioma&risk=high"),
                "case contains": timed(client, "/scans/?case=ward-7"),
                "date range": timed(client, "/scans/?date_from=2024-01-03&date_to=2024-01-05"),
                "not reviewed": timed(client, "/scans/?review=unreviewed&page=100"),
            }
        result = {
            "rows_in_database": args.rows,
            "rows_of_this_clinician": owner.scans.count(),
            "fill_seconds": round(fill_seconds, 1),
            "dashboard": pages,
            "export": export(client),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
