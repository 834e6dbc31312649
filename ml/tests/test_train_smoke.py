"""A 2-step training run on tiny generated images: the whole recipe, in seconds."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ml import CLASS_NAMES
from ml.card import load_card, sha256_file
from ml.cli.train import main as train_main
from ml.image.arrays import as_gray


def _write_fake_dataset(root, per_class: int = 6) -> None:
    rng = np.random.default_rng(0)
    for split in ("Training", "Testing"):
        for k, name in enumerate(CLASS_NAMES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                img = np.zeros((48, 40), np.uint8)
                cv2.ellipse(img, (20, 24), (15, 19), 0, 0, 360, 90 + 20 * k, -1)
                img = as_gray(cv2.add(img, rng.integers(0, 30, img.shape).astype(np.uint8)))
                cv2.imwrite(str(folder / f"{split[:2]}-{name}-{i}.png"), img)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("smoke")
    data = tmp_path / "data"
    _write_fake_dataset(data)
    out = tmp_path / "out"
    args = ["--data", str(data), "--out", str(out), "--arch", "cnn_small", "--size", "32"]
    args += ["--epochs", "2", "--max-steps", "1", "--batch-size", "8", "--verbose", "0"]
    args += ["--audit-json", str(tmp_path / "none.json"), "--cache-dir", str(tmp_path / "c")]
    args += ["--no-ixi"]
    train_main(args)
    return out


def test_two_step_training_writes_a_consistent_model_and_card(trained):
    card = load_card(trained / "model_card.json")
    assert card.sha256 == sha256_file(trained / "brainscan.keras")
    assert card.input_size == 32
    assert card.temperature > 0
    assert 0 < card.risk_thresholds["medium"] <= card.risk_thresholds["high"] < 1
    raw = json.loads((trained / "model_card.json").read_text())
    assert raw["training"]["epochs_run"] == 2
    assert set(raw["calibration"]) >= {"ece_before", "ece_after", "brier_before", "brier_after"}
    log = (trained / "training_log.csv").read_text().splitlines()
    assert len(log) == 3  # header + 2 epochs
    assert "val_loss" in log[0]


def test_trained_model_loads_and_outputs_logits_for_prepared_input(trained):
    import keras

    model = keras.saving.load_model(trained / "brainscan.keras")
    out = model(np.zeros((1, 32, 32, 1), np.float32)).numpy()
    assert out.shape == (1, 4)
    assert np.isfinite(out).all()
    # the exported model runs in float32 whatever policy training used
    assert model.get_layer("last_conv").compute_dtype == "float32"


def test_validation_split_keeps_its_images_out_of_training(trained):
    lists = json.loads((trained / "splits.json").read_text())
    assert lists["validation"]
    assert not set(lists["train"]) & set(lists["validation"])


def test_evaluate_reports_both_test_sets_and_updates_the_card(trained, tmp_path):
    from ml.cli.evaluate import main as evaluate_main

    data = trained.parent / "data"
    leak_free = tmp_path / "leak_free.txt"
    leak_free.write_text("Testing/glioma/Te-glioma-0.png\nTesting/notumor/Te-notumor-1.png\n")
    sha_before = sha256_file(trained / "brainscan.keras")
    args = ["--model", str(trained / "brainscan.keras"), "--data", str(data)]
    args += ["--leak-free", str(leak_free), "--out", str(tmp_path / "reports"), "--bootstrap", "20"]
    args += ["--cache-dir", str(tmp_path / "c"), "--model-card-md", str(tmp_path / "CARD.md")]
    report = evaluate_main(args)
    assert report["test"]["n"] == 24
    assert report["test_leak_free"]["n"] == 2
    card = json.loads((trained / "model_card.json").read_text())
    assert card["metrics"]["test"]["n"] == 24
    assert card["sha256"] == sha_before == sha256_file(trained / "brainscan.keras")
    assert "leak-free test (n=2)" in (tmp_path / "CARD.md").read_text()
    for name in ("confusion_test.png", "roc_test_leak_free.png", "reliability_test.png"):
        assert (tmp_path / "reports" / name).stat().st_size > 0


def test_training_with_the_background_relative_mask_names_it_on_the_card(tmp_path):
    data = tmp_path / "data"
    _write_fake_dataset(data)
    out = tmp_path / "out"
    args = ["--data", str(data), "--out", str(out), "--arch", "cnn_small", "--size", "32"]
    args += ["--epochs", "1", "--max-steps", "1", "--batch-size", "8", "--verbose", "0"]
    args += ["--audit-json", str(tmp_path / "none.json"), "--cache-dir", str(tmp_path / "c")]
    args += ["--no-ixi", "--preprocessing", "crop-rank-v3"]
    train_main(args)
    assert load_card(out / "model_card.json").preprocessing_method == "crop-rank-v3"
    assert list((tmp_path / "c").glob("crops-relative-mask-32px-*.npy"))
