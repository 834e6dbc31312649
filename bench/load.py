"""Full-stack load benchmark: clinicians upload real slices through the web, workers analyse.

gunicorn + 1, then 2 `celery worker` processes, on MySQL/MariaDB + Redis, all on 127.0.0.1.
`--clients` simulated clinicians (each with its own signed-in session) share the `--scans`
official test slices and do what the upload page does with a folder of slices: send them to
its per-file endpoint, three at a time (PARALLEL in static/js/upload.js), then poll the
batch's status JSON as the batch page does (every 2 s, slowing by 15 % a poll to 10 s) until
every slice has its result.

Measured per worker count: upload-to-result latency p50/p95/p99 (from the moment a file's
upload starts to its row's finished_at; the poll interval does not add to it), the time
scans wait in the queue and the worker's analysis time, throughput (finished scans over the
wall time from the first upload to the last finished_at), errors (HTTP errors, time-outs,
FAILED rows: must be 0), and throughput as a ratio of the engine's raw single-process
throughput on the same slices, measured first in the same run.

Run through bench/run.sh (it prepares a dedicated database and Redis number), or with the
production-profile environment already exported:

    python -m bench.load --model ml/artifacts/brainscan.keras --workers 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.machine import busy_training, describe, machine_line
from bench.stack import (
    ROOT,
    Service,
    WebServer,
    clinician_client,
    csrf_token,
    forget_sign_in_attempts,
    sign_in,
    upload_file,
    worker_process,
)
from ml.cli.bench import percentiles

DATA = ROOT.parent / "shared" / "datasets" / "brain-tumor-mri" / "Testing"
RESULTS = ROOT / "bench" / "results"
PARALLEL = 3  # files in flight per clinician, as static/js/upload.js sends them
POLL_FIRST, POLL_GROWTH, POLL_MAX = 2.0, 1.15, 10.0  # as static/js/batch.js polls
SCAN_TIMEOUT = 600.0


@dataclass
class Sample:
    """One clinician upload as the client saw it."""

    started: float  # epoch seconds, before the upload request
    scan_id: int | None = None
    error: str = ""


def pick_slices(count: int, data: Path = DATA) -> list[Path]:
    """`count` official test slices, the same ones every run: an equal share per class."""
    classes = sorted(p for p in data.iterdir() if p.is_dir())
    per_class = [sorted(c.glob("*.jpg")) for c in classes]
    picked = [
        files[i] for i in range(max(map(len, per_class))) for files in per_class if i < len(files)
    ]
    if len(picked) < count:
        raise SystemExit(f"only {len(picked)} slices under {data}, {count} wanted")
    return picked[:count]


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def raw_engine(env: dict[str, str], model: Path, slices: list[Path], workdir: Path) -> dict:
    listing = workdir / "slices.txt"
    listing.write_text("\n".join(str(p) for p in slices))
    command = [sys.executable, "-m", "bench.engine_raw", "--model", str(model)]
    result = subprocess.run(
        [*command, "--files", str(listing), "--threads", env.get("BRAINSCAN_TF_THREADS", "1")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def make_clinicians(count: int) -> list[tuple[str, str]]:
    """Approved clinician accounts for the load, with fresh random passwords."""
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from accounts.roles import approve_clinician

    accounts = []
    for number in range(count):
        email = f"bench-clinician-{number}@bench.invalid"
        password = secrets.token_urlsafe(24)
        user = User.objects.filter(email=email).first() or User(email=email)
        user.set_password(password)
        user.save()
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        approve_clinician(user)
        accounts.append((email, password))
    return accounts


def signed_in_sessions(base_url: str, accounts: list[tuple[str, str]]) -> list[tuple]:
    sessions = []
    for email, password in accounts:
        client = clinician_client(base_url, timeout=120)
        sign_in(client, email, password)
        sessions.append((client, csrf_token(client, "/scans/upload/")))
    return sessions


def clinician(session: tuple, paths: list[Path], samples: list[Sample]) -> None:
    """One clinician's batch: upload every file (PARALLEL at a time), then poll the batch."""
    client, token = session
    batch = str(uuid.uuid4())
    mine = [Sample(started=0.0) for _ in paths]
    samples.extend(mine)  # list.extend is atomic under the GIL
    with ThreadPoolExecutor(PARALLEL) as uploads:
        list(
            uploads.map(
                lambda job: _upload(client, token, batch, *job), zip(paths, mine, strict=True)
            )
        )
    if any(sample.scan_id is not None for sample in mine):
        _wait_for_batch(client, batch, mine)


def _upload(client, token: str, batch: str, path: Path, sample: Sample) -> None:
    sample.started = time.time()
    try:
        response = upload_file(client, token, batch, f"slice{path.suffix}", path.read_bytes())
    except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
        sample.error = f"upload {type(exc).__name__}: {exc}"[:200]
        return
    if response.status_code != 201:
        sample.error = f"upload HTTP {response.status_code}"
        return
    sample.scan_id = response.json()["scans"][0]["id"]


def _wait_for_batch(client, batch: str, samples: list[Sample]) -> None:
    """Poll the batch's status JSON until every uploaded scan is finished (or time runs out)."""
    waiting = {s.scan_id: s for s in samples if s.scan_id is not None}
    delay = POLL_FIRST
    deadline = time.time() + SCAN_TIMEOUT
    while waiting and time.time() < deadline:
        time.sleep(delay)
        delay = min(delay * POLL_GROWTH, POLL_MAX)
        try:
            response = client.get(f"/scans/batch/{batch}/status.json")
        except Exception:  # noqa: BLE001, S112 - a failed poll is retried, as the page does
            continue
        if response.status_code != 200:
            continue
        for scan in response.json()["scans"]:
            if scan["finished"]:
                waiting.pop(scan["id"], None)
    for sample in waiting.values():
        sample.error = "no result in time"


def run_load(sessions: list[tuple], slices: list[Path]) -> tuple[list[Sample], float]:
    """Every clinician uploads their share of `slices` at once; returns when all have results."""
    shares = [slices[n :: len(sessions)] for n in range(len(sessions))]
    samples: list[Sample] = []
    threads = [
        threading.Thread(target=clinician, args=(session, share, samples))
        for session, share in zip(sessions, shares, strict=True)
        if share
    ]
    begin = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, begin


def summarize(samples: list[Sample], begin: float, workers: int, raw: dict) -> dict:
    from predictions.models import Prediction

    ids = [s.scan_id for s in samples if s.scan_id is not None]
    rows = {p.scan_id: p for p in Prediction.objects.filter(scan_id__in=ids)}
    latencies, waits, analysis, errors, rejected = [], [], [], [], 0
    for sample in samples:
        row = rows.get(sample.scan_id) if sample.scan_id is not None else None
        if sample.error or row is None or row.finished_at is None or row.started_at is None:
            errors.append(sample.error or "no row or unfinished")
            continue
        if row.status == Prediction.Status.FAILED:
            errors.append(f"FAILED: {row.error[:80]}")
            continue
        rejected += row.status == Prediction.Status.REJECTED
        latencies.append(row.finished_at.timestamp() - sample.started)
        waits.append((row.started_at - row.created_at).total_seconds())
        analysis.append(float(row.timings.get("total", 0.0)))
    finished = [
        at.timestamp() for s in samples if s.scan_id in rows and (at := rows[s.scan_id].finished_at)
    ]
    wall = max(finished) - begin if finished else float("nan")
    throughput = len(latencies) / wall if latencies else 0.0
    return {
        "workers": workers,
        "scans": len(samples),
        "clients_finished": len(latencies),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "rejected_by_gate": rejected,
        "latency_s": percentiles(latencies, (50, 95, 99), digits=3),
        "queue_wait_s": percentiles(waits, (50, 95, 99), digits=3),
        "analysis_ms": percentiles(analysis, (50, 95, 99), digits=1),
        "wall_seconds": round(wall, 2),
        "throughput_per_s": round(throughput, 3),
        "ratio_to_raw_engine": round(throughput / raw["per_second"], 3),
        "ratio_per_worker": round(throughput / (workers * raw["per_second"]), 3),
    }


def warm_up(sessions: list[tuple], workers: Sequence[Service], path: Path) -> None:
    """Every worker loads the model before the clock starts (it loads on its first scan)."""
    for _ in range(6):
        if all("loaded model" in w.log_text() for w in workers):
            return
        _, _ = run_load(sessions[: len(workers)], [path] * len(workers))
    raise RuntimeError("a worker did not load the model during warm-up")


def cpu_seconds(web: Service, workers: Sequence[Service]) -> dict[str, float]:
    """CPU time (user + system) used so far by each part of the stack, children included:
    where the CPU goes per scan tells what limits throughput on a machine with few cores."""
    import psutil

    def tree(pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                process = psutil.Process(pid)
                for member in [process, *process.children(recursive=True)]:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        times = member.cpu_times()
                        total += times.user + times.system
        return total

    def named(*names: str) -> list[int]:
        return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in names]

    return {
        "web (gunicorn)": tree([web.process.pid]),
        "workers (celery)": tree([w.process.pid for w in workers]),
        "database (MariaDB)": tree(named("mariadbd", "mysqld")),
        "broker (Redis)": tree(named("redis-server")),
        "load generator": sum(psutil.Process().cpu_times()[:2]),  # this process: user + system
    }


def queue_is_empty() -> bool:
    import redis
    from django.conf import settings

    return redis.Redis.from_url(settings.REDIS_URL).llen("celery") == 0


def markdown(result: dict) -> str:
    raw = result["raw_engine"]
    lines = [
        f"Full-stack load: {result['clients']} clinicians, {result['scans']} real test slices, "
        f"model {raw['model_version']}",
        f"Machine: {machine_line(result['machine'])}",
        "",
        f"Raw engine (one process, {raw['threads']} TF thread, with Grad-CAM): "
        f"{raw['per_second']:.2f} scans/s (p50 {raw['p50_ms']} ms, p95 {raw['p95_ms']} ms)",
        "",
        "| workers | latency p50 (s) | p95 (s) | p99 (s) | queued p50 (s) | analysis p50 (ms) "
        "| throughput (scans/s) | vs raw engine | per worker | errors | gate rejections |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for config in result["configs"]:
        latency = config["latency_s"]
        lines.append(
            f"| {config['workers']} | {latency.get('p50', '–')} | {latency.get('p95', '–')} "
            f"| {latency.get('p99', '–')} | {config['queue_wait_s'].get('p50', '–')} "
            f"| {config['analysis_ms'].get('p50', '–')} | {config['throughput_per_s']:.2f} "
            f"| {config['ratio_to_raw_engine']:.0%} | {config['ratio_per_worker']:.0%} "
            f"| {config['errors']} | {config['rejected_by_gate']} |"
        )
    for config in result["configs"]:
        cpu = config.get("cpu_ms_per_scan")
        if cpu:
            total = sum(cpu.values())
            parts = ", ".join(f"{part} {ms:.1f}" for part, ms in cpu.items())
            lines.append(
                f"\nCPU per scan with {config['workers']} worker(s), ms: {parts}; total {total:.1f}"
                f" (the raw engine: {1000 / raw['per_second']:.1f}); {result['machine']['nproc']}"
                f" cores allow at most {result['machine']['nproc'] * 1000 / total:.0f} scans/s."
            )
    return "\n".join(lines)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "ml" / "artifacts" / "brainscan.keras")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--scans", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--allow-busy", action="store_true", help="run even while ml.train runs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if busy_training() and not args.allow_busy:
        raise SystemExit("a training run (ml.train) is using the cores: numbers would be wrong")
    if not args.model.is_file():
        raise SystemExit(f"no model at {args.model}: train it first (make train)")
    with tempfile.TemporaryDirectory(prefix="brainscan-bench-") as workdir:
        result = run(args, Path(workdir))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"load-{stamp}.json").write_text(json.dumps(result, indent=2))
    print(markdown(result))


def run(args: argparse.Namespace, workdir: Path) -> dict:
    env = dict(os.environ)
    env.update(
        PRIVATE_MEDIA_ROOT=str(workdir / "private"),
        MODEL_PATH=str(args.model.resolve()),
        BRAINSCAN_TF_THREADS=env.get("BRAINSCAN_TF_THREADS", "1"),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="brainscan.settings",
    )
    os.environ.update(env)
    machine = describe()
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    slices = pick_slices(args.scans, args.data)
    raw = raw_engine(env, args.model, slices, workdir)
    import django

    django.setup()
    if not queue_is_empty():
        raise SystemExit("the Redis queue is not empty: use a Redis database of its own")
    forget_sign_in_attempts()
    accounts = make_clinicians(args.clients)
    web = WebServer(env, workdir / "web.log", workers=args.web_workers)
    configs = []
    try:
        web.wait_ready()
        sessions = signed_in_sessions(web.base_url, accounts)
        for count in args.workers:
            configs.append(_one_config(env, workdir, web, sessions, slices, count, raw))
    finally:
        web.stop()
    return {
        "kind": "load",
        "machine": machine,
        "scans": len(slices),
        "clients": args.clients,
        "raw_engine": raw,
        "configs": configs,
    }


def _one_config(
    env, workdir: Path, web: Service, sessions, slices: list[Path], count: int, raw: dict
) -> dict:
    workers = [
        worker_process(env, workdir / f"worker-{count}-{n}.log", f"bench{count}-{n}")
        for n in range(count)
    ]
    try:
        warm_up(sessions, workers, slices[0])
        before = cpu_seconds(web, workers)
        samples, begin = run_load(sessions, slices)
        after = cpu_seconds(web, workers)
        result = summarize(samples, begin, count, raw)
        result["cpu_ms_per_scan"] = {
            part: round((after[part] - before[part]) * 1000 / max(len(samples), 1), 2)
            for part in after
        }
        return result
    finally:
        for worker in workers:
            worker.stop()


if __name__ == "__main__":
    main()
