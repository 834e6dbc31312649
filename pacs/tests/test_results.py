"""The result objects (pacs.results) and the sealed identifiers (pacs.identifiers), without a
database or a network: contents, the original study's identifiers, and the validators."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import SecondaryCaptureImageStorage

from pacs import identifiers as ids
from pacs import results
from predictions.tests.dicom_files import IDENTIFYING

SOURCE = ids.ReturnIdentifiers(
    StudyInstanceUID=IDENTIFYING["StudyInstanceUID"],
    PatientID=IDENTIFYING["PatientID"],
    PatientName=IDENTIFYING["PatientName"],
    PatientBirthDate=IDENTIFYING["PatientBirthDate"],
    PatientSex="F",
    AccessionNumber=IDENTIFYING["AccessionNumber"],
    StudyID=IDENTIFYING["StudyID"],
    StudyDate=IDENTIFYING["StudyDate"],
    StudyTime=IDENTIFYING["StudyTime"],
    ReferringPhysicianName=IDENTIFYING["ReferringPhysicianName"],
)
SUMMARY = results.ResultSummary(
    label="glioma", tumour_probability=0.9312, risk="high", model_name="brainscan",
    model_version="effnet-v3.1",
)  # fmt: skip


def png(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def phantom(size: int = 224) -> tuple[bytes, bytes]:
    image = np.zeros((size, size), np.uint8)
    cv2.circle(image, (size // 2, size // 2), size // 3, 140, -1)
    cv2.circle(image, (size // 3, size // 3), size // 16, 250, -1)
    heat = np.zeros((size, size), np.uint8)
    cv2.circle(heat, (size // 3, size // 3), size // 10, 255, -1)
    return png(image), png(heat)


def keys(n: int = 2) -> list[results.KeySlice]:
    image, heat = phantom()
    return [
        results.KeySlice(i, image, heat, f"Slice {i + 1}: glioma, tumour 93.1 %") for i in range(n)
    ]


def objects(n: int = 2) -> tuple[Dataset, list[Dataset]]:
    uids = results.ResultUIDs.derived(["a key", "42"], n)
    images = results.build_key_images(SOURCE, keys(n), uids)
    return results.build_report(SOURCE, SUMMARY, images, uids), images


def roundtrip(dataset: Dataset) -> Dataset:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return dcmread(io.BytesIO(buffer.getvalue()))


def content_items(dataset: Dataset) -> list[Dataset]:
    found = []
    for item in getattr(dataset, "ContentSequence", []):
        found.append(item)
        found.extend(content_items(item))
    return found


def meaning(item: Dataset) -> str:
    return str(item.ConceptNameCodeSequence[0].CodeMeaning)


# --- identifiers ---------------------------------------------------------------------------


def test_identifiers_are_sealed_as_ciphertext_and_come_back_whole(settings):
    token = ids.seal(SOURCE)
    for value in (SOURCE.PatientID, SOURCE.PatientName, SOURCE.StudyInstanceUID, "7731"):
        assert value.encode() not in token
    assert ids.unseal(token) == SOURCE


def test_another_key_cannot_read_them_and_the_error_quotes_nothing(settings):
    token = ids.seal(SOURCE)
    settings.PACS_IDENTIFIERS_KEY = "x2mVmFZ3cB7oVfM0b4nY0m0u3wq4Zr7aX1tKQ2f9J1E="
    with pytest.raises(ids.IdentifiersUnavailable) as error:
        ids.unseal(token)
    assert "MARKER" not in str(error.value)


def test_a_rotated_key_still_reads_the_old_tokens(settings):
    old = settings.PACS_IDENTIFIERS_KEY
    token = ids.seal(SOURCE)
    settings.PACS_IDENTIFIERS_KEY = f"x2mVmFZ3cB7oVfM0b4nY0m0u3wq4Zr7aX1tKQ2f9J1E=,{old}"
    assert ids.unseal(token) == SOURCE
    assert not ids.valid_key("not-a-key")
    assert ids.valid_key(settings.PACS_IDENTIFIERS_KEY)


def test_only_the_listed_attributes_are_taken_from_an_instance():
    dataset = Dataset()
    for keyword, value in IDENTIFYING.items():
        setattr(dataset, keyword, value)
    dataset.PatientSex = "F"
    taken = ids.ReturnIdentifiers.from_dataset(dataset)
    assert taken == SOURCE
    assert "MARKER-ADDRESS-7731" not in repr(taken)  # PatientAddress is not kept
    with pytest.raises(ValueError, match="StudyInstanceUID"):
        ids.ReturnIdentifiers.from_dataset(Dataset())


# --- key images ----------------------------------------------------------------------------


def test_a_key_image_shows_the_heatmap_and_a_burned_in_label():
    image, heat = phantom()
    with_heat = results.key_image_pixels(results.KeySlice(0, image, heat, "Slice 1"))
    plain = results.key_image_pixels(results.KeySlice(0, image, None, "Slice 1"))
    assert with_heat.shape == (224 * 512 // 224 + results.BAND_HEIGHT, 512, 3)
    assert with_heat.dtype == np.uint8
    picture = slice(0, with_heat.shape[0] - results.BAND_HEIGHT)
    red, blue = with_heat[picture, :, 0].astype(int), with_heat[picture, :, 2].astype(int)
    assert ((red - blue) > 60).sum() > 500  # the hot spot is coloured
    assert not ((plain[picture, :, 0].astype(int) - plain[picture, :, 2]) > 60).any()
    band = with_heat[-results.BAND_HEIGHT :]
    label_pixels = np.all(band == results.LABEL_COLOUR, axis=-1).sum()
    assert label_pixels > 200  # the yellow label is burned into the pixels


def test_key_images_are_secondary_captures_in_the_original_study():
    _, images = objects(3)
    assert len(images) == 3
    series = {image.SeriesInstanceUID for image in images}
    assert len(series) == 1
    assert series != {SOURCE.StudyInstanceUID}
    for number, image in enumerate(images, start=1):
        image = roundtrip(image)
        assert image.SOPClassUID == SecondaryCaptureImageStorage
        assert image.StudyInstanceUID == SOURCE.StudyInstanceUID
        assert image.PatientID == SOURCE.PatientID
        assert str(image.PatientName) == SOURCE.PatientName
        assert image.PatientBirthDate == SOURCE.PatientBirthDate
        assert image.AccessionNumber == SOURCE.AccessionNumber
        assert image.StudyID == SOURCE.StudyID
        assert image.StudyDate == SOURCE.StudyDate
        assert str(image.ReferringPhysicianName) == SOURCE.ReferringPhysicianName
        assert image.BurnedInAnnotation == "YES"
        assert "not for diagnosis" in image.SeriesDescription
        assert image.InstanceNumber == number
        assert image.PhotometricInterpretation == "RGB"
        assert image.pixel_array.shape[2] == 3


def test_the_same_delivery_gets_the_same_uids_another_gets_others():
    first = results.ResultUIDs.derived(["k", "1"], 2)
    assert first == results.ResultUIDs.derived(["k", "1"], 2)
    other = results.ResultUIDs.derived(["k", "2"], 2)
    assert not {first.sr_instance, *first.sc_instances} & {other.sr_instance, *other.sc_instances}
    assert len({first.sr_series, first.sc_series, first.sr_instance, *first.sc_instances}) == 5


# --- the structured report -----------------------------------------------------------------


def test_the_report_says_what_the_study_page_says_in_the_original_study():
    report, images = objects(2)
    report = roundtrip(report)
    assert report.Modality == "SR"
    assert report.StudyInstanceUID == SOURCE.StudyInstanceUID
    assert report.PatientID == SOURCE.PatientID
    assert str(report.PatientName) == SOURCE.PatientName
    assert report.AccessionNumber == SOURCE.AccessionNumber
    assert report.CompletionFlag == "COMPLETE"
    assert report.VerificationFlag == "UNVERIFIED"
    assert "not for diagnostic use" in report.SeriesDescription
    items = content_items(report)
    codes = {
        meaning(i): i.ConceptCodeSequence[0].CodeMeaning for i in items if i.ValueType == "CODE"
    }
    assert codes["Brain tumour"] == "Present"
    assert codes["Tumour class"] == "Glioma"
    assert codes["Risk level"] == "High risk"
    assert codes["Intended use"] == "Not for diagnostic use"
    (probability,) = [i for i in items if i.ValueType == "NUM"]
    assert meaning(probability) == "Calibrated tumour probability"
    assert float(probability.MeasuredValueSequence[0].NumericValue) == pytest.approx(0.9312)
    texts = {meaning(i): i.TextValue for i in items if i.ValueType == "TEXT"}
    assert texts["Algorithm Name"] == "brainscan"
    assert texts["Algorithm Version"] == "effnet-v3.1"
    referenced = {
        i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in items if i.ValueType == "IMAGE"
    }
    assert referenced == {image.SOPInstanceUID for image in images}
    evidence = report.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == SOURCE.StudyInstanceUID


def test_a_study_without_a_tumour_is_reported_absent():
    uids = results.ResultUIDs.derived(["k"], 1)
    images = results.build_key_images(SOURCE, keys(1), uids)
    normal = results.ResultSummary("notumor", 0.03, "low", "brainscan", "v1")
    items = content_items(results.build_report(SOURCE, normal, images, uids))
    codes = {
        meaning(i): i.ConceptCodeSequence[0].CodeMeaning for i in items if i.ValueType == "CODE"
    }
    assert codes["Brain tumour"] == "Absent"
    assert codes["Tumour class"] == "No tumour"
    assert codes["Risk level"] == "Low risk"


def test_a_report_needs_key_images_and_a_known_class():
    uids = results.ResultUIDs.derived(["k"], 1)
    with pytest.raises(ValueError, match="key image"):
        results.build_report(SOURCE, SUMMARY, [], uids)
    images = results.build_key_images(SOURCE, keys(1), uids)
    unknown = results.ResultSummary("banana", 0.5, "high", "brainscan", "v1")
    with pytest.raises(ValueError, match="class"):
        results.build_report(SOURCE, unknown, images, uids)


# --- validators ----------------------------------------------------------------------------


def run(tool: str, path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (make system-deps installs it)")
    return subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)


def errors_of(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error")]


def test_dciodvfy_finds_no_error_in_the_report_or_the_key_images(tmp_path):
    report, images = objects(2)
    for name, dataset in [("sr.dcm", report), ("sc1.dcm", images[0]), ("sc2.dcm", images[1])]:
        path = tmp_path / name
        dataset.save_as(path, enforce_file_format=True)
        result = run("dciodvfy", path)
        output = result.stdout + result.stderr
        assert errors_of(output) == [], output
        assert ("ComprehensiveSR" if name == "sr.dcm" else "SCImage") in output  # it checked


def test_dsrdump_reads_the_report_without_an_error(tmp_path):
    report, _ = objects(1)
    path = tmp_path / "sr.dcm"
    report.save_as(path, enforce_file_format=True)
    result = run("dsrdump", path)
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith(("E:", "F:"))]
    assert "Comprehensive SR Document" in result.stdout
    assert '"Calibrated tumour probability")="0.9312"' in result.stdout


def test_a_key_that_is_not_a_fernet_key_fails_the_system_check(settings):
    from pacs.apps import identifiers_key_check

    assert identifiers_key_check() == []  # the derived development key is a Fernet key
    settings.PACS_IDENTIFIERS_KEY = "a-passphrase-is-not-a-key"
    (error,) = identifiers_key_check()
    assert error.id == "pacs.E001"
    assert "a-passphrase" not in error.msg  # the key is never quoted
