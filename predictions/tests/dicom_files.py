"""DICOM files built in memory with pydicom, their identifying tags filled with marker strings.

The markers let the privacy tests search the database, the files, the logs and the exports
for any trace of the header: none of these strings may appear anywhere after an upload.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from pydicom import config, dcmread, examples
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage

# Identifying values; dates, times and UIDs have to keep their formats, so their markers are
# unusual values rather than words.
MARKER_UID_ROOT = "1.2.826.0.1.3680043.7731.4242"
IDENTIFYING = {
    "PatientName": "MARKER^PATIENT-NAME-7731",
    "PatientID": "MARKER-PATIENT-ID-7731",
    "PatientBirthDate": "19170731",
    "PatientAddress": "MARKER-ADDRESS-7731",
    "OtherPatientIDs": "MARKER-OTHER-ID-7731",
    "AccessionNumber": "MARKER-ACC-7731",
    "InstitutionName": "MARKER-INSTITUTION-7731",
    "InstitutionAddress": "MARKER-INSTITUTION-ADDR-7731",
    "ReferringPhysicianName": "MARKER^REFERRER-7731",
    "OperatorsName": "MARKER^OPERATOR-7731",
    "StationName": "MARKER-ST-7731",
    "DeviceSerialNumber": "MARKER-SERIAL-7731",
    "StudyDescription": "MARKER-STUDY-DESC-7731",
    "StudyID": "MARKER-SID-7731",
    "StudyDate": "18990731",
    "SeriesDate": "18990731",
    "AcquisitionDate": "18990731",
    "ContentDate": "18990731",
    "StudyTime": "073101.424242",
    "StudyInstanceUID": f"{MARKER_UID_ROOT}.1",
    "SeriesInstanceUID": f"{MARKER_UID_ROOT}.2",
    "SOPInstanceUID": f"{MARKER_UID_ROOT}.3",
    "FrameOfReferenceUID": f"{MARKER_UID_ROOT}.4",
    # Free-text technical tags: consoles let anyone type a name or a record number into them.
    "ProtocolName": "T1 MARKER-PROTOCOL-John-Doe-MRN123456",
    "ManufacturerModelName": "MARKER-MODEL-7731",
    "Manufacturer": "SIEMENS MARKER-VENDOR-7731",
    "ImageComments": "MARKER-COMMENT-7731",
    "SeriesDescription": "T1 AX POST MARKER-PHI-John-Doe-MRN123456",
}
# What a search for leaks looks for: every distinctive piece of the values above (not the
# bare "7731", which a random hex digest or salt can contain by chance).
MARKERS = ("MARKER", "19170731", "18990731", "073101.424242", MARKER_UID_ROOT, "MRN123456")


def mr_example_path() -> Path:
    """pydicom's bundled MR test file (64×64, 16-bit, window 600/1600)."""
    return Path(examples.get_path("mr"))


def ct_example_path() -> Path:
    return Path(examples.get_path("ct"))


def bundled(name: str) -> Path:
    """A file from pydicom's own test data, shipped inside the wheel (no download)."""
    return mr_example_path().parent / name


def gradient(rows: int = 32, columns: int = 32, low: int = 0, high: int = 1000) -> np.ndarray:
    return np.linspace(low, high, rows * columns).reshape(rows, columns)


def build_dicom(
    pixels: np.ndarray,
    *,
    modality: str = "MR",
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    signed: bool = False,
    frames: int | None = None,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    preamble: bool = True,
    identifying: dict[str, str] | None = None,
) -> bytes:
    """A minimal MR image object around `pixels` (frames stacked on axis 0 when `frames`)."""
    with config.disable_value_validation():  # a test may want an invalid value on purpose
        ds = _with_identity(Dataset(), IDENTIFYING if identifying is None else identifying)
        ds.Modality = modality
        ds.SOPClassUID = MRImageStorage
        ds.MagneticFieldStrength = 1.5
        ds.SliceThickness = 5
        ds.PixelSpacing = [0.5, 0.5]
        _set_pixels(ds, pixels, photometric, bits_stored, signed, frames)
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = window
        if rescale is not None:
            ds.RescaleSlope, ds.RescaleIntercept = rescale
        return _encode(ds, UID(transfer_syntax), preamble)


def with_encapsulated_pixels(data: bytes, transfer_syntax: str) -> bytes:
    """The same object relabelled with a compressed transfer syntax and opaque fragments."""
    ds = dcmread(io.BytesIO(data))
    ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def with_text_in_numeric_tags(data: bytes, text: str = "MARKER-IN-NUMBER-TAG") -> bytes:
    """Implicit VR, so a reader takes each tag's kind from the dictionary: SliceThickness (DS)
    and Rows (US-like) then hold text, as a badly configured modality may write them."""
    ds = dcmread(io.BytesIO(data))
    del ds.SliceThickness, ds.MagneticFieldStrength, ds.PixelSpacing
    ds.add_new(0x00180050, "LO", text)  # SliceThickness
    ds.add_new(0x00180087, "LO", text)  # MagneticFieldStrength
    ds.add_new(0x00280030, "LO", f"{text}\\1")  # PixelSpacing
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def with_corrupt_uid(data: bytes) -> bytes:
    """The transfer syntax UID overwritten (same length) with letters: reading it makes pydicom
    warn, quoting the value, which is how a header value could slip into a log."""
    value = b"1.2.840.10008.1.2.1\x00"
    assert value in data
    return data.replace(value, b"1.2.840.MARKER.2.1.9", 1)


def _with_identity(ds: Dataset, identifying: dict[str, str]) -> Dataset:
    for keyword, value in identifying.items():
        setattr(ds, keyword, value)
    ds.add_new(0x00091010, "LO", "MARKER-PRIVATE-TAG-7731")  # vendors hide things here too
    return ds


def _set_pixels(
    ds: Dataset,
    pixels: np.ndarray,
    photometric: str,
    bits_stored: int | None,
    signed: bool,
    frames: int | None,
) -> None:
    allocated = 8 if (bits_stored or 16) <= 8 else 16
    dtype = np.dtype(f"{'i' if signed else 'u'}{allocated // 8}").newbyteorder("<")
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = allocated
    ds.BitsStored = bits_stored or allocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames is not None:
        ds.NumberOfFrames = frames
    ds.PixelData = np.asarray(pixels).astype(dtype).tobytes()
    ds["PixelData"].VR = "OB" if allocated == 8 else "OW"


def _encode(ds: Dataset, transfer_syntax: UID, preamble: bool) -> bytes:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID", f"{MARKER_UID_ROOT}.9")
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    buffer = io.BytesIO()
    if preamble:
        ds.save_as(buffer, enforce_file_format=True)
    else:  # a bare dataset: no preamble, no 'DICM', no file meta
        del ds.file_meta
        ds.save_as(buffer, implicit_vr=True, little_endian=True)
    return buffer.getvalue()
