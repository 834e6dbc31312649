"""What the study page and its JSON show: the summary sentence, the probability plot along the
slice axis (drawn as inline SVG by the template, no script or CDN), and the slice browser's
data."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from studies.models import Study, StudySlice

PLOT_WIDTH, PLOT_HEIGHT = 640, 180
MARGIN = {"left": 44, "right": 12, "top": 12, "bottom": 34}


def study_json(study: Study) -> dict[str, Any]:
    """The study's status and result, for the page's polling (and the API's body)."""
    return {
        "id": study.pk,
        "status": study.status,
        "status_display": study.get_status_display(),
        "finished": study.is_finished,
        "slices_total": study.slices_total,
        "slices_analysed": study.slices_analysed,
        "label": study.label or None,
        "label_display": study.get_label_display() if study.label else None,
        "tumour_probability": study.tumour_probability,
        "risk": study.risk or None,
        "error": study.error or None,
        "url": reverse("studies:detail", args=[study.pk]),
    }


def summary_sentence(study: Study) -> str:
    """One sentence that ties the study's result to its rule."""
    if study.status != Study.Status.DONE or study.tumour_probability is None:
        return ""
    rule = study.rule or {}
    k = rule.get("k", 1)
    thresholds = rule.get("thresholds", {})
    run = "slice" if k == 1 else f"run of {k} neighbouring slices"
    if study.risk == "low":
        return (
            f"No {run} reaches the medium-risk threshold ({thresholds.get('medium', 0):.0%}): "
            f"the most suspicious {run} has a tumour probability of "
            f"{study.tumour_probability:.1%}, hence low risk."
        )
    return (
        f"The most suspicious {run} has a tumour probability of at least "
        f"{study.tumour_probability:.1%} in every one of its slices, which is at least the "
        f"{'high' if study.risk == 'high' else 'medium'}-risk threshold "
        f"({thresholds.get(study.risk, 0):.0%}): hence {study.get_risk_display().lower()} risk, "
        "however many other slices look normal."
    )


def slice_rows(study: Study, slices: list[StudySlice]) -> list[dict[str, Any]]:
    """Everything the slice browser needs, slice by slice (static/js/slice-browser.js)."""
    flagged, driving = set(study.flagged_slices), set(study.driving_slices)
    return [
        {
            "index": s.index,
            "series": s.series.number,
            "position": s.position_mm,
            "status": s.status,
            "label": s.get_label_display() if s.label else "",
            "tumour": s.tumour_probability,
            "flagged": s.index in flagged,
            "driving": s.index in driving,
            "image": reverse("studies:slice-image", args=[study.pk, s.index]),
            "heatmap": reverse("studies:slice-heatmap", args=[study.pk, s.index])
            if s.heatmap
            else None,
            "heatmapClass": s.heatmap_class,
            "reason": s.gate_reason,
        }
        for s in slices
    ]


def plot(study: Study, slices: list[StudySlice]) -> dict[str, Any]:
    """Tumour probability of every slice, in order along the study, as SVG coordinates."""
    inner_w = PLOT_WIDTH - MARGIN["left"] - MARGIN["right"]
    inner_h = PLOT_HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    count = max(len(slices) - 1, 1)
    flagged = set(study.flagged_slices)

    def x(i: int) -> float:
        return round(MARGIN["left"] + inner_w * i / count, 1)

    def y(p: float) -> float:
        return round(MARGIN["top"] + inner_h * (1 - p), 1)

    points, lines, rejected = [], [], []
    current: list[str] = []
    last_series = None
    for order, s in enumerate(slices):
        if s.series_id != last_series and current:
            lines.append(" ".join(current))
            current = []
        last_series = s.series_id
        if s.tumour_probability is None:
            rejected.append({"x": x(order), "index": s.index})
            continue
        px, py = x(order), y(s.tumour_probability)
        current.append(f"{px},{py}")
        points.append(
            {
                "x": px,
                "y": py,
                "index": s.index,
                "flagged": s.index in flagged,
                "title": f"Slice {s.index + 1} ({s.position_mm:+.0f} mm): "
                f"tumour probability {s.tumour_probability:.1%}",
            }
        )
    if current:
        lines.append(" ".join(current))
    thresholds = (study.rule or {}).get("thresholds") or {}
    return {
        "width": PLOT_WIDTH,
        "height": PLOT_HEIGHT,
        "left": MARGIN["left"],
        "right": PLOT_WIDTH - MARGIN["right"],
        "top": MARGIN["top"],
        "bottom": PLOT_HEIGHT - MARGIN["bottom"],
        "points": points,
        "lines": lines,
        "rejected": rejected,
        "ticks": [{"y": y(v), "label": f"{v:.0%}"} for v in (0.0, 0.5, 1.0)],
        "thresholds": [
            {"y": y(v), "label": f"{name} {v:.0%}", "name": name}
            for name, v in sorted(thresholds.items(), key=lambda kv: kv[1])
        ],
        "first": slices[0].position_mm if slices else None,
        "last": slices[-1].position_mm if slices else None,
    }
