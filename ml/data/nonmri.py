"""A set of images that are NOT brain MRI slices, to measure the input gate.

Assembled only from what installed packages ship, plus generated images, so anyone can
rebuild it offline: scikit-image and scikit-learn sample photos (in colour and in gray,
cropped and rotated), pydicom's bundled non-brain test images (CT, ultrasound, nuclear
medicine, abdominal MR, segmentation masks) rendered to 8 bit, and generated documents,
screenshots, noise, blank images, gradients and patterns. Every sample is encoded (PNG or
JPEG), so the measurement goes through the same decode path as an upload.

Two categories are harder than the rest and reported apart: `head_ct` (CT slices of a
head, the closest thing to a brain MRI here) and `phantom` (the Shepp-Logan head phantom).
"""

from __future__ import annotations

import string
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
)
HARD_CATEGORIES = ("head_ct", "phantom")


@dataclass(frozen=True)
class Sample:
    name: str
    category: str
    data: bytes  # encoded image, as it would be uploaded


def non_mri_set(seed: int = 0) -> list[Sample]:
    """All samples: generated ones, package photos and rendered DICOM test images."""
    return [*generated(seed), *package_photos(), *dicom_images()]


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    """Encode a gray or RGB uint8 array (RGB order) as PNG or JPEG bytes."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(ext, image)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {ext}")
    return buffer.tobytes()


# --- generated -----------------------------------------------------------------------


def generated(seed: int = 0, per_kind: int = 30) -> Iterator[Sample]:
    """`per_kind` images of each generated kind, reproducible from `seed`."""
    kinds: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
        "document": document,
        "dark_document": dark_document,
        "screenshot": screenshot,
        "noise": noise,
        "blank": blank,
        "gradient": gradient,
        "pattern": pattern,
    }
    for offset, (kind, make) in enumerate(kinds.items()):
        rng = np.random.default_rng([seed, offset])
        for i in range(per_kind):
            ext = ".jpg" if i % 3 == 2 else ".png"
            yield Sample(f"{kind}-{i:02d}{ext}", kind, encode(make(rng), ext))


def _size(rng: np.random.Generator) -> tuple[int, int]:
    """(height, width), mostly page- or screen-shaped."""
    return int(rng.integers(240, 720)), int(rng.integers(240, 900))


def _words(rng: np.random.Generator, n: int) -> str:
    letters = list(string.ascii_letters + string.digits)
    return " ".join("".join(rng.choice(letters, rng.integers(2, 9))) for _ in range(n))


def _text_lines(
    img: np.ndarray, rng: np.random.Generator, colour: int | tuple[int, int, int], top: int = 20
) -> None:
    height, width = img.shape[:2]
    font, scale = int(rng.choice(FONTS)), float(rng.uniform(0.4, 1.0))
    step = int(28 * scale) + 8
    for y in range(top + step, height - 10, step):
        text = _words(rng, int(rng.integers(3, 12)))
        cv2.putText(img, text, (15, y), font, scale, colour, 1, cv2.LINE_AA)


def document(rng: np.random.Generator) -> np.ndarray:
    """A text page: light paper, dark text, sometimes a table rule or a colour heading."""
    height, width = _size(rng)
    paper = int(rng.integers(215, 256))
    img = np.full((height, width, 3), paper, np.uint8)
    heading = tuple(int(c) for c in rng.integers(0, 200, 3))
    cv2.putText(img, _words(rng, 3), (15, 35), FONTS[2], 1.1, heading, 2, cv2.LINE_AA)
    _text_lines(img, rng, (20, 20, 20), top=45)
    if rng.random() < 0.5:
        y = int(rng.integers(height // 3, height - 20))
        cv2.line(img, (10, y), (width - 10, y), (0, 0, 0), 2)
    return img if rng.random() < 0.5 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def dark_document(rng: np.random.Generator) -> np.ndarray:
    """Light text on black, as a terminal or a dark-mode page: dark background like an MRI."""
    height, width = _size(rng)
    img = np.full((height, width), int(rng.integers(0, 30)), np.uint8)
    _text_lines(img, rng, int(rng.integers(150, 256)))
    return img


def screenshot(rng: np.random.Generator) -> np.ndarray:
    """A desktop application: title bar, sidebar, buttons, text; light or dark theme."""
    height, width = _size(rng)
    dark = rng.random() < 0.4
    img = np.full((height, width, 3), 35 if dark else 245, np.uint8)
    bar = tuple(int(c) for c in rng.integers(0, 256, 3))
    cv2.rectangle(img, (0, 0), (width, 30), bar, -1)
    cv2.rectangle(img, (0, 30), (width // 5, height), (60, 60, 60) if dark else (225, 225, 230), -1)
    for _ in range(int(rng.integers(3, 8))):
        x, y = int(rng.integers(width // 5, width - 80)), int(rng.integers(40, height - 30))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(img, (x, y), (x + 70, y + 24), colour, -1)
    _text_lines(img, rng, (220, 220, 220) if dark else (30, 30, 30), top=40)
    return img


def noise(rng: np.random.Generator) -> np.ndarray:
    """Uniform, Gaussian, salt-and-pepper, blurred ('cloudy') or colour noise."""
    height, width = _size(rng)
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return rng.integers(0, 256, (height, width), dtype=np.uint8)
    if kind == 1:
        return np.clip(rng.normal(128, 40, (height, width)), 0, 255).astype(np.uint8)
    if kind == 2:
        return (rng.random((height, width)) < 0.1).astype(np.uint8) * 255
    if kind == 3:
        cloudy: np.ndarray = cv2.GaussianBlur(
            rng.normal(0, 1, (height, width)), (0, 0), rng.uniform(3, 30)
        )
        cloudy = (cloudy - cloudy.min()) / (np.ptp(cloudy) + 1e-9)
        return (255 * cloudy).astype(np.uint8)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def blank(rng: np.random.Generator) -> np.ndarray:
    """One flat colour or gray level, sometimes with faint sensor-like noise."""
    height, width = _size(rng)
    colour = rng.integers(0, 256, 3) if rng.random() < 0.3 else np.repeat(rng.integers(0, 256), 3)
    img = np.broadcast_to(colour.astype(np.float32), (height, width, 3)).copy()
    if rng.random() < 0.5:
        img += rng.normal(0, 2, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img if colour[0] != colour[1] else img[..., 0]


def gradient(rng: np.random.Generator) -> np.ndarray:
    """Linear or radial ramps, gray or between two colours."""
    height, width = _size(rng)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if rng.random() < 0.5:
        angle = rng.uniform(0, np.pi)
        ramp: np.ndarray = xx * np.cos(angle) + yy * np.sin(angle)
    else:
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ramp = -np.hypot(yy - cy, xx - cx)
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-9)
    if rng.random() < 0.4:
        return (255 * ramp).astype(np.uint8)
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    img: np.ndarray = start + ramp[..., np.newaxis] * (end - start).astype(np.float32)
    return img.astype(np.uint8)


def pattern(rng: np.random.Generator) -> np.ndarray:
    """Checkerboards, stripes and dot grids."""
    height, width = _size(rng)
    cell = int(rng.integers(4, 60))
    yy, xx = np.mgrid[0:height, 0:width]
    kind = int(rng.integers(0, 3))
    if kind == 0:
        mask = ((yy // cell) + (xx // cell)) % 2 == 0
    elif kind == 1:
        mask = (xx // cell) % 2 == 0
    else:
        mask = np.hypot(yy % (2 * cell) - cell, xx % (2 * cell) - cell) < cell / 2
    low, high = sorted(int(v) for v in rng.integers(0, 256, 2))
    return np.where(mask, high, low).astype(np.uint8)


# --- package photos --------------------------------------------------------------------

SKIMAGE_PHOTOS = (
    "astronaut", "brick", "camera", "cat", "cell", "chelsea", "checkerboard", "clock",
    "coffee", "coins", "colorwheel", "grass", "gravel", "horse", "hubble_deep_field",
    "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina", "rocket",
    "stereo_motorcycle", "text", "binary_blobs",
)  # fmt: skip


def package_photos() -> Iterator[Sample]:
    """scikit-image / scikit-learn sample images, each as given, gray, cropped, rotated."""
    for name, image in _package_sources():
        category = "phantom" if name == "shepp_logan_phantom" else "photo"
        for variant, pixels in _variants(image):
            ext = ".jpg" if variant == "crop" else ".png"
            yield Sample(f"{name}-{variant}{ext}", category, encode(pixels, ext))


def _package_sources() -> Iterator[tuple[str, np.ndarray]]:
    import skimage.data
    from sklearn.datasets import load_sample_images

    for name in (*SKIMAGE_PHOTOS, "shepp_logan_phantom"):
        image = getattr(skimage.data, name)()
        image = image[0] if isinstance(image, tuple) else image
        yield name, _to_uint8(image)
    sklearn = load_sample_images()
    for filename, image in zip(sklearn.filenames, sklearn.images, strict=True):
        yield filename.rsplit("/", 1)[-1].split(".")[0], image


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if image.dtype != np.uint8:
        image = image.astype(np.float64)
        image = 255 * (image - image.min()) / (np.ptp(image) + 1e-9)
    return image.astype(np.uint8)


def _variants(image: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    yield "original", image
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if image.ndim == 3:
        yield "gray", gray
    height, width = gray.shape
    side = int(0.6 * min(height, width))
    y, x = (height - side) // 2, (width - side) // 2
    yield "crop", gray[y : y + side, x : x + side]
    yield "rot90", np.ascontiguousarray(np.rot90(gray))


# --- DICOM test files ------------------------------------------------------------------

# pydicom's bundled files that show a body part other than the brain (or no body at all),
# with the windows to render them at. MR_small and the 16x16 DICOMDIR images are left out:
# their anatomy is unclear or they are too small to mean anything.
DICOM_FILES = {
    "CT_small.dcm": "ct",  # abdomen/spine CT
    "examples_overlay.dcm": "mr_body",  # abdominal MR
    "JPEG2000.dcm": "nuclear",  # whole-body nuclear medicine
    "JPGExtended.dcm": "nuclear",
    "examples_rgb_color.dcm": "ultrasound",
    "examples_palette.dcm": "ultrasound",
    "examples_jpeg2k.dcm": "ultrasound",
    "examples_ybr_color.dcm": "ultrasound",
    "liver_1frame.dcm": "segmentation",
    "image_dfl.dcm": "secondary_capture",
    "GDCMJ2K_TextGBR.dcm": "secondary_capture",
    "SC_rgb_jpeg.dcm": "secondary_capture",
    "J2K_pixelrep_mismatch.dcm": "head_ct",
    "693_J2KI.dcm": "head_ct",
}
CT_WINDOWS = {"brain": (40, 80), "soft": (40, 400), "bone": (500, 2000)}  # (level, width) HU


def dicom_images() -> Iterator[Sample]:
    """The DICOM_FILES rendered to 8 bit: a percentile window, and CT windows for CT."""
    import pydicom
    from pydicom.data import get_testdata_file

    for filename, category in DICOM_FILES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = get_testdata_file(filename)
            if not isinstance(path, str):  # None: not in this pydicom's test files
                raise FileNotFoundError(f"pydicom has no test file {filename}")
            dataset = pydicom.dcmread(path)
            pixels = dataset.pixel_array
        if pixels.ndim == 4 or (pixels.ndim == 3 and pixels.shape[-1] != 3):
            pixels = pixels[len(pixels) // 2]  # the middle frame of a multi-frame file
        stem = filename.removesuffix(".dcm")
        yield Sample(f"{stem}-auto.png", category, encode(_percentile_window(pixels)))
        if getattr(dataset, "Modality", "") == "CT":
            hu = pixels * float(dataset.get("RescaleSlope", 1)) + float(
                dataset.get("RescaleIntercept", 0)
            )
            for window, (level, width) in CT_WINDOWS.items():
                yield Sample(f"{stem}-{window}.png", category, encode(_window(hu, level, width)))


def _percentile_window(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    low, high = np.percentile(pixels, [0.5, 99.5])
    return _window(pixels, (low + high) / 2, max(high - low, 1e-6))


def _window(values: np.ndarray, level: float, width: float) -> np.ndarray:
    scaled = (values.astype(np.float64) - (level - width / 2)) / width
    return np.clip(255 * scaled, 0, 255).astype(np.uint8)
