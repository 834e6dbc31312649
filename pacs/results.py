"""The result as DICOM objects a PACS files in the patient's own study (highdicom).

- `build_key_images`: a Secondary Capture series, one image per key slice: the slice with its
  heatmap overlay, enlarged to be legible, and a burned-in band "AI result — not for
  diagnosis" with the slice's finding.
- `build_report`: a Comprehensive SR holding a TID 1500 measurement report: qualitative
  evaluations (tumour present / absent, the class, the risk level, "not for diagnostic use"),
  the calibrated tumour probability as a measurement, the model's name and version as the
  algorithm identification (TID 4019), the key images as its source images and its evidence.

Both carry the original study's identifiers (`ReturnIdentifiers`), so the PACS puts them in
that study, beside the images they were made from. Pure functions: no database, no network;
UIDs are given by the caller (pacs.delivery makes them deterministic, so a resend replaces).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import highdicom as hd
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from ml.serving.overlay import overlay_png
from pacs.identifiers import ReturnIdentifiers

MANUFACTURER = "brainscan"
LABEL = "AI result \u2014 not for diagnosis"
DISCLAIMER = "not for diagnostic use"
SERIES_DESCRIPTION_SR = "brainscan AI result - not for diagnostic use"
SERIES_DESCRIPTION_SC = "brainscan AI key images - not for diagnosis"
SR_SERIES_NUMBER, SC_SERIES_NUMBER = 9901, 9902  # high, out of the scanner's way
MIN_WIDTH = 512  # key images are enlarged to at least this width, so the label is legible
BAND_HEIGHT = 56
LABEL_COLOUR = (255, 214, 0)
UTF8 = "ISO_IR 192"
SEXES = ("M", "F", "O")  # the Patient's Sex values; anything else is left empty

# Our own concepts (a private coding scheme, declared in the SR's Coding Scheme
# Identification); standard codes where DICOM has them (Finding, Present/Absent, no units).
SCHEME = "99BRAINSCAN"


def _code(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value=value, scheme_designator=SCHEME, meaning=meaning)


PROCEDURE = _code("BS001", "AI analysis of brain MRI")
BRAIN_TUMOUR = _code("BS002", "Brain tumour")
TUMOUR_CLASS = _code("BS003", "Tumour class")
RISK_LEVEL = _code("BS004", "Risk level")
PROBABILITY = _code("BS005", "Calibrated tumour probability")
INTENDED_USE = _code("BS006", "Intended use")
NOT_DIAGNOSTIC = _code("BS007", "Not for diagnostic use")
CLASSES = {
    "glioma": _code("BS101", "Glioma"),
    "meningioma": _code("BS102", "Meningioma"),
    "pituitary": _code("BS103", "Pituitary tumour"),
    "notumor": _code("BS104", "No tumour"),
}
RISKS = {
    "low": _code("BS201", "Low risk"),
    "medium": _code("BS202", "Medium risk"),
    "high": _code("BS203", "High risk"),
}


@dataclass(frozen=True)
class ResultSummary:
    """A finished study's result, as the study page shows it (our own values only)."""

    label: str  # a key of CLASSES
    tumour_probability: float
    risk: str  # a key of RISKS
    model_name: str
    model_version: str
    normal_class: str = "notumor"

    @property
    def tumour_present(self) -> bool:
        return self.label != self.normal_class


@dataclass(frozen=True)
class KeySlice:
    """One key slice: its PNG and heatmap PNG (private storage) and what the page says of it."""

    index: int  # 0-based, along the study
    image_png: bytes
    heatmap_png: bytes | None
    caption: str  # e.g. "Slice 12: glioma, tumour 93.1 %"


def derived_uid(*parts: str) -> str:
    """A UID of the 2.25 form (PS3.5 B.2) from a name-based UUID (version 5) of `parts`:
    the same parts, the same UID (pydicom's generate_uid ignores its entropy without a
    prefix, so it cannot be used for this)."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, chr(0).join(parts)).int}"


@dataclass(frozen=True)
class ResultUIDs:
    sr_series: str
    sr_instance: str
    sc_series: str
    sc_instances: tuple[str, ...]

    @classmethod
    def derived(cls, entropy: Sequence[str], key_images: int) -> ResultUIDs:
        """The same entropy gives the same UIDs (2.25 form): a resend replaces, never adds."""

        def uid(*what: str) -> str:
            return derived_uid(*entropy, *what)

        return cls(
            sr_series=uid("sr-series"),
            sr_instance=uid("sr-instance"),
            sc_series=uid("sc-series"),
            sc_instances=tuple(uid("sc-instance", str(i)) for i in range(key_images)),
        )


# --- key images ----------------------------------------------------------------------------


def key_image_pixels(key: KeySlice) -> np.ndarray:
    """RGB uint8: the slice with its heatmap blended over it (ml.serving.overlay), enlarged
    to MIN_WIDTH, above a black band with the burned-in label and the slice's caption."""
    gray = cv2.imdecode(np.frombuffer(key.image_png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise ValueError("The key slice's image is not a PNG.")
    rgb = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if key.heatmap_png:
        heat = cv2.imdecode(np.frombuffer(key.heatmap_png, np.uint8), cv2.IMREAD_GRAYSCALE)
        if heat is not None and heat.shape == gray.shape:
            blended = overlay_png(gray, heat.astype(np.float32) / 255.0)
            decoded = cv2.imdecode(np.frombuffer(blended, np.uint8), cv2.IMREAD_COLOR)
            if decoded is not None:
                rgb = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    scale = max(1.0, MIN_WIDTH / rgb.shape[1])
    if scale > 1.0:
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
    return _with_band(rgb, key.caption)


def _with_band(rgb: np.ndarray, caption: str) -> np.ndarray:
    canvas = Image.new("RGB", (rgb.shape[1], rgb.shape[0] + BAND_HEIGHT), "black")
    canvas.paste(Image.fromarray(rgb), (0, 0))
    draw = ImageDraw.Draw(canvas)
    top = rgb.shape[0]
    _draw_label(draw, (8, top + 4), size=22)
    draw.text((8, top + 32), caption, fill=(255, 255, 255), font=ImageFont.load_default(size=16))
    return np.asarray(canvas, dtype=np.uint8).copy()


def _draw_label(draw: ImageDraw.ImageDraw, at: tuple[int, int], *, size: int) -> None:
    """LABEL, its em dash drawn as a bar (Pillow's built-in font has no glyph for it, and the
    label must not depend on which fonts a server has installed)."""
    font = ImageFont.load_default(size=size)
    before, after = LABEL.split(" \u2014 ")
    x, y = at
    draw.text((x, y), before, fill=LABEL_COLOUR, font=font)
    x += round(draw.textlength(before + " ", font=font))
    dash, middle = round(size * 0.9), y + round(size * 0.55)
    draw.rectangle((x, middle, x + dash, middle + 1), fill=LABEL_COLOUR)
    x += dash + round(draw.textlength(" ", font=font))
    draw.text((x, y), after, fill=LABEL_COLOUR, font=font)


def build_key_images(
    identifiers: ReturnIdentifiers, keys: Sequence[KeySlice], uids: ResultUIDs
) -> list[Dataset]:
    """One Secondary Capture image per key slice, in the original study."""
    images = []
    for number, (key, sop_uid) in enumerate(zip(keys, uids.sc_instances, strict=True), start=1):
        image = hd.sc.SCImage(
            pixel_array=key_image_pixels(key),
            photometric_interpretation="RGB",
            bits_allocated=8,
            coordinate_system="PATIENT",
            patient_orientation=("L", "P"),  # brainscan's slices: radiological, anterior up
            series_instance_uid=uids.sc_series,
            series_number=SC_SERIES_NUMBER,
            sop_instance_uid=sop_uid,
            instance_number=number,
            manufacturer=MANUFACTURER,
            study_instance_uid=identifiers.StudyInstanceUID,
            patient_id=identifiers.PatientID or None,
            patient_name=identifiers.PatientName or None,
            patient_birth_date=identifiers.PatientBirthDate or None,
            patient_sex=identifiers.PatientSex if identifiers.PatientSex in SEXES else None,
            accession_number=identifiers.AccessionNumber or None,
            study_id=identifiers.StudyID or None,
            study_date=identifiers.StudyDate or None,
            study_time=identifiers.StudyTime or None,
            referring_physician_name=identifiers.ReferringPhysicianName or None,
        )
        image.SeriesDescription = SERIES_DESCRIPTION_SC
        image.ImageType = ["DERIVED", "SECONDARY"]
        image.BurnedInAnnotation = "YES"
        image.add_new("Laterality", "CS", None)  # Type 2C: a brain is not paired, so empty
        image.DerivationDescription = (
            f"AI heatmap overlay of analysed slice {key.index + 1}; {DISCLAIMER}"
        )
        image.ImageComments = f"{LABEL}. {key.caption}"
        images.append(_charset(image, identifiers))
    return images


def _charset(dataset: Dataset, ids: ReturnIdentifiers) -> Dataset:
    """The source's character set when it had one (names come back as they were sent);
    UTF-8 when our own text (the em dash) needs more than ASCII."""
    if ids.SpecificCharacterSet:
        dataset.SpecificCharacterSet = ids.SpecificCharacterSet.split("\\")
        if len(dataset.SpecificCharacterSet) == 1:
            dataset.SpecificCharacterSet = dataset.SpecificCharacterSet[0]
    else:
        dataset.SpecificCharacterSet = UTF8
    return dataset


# --- the structured report -----------------------------------------------------------------


def build_report(
    identifiers: ReturnIdentifiers,
    summary: ResultSummary,
    key_images: Sequence[Dataset],
    uids: ResultUIDs,
) -> Dataset:
    """A Comprehensive SR (TID 1500) in the original study; `key_images` (from
    `build_key_images`, at least one) are its evidence and source images."""
    if not key_images:
        raise ValueError("The report needs at least one key image as its evidence.")
    if summary.label not in CLASSES or summary.risk not in RISKS:
        raise ValueError("The result's class or risk level is not one brainscan reports.")
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=derived_uid(uids.sr_instance, "tracking"),
            identifier="brainscan study result",
        ),
        algorithm_id=hd.sr.AlgorithmIdentification(
            name=summary.model_name, version=summary.model_version
        ),
        finding_type=BRAIN_TUMOUR,
        qualitative_evaluations=_evaluations(summary),
        measurements=[
            hd.sr.Measurement(
                name=PROBABILITY,
                value=round(float(summary.tumour_probability), 4),
                unit=codes.UCUM.NoUnits,
            )
        ],
        source_images=[
            hd.sr.SourceImageForMeasurementGroup(
                referenced_sop_class_uid=image.SOPClassUID,
                referenced_sop_instance_uid=image.SOPInstanceUID,
            )
            for image in key_images
        ],
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_device_context=hd.sr.ObserverContext(
                observer_type=codes.DCM.Device,
                observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                    uid=derived_uid(uids.sr_instance, "device"),
                    name=MANUFACTURER,
                    manufacturer_name=MANUFACTURER,
                    model_name=summary.model_version[:64],
                ),
            )
        ),
        procedure_reported=PROCEDURE,
        imaging_measurements=[group],
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=list(key_images),
        content=report[0],
        series_instance_uid=uids.sr_series,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=uids.sr_instance,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,  # an unverified machine result, never a signed report
        is_verified=False,
    )
    sr.SeriesDescription = SERIES_DESCRIPTION_SR
    _declare_scheme(sr)
    return _charset(sr, identifiers)


def _evaluations(summary: ResultSummary) -> list[hd.sr.QualitativeEvaluation]:
    present = codes.SCT.Present if summary.tumour_present else codes.SCT.Absent
    return [
        hd.sr.QualitativeEvaluation(name=BRAIN_TUMOUR, value=present),
        hd.sr.QualitativeEvaluation(name=TUMOUR_CLASS, value=CLASSES[summary.label]),
        hd.sr.QualitativeEvaluation(name=RISK_LEVEL, value=RISKS[summary.risk]),
        hd.sr.QualitativeEvaluation(name=INTENDED_USE, value=NOT_DIAGNOSTIC),
    ]


def _declare_scheme(sr: Dataset) -> None:
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "brainscan result concepts"
    item.CodingSchemeResponsibleOrganization = "brainscan"
    sr.CodingSchemeIdentificationSequence = [item]
