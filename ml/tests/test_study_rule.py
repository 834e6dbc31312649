from __future__ import annotations

import pytest

from ml.study import SliceResult, StudyRule, noisy_or, run_scores

THRESHOLDS = {"medium": 0.2, "high": 0.5}
TUMOUR = {"glioma": 0.7, "meningioma": 0.1, "notumor": 0.1, "pituitary": 0.1}
NORMAL = {"glioma": 0.01, "meningioma": 0.01, "notumor": 0.97, "pituitary": 0.01}


def slices(values, series=0, start=0, probabilities=None):
    return [
        SliceResult(start + i, series, p, probabilities or (TUMOUR if (p or 0) > 0.5 else NORMAL))
        for i, p in enumerate(values)
    ]


def test_a_run_of_k_tumour_slices_among_many_normal_ones_makes_a_tumour_study():
    values = [0.01] * 60 + [0.9, 0.8, 0.85] + [0.02] * 60

    result = StudyRule(3, THRESHOLDS).apply(slices(values))

    assert result.risk == "high"
    assert result.label == "glioma"
    assert result.tumour_probability == pytest.approx(0.8)
    assert result.driving == [60, 61, 62]
    assert result.flagged == [60, 61, 62]


def test_one_odd_slice_does_not_flag_a_study_when_k_asks_for_neighbours():
    values = [0.95] + [0.02] * 30  # a suspicious skull base, then normal brain

    assert StudyRule(2, THRESHOLDS).apply(slices(values)).risk == "low"
    assert StudyRule(2, THRESHOLDS).apply(slices(values)).label == "notumor"
    assert StudyRule(1, THRESHOLDS).apply(slices(values)).risk == "high"


def test_rejected_slices_are_left_out_and_order_is_by_index():
    shuffled = [
        SliceResult(3, 0, 0.9, TUMOUR),
        SliceResult(1, 0, 0.9, TUMOUR),
        SliceResult(2, 0, None),
        SliceResult(0, 0, 0.01, NORMAL),
    ]

    result = StudyRule(2, THRESHOLDS).apply(shuffled)

    assert result.analysed == 3
    assert result.driving == [1, 3]  # neighbours once the rejected slice is left out
    assert result.risk == "high"


def test_the_study_takes_its_most_suspicious_series_and_short_series_use_what_they_have():
    study = slices([0.01] * 20, series=0) + slices([0.6], series=1, start=20)

    result = StudyRule(3, THRESHOLDS).apply(study)

    assert result.driving == [20]
    assert result.risk == "high"


def test_nothing_analysed_means_no_result():
    result = StudyRule(2, THRESHOLDS).apply([SliceResult(0, 0, None)])

    assert (result.tumour_probability, result.risk, result.label) == (None, None, None)


def test_from_card_reads_the_calibrated_rule_or_falls_back_to_the_default():
    card = {"study_rule": {"k": 3, "thresholds": {"medium": 0.3, "high": 0.6}}}

    assert StudyRule.from_card(card, THRESHOLDS) == StudyRule(3, {"medium": 0.3, "high": 0.6}, True)
    default = StudyRule.from_card({}, THRESHOLDS)
    assert (default.k, default.thresholds, default.calibrated) == (2, THRESHOLDS, False)
    assert "not calibrated" in default.describe()


def test_candidate_scores():
    assert run_scores([0.1, 0.9, 0.8, 0.2], 2) == pytest.approx(0.8)
    assert run_scores([0.1, 0.9, 0.8, 0.2], 1) == pytest.approx(0.9)
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)
