"""Reading study uploads: grouping by content, order by position, reformats, skips with
reasons, per-file errors, and limits refused before any pixel is decoded."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from ml.testing import PHANTOM_LESION_RAS
from predictions.tests.dicom_files import build_dicom, gradient
from studies.reading import Limits, StudyRefused, read_study
from studies.tests.conftest import Upload
from studies.tests.series_files import (
    enhanced_file,
    nifti_volume,
    rotation,
    series_files,
    zipped,
)

LIMITS = Limits(
    max_bytes=200 * 2**20, max_files=500, max_slices=400, max_voxels=20_000_000, max_pixels=10**7
)
X, Y, Z = np.eye(3)


def read(files: list[bytes], limits: Limits = LIMITS):
    return read_study([Upload(f) for f in files], limits)


def _gray(png: bytes) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), 0)
    assert decoded is not None
    return decoded


def lesion_slice(series) -> tuple[int, float]:
    """The slice with most lesion pixels (the only ones above 230 with the default window)."""
    counts = [int((_gray(s.png) > 230).sum()) for s in series.slices]
    best = int(np.argmax(counts))
    return best, series.slices[best].position_mm


@pytest.mark.parametrize(
    ("orientation", "spacing"),
    [
        ("sagittal", 1.5),
        ("coronal", 1.5),
        ("axial", 1.5),
        ((rotation(Z, 20) @ rotation(X, 35) @ -X, rotation(Z, 20) @ rotation(X, 35) @ -Y), 1.5),
    ],
    ids=["sagittal", "coronal", "axial-3d", "oblique"],
)
def test_a_3d_series_in_any_orientation_becomes_axial_slices_5_mm_apart(orientation, spacing):
    files = series_files(orientation, slices=70, spacing=spacing)
    random.Random(1).shuffle(files)  # the order files arrive in means nothing

    study = read(files)

    [series] = study.series
    assert not series.skipped_reason
    assert "reformatted to axial" in series.handling
    positions = [s.position_mm for s in series.slices]
    assert np.allclose(np.diff(positions), 5.0)
    _, z = lesion_slice(series)
    assert abs(z - PHANTOM_LESION_RAS[2]) <= 2.5


def test_a_thick_axial_series_is_used_as_acquired_in_position_order():
    files = series_files("axial", slices=24, spacing=6.0, description="T2 AX")

    study = read(files[::-1])

    [series] = study.series
    assert series.handling == "2-D axial slices, used as acquired"
    positions = [s.position_mm for s in series.slices]
    assert positions == sorted(positions)
    assert np.allclose(np.diff(positions), 6.0)
    _, z = lesion_slice(series)
    assert abs(z - PHANTOM_LESION_RAS[2]) <= 3.0
    assert series.description == "T2 AX"


def test_missing_slices_and_gantry_tilt_are_noted():
    tilt = rotation(X, 12)
    files = series_files((tilt @ -X, tilt @ -Y), slices=80, spacing=1.5, step=Z * 1.5)
    del files[30:33]

    [series] = read(files).series

    assert any("3 slice(s) missing" in note for note in series.notes)
    assert any("gantry tilt of 12.0 degrees" in note for note in series.notes)
    _, z = lesion_slice(series)
    assert abs(z - PHANTOM_LESION_RAS[2]) <= 2.5


def test_thick_sagittal_series_are_skipped_with_the_reason():
    files = series_files("sagittal", slices=25, spacing=5.0)
    axial = series_files("axial", slices=20, spacing=5.0)

    series, other = read(files + axial).series

    assert "2-D sagittal slices 5.0 mm apart" in series.skipped_reason
    assert not series.slices
    assert len(other.slices) == 20


def test_files_are_grouped_into_series_by_content_and_unusable_series_say_why():
    t1 = series_files("sagittal", slices=60, spacing=2.0)
    ct = series_files("axial", slices=6, spacing=5.0, modality="CT")
    localiser = series_files(
        "axial", slices=3, spacing=10.0, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")
    )
    dwi = series_files("axial", slices=6, spacing=5.0, description="EP2D_DIFF TRACEW")
    mixed = t1 + ct + localiser + dwi
    random.Random(2).shuffle(mixed)

    study = read(mixed)

    by_reason = {s.skipped_reason.split(";")[0].split(",")[0]: s for s in study.series}
    assert len(study.series) == 4
    analysed = [s for s in study.series if not s.skipped_reason]
    assert len(analysed) == 1
    assert analysed[0].source_slices == 60
    reasons = " | ".join(by_reason)
    assert "This series is CT" in reasons
    assert "localiser" in reasons
    assert "diffusion" in reasons


def test_garbage_in_a_folder_is_listed_per_file_and_the_rest_runs():
    good = series_files("axial", slices=10, spacing=5.0)
    truncated = good[3][: len(good[3]) // 2]
    jpeg = cv2.imencode(".jpg", np.zeros((8, 8), np.uint8))[1].tobytes()
    files = [*good[:3], truncated, *good[4:], b"notes about the patient\n", jpeg, b""]

    study = read(files)

    errors = {e["file"]: e["error"] for e in study.file_errors}
    assert set(errors) == {"4", "11", "12", "13"}
    assert "damaged" in errors["4"] or "incomplete" in errors["4"]
    assert "text file" in errors["11"]
    assert "JPEG" in errors["12"]
    assert "empty" in errors["13"]
    [series] = study.series
    assert len(series.slices) == 9


def test_a_zip_of_a_folder_and_an_enhanced_multiframe_file():
    folder = {
        f"DICOM/S1/IM{i}": data
        for i, data in enumerate(series_files("axial", slices=8, spacing=5.0))
    }
    folder["__MACOSX/DICOM/._IM0"] = b"\x00\x05\x16\x07 resource fork"
    folder["README.txt"] = b"exported by a PACS"

    zip_study = read([zipped(folder)])
    multiframe = read([enhanced_file("sagittal", slices=40, spacing=2.0)])

    assert len(zip_study.series[0].slices) == 8
    assert [e["file"] for e in zip_study.file_errors] == ["1.9"]  # README; the fork is ignored
    [series] = multiframe.series
    assert "reformatted to axial" in series.handling
    positions = [s.position_mm for s in series.slices]
    assert positions == sorted(positions)


@pytest.mark.parametrize("compressed", [True, False])
def test_nifti_volumes_are_placed_by_their_affine(compressed):
    study = read([nifti_volume(compressed=compressed)])

    [series] = study.series
    assert series.source_format == "NIfTI"
    assert "reformatted to axial" in series.handling
    assert np.allclose(np.diff([s.position_mm for s in series.slices]), 5.0)


def test_nifti_without_an_orientation_is_not_guessed():
    with pytest.raises(StudyRefused, match="no qform or sform"):
        read([nifti_volume(form_codes=(0, 0))])


def test_limits_are_refused_from_sizes_and_headers_before_decoding(monkeypatch):
    decoded = []
    monkeypatch.setattr(
        "predictions.dicom._decode_frame", lambda *a, **k: decoded.append(1) or np.zeros((1, 1))
    )
    files = series_files("axial", slices=12, spacing=5.0)

    with pytest.raises(StudyRefused, match="at most 5 files"):
        read(files, Limits(10**9, 5, 400, 10**9, 10**7))
    with pytest.raises(StudyRefused, match="larger than"):
        read(files, Limits(len(files[0]) * 3, 500, 400, 10**9, 10**7))
    with pytest.raises(StudyRefused, match="more than 10 slices"):
        read(files, Limits(10**9, 500, 10, 10**9, 10**7))
    with pytest.raises(StudyRefused, match="voxels"):
        read(files, Limits(10**9, 500, 400, 72 * 72 * 11, 10**7))
    # A zip counts its members, by their declared sizes.
    with pytest.raises(StudyRefused, match="holds 12 files"):
        read(
            [zipped({str(i): f for i, f in enumerate(files)})], Limits(10**9, 5, 400, 10**9, 10**7)
        )
    assert decoded == []


def test_a_frame_bomb_is_refused_from_its_header():
    bomb = build_dicom(gradient(64, 64), frames=1)
    import pydicom

    ds = pydicom.dcmread(__import__("io").BytesIO(bomb))
    ds.NumberOfFrames = 5000  # declares 5000 frames of 64 x 64; holds one
    buffer = __import__("io").BytesIO()
    ds.save_as(buffer)

    with pytest.raises(StudyRefused, match="more than 400 slices"):
        read([buffer.getvalue()])


def test_nothing_readable_is_refused_with_every_reason():
    ct = series_files("axial", slices=3, spacing=5.0, modality="CT")

    with pytest.raises(StudyRefused) as refused:
        read([*ct, b"hello"])

    assert "series 1: This series is CT" in str(refused.value)
    assert "file 4: This is a text file" in str(refused.value)


def test_a_small_nifti_gz_that_inflates_past_the_limit_is_refused_before_inflating(monkeypatch):
    import studies.reading

    inflated = []
    real = studies.reading._gunzip
    monkeypatch.setattr(
        studies.reading, "_gunzip", lambda data, limit: inflated.append(limit) or real(data, limit)
    )
    volume = nifti_volume(size=64)  # 64^3 int16 = 512 KiB inflated, a few KiB compressed

    with pytest.raises(StudyRefused, match="larger than"):
        read([volume], Limits(len(volume) * 4, 500, 400, 10**9, 10**7))
    assert max(inflated) < 1000  # only the header was inflated


def test_a_three_plane_localiser_that_does_not_say_so_is_still_skipped_and_unplaced_images_listed():
    import io as _io

    import pydicom

    uid = "1.2.826.0.1.3680043.7731.4242.77"
    planes = [
        f
        for orientation in ("axial", "coronal", "sagittal")
        for f in series_files(orientation, slices=2, spacing=20.0, series_uid=uid, description="T1")
    ]
    axial = series_files("axial", slices=6, spacing=6.0)
    ds = pydicom.dcmread(_io.BytesIO(axial[2]))
    del ds.ImagePositionPatient
    buffer = _io.BytesIO()
    ds.save_as(buffer)
    axial[2] = buffer.getvalue()

    study = read([*planes, *axial])

    localisers = [s for s in study.series if "localiser" in s.skipped_reason]
    assert len(localisers) == 3  # one group per orientation, all marked
    [used] = [s for s in study.series if not s.skipped_reason]
    assert len(used.slices) == 5
    assert [e["file"] for e in study.file_errors] == ["9"]
    assert "does not say where it lies" in study.file_errors[0]["error"]
