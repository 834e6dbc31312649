from __future__ import annotations

import cv2

from ml.cli.bench import markdown, pick_slices, worker
from ml.testing import mri_like, write_tiny_artifacts


def test_worker_measures_every_figure_on_the_given_slices(tmp_path):
    model = write_tiny_artifacts(tmp_path / "model")
    for i in range(8):
        folder = tmp_path / "data" / "Testing" / ["glioma", "notumor"][i % 2]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.jpg"), mri_like(128, seed=i))

    result = worker(model, tmp_path / "data", n=6, threads=1)

    assert result["n"] == 6
    assert result["accepted"] == 6  # Grad-CAM really ran on every slice
    assert result["analyze_gradcam_ms"]["p95"] >= result["analyze_gradcam_ms"]["p50"] > 0
    assert result["model_call"]["speedup_p50"] > 0
    assert result["peak_rss_mb_serving"] > 0
    table = markdown(
        {
            "model": {"version": "v", "architecture": "tiny", "input_size": 32, "parameters": 1},
            "machine": {"cpu_count": 2, "load_average_1min_before": 0.1},
            "training_running": False,
            "runs": [result],
        }
    )
    assert table.count("\n| float32 | 1 |") == 1


def test_slices_are_spread_over_the_sorted_test_files(tmp_path):
    for name in ("a", "b", "c", "d", "e"):
        (tmp_path / "Testing" / name).mkdir(parents=True)
        (tmp_path / "Testing" / name / "x.jpg").write_bytes(b"")

    picked = pick_slices(tmp_path, 3)

    assert [p.parent.name for p in picked] == ["a", "c", "e"]


def test_agreement_compares_only_slices_both_precisions_accepted():
    from ml.cli.bench import _agreement

    runs = [
        {"precision": "float32", "probabilities": [[0.9, 0.1], [], [0.4, 0.6]]},
        {"precision": "bfloat16", "probabilities": [[0.88, 0.12], [0.5, 0.5], [0.6, 0.4]]},
    ]

    assert _agreement(runs) == {
        "slices": 2,
        "max_abs_probability_difference": 0.2,
        "same_label": 0.5,
    }


def test_percentiles_scale_round_and_handle_no_values():
    from ml.cli.bench import percentiles

    assert percentiles([0.001, 0.002, 0.003, 0.004], (50, 100), scale=1000, digits=1) == {
        "p50": 2.5,
        "p100": 4.0,
    }
    assert percentiles([]) == {}
