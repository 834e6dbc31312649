"""DICOM recognition and rendering: what a clinician's PACS export becomes before analysis."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.uid import MPEG4HP41

from predictions import dicom
from predictions.tests.dicom_files import (
    IDENTIFYING,
    build_dicom,
    bundled,
    ct_example_path,
    gradient,
    mr_example_path,
    with_encapsulated_pixels,
    with_text_in_numeric_tags,
)
from predictions.uploads import (
    DEFAULT_MAX_DICOM_FRAMES,
    InvalidUpload,
    Limits,
    PixelBudget,
    ValidatedUpload,
    validate_upload,
    validate_upload_slices,
)

LIMITS: Limits = {"max_bytes": 10**8, "max_pixels": 10**7}


def slices(
    data: bytes,
    *,
    max_pixels: int = LIMITS["max_pixels"],
    max_frames: int = DEFAULT_MAX_DICOM_FRAMES,
) -> list[ValidatedUpload]:
    return validate_upload_slices(
        data, max_bytes=LIMITS["max_bytes"], max_pixels=max_pixels, max_frames=max_frames
    )


def pixels(upload: ValidatedUpload) -> np.ndarray:
    image = Image.open(io.BytesIO(upload.data))
    assert image.format == "PNG"
    assert image.mode == "L"
    return np.asarray(image)


def test_pydicom_mr_example_becomes_a_grayscale_png_with_technical_tags_only():
    [upload] = slices(mr_example_path().read_bytes())

    assert upload.source_format == "DICOM"
    assert upload.content_type == "image/png"
    assert upload.extension == "png"
    assert (upload.width, upload.height) == (64, 64)
    assert upload.frame_index is None
    assert upload.dicom_meta["Modality"] == "MR"
    assert upload.dicom_meta["PixelSpacing"] == [0.3125, 0.3125]
    assert upload.dicom_meta["Rows"] == 64
    assert upload.dicom_meta["SeriesNumber"] == 1
    assert upload.dicom_meta["InstanceNumber"] == 1
    assert not {"PatientName", "PatientID", "StudyDate", "SOPInstanceUID"} & set(upload.dicom_meta)
    assert pixels(upload).shape == (64, 64)


def test_technical_tags_holding_the_wrong_kind_of_value_are_dropped():
    data = with_text_in_numeric_tags(build_dicom(gradient()))

    [upload] = slices(data)

    assert upload.dicom_meta["Rows"] == 32
    assert not {"SliceThickness", "MagneticFieldStrength", "PixelSpacing"} & set(upload.dicom_meta)
    assert "MARKER" not in str(upload.dicom_meta)


def test_modality_codes_that_are_not_code_strings_are_not_kept():
    [upload] = slices(build_dicom(gradient(), modality="mr"))  # lower case: read as MR

    assert "Modality" not in upload.dicom_meta


def test_dicom_is_recognised_by_content_whatever_the_file_is_called():
    """The name never matters: validation only sees bytes (file names are checked nowhere)."""
    bare = build_dicom(gradient(), preamble=False)  # no 'DICM' marker: found by parsing
    assert bare[128:132] != b"DICM"

    [upload] = slices(bare)

    assert upload.source_format == "DICOM"
    assert pixels(upload).shape == (32, 32)


def test_the_file_window_is_applied_when_present():
    # Window centre 500, width 200 (LINEAR, PS3.3 C.11.2.1.2): 400 and below black,
    # above 599 white, 500 just above mid-grey.
    stored = np.array([[400, 500, 600, 1000]] * 4)

    [upload] = slices(build_dicom(stored, window=(500, 200)))

    assert pixels(upload)[0].tolist() == [0, 128, 255, 255]


def test_rescale_slope_and_intercept_come_before_the_window():
    # Stored 200 * slope 2 + intercept 100 = 500, the window centre.
    stored = np.array([[150, 200, 250, 400]] * 4)

    [upload] = slices(build_dicom(stored, window=(500, 200), rescale=(2, 100)))

    assert pixels(upload)[0].tolist() == [0, 128, 255, 255]


def test_without_a_window_a_robust_percentile_window_ignores_a_hot_pixel():
    stored = gradient(low=100, high=1100).astype(int)
    stored[0, 0] = 60_000  # one saturated pixel must not darken the whole slice

    rendered = pixels(slices(build_dicom(stored))[0])

    assert rendered[0, 0] == 255
    assert rendered[16, 16] in range(120, 136)  # mid-gradient stays mid-grey
    assert rendered[-1, -1] == 255


def test_monochrome1_is_inverted():
    stored = gradient()

    normal = pixels(slices(build_dicom(stored, photometric="MONOCHROME2"))[0])
    inverted = pixels(slices(build_dicom(stored, photometric="MONOCHROME1"))[0])

    assert (normal.astype(int) + inverted.astype(int) == 255).all()
    assert inverted[0, 0] == 255  # the lowest stored value is shown white


@pytest.mark.parametrize(
    ("bits", "signed", "low", "high"),
    [(8, False, 0, 255), (12, False, 0, 4095), (16, False, 0, 65535), (16, True, -3000, 3000)],
)
def test_bit_depths_and_signed_pixels_keep_their_order(bits, signed, low, high):
    stored = gradient(low=low, high=high)

    rendered = pixels(slices(build_dicom(stored, bits_stored=bits, signed=signed))[0])

    flat = rendered.ravel().astype(int)
    # Read as unsigned, negative values would wrap around and break the ramp.
    assert (np.diff(flat) >= 0).all()
    assert (flat[0], flat[-1]) == (0, 255)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
    ],
)
def test_lossless_transfer_syntaxes_render_the_same_pixels_as_the_uncompressed_file(name):
    reference = pixels(slices(mr_example_path().read_bytes())[0])

    [upload] = slices(bundled(name).read_bytes())

    assert (pixels(upload) == reference).all()


def test_multi_frame_files_give_one_slice_per_frame_in_order():
    ramp = gradient(high=1000)
    frames = np.stack([ramp, ramp[::-1], np.zeros_like(ramp)])

    uploads = slices(build_dicom(frames, frames=3))

    assert [u.frame_index for u in uploads] == [0, 1, 2]
    assert all(u.dicom_meta["NumberOfFrames"] == 3 for u in uploads)
    first, second, blank = (pixels(u) for u in uploads)
    assert (first == second[::-1]).all()
    assert blank.max() == 0
    assert len({u.sha256 for u in uploads}) == 3


def test_multi_frame_files_over_the_cap_are_refused():
    frames = np.stack([gradient()] * 5)

    with pytest.raises(InvalidUpload, match="holds 5 frames; the limit is 4 per file"):
        slices(build_dicom(frames, frames=5), max_frames=4)


def test_single_slice_validation_refuses_a_multi_frame_file_clearly():
    frames = np.stack([gradient()] * 2)

    with pytest.raises(InvalidUpload, match="holds 2 frames"):
        validate_upload(build_dicom(frames, frames=2), **LIMITS)


def test_single_slice_validation_still_accepts_one_dicom_slice():
    upload = validate_upload(build_dicom(gradient()), **LIMITS)

    assert upload.source_format == "DICOM"
    assert upload.frame_index is None


def test_pydicom_ct_example_is_refused_before_any_analysis():
    with pytest.raises(InvalidUpload, match="is a CT image; only MR"):
        slices(ct_example_path().read_bytes())


@pytest.mark.parametrize(
    ("modality", "message"),
    [
        ("CR", "a radiograph"),
        ("DX", "a radiograph"),
        ("MG", "a mammogram"),
        ("US", "an ultrasound"),
        ("ZZ", "not an MR image"),
        ("", "does not say which modality"),
    ],
)
def test_other_modalities_are_refused(modality, message):
    with pytest.raises(InvalidUpload, match=message):
        slices(build_dicom(gradient(), modality=modality))


def test_unsupported_transfer_syntax_is_named_in_the_message():
    data = with_encapsulated_pixels(build_dicom(gradient()), MPEG4HP41)

    with pytest.raises(InvalidUpload, match=r"unsupported transfer syntax \(MPEG-4"):
        slices(data)


def test_unknown_transfer_syntax_is_refused_without_echoing_it():
    data = with_encapsulated_pixels(build_dicom(gradient()), "1.2.826.0.1.3680043.7731.4242.77")

    with pytest.raises(InvalidUpload, match="unsupported transfer syntax") as refused:
        slices(data)

    assert "7731" not in str(refused.value)


@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_files_are_refused_as_damaged(keep):
    data = build_dicom(gradient(64, 64))

    with pytest.raises(InvalidUpload, match="damaged|incomplete"):
        slices(data[: int(len(data) * keep)])


def test_pixels_with_burned_in_text_are_refused():
    marked = dcmread(io.BytesIO(build_dicom(gradient())))
    marked.BurnedInAnnotation = "YES"
    buffer = io.BytesIO()
    marked.save_as(buffer)

    with pytest.raises(InvalidUpload, match="burned-in text"):
        slices(buffer.getvalue())


def test_colour_dicom_is_refused():
    colour = dcmread(bundled("SC_rgb_rle.dcm"))
    colour.Modality = "MR"
    buffer = io.BytesIO()
    colour.save_as(buffer)

    with pytest.raises(InvalidUpload, match="Colour DICOM"):
        slices(buffer.getvalue())


def test_pixel_cap_is_checked_before_decoding():
    with pytest.raises(InvalidUpload, match="32×32 pixels; the limit is 1,000"):
        slices(build_dicom(gradient()), max_pixels=1000)


def test_refusal_messages_never_quote_the_header():
    bad = [
        build_dicom(gradient(), modality="CT"),
        with_encapsulated_pixels(build_dicom(gradient()), MPEG4HP41),
        build_dicom(gradient())[:-100],
    ]
    for data in bad:
        with pytest.raises(InvalidUpload) as refused:
            slices(data)
        assert not any(value in str(refused.value) for value in IDENTIFYING.values())


def test_corrupted_headers_give_a_refusal_or_a_slice_never_a_crash():
    """Hostile or damaged files must end in InvalidUpload (a message), not a server error."""
    original = build_dicom(gradient())
    rng = np.random.default_rng(7)
    outcomes = set()
    for _ in range(150):
        data = bytearray(original)
        for position in rng.integers(132, len(original) - 32 * 32 * 2, size=4):
            data[position] = int(rng.integers(0, 256))
        try:
            slices(bytes(data))
            outcomes.add("slice")
        except InvalidUpload:
            outcomes.add("refused")
    assert outcomes == {"slice", "refused"}  # both paths were exercised


def _no_decoding(monkeypatch) -> None:
    """Fail the test if any DICOM pixel is decoded: these refusals must come from the header."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("pixels were decoded before the header was checked")

    monkeypatch.setattr("predictions.dicom._decode_frame", refuse)


def test_single_slice_validation_refuses_a_multi_frame_file_before_decoding(monkeypatch):
    _no_decoding(monkeypatch)

    with pytest.raises(InvalidUpload, match="holds 2 frames; upload one slice per file here"):
        validate_upload(build_dicom(np.stack([gradient()] * 2), frames=2), **LIMITS)


def test_rows_columns_and_frames_together_are_refused_from_the_header(monkeypatch):
    """Each frame is under the per-frame limit; together they are over the request's budget."""
    _no_decoding(monkeypatch)
    data = build_dicom(np.stack([gradient(64, 64)] * 4), frames=4)

    with pytest.raises(InvalidUpload, match=r"declares 4 frame\(s\) of 64×64 pixels"):
        validate_upload_slices(data, **LIMITS, budget=PixelBudget(4 * 64 * 64 - 1))


def test_the_budget_is_shared_by_the_files_of_one_request():
    budget = PixelBudget(3 * 32 * 32)
    for _ in range(3):
        validate_upload_slices(build_dicom(gradient()), **LIMITS, budget=budget)

    with pytest.raises(InvalidUpload, match="more than"):
        validate_upload_slices(build_dicom(gradient()), **LIMITS, budget=budget)


@pytest.mark.parametrize("bits_allocated", [1, 24, 64])
def test_a_bit_depth_we_do_not_read_is_refused_from_the_header(monkeypatch, bits_allocated):
    _no_decoding(monkeypatch)
    ds = dcmread(io.BytesIO(build_dicom(gradient())))
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = ds.HighBit + 1 if bits_allocated >= 16 else bits_allocated
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)

    with pytest.raises(InvalidUpload, match="bit depth we do not read"):
        slices(buffer.getvalue())


def test_an_ordinary_image_is_charged_before_it_is_decoded(monkeypatch):
    from PIL import ImageFile

    def refuse(*_args, **_kwargs):
        raise AssertionError("the image was decoded before its size was charged")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    data = png_of(Image.new("L", (100, 100)))

    with pytest.raises(InvalidUpload, match="more than 9,999 pixels in all"):
        validate_upload(data, **LIMITS, budget=PixelBudget(9_999))


def png_of(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("description", "kept"),
    [
        ("T1 PHI-John-Doe-MRN123456", "T1"),  # issue 15: stored and shown as it was
        ("t2_tse_tra FLAIR", "T2 TSE TRA FLAIR"),
        ("AX T1 POST GAD", "AX T1 POST GAD"),
        ("Doe^John", None),
    ],
)
def test_series_descriptions_keep_only_known_words(description, kept):
    data = build_dicom(gradient(), identifying={**IDENTIFYING, "SeriesDescription": description})

    [upload] = slices(data)

    assert upload.dicom_meta.get("SeriesDescription") == kept


def test_free_text_tags_are_not_kept():
    [upload] = slices(build_dicom(gradient()))

    assert upload.dicom_meta["Manufacturer"] == "Siemens"  # from a list of vendors
    assert not {"ManufacturerModelName", "ProtocolName", "ImageComments"} & set(upload.dicom_meta)
    assert "MARKER" not in str(upload.dicom_meta)


def test_series_and_instance_numbers_are_kept_as_integers_only():
    ds = dcmread(io.BytesIO(build_dicom(gradient())))
    ds.SeriesNumber, ds.InstanceNumber = 7, 23
    kept = dicom.technical_meta(ds)
    ds.add_new(0x00200011, "LO", "MARKER-IN-SERIES-NUMBER")  # SeriesNumber holding text
    ds.add_new(0x00200013, "LO", "12.5")  # InstanceNumber that is not a whole number
    dropped = dicom.technical_meta(ds)

    assert (kept["SeriesNumber"], kept["InstanceNumber"]) == (7, 23)
    assert "SeriesNumber" not in dropped
    assert "InstanceNumber" not in dropped
