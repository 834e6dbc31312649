"""The study-level rule: one tumour probability for a whole study from its slice results.

A study is one or more series, each a run of slices ordered along the head's axis. The rule
is explicit and has one parameter besides its thresholds:

    series score = max over every run of k consecutive analysed slices of the LOWEST tumour
                   probability in the run (k = 1: the most suspicious slice)
    study score  = max over its series

so a study scores high when k neighbouring slices all look like tumour, however many of its
other slices look normal: a study is never "no tumour" because most of its slices are
normal. k > 1 asks for agreement between neighbours, which one odd slice (a skull base,
an artefact) does not have. Slices the input gate rejected are left out (they are not brain
MRI as far as the model can tell); a series with fewer analysed slices than k uses them all.

The risk of the study is the slice rule's (`ml.card.risk_level`) applied to the study score
with the study's own thresholds. `ml.cli.study_rule` chooses k and the thresholds on
pseudo-studies and writes them to the model card as `study_rule`; `StudyRule.from_card`
reads them back (an uncalibrated default, k = 2 with the slice thresholds, otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ml.card import risk_level

CARD_KEY = "study_rule"
DEFAULT_K = 2


@dataclass(frozen=True)
class SliceResult:
    """What the rule needs of one slice: its place and the model's answer (None: rejected)."""

    index: int  # the slice's number in the study (0, 1, ...), in order along the head
    series: int  # which series it belongs to
    tumour_probability: float | None  # None: the input gate rejected it, or it failed
    probabilities: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyResult:
    tumour_probability: float | None  # the study score; None when no slice was analysed
    risk: str | None
    label: str | None  # the normal class below the medium threshold, else the likeliest tumour
    driving: list[int]  # indices of the k slices that give the score
    flagged: list[int]  # indices of every slice at or above the medium threshold
    analysed: int


@dataclass(frozen=True)
class StudyRule:
    k: int
    thresholds: dict[str, float]  # "medium", "high" on the study score
    calibrated: bool = False  # chosen on pseudo-studies (ml.cli.study_rule), or the default

    @classmethod
    def from_card(
        cls, card_extra: Mapping[str, Any], slice_thresholds: Mapping[str, float]
    ) -> StudyRule:
        """The card's `study_rule`, or k = DEFAULT_K with the slice thresholds."""
        stored = card_extra.get(CARD_KEY) or {}
        if stored:
            thresholds = {k: float(v) for k, v in stored["thresholds"].items()}
            return cls(int(stored["k"]), thresholds, calibrated=True)
        return cls(DEFAULT_K, {k: float(v) for k, v in slice_thresholds.items()})

    def describe(self) -> str:
        if self.k == 1:
            run = "the highest tumour probability of any analysed slice"
        else:
            run = (
                f"the highest, over every run of {self.k} neighbouring analysed slices, of the "
                "lowest tumour probability in the run"
            )
        return (
            f"Study tumour probability = {run}; risk medium from {self.thresholds['medium']:.2f}, "
            f"high from {self.thresholds['high']:.2f}"
            + ("." if self.calibrated else " (default rule, not calibrated for this model).")
        )

    def series_score(self, probabilities: Sequence[float]) -> tuple[float, list[int]]:
        """(score, positions in `probabilities` of the run that gives it) for one series."""
        if not probabilities:
            raise ValueError("no analysed slice")
        k = min(self.k, len(probabilities))
        best, start = -1.0, 0
        for i in range(len(probabilities) - k + 1):
            low = min(probabilities[i : i + k])
            if low > best:
                best, start = low, i
        return best, list(range(start, start + k))

    def apply(self, slices: Sequence[SliceResult], normal_class: str = "notumor") -> StudyResult:
        analysed = [s for s in slices if s.tumour_probability is not None]
        if not analysed:
            return StudyResult(None, None, None, [], [], 0)
        best: tuple[float, list[SliceResult]] | None = None
        for series in sorted({s.series for s in analysed}):
            run = sorted((s for s in analysed if s.series == series), key=lambda s: s.index)
            values = [s.tumour_probability for s in run if s.tumour_probability is not None]
            score, where = self.series_score(values)
            if best is None or score > best[0]:
                best = (score, [run[i] for i in where])
        assert best is not None
        score, driving = best
        risk = risk_level(score, self.thresholds)
        medium = self.thresholds["medium"]
        flagged = [
            s.index
            for s in analysed
            if s.tumour_probability is not None and s.tumour_probability >= medium
        ]
        return StudyResult(
            tumour_probability=score,
            risk=risk,
            label=normal_class if risk == "low" else _likeliest_tumour(driving, normal_class),
            driving=[s.index for s in driving],
            flagged=sorted(flagged),
            analysed=len(analysed),
        )


def _likeliest_tumour(driving: Sequence[SliceResult], normal_class: str) -> str | None:
    """The tumour class with the most probability summed over the driving slices."""
    totals: dict[str, float] = {}
    for s in driving:
        for name, p in s.probabilities.items():
            if name != normal_class:
                totals[name] = totals.get(name, 0.0) + float(p)
    return max(totals, key=totals.__getitem__) if totals else None


def run_scores(probabilities: Sequence[float], k: int) -> float:
    """The series score of `StudyRule` with run length k (for calibration)."""
    return StudyRule(k, {"medium": 1.0, "high": 1.0}).series_score(probabilities)[0]


def noisy_or(probabilities: Sequence[float]) -> float:
    """1 - prod(1 - p): a candidate the calibration compares against (it assumes independent
    slices, which neighbouring slices are not, so it saturates on long normal studies)."""
    product = 1.0
    for p in probabilities:
        product *= 1.0 - float(p)
    return 1.0 - product
