"""The fit loop: build, compile and fit the network within its wall-clock budget, keep the
best epoch, export it in float32 (or reload an earlier fit for --skip-fit)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ml import CLASS_NAMES
from ml.artifacts import CARD_FILE, MODEL_FILE, TRAINING_LOG_FILE
from ml.card import read_card
from ml.networks import build_model
from ml.training.adversary import (
    CLASS_OUTPUT,
    SOURCE_OUTPUT,
    AdversaryRamp,
    build_trainer,
    classifier_history,
)
from ml.training.config import TrainConfig
from ml.training.pipeline import TrainData, loss_weights, make_dataset, train_dataset

Logs = dict[str, float]  # what Keras hands a callback
# the figures of the per-epoch line (the logits_/source_ ones: with a source adversary)
REPORTED = (
    "loss", "accuracy", "val_loss", "val_accuracy", "logits_accuracy", "source_loss",
    "val_logits_loss", "val_logits_accuracy", "val_source_loss",
)  # fmt: skip


class BudgetSchedule(keras.callbacks.Callback):  # type: ignore[misc]  # Keras is untyped: Callback is Any
    """Warmup + cosine learning rate over progress = max(step share, wall-clock share),
    so the schedule reaches its low end by the budget even if fewer epochs fit; stops
    training cleanly when the next epoch would overrun the budget."""

    def __init__(self, base_lr: float, total_steps: int, budget_s: float, warmup: float) -> None:
        super().__init__()
        self.base_lr, self.total_steps, self.budget_s = base_lr, total_steps, budget_s
        self.warmup, self.step, self.t0 = warmup, 0, time.time()
        self.epoch_start = self.t0
        self.stopped_by_budget = False

    def progress(self) -> float:
        return min(1.0, max(self.step / self.total_steps, (time.time() - self.t0) / self.budget_s))

    def lr_at(self, p: float) -> float:
        if p < self.warmup:
            return self.base_lr * max(p / self.warmup, 0.02)
        q = (p - self.warmup) / max(1e-9, 1 - self.warmup)
        return self.base_lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * q)))

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.t0 = time.time()

    def report(self, epoch: int, now: float, next_epoch: float, logs: Logs) -> None:
        """One progress line per epoch: elapsed, time left (budget or epochs), metrics."""
        elapsed = now - self.t0
        epochs_left = max(0, self.params.get("epochs", epoch + 1) - epoch - 1)
        left = min(self.budget_s - elapsed, epochs_left * next_epoch)
        metrics = " ".join(f"{k}={logs[k]:.4f}" for k in REPORTED if k in logs)
        print(
            f"epoch {epoch + 1}: {elapsed / 60:.1f} min elapsed, about {max(0.0, left) / 60:.1f} "
            f"min left; {metrics}",
            flush=True,
        )

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch_start = time.time()

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self.model.optimizer.learning_rate.assign(self.lr_at(self.progress()))
        self.step += 1

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        now = time.time()
        if logs is not None:
            logs["lr"] = float(self.model.optimizer.learning_rate.numpy())
            logs["elapsed_s"] = round(now - self.t0, 1)
        # the first epoch includes graph tracing, so it overestimates the next one
        next_epoch = (now - self.epoch_start) * (0.75 if epoch == 0 else 1.0)
        self.report(epoch, now, next_epoch, logs or {})
        if now - self.t0 + next_epoch > self.budget_s:
            self.stopped_by_budget = True
            self.model.stop_training = True
            print(f"\nwall-clock budget reached after epoch {epoch + 1}; keeping best", flush=True)


def fit(cfg: TrainConfig, data: TrainData) -> dict[str, Any]:
    """Train and return the float32 best model plus the run's facts."""
    keras.utils.set_random_seed(cfg.seed)
    if cfg.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    classifier = build_model(
        cfg.arch, cfg.size, len(CLASS_NAMES), imagenet_weights=cfg.imagenet_weights
    )
    model, monitor = compiled_trainer(cfg, classifier)
    weights = loss_weights(data, cfg)
    train_ds = train_dataset(data, cfg, weights)
    val_sources = [i.source for i in data.val] if cfg.source_adversary > 0 else None
    val_ds = make_dataset(data.x_val, data.y_val, 64, sources=val_sources)
    steps = max(1, len(data.y_train) // cfg.batch_size)
    if cfg.max_steps:
        steps = min(steps, cfg.max_steps)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    best = out / "best.weights.h5"
    schedule = BudgetSchedule(
        cfg.learning_rate,
        steps * cfg.epochs,
        cfg.budget_minutes * 60,
        cfg.warmup_epochs / max(cfg.epochs, 1),
    )
    callbacks = [
        schedule,
        keras.callbacks.ModelCheckpoint(
            best, monitor=monitor, mode="min", save_best_only=True, save_weights_only=True
        ),
        keras.callbacks.EarlyStopping(monitor=monitor, mode="min", patience=cfg.patience),
        keras.callbacks.CSVLogger(out / TRAINING_LOG_FILE),
    ]
    if cfg.source_adversary > 0:
        callbacks.append(AdversaryRamp(cfg.source_adversary, schedule.progress))
    started = time.time()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=cfg.epochs,
        steps_per_epoch=steps,
        callbacks=callbacks,
        verbose=_verbosity(cfg),
    )
    fit_seconds = time.time() - started
    model.load_weights(best)
    logs = history.history
    if cfg.source_adversary > 0:
        logs = classifier_history(logs)
    val_loss = logs["val_loss"]
    return {
        "model": export_float32(classifier, cfg),
        "fit_seconds": fit_seconds,
        "epochs_run": len(val_loss),
        "best_epoch": int(np.argmin(val_loss)) + 1,
        "stopped_by_budget": schedule.stopped_by_budget,
        "history": {k: [float(v) for v in vals] for k, vals in logs.items()},
        "images_per_second": len(val_loss) * steps * cfg.batch_size / fit_seconds,
    }


def compiled_trainer(cfg: TrainConfig, classifier: keras.Model) -> tuple[keras.Model, str]:
    """The model fit() trains, compiled, and the validation figure that picks the best
    epoch: the classifier itself, or (with a source adversary) the two-output trainer that
    shares its layers, judged on the classifier's validation loss alone."""
    loss = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=cfg.label_smoothing
    )
    optimizer = keras.optimizers.AdamW(cfg.learning_rate, weight_decay=cfg.weight_decay)
    if cfg.source_adversary <= 0:
        classifier.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        return classifier, "val_loss"
    trainer = build_trainer(classifier, len(CLASS_NAMES))
    trainer.compile(
        optimizer=optimizer,
        loss={
            CLASS_OUTPUT: loss,
            SOURCE_OUTPUT: keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        metrics={CLASS_OUTPUT: ["accuracy"]},
    )
    return trainer, f"val_{CLASS_OUTPUT}_loss"


def _verbosity(cfg: TrainConfig) -> int:
    import sys

    if cfg.verbose is not None:
        return cfg.verbose
    return 1 if sys.stdout.isatty() else 2


def export_float32(model: keras.Model, cfg: TrainConfig) -> keras.Model:
    """Same weights in a float32 model: inference needs no mixed-precision policy."""
    keras.mixed_precision.set_global_policy("float32")
    clean = build_model(cfg.arch, cfg.size, len(CLASS_NAMES))
    clean.set_weights(model.get_weights())
    return clean


def predict_logits(model: keras.Model, x_uint8: np.ndarray, batch: int = 64) -> np.ndarray:
    x = x_uint8[..., np.newaxis].astype(np.float32) / 255.0
    return np.asarray(model.predict(x, batch_size=batch, verbose=0), dtype=np.float64)


def reload_fitted(cfg: TrainConfig) -> dict[str, Any]:
    """The fit result of an earlier run in cfg.out (model + its card's training facts), so
    the post-fit steps can be rerun without refitting (--skip-fit)."""
    out = Path(cfg.out)
    old = read_card(out / CARD_FILE)["training"]
    return {
        "model": keras.saving.load_model(out / MODEL_FILE),
        "fit_seconds": old["fit_wall_seconds"],
        "epochs_run": old["epochs_run"],
        "best_epoch": old["best_epoch"],
        "stopped_by_budget": old["stopped_by_budget"],
        "history": old["history"],
        "images_per_second": old["images_per_second"],
        "config": old["config"],
        "refinished": True,
        "earlier_total_wall_seconds": old.get("total_wall_seconds"),
    }
