"""Orthanc (the Debian package) as the PACS: it pushes a series to the listener over DICOM,
and the SR and key images come back into the same study in Orthanc.

Orthanc runs on loopback ports with a generated configuration (pacs/tests/orthanc.py) where
brainscan is a modality. The listener runs in this process; the study and delivery tasks run
in-process too, with the stand-in engine of the study tests (studies/tests/fakes.py), so the
result (a glioma on the phantom's lesion) is known: this test is about the DICOM exchange
with a real PACS, the worker's own integration tests are in test_studies.py.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from pydicom import dcmread
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage

from pacs.listener import Listener, Receiver
from pacs.models import Delivery, DicomNode
from pacs.tests import orthanc as orthanc_server
from predictions.tests.dicom_files import IDENTIFYING
from studies.models import Study
from studies.tests.series_files import series_files
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not orthanc_server.installed(), reason="Orthanc is not installed"),
]
AE_TITLE = "BRAINSCAN"


@pytest.fixture
def in_process_tasks(study_engine) -> Iterator[None]:
    from brainscan.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def listener(settings, tmp_path, in_process_tasks) -> Iterator[Listener]:
    settings.DICOM_SPOOL_ROOT = tmp_path / "spool"
    server = Listener(
        ae_title=AE_TITLE, bind="127.0.0.1", port=0, receiver=Receiver(quiet_seconds=1)
    )
    server.start()  # with its sweeper: the study completes after 1 s of quiet
    yield server
    server.stop()


@pytest.fixture
def orthanc(listener, tmp_path) -> Iterator[orthanc_server.Orthanc]:
    server = orthanc_server.Orthanc(
        tmp_path / "orthanc", brainscan_ae=AE_TITLE, brainscan_port=listener.port
    )
    server.start()
    yield server
    server.stop()


def test_orthanc_pushes_a_series_and_gets_the_sr_and_key_images_in_the_same_study(
    orthanc, listener, clinician
):
    DicomNode.objects.create(
        name="Orthanc",
        ae_title=orthanc_server.AE_TITLE,
        host="127.0.0.1",
        owner=clinician,
        return_ae_title=orthanc_server.AE_TITLE,
        return_host="127.0.0.1",
        return_port=orthanc.dicom_port,
    )
    files = series_files("axial", slices=8, spacing=6.0)
    study_ids = {orthanc.upload(data)["ParentStudy"] for data in files}
    (study_id,) = study_ids
    assert len(orthanc.series_of(study_id)) == 1

    orthanc.push_to_brainscan(study_id)

    wait_for(
        lambda: (
            Delivery.objects.filter(state=Delivery.State.DELIVERED).exists()
            or Delivery.objects.filter(
                state__in=[Delivery.State.FAILED, Delivery.State.NOT_SENT]
            ).exists()
        ),
        timeout=120,
    )
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.DELIVERED, delivery.error
    study = Study.objects.get()
    assert study.status == Study.Status.DONE
    assert study.owner == clinician

    assert orthanc.get("/studies") == [study_id]  # no new study: the same one
    series = orthanc.series_of(study_id)
    assert len(series) == 3  # the MR series, the SR, the key images
    received = []
    for item in series:
        instance_ids = orthanc.get(f"/series/{item['ID']}/instances")
        received += [dcmread(io.BytesIO(orthanc.instance_file(i["ID"]))) for i in instance_ids]
    reports = [ds for ds in received if ds.SOPClassUID == ComprehensiveSRStorage]
    images = [ds for ds in received if ds.SOPClassUID == SecondaryCaptureImageStorage]
    assert len(reports) == 1
    assert len(images) == delivery.objects_sent - 1 >= 1
    for dataset in [*reports, *images]:
        assert dataset.StudyInstanceUID == IDENTIFYING["StudyInstanceUID"]
        assert dataset.PatientID == IDENTIFYING["PatientID"]
        assert str(dataset.PatientName) == IDENTIFYING["PatientName"]
    (report,) = reports
    text = str(report)
    assert "Tumour class" in text
    assert study.get_label_display().split()[0] in text  # e.g. "Glioma"
    assert "Not for diagnostic use" in text
    assert "Calibrated tumour probability" in text


def test_orthanc_down_when_the_results_are_ready_gets_them_once_after_it_returns(
    orthanc, listener, clinician
):
    from datetime import timedelta

    from pacs import delivery as deliveries

    listener.receiver.quiet = timedelta(seconds=4)  # time to stop Orthanc after its push
    DicomNode.objects.create(
        name="Orthanc", ae_title=orthanc_server.AE_TITLE, host="127.0.0.1", owner=clinician,
        return_ae_title=orthanc_server.AE_TITLE, return_host="127.0.0.1",
        return_port=orthanc.dicom_port,
    )  # fmt: skip
    (study_id,) = {
        orthanc.upload(data)["ParentStudy"] for data in series_files("axial", slices=8, spacing=6.0)
    }
    orthanc.push_to_brainscan(study_id)
    orthanc.stop()  # down before the study is complete, so when its results are ready

    wait_for(lambda: Delivery.objects.filter(state=Delivery.State.RETRYING).exists(), timeout=120)
    waiting = Delivery.objects.get()
    assert waiting.attempts == 1

    orthanc.start()  # the same storage, the same ports
    later = waiting.next_attempt_at + timedelta(minutes=2)
    assert deliveries.send_due(now=later) == 1
    assert deliveries.send_due(now=later) == 0  # delivered: nothing more to send

    done = Delivery.objects.get()
    assert done.state == Delivery.State.DELIVERED
    assert done.attempts == 2
    series = orthanc.series_of(study_id)
    modalities = sorted(s["MainDicomTags"].get("Modality", "") for s in series)
    assert modalities.count("SR") == 1
    (report_series,) = [s for s in series if s["MainDicomTags"].get("Modality") == "SR"]
    assert len(report_series["Instances"]) == 1  # once
    assert orthanc.get("/studies") == [study_id]
