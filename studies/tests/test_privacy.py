"""No identifying value of a study upload reaches the database, the files, the logs, the pages,
the API or the exports: DICOM series (every identifying tag a marker), an enhanced multi-frame
file, a zip whose member names carry a name, NIfTI headers (descrip, aux_file, db_name,
intent_name, an extension) and file names, with garbage and a CT series among them."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from api.tests.conftest import client_with_token
from predictions.tests.leaks import (
    assert_no_markers,
    database_dump,
    files_under,
    found_markers,
    log_text,
)
from studies.models import Study
from studies.tests.conftest import uploads
from studies.tests.series_files import (
    NIFTI_EXTENSION_MARKER,
    NIFTI_MARKERS,
    enhanced_file,
    nifti_volume,
    series_files,
    zipped,
)

pytestmark = pytest.mark.django_db
PHI_NAME = "MARKER-FILENAME-John-Doe-MRN123456"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("pydicom", "nibabel", "django", "predictions", "studies", "api"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_the_nifti_test_file_does_carry_the_markers():
    """The search below must have something to find."""
    import gzip

    raw = gzip.decompress(nifti_volume())
    for value in (*NIFTI_MARKERS.values(), NIFTI_EXTENSION_MARKER):
        assert value in raw
    assert found_markers(raw)


def test_no_identifying_value_of_a_study_is_kept_anywhere(
    clinician,
    clinician_client,
    study_engine,
    private_root,
    debug_logs,
    django_capture_on_commit_callbacks,
):
    series = series_files("sagittal", slices=60, spacing=1.5)
    ct = series_files("axial", slices=3, spacing=5.0, modality="CT")
    folder = [*series, *ct, series[5][:300], b"Patient MARKER^PATIENT-NAME-7731 report\n"]
    names = [f"{PHI_NAME}-{i}.dcm" for i in range(len(folder))]
    archive = zipped(
        {f"{PHI_NAME}/IM{i}": f for i, f in enumerate(series_files("axial", slices=6, spacing=6))}
    )
    with django_capture_on_commit_callbacks(execute=True):
        clinician_client.post(reverse("studies:upload"), {"files": uploads(folder, names)})
        clinician_client.post(
            reverse("studies:upload"), {"files": uploads([archive], [f"{PHI_NAME}.zip"])}
        )
        clinician_client.post(
            reverse("studies:upload"),
            {"files": uploads([nifti_volume()], [f"{PHI_NAME}.nii.gz"])},
        )
        clinician_client.post(
            reverse("studies:upload"),
            {"files": uploads([enhanced_file()], [f"{PHI_NAME}.dcm"])},
        )
        api = client_with_token(clinician)
        api_answer = api.post(
            reverse("api:studies"),
            {"files": uploads([nifti_volume(compressed=False)], [f"{PHI_NAME}.nii"])},
            format="multipart",
        )
    studies = list(Study.objects.order_by("pk"))
    assert len(studies) == 5
    assert all(s.status == Study.Status.DONE for s in studies)
    assert any(s.file_errors for s in studies)  # the truncated file and the text were listed
    assert studies[0].series.filter(skipped_reason__contains="CT").exists()

    pages = [api_answer.content]
    for study in studies:
        for url in (
            reverse("studies:detail", args=[study.pk]),
            reverse("studies:status", args=[study.pk]),
            reverse("studies:slices-csv", args=[study.pk]),
        ):
            pages.append(clinician_client.get(url).content)
        pages.append(api.get(reverse("api:study-detail", args=[study.pk])).content)
        pages.append(api.get(reverse("api:study-slices", args=[study.pk])).content)
    for url in (reverse("studies:list"), reverse("predictions:dashboard")):
        pages.append(clinician_client.get(url).content)
    pages.append(b"".join(clinician_client.get(reverse("studies:export")).streaming_content))

    assert_no_markers("the database", database_dump())
    stored = files_under(private_root)
    assert stored
    for name, content in stored.items():
        assert_no_markers(name, content)
        assert content[:8] == b"\x89PNG\r\n\x1a\n"  # only rendered slices and heatmaps
    assert_no_markers("the logs", log_text(debug_logs.records))
    for page in pages:
        assert_no_markers("a page, an API answer or an export", page)
    assert b"T1 SAG 3D" in b"".join(pages)  # the description, cut to its known words
    assert b"John" not in b"".join(pages)
