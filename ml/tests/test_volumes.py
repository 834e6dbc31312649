"""Series geometry: order along the normal, gaps, tilt, and axial reformats that put a known
lesion exactly where the phantom has it, whichever way the series was acquired."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.testing import PHANTOM_LESION_RAS, head_phantom
from ml.testing import phantom_planes as sample
from ml.volumes.geometry import (
    GeometryError,
    Plane,
    as_is_slices,
    axial_slices,
    stack_from_affine,
    stack_planes,
)

X, Y, Z = np.eye(3)


def rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit axis."""
    a = math.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    matrix: np.ndarray = np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * (k @ k)
    return matrix


# (column direction, row direction) in RAS, as scanners store them (DICOM conventions).
ORIENTATIONS = {
    "axial": (-X, -Y),  # columns toward patient left, rows toward posterior
    "coronal": (-X, -Z),  # rows toward inferior
    "sagittal": (-Y, -Z),  # columns toward posterior, rows toward inferior
    "oblique": (rotation(Z, 20) @ rotation(X, 35) @ -X, rotation(Z, 20) @ rotation(X, 35) @ -Y),
}


def lesion_in(reformat) -> tuple[float, float, float]:
    """RAS centroid of the bright lesion in the reformatted slices (the slice with most of it)."""
    best = max(reformat.slices, key=lambda s: int((np.nan_to_num(s[0]) > 150).sum()))
    image, z = best
    rows, cols = np.nonzero(np.nan_to_num(image) > 150)
    x = reformat.affine[0, 3] + cols.mean() * reformat.affine[0, 0]
    y = reformat.affine[1, 3] + rows.mean() * reformat.affine[1, 1]
    return float(x), float(y), z


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_any_thin_acquisition_reformats_to_axial_with_the_lesion_in_place(name):
    planes, images = sample(*ORIENTATIONS[name], slices=100, spacing=1.8)

    stack = stack_planes(planes, images)
    reformat = axial_slices(stack)

    assert stack.is_volume
    assert stack.orientation == name
    zs = [z for _, z in reformat.slices]
    assert np.allclose(np.diff(zs), 5.0)
    x, y, z = lesion_in(reformat)
    assert abs(x - PHANTOM_LESION_RAS[0]) < 2.5
    assert abs(y - PHANTOM_LESION_RAS[1]) < 2.5
    assert abs(z - PHANTOM_LESION_RAS[2]) <= 2.5
    # Radiological display: the head's anterior half is in the top rows, patient right left.
    middle = min(reformat.slices, key=lambda s: abs(s[1]))[0]
    assert np.nan_to_num(middle).any()


def test_order_comes_from_positions_not_from_the_order_files_arrive_in():
    planes, images = sample(*ORIENTATIONS["sagittal"], slices=60, spacing=2.0)
    shuffled = np.random.default_rng(3).permutation(len(planes))

    ordered = stack_planes(planes, images)
    reversed_ = stack_planes(planes[::-1], images[::-1])
    mixed = stack_planes([planes[i] for i in shuffled], [images[i] for i in shuffled])

    for other in (reversed_, mixed):
        assert np.array_equal(other.voxels, ordered.voxels, equal_nan=True)
        assert np.allclose(other.affine, ordered.affine)
    assert np.all(np.diff(ordered.positions_mm) > 0)


def test_missing_slices_are_counted_and_the_reformat_skips_the_gap_not_the_geometry():
    planes, images = sample(*ORIENTATIONS["axial"], slices=90, spacing=2.0)
    keep = [i for i in range(90) if not 20 <= i < 24]  # 4 slices lost, 8 mm below the lesion

    stack = stack_planes([planes[i] for i in keep], [images[i] for i in keep])
    reformat = axial_slices(stack)

    assert stack.missing == 4
    assert stack.slices == 86
    assert "4 slice(s) missing" in stack.notes[0]
    assert reformat.in_gaps >= 1
    x, y, z = lesion_in(reformat)
    assert abs(z - PHANTOM_LESION_RAS[2]) <= 2.5
    assert abs(x - PHANTOM_LESION_RAS[0]) < 2.5


def test_repeated_positions_keep_one_slice():
    planes, images = sample(*ORIENTATIONS["axial"], slices=10, spacing=5.0)

    stack = stack_planes(planes + planes[:2], images + images[:2])

    assert stack.slices == 10
    assert stack.duplicates == 2


def test_gantry_tilt_is_corrected_through_the_sheared_affine():
    tilt = rotation(X, 15)
    col_dir, row_dir = tilt @ -X, tilt @ -Y
    # The table moves along z; the tilted image planes do not move along their normal.
    planes, images = sample(col_dir, row_dir, slices=110, spacing=1.5, step=Z * 1.5)

    stack = stack_planes(planes, images)
    reformat = axial_slices(stack)

    assert stack.shear_degrees == pytest.approx(15, abs=0.2)
    assert any("gantry tilt" in note for note in stack.notes)
    x, y, z = lesion_in(reformat)
    assert abs(y - PHANTOM_LESION_RAS[1]) < 2.5
    assert abs(z - PHANTOM_LESION_RAS[2]) <= 2.5


def test_a_thick_axial_series_is_used_as_is_in_radiological_display():
    standard = as_is_slices(stack_planes(*sample(-X, -Y, slices=8, spacing=6.0)))
    # The same slices stored mirrored (columns toward the patient's right) and upside down.
    mirrored = as_is_slices(stack_planes(*sample(X, Y, slices=8, spacing=6.0)))
    # ... or transposed (columns along y).
    transposed = as_is_slices(stack_planes(*sample(-Y, -X, slices=8, spacing=6.0)))

    stack = stack_planes(*sample(-X, -Y, slices=8, spacing=6.0))
    assert not stack.is_volume
    assert stack.is_axial
    for other in (mirrored, transposed):
        for (a, za), (b, zb) in zip(standard, other, strict=True):
            assert za == pytest.approx(zb)
            assert np.array_equal(a, b)
    # Inferior first, and the lesion (right of midline, anterior) on the image's left, top.
    assert [z for _, z in standard] == sorted(z for _, z in standard)
    lesion = max(standard, key=lambda s: int((s[0] > 150).sum()))[0]
    rows, cols = np.nonzero(lesion > 150)
    assert cols.mean() < lesion.shape[1] / 2
    assert rows.mean() < lesion.shape[0] / 2


def test_a_thick_sagittal_series_is_not_axial():
    stack = stack_planes(*sample(*ORIENTATIONS["sagittal"], slices=20, spacing=5.0))

    assert not stack.is_volume
    assert not stack.is_axial
    assert stack.orientation == "sagittal"


def test_nifti_volumes_in_any_axis_order_reformat_the_same():
    size, pixel = 80, 2.0
    i, j, k = np.mgrid[:size, :size, :size].astype(np.float64)
    for perm in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        directions = np.eye(3)[list(perm)] * np.array([[1], [-1], [1]])  # one axis flipped
        affine = np.eye(4)
        affine[:3, :3] = directions.T * pixel
        affine[:3, 3] = -(size - 1) / 2 * pixel * directions.sum(axis=0)
        points = np.stack([i, j, k, np.ones_like(i)], axis=-1) @ affine.T
        volume = head_phantom(points[..., :3])

        reformat = axial_slices(stack_from_affine(volume, affine))

        x, y, z = lesion_in(reformat)
        assert abs(x - PHANTOM_LESION_RAS[0]) < 2.5, perm
        assert abs(y - PHANTOM_LESION_RAS[1]) < 2.5, perm
        assert abs(z - PHANTOM_LESION_RAS[2]) <= 2.5, perm


def test_slices_that_disagree_do_not_make_a_stack():
    planes, images = sample(-X, -Y, slices=3, spacing=5.0)
    other, other_images = sample(-Y, -Z, slices=1, spacing=5.0)

    with pytest.raises(GeometryError, match="orientation"):
        stack_planes(planes + other, images + other_images)
    with pytest.raises(GeometryError, match="size"):
        stack_planes(planes, [*images[:2], images[2][:50]])
    with pytest.raises(GeometryError):
        Plane.from_dicom([0, 0, "x"], [1, 0, 0, 0, 1, 0], [1, 1])  # type: ignore[list-item]
