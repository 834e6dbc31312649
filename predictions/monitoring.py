"""How each model version in use does on the scans it analysed, judged by the reviewers'
verdicts (predictions.reviews records them): agreement, sensitivity, gate rejections and
blind reads, for the model-in-use page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max

from predictions.models import CLASSES, Label, Prediction
from predictions.reviews import reviewed

TUMOUR_CLASSES = {Label.GLIOMA, Label.MENINGIOMA, Label.PITUITARY}


@dataclass
class ModelInUse:
    """How one model version does on the scans it analysed, judged by the reviewers."""

    version: str
    last_used: datetime
    by_status: dict[str, int] = field(default_factory=dict)
    # confusion[reviewer's class][AI's class] = number of reviewed scans
    confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: {truth: dict.fromkeys(CLASSES, 0) for truth in CLASSES}
    )
    # Blind reads with a verdict: how many, and how many times the AI's class matched the
    # reviewer's first impression (before seeing it) and their final class (after).
    blind_reads: int = 0
    blind_agreed_first: int = 0
    blind_agreed_final: int = 0
    blind_changed: int = 0  # the final class differs from the first impression

    @property
    def blind_first_rate(self) -> float | None:
        return _ratio(self.blind_agreed_first, self.blind_reads)

    @property
    def blind_final_rate(self) -> float | None:
        return _ratio(self.blind_agreed_final, self.blind_reads)

    @property
    def analysed(self) -> int:
        return sum(self.by_status.values())

    @property
    def reviewed(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def agreed(self) -> int:
        return sum(self.confusion[name][name] for name in CLASSES)

    @property
    def agreement_rate(self) -> float | None:
        return _ratio(self.agreed, self.reviewed)

    @property
    def gate_rejected_rate(self) -> float | None:
        """Rejected by the input gate, among scans the model looked at (done or rejected)."""
        done = self.by_status.get(Prediction.Status.DONE, 0)
        rejected = self.by_status.get(Prediction.Status.REJECTED, 0)
        return _ratio(rejected, done + rejected)

    @property
    def sensitivity(self) -> dict[str, float | None]:
        """Per class: of the scans the reviewers put in it, the share the AI put there too."""
        return {
            name: _ratio(self.confusion[name][name], sum(self.confusion[name].values()))
            for name in CLASSES
        }

    @property
    def tumour_sensitivity(self) -> float | None:
        """Of the reviewed scans with any tumour, the share the AI called some tumour."""
        rows = [self.confusion[name] for name in CLASSES if name in TUMOUR_CLASSES]
        found = sum(row[ai] for row in rows for ai in CLASSES if ai in TUMOUR_CLASSES)
        return _ratio(found, sum(sum(row.values()) for row in rows))

    def matrix(self) -> list[dict[str, object]]:
        """Rows for a template: the reviewer's class, counts by the AI's class, sensitivity."""
        sensitivity = self.sensitivity
        return [
            {
                "truth": Label(truth).label,
                "counts": [(self.confusion[truth][ai], ai == truth) for ai in CLASSES],
                "sensitivity": sensitivity[truth],
            }
            for truth in CLASSES
        ]


def models_in_use() -> list[ModelInUse]:
    """One summary per model version, most recently used first. Two grouped queries in all."""
    versions: dict[str, ModelInUse] = {}
    by_status = (
        Prediction.objects.exclude(model_version="")
        .values("model_version", "status")
        .annotate(n=Count("id"), last=Max("created_at"))
    )
    for row in by_status:
        version = row["model_version"]
        stats = versions.setdefault(version, ModelInUse(version, last_used=row["last"]))
        stats.by_status[row["status"]] = row["n"]
        stats.last_used = max(stats.last_used, row["last"])
    verdicts = (
        reviewed()
        .exclude(model_version="")
        .values("model_version", "label", "review_verdict", "review_label", "first_impression")
        .annotate(n=Count("id"))
    )
    for verdict in verdicts:
        truth = (
            verdict["label"]
            if verdict["review_verdict"] == Prediction.Verdict.AGREE
            else verdict["review_label"]
        )
        stats = versions[verdict["model_version"]]
        if truth in stats.confusion and verdict["label"] in CLASSES:
            stats.confusion[truth][verdict["label"]] += verdict["n"]
        if verdict["first_impression"]:
            stats.blind_reads += verdict["n"]
            stats.blind_agreed_first += verdict["n"] * (
                verdict["first_impression"] == verdict["label"]
            )
            stats.blind_agreed_final += verdict["n"] * (truth == verdict["label"])
            stats.blind_changed += verdict["n"] * (truth != verdict["first_impression"])
    return sorted(versions.values(), key=lambda stats: stats.last_used, reverse=True)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
