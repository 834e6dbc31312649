"""Reading a study upload: DICOM files (loose, in a .zip, multi-frame) and NIfTI volumes.

Files are recognised by content, never by name; names are not read, stored or quoted (a
file is "file 3", a zip member "file 2.14"). DICOM files are grouped into series by what
their headers say (SeriesInstanceUID, orientation, image size, echo), in memory only: UIDs
and every other identifying value stay in this module's local variables. Slices are ordered
by their position along the normal (ml.volumes.geometry); a volume (slices <= 2.5 mm apart)
is reformatted to axial slices 5 mm apart, a thick axial series is used as acquired, and
anything else is skipped with the reason. Series the model cannot read (non-MR, localisers,
diffusion, colour, burned-in text) are listed as skipped; a file that cannot be read (a
.txt, a JPEG, a truncated DICOM) is listed with why, and the rest of the study goes on.

Limits are checked from sizes and headers before any pixel is decoded (`StudyRefused`):
total bytes, files, source slices (images and frames) and voxels per study.
"""

from __future__ import annotations

import gzip
import io
import logging
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ml.image.png import encode_png
from ml.volumes.geometry import (
    AXIAL_SPACING_MM,
    GeometryError,
    Plane,
    Stack,
    as_is_slices,
    axial_slices,
    stack_from_affine,
    stack_planes,
    to_uint8,
    window,
)
from predictions import dicom

logger = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
NIFTI_MAGICS = (b"n+1\x00", b"ni1\x00", b"n+2\x00", b"ni2\x00")
# Words of a series description that mark a localiser or a diffusion series (read, not kept).
LOCALISER_WORDS = {
    "LOC",
    "LOCALIZER",
    "LOCALISER",
    "SCOUT",
    "SURVEY",
    "PILOT",
    "TRIPILOT",
    "3PLANE",
}
DIFFUSION_WORDS = {"DWI", "DTI", "ADC", "TRACE", "TRACEW", "DIFFUSION", "DIFF", "EP2D_DIFF", "FA"}
LOCALISER_TYPES = {"LOCALIZER"}
DIFFUSION_TYPES = {"DIFFUSION", "ADC", "TRACEW", "TRACE", "FA", "EADC"}
# A series whose one UID holds several orientations of at most this many slices each is a
# multi-plane localiser even when it does not say so.
LOCALISER_MAX_SLICES = 5
FILE_KINDS = {
    b"\xff\xd8\xff": "a JPEG image",
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"%PDF": "a PDF document",
}


class StudyRefused(ValueError):
    """The whole upload is refused (over a limit, or nothing in it can be analysed)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # all files together (zip members counted uncompressed)
    max_files: int  # files, zip members included
    max_slices: int  # source images and frames declared in the headers
    max_voxels: int  # rows x columns x frames declared, all files together
    max_pixels: int  # rows x columns of one image


@dataclass
class RenderedSlice:
    png: bytes
    width: int
    height: int
    position_mm: float  # along the slice normal (z for reformatted axial slices)


@dataclass
class SeriesRead:
    number: int
    source_format: str  # DICOM or NIfTI
    modality: str = ""
    description: str = ""  # MR sequence vocabulary only (predictions.dicom)
    orientation: str = ""  # axial, coronal, sagittal, oblique
    handling: str = ""  # how its slices were made, in words
    source_slices: int = 0
    spacing_mm: float | None = None
    skipped_reason: str = ""
    notes: list[str] = field(default_factory=list)
    meta: dict[str, object] = field(default_factory=dict)  # allow-listed technical tags
    slices: list[RenderedSlice] = field(default_factory=list)


@dataclass
class StudyRead:
    series: list[SeriesRead]
    file_errors: list[dict[str, str]]  # {"file": "3", "error": "..."}
    file_count: int
    total_bytes: int

    @property
    def slices(self) -> int:
        return sum(len(s.slices) for s in self.series)

    @property
    def source_format(self) -> str:
        kinds = sorted({s.source_format for s in self.series})
        return "+".join(kinds) or "DICOM"


@dataclass
class _Entry:
    number: str
    size: int
    read: Callable[[], bytes]


@dataclass
class _Image:
    """One DICOM image (a file, or one frame of a multi-frame file), header facts only."""

    entry: _Entry
    frame: int | None
    plane: Plane | None
    rows: int
    columns: int


@dataclass
class _DicomSeries:
    key: tuple
    first: Dataset  # the header of its first image (no pixels), for series-level facts
    images: list[_Image] = field(default_factory=list)
    orientations: set = field(default_factory=set)


def read_study(uploads: Iterable[object], limits: Limits) -> StudyRead:
    """Read every file of one upload (Django UploadedFile-likes) into series of slices.

    Raises StudyRefused for a limit or when nothing in the upload can be analysed.
    """
    errors: list[dict[str, str]] = []
    entries = list(_entries(list(uploads), limits, errors))
    total = sum(e.size for e in entries)
    dicom_series: dict[tuple, _DicomSeries] = {}
    nifti: list[_Entry] = []
    budget = _Budget(limits)
    with dicom._quiet():
        for entry in entries:
            _sort_entry(entry, dicom_series, nifti, errors, budget)
    series: list[SeriesRead] = []
    for group in _split_localisers(dicom_series.values()):
        series.append(_dicom_series(len(series) + 1, group, errors))
    for entry in nifti:
        series.append(_nifti_series(len(series) + 1, entry, errors, budget))
    study = StudyRead(series, errors, len(entries), total)
    if not study.slices:
        raise StudyRefused(_nothing_to_analyse(study))
    return study


# --- files ---------------------------------------------------------------------------------


def _entries(uploads: list, limits: Limits, errors: list) -> Iterator[_Entry]:
    """Every file, zip members expanded; limits on count and bytes before anything is read."""
    declared = sum(int(getattr(u, "size", 0) or 0) for u in uploads)
    if len(uploads) > limits.max_files:
        raise StudyRefused(f"A study may hold at most {limits.max_files:,} files.")
    if declared > limits.max_bytes:
        raise StudyRefused(_too_many_bytes(limits), too_large=True)
    zips = _open_zips(uploads, errors)
    broken = {e["file"] for e in errors}
    count = sum(len(zips[n][1]) if n in zips else 1 for n in range(1, len(uploads) + 1))
    total = sum(
        sum(i.file_size for i in zips[n][1]) if n in zips else int(u.size or 0)
        for n, u in enumerate(uploads, start=1)
    )
    if count > limits.max_files:
        raise StudyRefused(
            f"This upload holds {count:,} files; a study may hold at most {limits.max_files:,}."
        )
    if total > limits.max_bytes:
        raise StudyRefused(_too_many_bytes(limits), too_large=True)
    for number, upload in enumerate(uploads, start=1):
        if number in zips:
            archive, members = zips[number]
            for index, info in enumerate(members, start=1):
                yield _Entry(f"{number}.{index}", info.file_size, _member_reader(archive, info))
        elif str(number) not in broken:
            yield _Entry(str(number), int(upload.size or 0), _upload_reader(upload))


def _open_zips(uploads: list, errors: list) -> dict[int, tuple[zipfile.ZipFile, list]]:
    """The zip files among the uploads (by content), with their members (central directory
    only: nothing is inflated here)."""
    zips = {}
    for number, upload in enumerate(uploads, start=1):
        upload.seek(0)
        if upload.read(4) != ZIP_MAGIC:
            continue
        try:
            archive = zipfile.ZipFile(upload)
            members = [i for i in archive.infolist() if not i.is_dir() and not _junk(i)]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            errors.append(_error(str(number), "The zip file is damaged and cannot be read."))
            continue
        zips[number] = (archive, members)
    return zips


def _junk(info: zipfile.ZipInfo) -> bool:
    """Files a zip tool adds by itself (macOS resource forks, Finder state)."""
    name = info.filename.replace("\\", "/")
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] in {".DS_Store", "Thumbs.db"}


def _upload_reader(upload) -> Callable[[], bytes]:
    def read() -> bytes:
        upload.seek(0)
        return upload.read()

    return read


def _member_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        if info.flag_bits & 0x1:
            raise _Unreadable("The file is encrypted inside the zip.")
        try:
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)  # zipfile stops at the declared size
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            raise _Unreadable("The file is damaged inside the zip.") from None
        if len(data) > info.file_size:
            raise _Unreadable("The file is larger than the zip says.")
        return data

    return read


class _Unreadable(ValueError):
    pass


class _Budget:
    """Source slices and voxels declared so far, charged from headers before decoding."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.slices = 0
        self.voxels = 0

    def charge(self, slices: int, rows: int, columns: int) -> None:
        if rows * columns > self.limits.max_pixels:
            raise _Unreadable(
                f"Its images are {columns}×{rows} pixels; the limit is "
                f"{self.limits.max_pixels:,} pixels."
            )
        self.slices += slices
        self.voxels += slices * rows * columns
        if self.slices > self.limits.max_slices:
            raise StudyRefused(
                f"This study holds more than {self.limits.max_slices:,} slices (images and "
                "frames); upload fewer series at a time."
            )
        if self.voxels > self.limits.max_voxels:
            raise StudyRefused(
                f"This study holds more than {self.limits.max_voxels:,} voxels; upload fewer "
                "or smaller series at a time.",
                too_large=True,
            )


def _sort_entry(
    entry: _Entry,
    series: dict[tuple, _DicomSeries],
    nifti: list[_Entry],
    errors: list,
    budget: _Budget,
) -> None:
    try:
        data = entry.read()
        if not data:
            raise _Unreadable("The file is empty.")
        if _is_nifti(data):
            nifti.append(entry)
            return
        if data[:4] == ZIP_MAGIC:
            raise _Unreadable("A zip inside a zip is not read: unpack it first.")
        if not (dicom.has_dicom_magic(data) or dicom.parses_as_dicom(data)):
            raise _Unreadable(_not_dicom(data))
        _add_dicom(entry, data, series, budget)
    except _Unreadable as exc:
        errors.append(_error(entry.number, str(exc)))
    except dicom.DicomRejected as exc:
        errors.append(_error(entry.number, str(exc)))


def _not_dicom(data: bytes) -> str:
    for magic, kind in FILE_KINDS.items():
        if data.startswith(magic):
            return f"This is {kind}, not a DICOM or NIfTI file; single slices go to Upload slices."
    try:
        data[:4096].decode("utf-8")
        return "This is a text file, not a DICOM or NIfTI file."
    except UnicodeDecodeError:
        return "This is not a DICOM or NIfTI file."


def _is_nifti(data: bytes) -> bool:
    if data[:2] == GZIP_MAGIC:
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(data)).read(548)
        except (OSError, EOFError, ValueError):
            return False
        return _nifti_header_magic(head)
    return _nifti_header_magic(data[:548])


def _nifti_header_magic(head: bytes) -> bool:
    return head[344:348] in NIFTI_MAGICS or head[4:8] in NIFTI_MAGICS


def _error(number: str, message: str) -> dict[str, str]:
    return {"file": number, "error": message}


# --- DICOM ---------------------------------------------------------------------------------


def _add_dicom(
    entry: _Entry, data: bytes, series: dict[tuple, _DicomSeries], budget: _Budget
) -> None:
    ds = dicom._read(data)
    if not dicom._has_pixels(ds):
        raise _Unreadable("This DICOM file holds no image (no pixel data), or it is incomplete.")
    frames = dicom._frame_count(ds)
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
    except (AttributeError, ValueError, TypeError):
        raise _Unreadable("The DICOM file is damaged: its image size is missing.") from None
    budget.charge(frames, rows, columns)
    planes = _planes(ds, frames)
    uid = str(ds.get("SeriesInstanceUID", "") or "")
    echo = str(ds.get("EchoNumbers", "") or "")
    for frame, plane in enumerate(planes):
        orientation = _orientation_key(plane)
        key = (
            uid,
            rows,
            columns,
            echo,
            orientation,
            entry.number if frames > 1 and not uid else "",
        )
        group = series.get(key)
        if group is None:
            group = series[key] = _DicomSeries(key, _header_only(ds))
        group.images.append(_Image(entry, frame if frames > 1 else None, plane, rows, columns))
        group.orientations.add(orientation)
    del data


def _header_only(ds: Dataset) -> Dataset:
    """The header without its pixels or per-frame sequences (kept for series-level facts)."""
    copy = Dataset()
    copy.file_meta = ds.file_meta
    for element in ds:
        if element.keyword not in ("PixelData", "PerFrameFunctionalGroupsSequence"):
            copy.add(element)
    return copy


def _planes(ds: Dataset, frames: int) -> list[Plane | None]:
    """Each frame's plane: per-frame functional groups (enhanced MR), else the image's own."""
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if frames > 1 and per_frame is not None and len(per_frame) == frames:
        return [_plane_of(item, shared, ds) for item in per_frame]
    plane = _plane_of(ds, shared, ds)
    if frames > 1:  # a multi-frame file without per-frame positions cannot be ordered
        return [None] * frames
    return [plane]


def _plane_of(item: Dataset, shared: Dataset | None, ds: Dataset) -> Plane | None:
    def find(sequence: str, keyword: str) -> object:
        for source in (item, shared):
            inner = _first(source, sequence) if source is not None else None
            if inner is not None and keyword in inner:
                return inner.get(keyword)
        return item.get(keyword) if keyword in item else ds.get(keyword)

    position = find("PlanePositionSequence", "ImagePositionPatient")
    orientation = find("PlaneOrientationSequence", "ImageOrientationPatient")
    spacing = find("PixelMeasuresSequence", "PixelSpacing")
    if position is None or orientation is None or spacing is None:
        return None
    try:
        return Plane.from_dicom(list(position), list(orientation), list(spacing))  # type: ignore[call-overload]
    except (GeometryError, TypeError):
        return None


def _first(ds: Dataset | None, keyword: str) -> Dataset | None:
    sequence = ds.get(keyword) if ds is not None else None
    return sequence[0] if sequence else None


def _orientation_key(plane: Plane | None) -> tuple:
    if plane is None:
        return ("none",)
    return tuple(np.round(np.concatenate([plane.col_dir, plane.row_dir]), 2) + 0.0)


def _split_localisers(groups: Iterable[_DicomSeries]) -> list[_DicomSeries]:
    """Groups in a stable order (by first file). Images that do not say where they lie join
    the largest group of their series (where they are listed as unplaced); a series UID
    spread over several small orientations is marked a localiser."""
    ordered = sorted(groups, key=lambda g: _entry_order(g.images[0].entry.number))
    by_uid: dict[tuple[object, ...], list[_DicomSeries]] = defaultdict(list)
    for group in ordered:
        by_uid[group.key[:4]].append(group)  # UID, rows, columns, echo
    dropped: set[int] = set()
    for members in by_uid.values():
        placed = [m for m in members if ("none",) not in m.orientations]
        for unplaced in (m for m in members if ("none",) in m.orientations):
            if placed:
                max(placed, key=lambda m: len(m.images)).images.extend(unplaced.images)
                dropped.add(id(unplaced))
        if len(placed) > 1 and all(len(m.images) <= LOCALISER_MAX_SLICES for m in placed):
            for member in placed:
                member.orientations.add("multi-plane")
    return [g for g in ordered if id(g) not in dropped]


def _entry_order(number: str) -> tuple[int, ...]:
    return tuple(int(part) for part in number.split("."))


def _dicom_series(number: int, group: _DicomSeries, errors: list) -> SeriesRead:
    ds = group.first
    meta = dicom.technical_meta(ds)
    meta.pop("PhotometricInterpretation", None)
    meta.pop("InstanceNumber", None)  # one image's number, not the series'
    series = SeriesRead(
        number=number,
        source_format="DICOM",
        modality=str(meta.get("Modality", "")),
        description=str(meta.get("SeriesDescription", "")),
        source_slices=len(group.images),
        meta=meta,
    )
    series.skipped_reason = _skip_reason(ds, group)
    if series.skipped_reason:
        return series
    located = [image for image in group.images if image.plane is not None]
    for image in group.images:
        if image.plane is None:
            where = "" if image.frame is None else f" (frame {image.frame + 1})"
            errors.append(_error(image.entry.number, "This image does not say where it lies in "
                                 f"the patient (no position or orientation){where}."))  # fmt: skip
    if not located:
        series.skipped_reason = "No image of this series says where it lies in the patient."
        return series
    located, pixels = _decode_images(located, errors)
    if not located:
        series.skipped_reason = "No image of this series could be decoded."
        return series
    try:
        stack = stack_planes([image.plane for image in located], pixels)  # type: ignore[misc]
    except GeometryError as exc:
        series.skipped_reason = str(exc).rstrip(".") + "."
        return series
    low, high = _series_window(ds, stack.voxels)
    invert = str(ds.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1"
    _fill_slices(series, stack, low, high, invert)
    return series


def _skip_reason(ds: Dataset, group: _DicomSeries) -> str:
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality != "MR":
        kind = dicom.MODALITY_NAMES.get(modality, "not MR") if modality else "of no stated modality"
        kind = kind.replace("a CT image", "CT").replace("an ", "").replace("a ", "")
        return f"This series is {kind}; only MR (magnetic resonance) series can be analysed."
    image_type = {str(v).strip().upper() for v in (ds.get("ImageType") or [])}
    words = set(dicom.SEQUENCE_TOKEN.findall(str(ds.get("SeriesDescription", "")).upper()))
    words |= set(dicom.SEQUENCE_TOKEN.findall(str(ds.get("ProtocolName", "")).upper()))
    if (
        image_type & LOCALISER_TYPES
        or words & LOCALISER_WORDS
        or "multi-plane" in group.orientations
    ):
        return "This is a localiser (scout) series, taken to plan the others; it is not analysed."
    b_value = dicom.finite_number(ds.get((0x0018, 0x9087)))
    if image_type & DIFFUSION_TYPES or words & DIFFUSION_WORDS or (b_value or 0) > 0:
        return (
            "This is a diffusion series (DWI, ADC or DTI); the model reads T1, T2 and FLAIR "
            "images, so it is not analysed."
        )
    samples = dicom.finite_number(ds.get("SamplesPerPixel")) or 1
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if samples != 1 or photometric not in dicom.MONOCHROME:
        return "This series is in colour (a map or a screen capture); it is not analysed."
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return "This series says its pixels carry burned-in text, which can identify the patient."
    try:
        dicom._check_transfer_syntax(ds)
        dicom._check_bits(_with_pixel_keyword(ds))
    except dicom.DicomRejected as exc:
        return str(exc)
    return ""


def _with_pixel_keyword(ds: Dataset) -> Dataset:
    """`_check_bits` looks for the pixel element, which the kept header no longer has."""
    copy = Dataset()
    copy.update(ds)
    copy.PixelData = b""
    return copy


def _decode_images(images: list[_Image], errors: list) -> tuple[list[_Image], list[np.ndarray]]:
    """Modality values of every image, decoding each file once (all frames it holds).

    A file whose pixels cannot be decoded (truncated, corrupt) is listed and left out; the
    rest of its series goes on.
    """
    by_entry: dict[str, list[_Image]] = defaultdict(list)
    for image in images:
        by_entry[image.entry.number].append(image)
    decoded: dict[int, np.ndarray] = {}
    for number, members in by_entry.items():
        try:
            ds = dicom._read(members[0].entry.read())
            for image in members:
                frame = dicom._decode_frame(ds, image.frame)
                if frame.shape != (image.rows, image.columns):
                    raise dicom.DicomRejected("The DICOM file's pixel data is incomplete.")
                values = dicom._modality_values(frame, ds)
                decoded[id(image)] = np.asarray(values, dtype=np.float32)
        except (dicom.DicomRejected, _Unreadable) as exc:
            for image in members:
                decoded.pop(id(image), None)
            errors.append(_error(number, str(exc)))
        except Exception as exc:  # a decoder's message may quote header values: type only
            logger.warning("a DICOM image could not be decoded (%s)", type(exc).__name__)
            for image in members:
                decoded.pop(id(image), None)
            errors.append(_error(number, "The DICOM file's pixel data is damaged."))
    kept = [image for image in images if id(image) in decoded]
    return kept, [decoded[id(image)] for image in kept]


def _series_window(ds: Dataset, voxels: np.ndarray) -> tuple[float, float]:
    """The series' own window centre/width (its first value), else percentiles of the series."""
    centre, width = (
        dicom.finite_number(_first_value(ds.get("WindowCenter"))),
        dicom.finite_number(_first_value(ds.get("WindowWidth"))),
    )
    if centre is not None and width is not None and width > 1:
        return centre - width / 2, centre + width / 2
    return window(voxels)


def _first_value(value: object) -> object:
    if value is None or isinstance(value, str | bytes):
        return value
    try:
        return list(value)[0]  # type: ignore[call-overload]
    except (TypeError, IndexError):
        return value


# --- NIfTI ---------------------------------------------------------------------------------


def _nifti_series(number: int, entry: _Entry, errors: list, budget: _Budget) -> SeriesRead:
    """One NIfTI volume. Its header's free text (descrip, aux_file, db_name, intent_name) and
    extensions are never read: only dimensions, data type, scaling and the affine are."""
    series = SeriesRead(number=number, source_format="NIfTI", modality="MR")
    try:
        volume, affine = _read_nifti(entry.read(), budget)
    except _Unreadable as exc:
        errors.append(_error(entry.number, str(exc)))
        series.skipped_reason = str(exc)
        return series
    series.source_slices = int(volume.shape[2]) if volume.ndim == 3 else 1
    try:
        stack = stack_from_affine(volume, affine)
    except GeometryError as exc:
        series.skipped_reason = f"The volume cannot be placed in the patient: {exc}."
        return series
    series.source_slices = stack.slices
    low, high = window(stack.voxels)
    _fill_slices(series, stack, low, high, invert=False)
    return series


def _read_nifti(data: bytes, budget: _Budget) -> tuple[np.ndarray, np.ndarray]:
    import nibabel

    compressed = data[:2] == GZIP_MAGIC
    version2, header, shape, itemsize, offset = _nifti_header(
        _gunzip(data, 548) if compressed else data[:548]
    )
    budget.charge(shape[2] if len(shape) > 2 else 1, shape[1], shape[0])  # before inflating
    expected = offset + int(np.prod(shape)) * itemsize
    if expected > budget.limits.max_bytes:  # what a small .nii.gz would inflate to
        raise StudyRefused(_too_many_bytes(budget.limits), too_large=True)
    raw = _gunzip(data, expected) if compressed else data
    if len(raw) < expected:
        raise _Unreadable("The NIfTI file is incomplete: it holds less data than its header says.")
    if int(header["qform_code"]) <= 0 and int(header["sform_code"]) <= 0:
        raise _Unreadable(
            "This NIfTI file does not say how it lies in the patient (no qform or sform), "
            "so its slices cannot be ordered or turned axial."
        )
    image_class = nibabel.Nifti2Image if version2 else nibabel.Nifti1Image
    try:
        image = image_class.from_bytes(raw[:expected])
        volume = np.asarray(image.get_fdata(dtype=np.float32))
        affine = np.asarray(image.affine, dtype=np.float64)
    except Exception:  # nibabel raises many types for a broken file
        raise _Unreadable("The NIfTI file is damaged and cannot be read.") from None
    return volume.reshape(volume.shape[:2] + (volume.shape[2] if volume.ndim > 2 else 1,)), affine


def _nifti_header(head: bytes) -> tuple[bool, Any, tuple[int, ...], int, int]:
    """(NIfTI-2?, header, shape, bytes per voxel, data offset) from the header bytes alone."""
    import nibabel

    version2 = head[4:8] in NIFTI_MAGICS[2:]
    header_class = nibabel.Nifti2Header if version2 else nibabel.Nifti1Header
    try:
        header = header_class.from_fileobj(
            io.BytesIO(head[: 540 if version2 else 348]), check=False
        )
        shape = tuple(int(n) for n in header.get_data_shape())
        dtype = header.get_data_dtype()
        offset = int(header.get_data_offset())
    except Exception:  # nibabel raises many types for a broken header
        raise _Unreadable("The NIfTI file is damaged: its header cannot be read.") from None
    if len(shape) < 2 or min(shape) < 1:
        raise _Unreadable("The NIfTI file holds no image.")
    if len(shape) > 3 and int(np.prod(shape[3:])) > 1:
        raise _Unreadable(
            "This NIfTI file is 4-D (a time series or diffusion volumes); upload one 3-D volume."
        )
    if dtype.kind not in "uif" or dtype.itemsize > 8:
        raise _Unreadable("This NIfTI file's data type is not read (complex or colour).")
    return version2, header, shape, dtype.itemsize, offset


def _gunzip(data: bytes, limit: int) -> bytes:
    """At most `limit` bytes of a gzip stream: a small file that inflates to gigabytes stops here."""
    try:
        return gzip.GzipFile(fileobj=io.BytesIO(data)).read(limit)
    except (OSError, EOFError, ValueError):
        raise _Unreadable("The compressed file is damaged or incomplete.") from None


# --- slices --------------------------------------------------------------------------------


def _fill_slices(series: SeriesRead, stack: Stack, low: float, high: float, invert: bool) -> None:
    series.orientation = stack.orientation
    series.spacing_mm = round(stack.spacing_mm, 3)
    series.notes.extend(stack.notes)
    if stack.is_volume:
        reformat = axial_slices(stack)
        images = reformat.slices
        series.handling = (
            f"3-D {stack.orientation} volume, reformatted to axial slices every "
            f"{AXIAL_SPACING_MM:g} mm"
        )
        if reformat.in_gaps:
            series.notes.append(
                f"{reformat.in_gaps} reformatted slice(s) left out: missing source slices cut "
                "through them"
            )
    elif stack.is_axial:
        images = as_is_slices(stack)
        series.handling = "2-D axial slices, used as acquired"
    else:
        series.skipped_reason = (
            f"2-D {stack.orientation} slices {stack.spacing_mm:.1f} mm apart: the model reads "
            "axial slices, and slices this thick cannot be reformatted to axial without "
            "blurring them."
        )
        return
    empty = 0
    for pixels, position in images:
        shown = to_uint8(pixels, low, high)
        if invert:
            shown = 255 - shown
        if not shown.any() or float((shown > 0).mean()) < 0.01:
            empty += 1
            continue
        height, width = shown.shape
        series.slices.append(RenderedSlice(encode_png(shown), width, height, round(position, 2)))
    if empty:
        series.notes.append(f"{empty} empty slice(s) at the edge of the volume left out")
    if not series.slices:
        series.skipped_reason = "Every slice of this series is empty."


def _too_many_bytes(limits: Limits) -> str:
    return f"The files of this study are larger than {limits.max_bytes // (1024 * 1024)} MB in all."


def _nothing_to_analyse(study: StudyRead) -> str:
    reasons = [f"series {s.number}: {s.skipped_reason}" for s in study.series if s.skipped_reason]
    reasons += [f"file {e['file']}: {e['error']}" for e in study.file_errors[:20]]
    return "Nothing in this upload can be analysed. " + " ".join(reasons)
