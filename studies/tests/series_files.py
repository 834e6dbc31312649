"""DICOM series, zips and NIfTI volumes of the head phantom (ml.testing), built in memory with
pydicom and nibabel with known geometry, their identifying tags and NIfTI free-text fields
filled with the privacy tests' marker strings."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ml.testing import phantom_planes
from predictions.tests.dicom_files import (
    IDENTIFYING,
    MARKER_UID_ROOT,
    _encode,
    _set_pixels,
    _with_identity,
)

X, Y, Z = np.eye(3)
LPS = np.array([-1.0, -1.0, 1.0])
# (column direction, row direction) in RAS, as scanners store them.
ORIENTATIONS = {
    "axial": (-X, -Y),
    "coronal": (-X, -Z),
    "sagittal": (-Y, -Z),
}
NIFTI_MARKERS = {
    "descrip": b"MARKER-NIFTI-DESCRIP-7731",
    "aux_file": b"MARKER-AUX-7731",
    "db_name": b"MARKER-DB-7731",
    "intent_name": b"MARKER-INT-7731",
}
NIFTI_EXTENSION_MARKER = b"MARKER-NIFTI-EXTENSION-7731 Patient John Doe MRN123456"


def _dataset(identifying: dict[str, str] | None, modality: str) -> Dataset:
    ds = _with_identity(Dataset(), IDENTIFYING if identifying is None else identifying)
    ds.Modality = modality
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.MagneticFieldStrength = 3
    return ds


def series_files(
    orientation: str | tuple[np.ndarray, np.ndarray] = "sagittal",
    *,
    slices: int = 40,
    spacing: float = 4.0,
    pixel: float = 3.0,
    size: int = 72,
    modality: str = "MR",
    series_uid: str | None = None,
    description: str = "T1 SAG 3D MARKER-PHI-John-Doe-MRN123456",
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "M", "ND"),
    step: np.ndarray | None = None,
    identifying: dict[str, str] | None = None,
    window: tuple[float, float] | None = (1000, 2200),
) -> list[bytes]:
    """One DICOM file per slice of the phantom; positions from the geometry, never from
    the order of the list (which is the order of acquisition). The default window shows
    brain at ~85, skull ~120 and the lesion ~240 of 255 (the fake engine looks for it)."""
    col_dir, row_dir = ORIENTATIONS[orientation] if isinstance(orientation, str) else orientation
    planes, images = phantom_planes(
        col_dir, row_dir, slices=slices, spacing=spacing, pixel=pixel, size=size, step=step
    )
    uid = series_uid or generate_uid(prefix=MARKER_UID_ROOT + ".")
    files = []
    for number, (plane, image) in enumerate(zip(planes, images, strict=True), start=1):
        ds = _dataset(identifying, modality)
        ds.SeriesInstanceUID = uid
        ds.SOPInstanceUID = generate_uid(prefix=MARKER_UID_ROOT + ".")
        ds.SeriesDescription = description
        ds.ImageType = list(image_type)
        ds.InstanceNumber = number
        ds.ImagePositionPatient = [round(float(v), 4) for v in plane.origin * LPS]
        ds.ImageOrientationPatient = [
            round(float(v), 6) for v in (*(plane.col_dir * LPS), *(plane.row_dir * LPS))
        ]
        ds.PixelSpacing = [pixel, pixel]
        ds.SliceThickness = spacing
        ds.MRAcquisitionType = "3D" if spacing <= 2.5 else "2D"
        if window:
            ds.WindowCenter, ds.WindowWidth = window
        _set_pixels(ds, (image * 10).astype(np.uint16), "MONOCHROME2", 12, False, None)
        files.append(_encode(ds, ExplicitVRLittleEndian, True))
    return files


def enhanced_file(
    orientation: str = "sagittal", *, slices: int = 30, spacing: float = 2.0, size: int = 64
) -> bytes:
    """One enhanced multi-frame MR object: per-frame positions in functional groups, frames
    stored in reverse order of position."""
    col_dir, row_dir = ORIENTATIONS[orientation]
    planes, images = phantom_planes(
        col_dir, row_dir, slices=slices, spacing=spacing, pixel=3.0, size=size
    )
    planes, images = planes[::-1], images[::-1]
    ds = _dataset(None, "MR")
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR Image Storage
    ds.SeriesInstanceUID = generate_uid(prefix=MARKER_UID_ROOT + ".")
    ds.SeriesDescription = "T1 3D MPRAGE MARKER-PHI-John-Doe-MRN123456"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = [float(v) for v in (*(col_dir * LPS), *(row_dir * LPS))]
    measures = Dataset()
    measures.PixelSpacing = [3.0, 3.0]
    measures.SliceThickness = spacing
    shared.PlaneOrientationSequence = Sequence([orient])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for plane in planes:
        item, position = Dataset(), Dataset()
        position.ImagePositionPatient = [round(float(v), 4) for v in plane.origin * LPS]
        item.PlanePositionSequence = Sequence([position])
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    stacked = np.stack([(image * 10).astype(np.uint16) for image in images])
    _set_pixels(ds, stacked, "MONOCHROME2", 12, False, len(images))
    return _encode(ds, ExplicitVRLittleEndian, True)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def nifti_volume(
    *,
    size: int = 64,
    voxel: float = 3.0,
    axes: tuple[int, int, int] = (1, 2, 0),
    flips: tuple[int, int, int] = (1, -1, 1),
    compressed: bool = True,
    markers: bool = True,
    form_codes: tuple[int, int] = (1, 1),
) -> bytes:
    """The phantom as a NIfTI-1 volume whose array axes are a permutation of RAS (sagittal
    storage by default), with marker strings in every free-text field and an extension."""
    import nibabel

    directions = np.eye(3)[list(axes)] * np.array(flips)[:, None]
    affine = np.eye(4)
    affine[:3, :3] = directions.T * voxel
    affine[:3, 3] = -(size - 1) / 2 * voxel * directions.sum(axis=0)
    i, j, k = np.mgrid[:size, :size, :size].astype(np.float64)
    points = np.stack([i, j, k, np.ones_like(i)], axis=-1) @ affine.T
    from ml.testing import head_phantom

    data = (head_phantom(points[..., :3]) * 10).astype(np.int16)
    image = nibabel.Nifti1Image(data, affine)
    image.header.set_qform(affine, code=form_codes[0])
    image.header.set_sform(affine, code=form_codes[1])
    if markers:
        for field, value in NIFTI_MARKERS.items():
            image.header[field] = value
        image.header.extensions.append(nibabel.nifti1.Nifti1Extension(6, NIFTI_EXTENSION_MARKER))
    written = bytearray(image.to_bytes())
    # nibabel fills in codes from the image's affine when it writes: set them in the bytes.
    written[252:256] = np.array(form_codes, "<i2").tobytes()  # qform_code, sform_code
    raw = bytes(written)
    return gzip.compress(raw) if compressed else raw


def rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit axis."""
    import math

    a = math.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * (k @ k)
