"""Whole-study benchmark (`make bench-study`): a 176-slice sagittal 3-D T1 series from upload
to study summary, batched against single-slice analysis, and the web process's memory while
a 100 MB series streams in.

    .venv/bin/python -m bench.study --data ../shared/datasets/brain-tumor-mri

The series is real brain MRI made 3-D: one IXI person's axial slices (../external/ixi-hh-t1,
6 mm apart) interpolated to a 1 mm volume and cut into 176 sagittal DICOM slices of 256 x 256
(with `--synthetic`, the test phantom instead). Everything runs on the embedded profile in a
throwaway SQLite folder (never the configured database):

1. upload -> summary, in-process: the study page's POST through the Django test client, with
   the analysis in-process on commit as `make run` does it; timed in parts (reading and
   reformatting, storing, the study task). The test client sends no bytes over a network,
   so this is the time from the end of the upload to the stored summary.
2. batched vs single: the study's own axial slices through `Engine.analyze_batch` (the study
   worker) and through `Engine.analyze` one by one (the single-scan worker), in the same
   run; per-slice milliseconds and their ratio.
3. peak RSS of the web process (`manage.py runserver`, tasks sent to an unreachable broker so
   the process only receives, reads and stores) while `POST /api/studies` streams a ~100 MB
   series from disk (httpx); `--big-mb 0` skips it.

Prints the results as Markdown and writes bench/results/study-<date>.json. Refuses to run while
a training run shares the cores (`--force` to run anyway).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.history import configure
from bench.machine import busy_training, describe, machine_line

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
LPS = np.array([-1.0, -1.0, 1.0])


def ixi_volume(external: Path, person: str | None = None) -> np.ndarray:
    """(x, y, z) at 1 mm from one IXI person's axial PNGs (2 mm pixels, 6 mm apart)."""
    import csv

    import cv2
    from scipy.ndimage import zoom

    folder = external / "ixi-hh-t1"
    with (folder / "manifest.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    person = person or rows[0]["patient_id"]
    mine = sorted((int(r["z_index"]), r["file"]) for r in rows if r["patient_id"] == person)
    images = [cv2.imread(str(folder / name), cv2.IMREAD_GRAYSCALE) for _, name in mine]
    if any(image is None for image in images):
        raise SystemExit(f"cannot read the IXI slices of {person} under {folder}")
    stack = np.stack([image for image in images if image is not None])
    # stack: (z inferior -> superior, rows anterior -> posterior, columns patient right -> left)
    volume = zoom(stack.astype(np.float32), (6.0, 2.0, 2.0), order=1)  # to 1 mm
    # to (x, y, z) with every index increasing toward right, anterior, superior (RAS)
    return np.ascontiguousarray(np.transpose(volume, (2, 1, 0))[::-1, ::-1, :])


def phantom_volume(size: int = 200) -> np.ndarray:
    from ml.testing import head_phantom

    axis = np.arange(size) - (size - 1) / 2
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    return head_phantom(np.stack([x, y, z], axis=-1)).astype(np.float32)


def sagittal_files(volume: np.ndarray, slices: int = 176, side: int = 256) -> list[bytes]:
    """`slices` sagittal DICOM files (1 mm apart, centred) of a (x, y, z) 1 mm volume, each
    `side` x `side` (the volume padded or cut), in the order a scanner writes them."""
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from predictions.tests.dicom_files import _encode, _set_pixels

    padded = np.zeros((max(volume.shape[0], slices), side, side), np.float32)
    nx, ny, nz = (
        min(volume.shape[0], padded.shape[0]),
        min(volume.shape[1], side),
        min(volume.shape[2], side),
    )
    ox, oy, oz = ((padded.shape[0] - nx) // 2, (side - ny) // 2, (side - nz) // 2)
    padded[ox : ox + nx, oy : oy + ny, oz : oz + nz] = volume[:nx, :ny, :nz]
    start = (padded.shape[0] - slices) // 2
    scale = 4000.0 / max(float(padded.max()), 1.0)
    uid = generate_uid()
    files = []
    for k in range(slices):
        plane = padded[start + k]  # (y, z)
        image = plane[::-1, ::-1].T  # rows: superior -> inferior; columns: anterior -> posterior
        x = start + k - (padded.shape[0] - 1) / 2
        origin_ras = np.array([x, (side - 1) / 2, (side - 1) / 2])
        ds = Dataset()
        ds.Modality = "MR"
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        ds.SeriesInstanceUID = uid
        ds.SOPInstanceUID = generate_uid()
        ds.SeriesDescription = "T1 SAG 3D MPRAGE"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.MRAcquisitionType = "3D"
        ds.ImagePositionPatient = [float(v) for v in origin_ras * LPS]
        ds.ImageOrientationPatient = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]  # rows to P, columns to I
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = 1.0
        ds.WindowCenter, ds.WindowWidth = 2000, 4000  # the whole 0-4000 range, as consoles write
        _set_pixels(ds, np.rint(image * scale).astype(np.uint16), "MONOCHROME2", 12, False, None)
        files.append(_encode(ds, ExplicitVRLittleEndian, True))
    return files


class _Upload:
    def __init__(self, data: bytes, name: str) -> None:
        import io

        self.file = io.BytesIO(data)
        self.size = len(data)
        self.name = name

    def seek(self, offset: int) -> None:
        self.file.seek(offset)

    def read(self, size: int = -1) -> bytes:
        return self.file.read(size)


def upload_to_summary(files: list[bytes], engine) -> dict:
    """The study page's POST, analysis in-process, timed in parts."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    import predictions.tasks
    from accounts.models import User
    from accounts.roles import approve_clinician
    from accounts.verification import mark_email_verified
    from studies import services
    from studies.models import Study

    predictions.tasks._engine = lambda: engine  # the loaded engine: model load not counted
    owner = User.objects.create_user(f"bench-{time.time_ns()}@example.org", "bench-password-123")
    mark_email_verified(owner)
    approve_clinician(owner)
    client = Client()
    client.force_login(owner)

    started = time.perf_counter()
    study_read = services.read_upload([_Upload(f, f"IM{i}") for i, f in enumerate(files)])
    read_s = time.perf_counter() - started

    uploads = [SimpleUploadedFile(f"IM{i:05d}", f) for i, f in enumerate(files)]
    started = time.perf_counter()
    response = client.post(reverse("studies:upload"), {"files": uploads})
    total_s = time.perf_counter() - started
    study = Study.objects.filter(owner=owner).get()
    return {
        "status_code": response.status_code,
        "study_status": study.status,
        "source_slices": len(files),
        "axial_slices": study.slices_total,
        "accepted_slices": study.slices.filter(status="done").count(),
        "label": study.label,
        "risk": study.risk,
        "read_and_reformat_s": round(read_s, 3),
        "analysis_s": study.timings.get("analysis_s"),
        "upload_to_summary_s": round(total_s, 3),
        "pngs": [s.png for series in study_read.series for s in series.slices],
    }


def batched_vs_single(engine, pngs: list[bytes], batch: int, rounds: int = 5) -> dict:
    """Per-slice cost of `analyze_batch` and of `analyze` on the same slices, interleaved
    (batched, single, batched, single, ...) so that a load change hits both alike; the ratio
    is the median of the rounds' ratios. Wall time and this process's CPU time (which a
    busy machine disturbs less: time spent waiting for a core is not counted)."""
    engine.analyze_batch(pngs[:batch])  # trace the batched functions once
    engine.analyze(pngs[0])

    def batched() -> None:
        for start in range(0, len(pngs), batch):
            engine.analyze_batch(pngs[start : start + batch])

    def single() -> None:
        for png in pngs:
            engine.analyze(png)

    times: dict[str, list[float]] = {
        "batched": [],
        "single": [],
        "batched_cpu": [],
        "single_cpu": [],
    }
    for _ in range(rounds):
        for name, run in (("batched", batched), ("single", single)):
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - wall) / len(pngs))
            times[f"{name}_cpu"].append((time.process_time() - cpu) / len(pngs))

    def median(values: list[float]) -> float:
        return float(np.median(values))

    def ratio(a: str, b: str) -> float:
        return round(median([x / y for x, y in zip(times[a], times[b], strict=True)]), 3)

    return {
        "slices": len(pngs),
        "batch_size": batch,
        "rounds": rounds,
        "batched_ms_per_slice": round(1000 * median(times["batched"]), 2),
        "single_ms_per_slice": round(1000 * median(times["single"]), 2),
        "batched_over_single": ratio("batched", "single"),
        "batched_cpu_ms_per_slice": round(1000 * median(times["batched_cpu"]), 2),
        "single_cpu_ms_per_slice": round(1000 * median(times["single_cpu"]), 2),
        "batched_over_single_cpu": ratio("batched_cpu", "single_cpu"),
    }


def upload_rss(folder: Path, files: list[bytes]) -> dict:
    """Peak RSS of a runserver process while POST /api/studies streams `files` from disk."""
    import httpx
    import psutil

    from accounts.models import User
    from accounts.roles import approve_clinician
    from accounts.verification import mark_email_verified
    from api.models import ApiToken

    disk = folder / "big"
    disk.mkdir()
    paths = []
    for i, data in enumerate(files):
        path = disk / f"IM{i:05d}"
        path.write_bytes(data)
        paths.append(path)
    owner = User.objects.create_user("bench-big@example.org", "bench-password-123")
    mark_email_verified(owner)
    approve_clinician(owner)
    _token, key = ApiToken.issue(owner, "bench")
    port = _free_port()
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0", "API_RATE_LIMIT": "1000/min"}
    env["STUDY_MAX_BYTES"] = str(max(int(env.get("STUDY_MAX_BYTES", 0) or 0), 400 * 2**20))
    server = subprocess.Popen(  # noqa: S603 - fixed argument list
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port)
        process = psutil.Process(server.pid)
        baseline = process.memory_info().rss
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], process.memory_info().rss)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        handles = [path.open("rb") for path in paths]
        started = time.perf_counter()
        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/studies",
                headers={"Authorization": f"Token {key}"},
                files=[
                    ("files", (p.name, h, "application/dicom"))
                    for p, h in zip(paths, handles, strict=True)
                ],
                timeout=600,
            )
        finally:
            for handle in handles:
                handle.close()
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        return {
            "files": len(paths),
            "megabytes": round(sum(p.stat().st_size for p in paths) / 2**20, 1),
            "status_code": response.status_code,
            "seconds": round(seconds, 2),
            "rss_before_mib": round(baseline / 2**20, 1),
            "rss_peak_mib": round(peak[0] / 2**20, 1),
            "rss_growth_mib": round((peak[0] - baseline) / 2**20, 1),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("runserver did not start")


def markdown(result: dict) -> str:
    s, b = result["study"], result["batch"]
    lines = [
        f"Whole study: {s['source_slices']}-slice sagittal 3-D T1 ({result['volume']}), model {result['model_version']}",
        machine_line(result["machine"]),
        "",
        "| step | value |",
        "|---|---:|",
        f"| read, group, reformat to {s['axial_slices']} axial slices, render PNGs | {s['read_and_reformat_s']} s |",
        f"| study task (batched analysis + summary), {s['accepted_slices']} slices accepted | {s['analysis_s']} s |",
        f"| **end of upload -> study summary** (POST, in-process) | **{s['upload_to_summary_s']} s** |",
        f"| batched analysis per slice (batch {b['batch_size']}{', bfloat16' if result.get('batch_bfloat16') else ''}) | {b['batched_ms_per_slice']} ms |",
        f"| single-slice path per slice (`Engine.analyze`) | {b['single_ms_per_slice']} ms |",
        f"| batched / single (median of {b['rounds']} interleaved rounds) | {100 * b['batched_over_single']:.0f} % |",
        f"| the same in CPU time: {b['batched_cpu_ms_per_slice']} / {b['single_cpu_ms_per_slice']} ms | {100 * b['batched_over_single_cpu']:.0f} % |",
    ]
    if result.get("upload"):
        u = result["upload"]
        lines.append(
            f"| web process RSS during a {u['megabytes']} MB upload ({u['files']} files, HTTP {u['status_code']}, {u['seconds']} s) | "
            f"{u['rss_before_mib']} -> {u['rss_peak_mib']} MiB (+{u['rss_growth_mib']}) |"
        )
    return "\n".join(lines)


def add_volume_arguments(p: argparse.ArgumentParser) -> None:
    """The model and the volume a benchmark sends (bench/study.py and bench/pacs.py)."""
    p.add_argument("--model", type=Path, default=ROOT / "ml" / "artifacts" / "brainscan.keras")
    p.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "brain-tumor-mri"
    )
    p.add_argument("--external", type=Path, default=None)
    p.add_argument("--synthetic", action="store_true", help="the phantom instead of IXI")
    p.add_argument("--slices", type=int, default=176)


def load_volume(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The volume `add_volume_arguments` chose, and how a result names it."""
    if args.synthetic:
        return phantom_volume(), "phantom"
    external = args.external or args.data.resolve().parent / "external"
    return ixi_volume(external), "one IXI person, interpolated to 1 mm"


def save_result(out: Path, name: str, result: dict, markdown: Callable[[dict], str]) -> dict:
    """Write `result` as out/<name>-<UTC stamp>.json and print its markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (out / f"{name}-{stamp}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_volume_arguments(p)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--big-mb", type=float, default=100.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5, help="interleaved batched/single rounds")
    p.add_argument(
        "--batch-bfloat16",
        choices=("auto", "1", "0"),
        default=os.environ.get("BRAINSCAN_TF_BATCH_BFLOAT16", "auto"),
        help="analyze_batch on the bfloat16 copy: auto (default, as the worker serves: where "
        "the CPU has bfloat16), 1, 0",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--force", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if busy_training() and not args.force:
        raise SystemExit("a training run is using the cores; run the benchmark afterwards")
    machine = describe()
    with tempfile.TemporaryDirectory(prefix="bench-study-") as tmp:
        folder = Path(tmp)
        os.environ["MODEL_PATH"] = str(args.model)
        os.environ["STUDY_BATCH_SIZE"] = str(args.batch)
        configure(folder)
        from ml.serving.engine import Engine
        from ml.serving.runtime import batch_bfloat16_wanted

        batch_bfloat16 = batch_bfloat16_wanted(args.batch_bfloat16)
        engine = Engine.load(args.model, threads=args.threads, batch_bfloat16=batch_bfloat16)
        volume, volume_name = load_volume(args)
        files = sagittal_files(volume, args.slices)
        study = upload_to_summary(files, engine)
        pngs = study.pop("pngs")
        result = {
            "machine": machine,
            "model_version": engine.version,
            "volume": volume_name,
            "study": study,
            "batch_bfloat16": batch_bfloat16,
            "batch": batched_vs_single(engine, pngs, args.batch, args.rounds),
        }
        if args.big_mb > 0:
            per_file = len(files[0])
            count = int(args.big_mb * 2**20 / per_file) + 1
            big = sagittal_files(volume, min(count, volume.shape[0]))
            while len(big) < count:  # a second series (another UID) when one is not enough
                big += sagittal_files(volume, min(count - len(big), volume.shape[0]))
            result["upload"] = upload_rss(folder, big)
    return save_result(args.out, "study", result, markdown)


if __name__ == "__main__":
    main()
