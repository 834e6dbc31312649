"""DICOM through the web upload: a result for MR, a clear refusal otherwise, and no header
value (patient name, ids, dates, institution, UIDs) anywhere brainscan keeps data."""

from __future__ import annotations

import logging
import uuid

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pydicom.uid import MPEG4HP41

from accounts.models import User
from predictions.models import Prediction, Scan
from predictions.tests.dicom_files import (
    IDENTIFYING,
    MARKERS,
    build_dicom,
    ct_example_path,
    gradient,
    mr_example_path,
    with_corrupt_uid,
    with_encapsulated_pixels,
    with_text_in_numeric_tags,
)
from predictions.tests.leaks import (
    assert_no_markers,
    database_dump,
    files_under,
    found_markers,
    log_text,
)

pytestmark = pytest.mark.django_db
UPLOAD = reverse("predictions:upload")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("pydicom", "pylibjpeg", "openjpeg", "django", "predictions"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def post(client, *files: SimpleUploadedFile, capture):
    with capture(execute=True):  # run the analysis queued on commit, as in production
        return client.post(UPLOAD, {"images": list(files)})


def test_pydicom_mr_example_gets_a_result(
    clinician_client, fake_engine, django_capture_on_commit_callbacks
):
    data = mr_example_path().read_bytes()

    response = post(
        clinician_client,
        SimpleUploadedFile("IM000001", data),  # PACS exports often have no extension
        capture=django_capture_on_commit_callbacks,
    )

    scan = Scan.objects.get()
    assert response.status_code == 302
    assert scan.source_format == "DICOM"
    assert scan.content_type == "image/png"
    assert scan.image.name.endswith(".png")
    assert scan.dicom_meta["Modality"] == "MR"
    assert scan.prediction.status == Prediction.Status.DONE
    assert fake_engine.calls == 1
    with scan.image.open("rb") as stored:
        assert stored.read(8) == b"\x89PNG\r\n\x1a\n"  # the rendered slice, not the DICOM file
    page = clinician_client.get(reverse("predictions:detail", args=[scan.pk])).content.decode()
    assert "<dt>DICOM numbers</dt>" in page  # InstanceNumber and SeriesNumber, as in the file
    assert "series 1 · instance (image) 1" in page


def test_pydicom_ct_example_is_refused_with_a_clear_message(
    clinician_client, fake_engine, private_root, django_capture_on_commit_callbacks
):
    response = post(
        clinician_client,
        SimpleUploadedFile("ct.dcm", ct_example_path().read_bytes()),
        capture=django_capture_on_commit_callbacks,
    )

    assert response.status_code == 400
    assert "is a CT image; only MR (magnetic resonance) brain slices" in response.content.decode()
    assert Scan.objects.count() == 0
    assert files_under(private_root) == {}
    assert fake_engine.calls == 0


def test_multi_frame_upload_analyses_every_frame_in_one_batch(
    clinician_client, fake_engine, django_capture_on_commit_callbacks
):
    frames = np.stack([gradient(), gradient()[::-1], gradient().T])

    response = post(
        clinician_client,
        SimpleUploadedFile("series.dcm", build_dicom(frames, frames=3)),
        capture=django_capture_on_commit_callbacks,
    )

    scans = list(Scan.objects.order_by("frame_index"))
    assert [s.frame_index for s in scans] == [0, 1, 2]
    assert len({s.batch for s in scans}) == 1
    assert response["Location"] == reverse("predictions:batch", args=[scans[0].batch])
    assert fake_engine.calls == 3
    detail = clinician_client.get(reverse("predictions:detail", args=[scans[1].pk]))
    assert "frame 2 of 3" in detail.content.decode()


def test_the_upload_page_endpoint_takes_every_frame_and_refuses_ct(
    clinician_client, fake_engine, django_capture_on_commit_callbacks
):
    """The upload page sends each file on its own to `upload/file.json`."""
    url, batch = reverse("predictions:upload-file"), str(uuid.uuid4())

    def send(name: str, data: bytes):
        with django_capture_on_commit_callbacks(execute=True):
            return clinician_client.post(
                url, {"images": SimpleUploadedFile(name, data), "batch": batch}
            )

    single = send("IM1", mr_example_path().read_bytes())
    series = send("series", build_dicom(np.stack([gradient()] * 3), frames=3))
    refused = send("ct", ct_example_path().read_bytes())

    assert single.status_code == 201
    assert len(single.json()["scans"]) == 1
    assert series.status_code == 201
    assert len(series.json()["scans"]) == 3
    assert refused.status_code == 400
    assert "is a CT image; only MR" in refused.json()["error"]
    assert Scan.objects.filter(batch=batch, source_format="DICOM").count() == 4
    assert fake_engine.calls == 4


def test_frames_count_towards_the_slices_per_upload_cap(clinician_client, fake_engine, settings):
    settings.MAX_FILES_PER_UPLOAD = 4

    response = clinician_client.post(
        UPLOAD,
        {
            "images": [
                SimpleUploadedFile("s.dcm", build_dicom(np.stack([gradient()] * 5), frames=5))
            ]
        },
    )

    assert response.status_code == 400
    assert "hold 5 slices; upload at most 4" in response.content.decode()
    assert Scan.objects.count() == 0


def test_no_identifying_value_reaches_the_database_files_logs_or_pages(
    clinician_client,
    reviewer_client,
    fake_engine,
    private_root,
    debug_logs,
    django_capture_on_commit_callbacks,
):
    data = build_dicom(np.stack([gradient(), gradient()[::-1]]), frames=2)
    assert len(found_markers(data)) == len(MARKERS)  # the search can find what it looks for

    post(
        clinician_client,
        SimpleUploadedFile("upload.dcm", data),
        SimpleUploadedFile("single", build_dicom(gradient(), window=(500, 200))),
        SimpleUploadedFile("odd-tags", with_text_in_numeric_tags(build_dicom(gradient()))),
        capture=django_capture_on_commit_callbacks,
    )
    pages = [
        clinician_client.get(reverse("predictions:detail", args=[scan.pk])).content
        for scan in Scan.objects.all()
    ]
    pages.append(clinician_client.get(reverse("predictions:dashboard")).content)
    admin_client = Client()
    admin_client.force_login(User.objects.create_superuser("root@example.org", "long-passphrase-1"))
    exports = {
        name: b"".join(client.get(reverse(f"predictions:{name}")).streaming_content)
        for client, name in [
            (clinician_client, "export"),
            (admin_client, "all-history-csv"),  # every clinician's rows
            (reviewer_client, "reviewed-csv"),
        ]
    }

    assert Scan.objects.filter(source_format="DICOM").count() == 4
    assert_no_markers("the database", database_dump())
    stored = files_under(private_root)
    assert len(stored) == 4 * 3  # slice, heatmap, overlay per frame
    for name, content in stored.items():
        assert_no_markers(name, content)
        assert content[128:132] != b"DICM"
    assert_no_markers("the logs", log_text(debug_logs.records))
    for page in pages:
        assert_no_markers("a page", page)
    for name, export in exports.items():
        assert_no_markers(f"the {name} export", export)
    assert b"DICOM" in pages[0]  # the pages did render the scans
    # with the allow-listed technical tags, free text cut down to its known words
    assert b"Siemens" in pages[0]
    assert b"T1 AX POST" in pages[0]
    for name in ("export", "all-history-csv"):  # header + one row per slice
        assert len(exports[name].splitlines()) == 1 + Scan.objects.count()


@pytest.mark.parametrize(
    "data",
    [
        build_dicom(gradient(), modality="CT"),
        with_encapsulated_pixels(build_dicom(gradient()), MPEG4HP41),
        build_dicom(gradient(64, 64))[:-500],
        build_dicom(gradient(), modality="MARKER-MODALITY"),  # pydicom warns, quoting it
        build_dicom(gradient(), identifying={**IDENTIFYING, "PatientBirthDate": "MARKER-DATE"}),
        with_corrupt_uid(build_dicom(gradient())),
    ],
    ids=["ct", "unsupported-syntax", "truncated", "invalid-modality", "invalid-date", "bad-uid"],
)
def test_refused_or_odd_files_leak_nothing_into_errors_or_logs(
    clinician_client, fake_engine, private_root, debug_logs, data
):
    response = clinician_client.post(UPLOAD, {"images": [SimpleUploadedFile("x.dcm", data)]})

    assert_no_markers("the response", response.content)
    assert_no_markers("the logs", log_text(debug_logs.records))
    assert_no_markers("the database", database_dump())
    assert all(not found_markers(content) for content in files_under(private_root).values())


def test_the_database_search_would_see_a_leak(clinician, debug_logs):
    """The leak checks above must be able to fail: a marker in any column is found."""
    from predictions.tests.factories import PredictionFactory

    PredictionFactory(scan__owner=clinician, scan__case_reference=IDENTIFYING["PatientID"])
    logging.getLogger("predictions").debug("patient %s", IDENTIFYING["PatientName"])

    assert found_markers(database_dump()) == ["MARKER"]
    assert found_markers(log_text(debug_logs.records)) == ["MARKER"]


def test_the_migration_drops_free_text_tags_from_scans_stored_before(clinician):
    from importlib import import_module

    from django.apps import apps

    from predictions.tests.factories import ScanFactory

    scan = ScanFactory(
        owner=clinician,
        source_format="DICOM",
        dicom_meta={"Modality": "MR", "SeriesDescription": "T1 PHI", "ManufacturerModelName": "X"},
    )

    import_module("predictions.migrations.0004_drop_free_text_dicom_tags").drop_free_text(
        apps, None
    )

    scan.refresh_from_db()
    assert scan.dicom_meta == {"Modality": "MR"}


def test_the_result_page_shows_the_series_and_instance_numbers_it_has(clinician, clinician_client):
    from predictions.tests.history import make_scan

    def scan_with(source_format: str, meta: dict) -> Scan:
        scan = make_scan(clinician)
        Scan.objects.filter(pk=scan.pk).update(source_format=source_format, dicom_meta=meta)
        return scan

    def numbers(scan: Scan) -> str:
        html = clinician_client.get(reverse("predictions:detail", args=[scan.pk])).content.decode()
        if 'id="dicom-numbers"' not in html:
            return ""
        return html.split('id="dicom-numbers">', 1)[1].split("<span", 1)[0].strip()

    assert numbers(scan_with("DICOM", {"SeriesNumber": 4, "InstanceNumber": 17})) == (
        "series 4 · instance (image) 17"
    )
    assert numbers(scan_with("DICOM", {"InstanceNumber": 0})) == "instance (image) 0"
    # stored before the numbers were kept: nothing to show
    assert numbers(scan_with("DICOM", {"Modality": "MR"})) == ""
    assert numbers(scan_with("PNG", {})) == ""
