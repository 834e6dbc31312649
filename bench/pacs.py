"""PACS round-trip benchmark (`make bench-pacs`): Orthanc pushes a 176-slice sagittal 3-D T1
series to the DICOM listener; the time from the last instance received to the SR stored back
in Orthanc.

    .venv/bin/python -m bench.pacs --data ../shared/datasets/brain-tumor-mri

The series is bench.study's (one IXI person made 3-D, or the phantom with `--synthetic`).
Orthanc (Debian package `orthanc`) runs on loopback ports with a generated configuration
(pacs/tests/orthanc.py); the listener runs in this process on the embedded profile in a
throwaway SQLite folder, with the real model, tasks in-process as `make run` does it. The
clock stops when Orthanc's REST API lists the SR in the study (polled every 50 ms). The parts:
the quiet period (`--quiet`, a setting: DICOM_QUIET_SECONDS), reading and storing the study,
the analysis, and building and sending the SR and key images.

Prints Markdown and writes bench/results/pacs-<date>.json. Refuses to run while a training
run shares the cores (`--force` to run anyway).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.history import configure
from bench.machine import busy_training, describe
from bench.study import add_volume_arguments, load_volume, sagittal_files, save_result

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
AE_TITLE = "BRAINSCAN"


def round_trip(files: list[bytes], engine: Any, folder: Path, quiet: float) -> dict[str, Any]:
    import predictions.tasks
    from accounts.models import User
    from accounts.roles import approve_clinician
    from accounts.verification import mark_email_verified
    from pacs.listener import Listener, Receiver
    from pacs.models import Delivery, DicomNode, ReceivedStudy
    from pacs.tests.orthanc import AE_TITLE as ORTHANC_AE
    from pacs.tests.orthanc import Orthanc

    predictions.tasks._engine = lambda: engine  # the loaded engine: model load not counted
    owner = User.objects.create_user("bench-pacs@example.org", "bench-password-123")
    mark_email_verified(owner)
    approve_clinician(owner)
    listener = Listener(
        ae_title=AE_TITLE, bind="127.0.0.1", port=0, receiver=Receiver(quiet_seconds=quiet)
    )
    listener.start()
    orthanc = Orthanc(folder / "orthanc", brainscan_ae=AE_TITLE, brainscan_port=listener.port)
    orthanc.start()
    try:
        DicomNode.objects.create(
            name="Orthanc", ae_title=ORTHANC_AE, host="127.0.0.1", owner=owner,
            return_ae_title=ORTHANC_AE, return_host="127.0.0.1", return_port=orthanc.dicom_port,
        )  # fmt: skip
        (study_id,) = {orthanc.upload(data)["ParentStudy"] for data in files}
        started = time.perf_counter()
        orthanc.push_to_brainscan(study_id)
        push_s = time.perf_counter() - started
        stored_at = _wait_for_sr(orthanc, study_id, timeout=900)
    finally:
        orthanc.stop()
        listener.stop()
    receipts = list(ReceivedStudy.objects.select_related("study"))
    if len(receipts) != 1:
        raise SystemExit(
            f"the series arrived as {len(receipts)} studies (instances "
            f"{[r.instances for r in receipts]}): Orthanc paused longer than --quiet {quiet:g} s"
        )
    (receipt,) = receipts
    study = receipt.study
    delivery = Delivery.objects.get(receipt=receipt)
    assert study is not None
    assert study.finished_at
    assert delivery.delivered_at is not None
    last = receipt.last_received_at.timestamp()
    return {
        "instances_received": receipt.instances,
        "push_s": round(push_s, 3),
        "study_status": study.status,
        "label": study.label,
        "risk": study.risk,
        "axial_slices": study.slices_total,
        "key_images": delivery.objects_sent - 1,
        "quiet_s": quiet,
        # The quiet period, the sweep's tick and reading the 176 files (Study row created).
        "last_instance_to_study_stored_s": round(study.uploaded_at.timestamp() - last, 3),
        # Storing the slices and analysing them (the task runs in-process on commit).
        "study_stored_to_finished_s": round(
            study.finished_at.timestamp() - study.uploaded_at.timestamp(), 3
        ),
        "analysis_s": study.timings.get("analysis_s"),
        # Linking the receipt, building the SR and key images, the association and C-STOREs.
        "finished_to_delivered_s": round(
            delivery.delivered_at.timestamp() - study.finished_at.timestamp(), 3
        ),
        "last_instance_to_sr_in_orthanc_s": round(stored_at - last, 3),
    }


def as_from_a_scanner(files: list[bytes]) -> list[bytes]:
    """bench.study's files carry no patient or study (an upload is de-identified anyway); a
    PACS needs both: one made-up patient and study for the whole series."""
    import io

    from pydicom import dcmread
    from pydicom.uid import generate_uid

    study_uid = generate_uid()
    out = []
    for data in files:
        ds = dcmread(io.BytesIO(data))
        ds.StudyInstanceUID = study_uid
        ds.PatientID, ds.PatientName = "BENCH-PACS-1", "Bench^Pacs"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "120000", "1", ""
        ds.SeriesNumber = 1
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def _wait_for_sr(orthanc: Any, study_id: str, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        modalities = {s["MainDicomTags"].get("Modality") for s in orthanc.series_of(study_id)}
        if "SR" in modalities:
            return time.time()
        time.sleep(0.05)
    raise TimeoutError("the SR did not arrive in Orthanc")


def markdown(result: dict[str, Any]) -> str:
    r = result["round_trip"]
    return "\n".join(
        [
            f"### make bench-pacs ({result['machine']['date']}, {result['volume']})",
            "",
            "| step | seconds |",
            "| --- | --- |",
            f"| Orthanc's C-STORE of {r['instances_received']} instances (push) | {r['push_s']} |",
            f"| last instance -> study read and stored (quiet period {r['quiet_s']:g} s "
            f"included) | {r['last_instance_to_study_stored_s']} |",
            f"| study stored -> analysed ({r['axial_slices']} axial slices; the model "
            f"{r['analysis_s']} s of it) | {r['study_stored_to_finished_s']} |",
            f"| analysed -> SR + {r['key_images']} key images stored in Orthanc | "
            f"{r['finished_to_delivered_s']} |",
            f"| **last instance received -> SR in Orthanc** | "
            f"**{r['last_instance_to_sr_in_orthanc_s']}** |",
            "",
            f"Result: {r['label']}, {r['risk']} risk; model {result['model_version']}.",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_volume_arguments(p)
    p.add_argument("--quiet", type=float, default=5.0, help="DICOM_QUIET_SECONDS for the run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--force", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if busy_training() and not args.force:
        raise SystemExit("a training run is using the cores; run the benchmark afterwards")
    machine = describe()
    with tempfile.TemporaryDirectory(prefix="bench-pacs-") as tmp:
        folder = Path(tmp)
        os.environ.pop("REDIS_URL", None)  # tasks in-process, as the embedded default runs them
        os.environ["MODEL_PATH"] = str(args.model)
        os.environ["DICOM_SPOOL_ROOT"] = str(folder / "spool")
        configure(folder)
        from ml.serving.engine import Engine

        engine = Engine.load(args.model, threads=args.threads)
        volume, volume_name = load_volume(args)
        files = as_from_a_scanner(sagittal_files(volume, args.slices))
        result = {
            "machine": machine,
            "model_version": engine.version,
            "volume": volume_name,
            "round_trip": round_trip(files, engine, folder, args.quiet),
        }
    return save_result(args.out, "pacs", result, markdown)


if __name__ == "__main__":
    main()
