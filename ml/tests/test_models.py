from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ml.networks import LAST_CONV, LOGITS, build_model  # noqa: E402


@pytest.mark.parametrize("arch", ["cnn_small", "cnn", "mobilenetv2"])
def test_every_architecture_exposes_last_conv_and_raw_logits(arch):
    model = build_model(arch, 32, 4)
    x = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    out = model(x, training=False).numpy()
    assert out.shape == (2, 4)
    assert model.get_layer(LAST_CONV).output.shape[-1] > 0
    assert model.layers[-1].name == LOGITS
    # logits, not probabilities: rows need not sum to one
    assert not np.allclose(out.sum(axis=1), 1.0)


def test_saved_model_round_trips(tmp_path):
    model = build_model("mobilenetv2", 32)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.ones((1, 32, 32, 1), np.float32)
    np.testing.assert_allclose(model(x).numpy(), loaded(x).numpy(), rtol=1e-5, atol=1e-5)


def test_unknown_arch_and_missing_weights_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("resnet9000", 32)
    with pytest.raises(FileNotFoundError):
        build_model("mobilenetv2", 32, imagenet_weights=str(tmp_path / "none.h5"))
    with pytest.raises(ValueError, match="mobilenetv2"):
        build_model("cnn", 32, imagenet_weights="x.h5")


def test_batchnorm_recalibration_sets_moving_stats_to_the_data_statistics():
    from ml.training.finish import recalibrate_batchnorm

    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(inputs))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (128, 4, 4)).astype(np.uint8)
    recalibrate_batchnorm(model, x, batch=32)
    bn = model.get_layer("bn")
    scaled = x.astype(np.float64) / 255.0
    # exact running average of the 4 batch means = overall mean (equal batch sizes)
    assert float(bn.moving_mean.numpy()[0]) == pytest.approx(scaled.mean(), abs=1e-5)
    assert float(bn.moving_variance.numpy()[0]) == pytest.approx(scaled.var(), rel=0.05)
    assert bn.momentum == 0.99  # restored for any later training
