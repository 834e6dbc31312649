"""Slices in patient space: order along the normal, stacks with gaps and tilt, axial reformats.

Coordinates are RAS millimetres (nibabel's convention: +x patient right, +y anterior,
+z superior); DICOM's LPS is converted on the way in (`Plane.from_dicom`). A stack's affine
maps a voxel index (column, row, slice) to RAS and may be sheared: with gantry tilt the step
from one slice to the next is not along the slice normal, and the affine says exactly that,
so reformatting through it (nibabel.processing, scipy underneath) puts every voxel where the
scanner says it was. Nothing here reads file names or instance numbers: order comes from
positions alone.

Display convention of every slice returned: radiological, patient right on the image's left
and anterior at the top (rows run anterior -> posterior, columns right -> left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Slices closer than this along the normal are the same position (a repeated image).
SAME_POSITION_MM = 0.01
# Neighbours farther apart than this many median steps have slices missing between them.
GAP_FACTOR = 1.5
# A stack whose slices are at most this far apart is a volume (a 3-D acquisition, or
# contiguous thin 2-D slices): it is reformatted. Thicker slices are used as they are.
VOLUME_MAX_SPACING_MM = 2.5
# ... and so is one whose slices are at most this many pixel widths apart (a 3 mm isotropic
# volume is a volume; 0.5 mm pixels in 5 mm slices are 2-D slices).
ISOTROPIC_FACTOR = 1.25
# A 2-D series is axial if its normal is within this angle of the head's axis (AC-PC
# tilted axials are still axial).
AXIAL_MAX_TILT_DEG = 30.0
# Where a direction matrix must agree between slices (cosines of about 0.8 degrees).
SAME_DIRECTION = 0.9999
# An axial reformat: one slice every 5 mm; in-plane pixels no finer than 0.5 mm, and at most
# MAX_SIDE pixels a side.
AXIAL_SPACING_MM = 5.0
MIN_PIXEL_MM = 0.5
MAX_SIDE = 384
# Output slices that the source volume covers less than this share of are left out (the
# corners of the bounding box of an oblique or sagittal volume); those that touch missing
# source slices in more than GAP_SHARE of their covered pixels too (and are counted).
MIN_SUPPORT = 0.05
GAP_SHARE = 0.01
LPS_TO_RAS = np.array([-1.0, -1.0, 1.0])
AXES = ("sagittal", "coronal", "axial")


class GeometryError(ValueError):
    """Slices that do not make one stack (the message quotes no header value)."""


@dataclass(frozen=True)
class Plane:
    """One 2-D image in patient space: where its first pixel is and which way it runs."""

    origin: np.ndarray  # RAS mm of the centre of pixel (row 0, column 0)
    col_dir: np.ndarray  # unit RAS vector of increasing column index
    row_dir: np.ndarray  # unit RAS vector of increasing row index
    col_spacing: float  # mm from one column to the next
    row_spacing: float  # mm from one row to the next

    @classmethod
    def from_dicom(
        cls, position: list[float], orientation: list[float], spacing: list[float]
    ) -> Plane:
        """ImagePositionPatient, ImageOrientationPatient (row cosine, then column cosine)
        and PixelSpacing (between rows, between columns), all in DICOM's LPS."""
        try:
            values = [float(v) for v in (*position, *orientation, *spacing)]
        except (TypeError, ValueError):
            values = []
        if len(values) != 11 or not all(math.isfinite(v) for v in values):
            raise GeometryError("the slice's position, orientation or pixel spacing is unreadable")
        row_cos, col_cos = np.array(values[3:6]), np.array(values[6:9])
        if min(np.linalg.norm(row_cos), np.linalg.norm(col_cos)) < 0.5 or min(values[9:]) <= 0:
            raise GeometryError("the slice's orientation or pixel spacing is not valid")
        return cls(
            origin=np.array(values[:3]) * LPS_TO_RAS,
            col_dir=_unit(row_cos * LPS_TO_RAS),
            row_dir=_unit(col_cos * LPS_TO_RAS),
            col_spacing=values[10],
            row_spacing=values[9],
        )

    @property
    def normal(self) -> np.ndarray:
        return _positive(np.cross(self.col_dir, self.row_dir))

    def same_orientation(self, other: Plane) -> bool:
        return (
            float(self.col_dir @ other.col_dir) > SAME_DIRECTION
            and float(self.row_dir @ other.row_dir) > SAME_DIRECTION
        )


@dataclass
class Stack:
    """Slices of one series on a regular grid along their normal (missing ones are NaN)."""

    voxels: np.ndarray  # (columns, rows, slices) float32, modality values; NaN planes = missing
    affine: np.ndarray  # 4x4: voxel (column, row, slice) -> RAS mm (may be sheared)
    positions_mm: np.ndarray  # of every grid plane along `normal`, ascending
    present: np.ndarray  # bool per grid plane: False where a slice is missing
    normal: np.ndarray  # unit RAS, pointing to the positive side of its main axis
    duplicates: int = 0  # repeated positions dropped
    notes: list[str] = field(default_factory=list)

    @property
    def slices(self) -> int:
        return int(self.present.sum())

    @property
    def missing(self) -> int:
        return int((~self.present).sum())

    @property
    def spacing_mm(self) -> float:
        return float(abs(self.affine[:3, 2] @ self.normal)) if len(self.present) > 1 else 0.0

    @property
    def voxel_mm(self) -> tuple[float, float, float]:
        col, row = (float(np.linalg.norm(self.affine[:3, i])) for i in (0, 1))
        return col, row, self.spacing_mm

    @property
    def main_axis(self) -> str:
        return AXES[int(np.argmax(np.abs(self.normal)))]

    @property
    def tilt_degrees(self) -> float:
        """Angle between the normal and its main axis (0 for a pure axial, sagittal, coronal)."""
        return math.degrees(math.acos(min(1.0, float(np.max(np.abs(self.normal))))))

    @property
    def orientation(self) -> str:
        return self.main_axis if self.tilt_degrees <= AXIAL_MAX_TILT_DEG else "oblique"

    @property
    def shear_degrees(self) -> float:
        """Gantry tilt: the angle between the slice-to-slice step and the normal."""
        step = self.affine[:3, 2]
        if len(self.present) < 2 or not np.linalg.norm(step):
            return 0.0
        return math.degrees(math.acos(min(1.0, abs(float(_unit(step) @ self.normal)))))

    @property
    def is_volume(self) -> bool:
        """Thin slices, or slices about as far apart as their pixels (an isotropic volume)."""
        if len(self.present) < 3:
            return False
        spacing = self.spacing_mm
        in_plane = max(self.voxel_mm[:2])
        return spacing <= VOLUME_MAX_SPACING_MM or spacing <= ISOTROPIC_FACTOR * in_plane

    @property
    def is_axial(self) -> bool:
        return self.main_axis == "axial" and self.tilt_degrees <= AXIAL_MAX_TILT_DEG


def stack_planes(planes: list[Plane], pixels: list[np.ndarray]) -> Stack:
    """Order slices by position along their common normal and put them on a regular grid.

    Repeated positions keep the first slice; a gap of more than GAP_FACTOR median steps gets
    NaN planes for the slices that are missing. The step between planes is measured from the
    positions themselves, so a sheared stack (gantry tilt) keeps its true geometry.
    """
    if not planes or len(planes) != len(pixels):
        raise GeometryError("no slices")
    first = planes[0]
    shape = pixels[0].shape
    for plane, image in zip(planes, pixels, strict=True):
        if image.shape != shape:
            raise GeometryError("the slices of this series differ in size")
        if not plane.same_orientation(first):
            raise GeometryError("the slices of this series differ in orientation")
        if not _close(plane.col_spacing, first.col_spacing) or not _close(
            plane.row_spacing, first.row_spacing
        ):
            raise GeometryError("the slices of this series differ in pixel spacing")
    normal = first.normal
    positions = np.array([float(p.origin @ normal) for p in planes])
    order = np.argsort(positions, kind="stable")
    kept = [int(order[0])]
    for index in order[1:]:
        if positions[index] - positions[kept[-1]] > SAME_POSITION_MM:
            kept.append(int(index))
    duplicates = len(planes) - len(kept)
    grid, step = _grid_indices(positions[kept])
    count = grid[-1] + 1
    voxels = np.full((shape[1], shape[0], count), np.nan, dtype=np.float32)
    present = np.zeros(count, dtype=bool)
    for index, k in zip(kept, grid, strict=True):
        if not present[k]:
            voxels[:, :, k] = np.asarray(pixels[index], dtype=np.float32).T
            present[k] = True
    origin = planes[kept[0]].origin
    step_vector = (
        (planes[kept[-1]].origin - origin) / grid[-1] if grid[-1] else normal * (step or 1.0)
    )
    affine = np.eye(4)
    affine[:3, 0] = first.col_dir * first.col_spacing
    affine[:3, 1] = first.row_dir * first.row_spacing
    affine[:3, 2] = step_vector
    affine[:3, 3] = origin
    return _finish(Stack(voxels, affine, np.array([]), present, normal, duplicates))


def stack_from_affine(voxels: np.ndarray, affine: np.ndarray) -> Stack:
    """A NIfTI-style volume: (i, j, k) array and its voxel -> RAS affine.

    The slice axis is the one with the largest voxel size (the last one when they are equal):
    it is moved last, so `Stack.voxels` is (columns, rows, slices) like a DICOM stack.
    """
    if voxels.ndim != 3 or min(voxels.shape) < 1:
        raise GeometryError("the volume is not three-dimensional")
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise GeometryError("the volume's affine is not valid")
    sizes = np.linalg.norm(affine[:3, :3], axis=0)
    if np.any(sizes <= 0) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise GeometryError("the volume's affine is singular")
    slice_axis = 2 if sizes[2] >= sizes.max() * 0.999 else int(np.argmax(sizes))
    if voxels.shape[slice_axis] < 2:  # a single plane: its thin axis is the slice axis
        slice_axis = int(np.argmin(voxels.shape))
    in_plane = [axis for axis in range(3) if axis != slice_axis]
    order = [*in_plane, slice_axis]
    voxels = np.transpose(voxels, order).astype(np.float32, copy=False)
    moved = np.eye(4)
    moved[:3, :3] = affine[:3, :3][:, order]
    moved[:3, 3] = affine[:3, 3]
    normal = _positive(np.cross(_unit(moved[:3, 0]), _unit(moved[:3, 1])))
    if float(moved[:3, 2] @ normal) < 0:  # slices run against the normal: reverse them
        voxels = voxels[:, :, ::-1]
        moved[:3, 3] = moved[:3, 3] + moved[:3, 2] * (voxels.shape[2] - 1)
        moved[:3, 2] = -moved[:3, 2]
    present = np.ones(voxels.shape[2], dtype=bool)
    return _finish(Stack(np.ascontiguousarray(voxels), moved, np.array([]), present, normal))


def _finish(stack: Stack) -> Stack:
    count = stack.voxels.shape[2]
    k = np.arange(count)
    origins = stack.affine[:3, 3][np.newaxis] + k[:, np.newaxis] * stack.affine[:3, 2]
    stack.positions_mm = origins @ stack.normal
    if stack.missing:
        stack.notes.append(f"{stack.missing} slice(s) missing from the series")
    if stack.duplicates:
        stack.notes.append(f"{stack.duplicates} slice(s) at a repeated position left out")
    if stack.shear_degrees > 0.5:
        stack.notes.append(f"gantry tilt of {stack.shear_degrees:.1f} degrees corrected")
    return stack


def _grid_indices(positions: np.ndarray) -> tuple[list[int], float]:
    """Grid index of each (ascending) position, and the step: the median neighbour distance.

    Distances up to GAP_FACTOR steps are one step (slightly irregular spacing); longer ones
    leave indices free for the slices that are missing.
    """
    if len(positions) == 1:
        return [0], 0.0
    diffs = np.diff(positions)
    step = float(np.median(diffs))
    grid = [0]
    for diff in diffs:
        grid.append(grid[-1] + (1 if diff <= GAP_FACTOR * step else max(1, round(diff / step))))
    return grid, step


def as_is_slices(stack: Stack) -> list[tuple[np.ndarray, float]]:
    """Every slice present, as acquired (no interpolation), turned to radiological display.

    Only flips and a transpose: columns are made to run toward the patient's left and rows
    toward posterior, whichever way the scanner stored them. Returns (pixels, position mm).
    """
    transpose, flip_rows, flip_cols = _display_flips(stack.affine[:3, 0], stack.affine[:3, 1])
    slices = []
    for k in np.flatnonzero(stack.present):
        image = stack.voxels[:, :, k].T  # (rows, columns)
        if transpose:
            image = image.T
        if flip_rows:
            image = image[::-1, :]
        if flip_cols:
            image = image[:, ::-1]
        slices.append((np.ascontiguousarray(image), float(stack.positions_mm[k])))
    return slices


def _display_flips(col_dir: np.ndarray, row_dir: np.ndarray) -> tuple[bool, bool, bool]:
    """(transpose, flip rows, flip columns) that show an in-plane grid radiologically."""
    if abs(col_dir[0]) >= abs(row_dir[0]):  # columns run mostly right-left
        return False, bool(row_dir[1] > 0), bool(col_dir[0] > 0)
    return True, bool(col_dir[1] > 0), bool(row_dir[0] > 0)


@dataclass(frozen=True)
class Reformat:
    slices: list[tuple[np.ndarray, float]]  # (pixels (rows, columns), z mm), inferior first
    affine: np.ndarray  # output voxel (column, row, slice index of the full grid) -> RAS mm
    z0_mm: float  # z of grid slice 0
    in_gaps: int  # output slices left out because missing source slices cut through them


def axial_slices(
    stack: Stack, spacing_mm: float = AXIAL_SPACING_MM, max_side: int = MAX_SIDE
) -> Reformat:
    """Reformat the stack to axial slices `spacing_mm` apart, inferior to superior.

    The output grid covers the volume's bounding box in RAS, pixels as fine as the volume's
    finest voxel (at least MIN_PIXEL_MM, at most `max_side` a side); linear interpolation
    through the stack's affine (nibabel.processing.resample_from_to). Returns the slices as
    (pixels, z mm) and how many were left out because missing source slices cut through them.
    """
    from nibabel import Nifti1Image
    from nibabel.processing import resample_from_to

    corners = _corners(stack)
    low, high = corners.min(axis=0), corners.max(axis=0)
    pixel = max(min(stack.voxel_mm[:2] + ((stack.spacing_mm,) if stack.is_volume else ())),
                MIN_PIXEL_MM)  # fmt: skip
    pixel = max(pixel, float(max(high[:2] - low[:2])) / max_side)
    nx, ny = (int(math.floor((high[i] - low[i]) / pixel)) + 1 for i in (0, 1))
    nz = int(math.floor((high[2] - low[2]) / spacing_mm)) + 1
    z0 = low[2] + ((high[2] - low[2]) - (nz - 1) * spacing_mm) / 2
    target = np.array(
        [[-pixel, 0, 0, high[0]], [0, -pixel, 0, high[1]], [0, 0, spacing_mm, z0], [0, 0, 0, 1]]
    )
    source = Nifti1Image(stack.voxels, stack.affine)  # type: ignore[no-untyped-call]
    resampled = resample_from_to(  # type: ignore[no-untyped-call]
        source, ((nx, ny, nz), target), order=1, cval=np.nan
    )
    out: np.ndarray = np.asarray(resampled.get_fdata(dtype=np.float32))
    support = _support(stack, target, (nx, ny, nz))
    slices, in_gaps = [], 0
    for k in range(nz):
        covered = support[:, :, k]
        share = float(covered.mean())
        if share < MIN_SUPPORT:
            continue
        plane = out[:, :, k]
        holes = covered & np.isnan(plane)
        if holes.sum() > GAP_SHARE * covered.sum():
            in_gaps += 1
            continue
        image = np.where(covered & ~holes, plane, np.nan).T  # (rows, columns)
        slices.append((np.ascontiguousarray(image), float(z0 + k * spacing_mm)))
    return Reformat(slices, target, float(z0), in_gaps)


def _corners(stack: Stack) -> np.ndarray:
    n = np.array(stack.voxels.shape) - 1
    ijk = np.array([[i, j, k, 1.0] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])])
    corners: np.ndarray = (stack.affine @ ijk.T).T[:, :3]
    return corners


def _support(stack: Stack, target: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Which output voxels fall inside the source grid, where linear interpolation has
    every neighbour (a NaN there then comes from a missing slice, not from the edge)."""
    to_source = np.linalg.inv(stack.affine) @ target
    nx, ny, nz = shape
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    limits = np.array(stack.voxels.shape) - 1 + 1e-6
    support = np.zeros(shape, dtype=bool)
    for k in range(nz):
        coords = [
            to_source[a, 0] * i + to_source[a, 1] * j + to_source[a, 2] * k + to_source[a, 3]
            for a in range(3)
        ]
        inside = np.ones((nx, ny), dtype=bool)
        for axis, c in enumerate(coords):
            inside &= (c >= -1e-6) & (c <= limits[axis])
        support[:, :, k] = inside
    return support


def window(
    values: np.ndarray, percentiles: tuple[float, float] = (0.5, 99.5)
) -> tuple[float, float]:
    """A display window over every finite value of a series: the 0.5-99.5 percentiles."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(finite, percentiles))
    return (low, high) if high > low else (low, low + 1.0)


def to_uint8(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Modality values -> 8-bit display values in the window; NaN (outside the volume) -> 0."""
    scaled = (np.nan_to_num(image, nan=low) - low) / (high - low)
    shown: np.ndarray = np.rint(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)
    return shown


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    if norm == 0:
        raise GeometryError("a direction of zero length")
    return np.asarray(v, dtype=np.float64) / norm


def _positive(normal: np.ndarray) -> np.ndarray:
    """The normal's sign chosen so its main component is positive (toward R, A or S)."""
    normal = _unit(normal)
    return normal if normal[int(np.argmax(np.abs(normal)))] > 0 else -normal


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-3 * max(abs(a), abs(b), 1.0)
