"""Train the brainscan classifier from scratch: python -m ml.train --data DATA_DIR --out DIR.

Defaults are the recipe of the shipped model. Steps: group-aware split of Training/,
cached preprocessing, augmented tf.data pipeline, warmup + cosine learning rate tied to the
wall-clock budget, best checkpoint on validation loss, then temperature scaling and risk
thresholds fitted on validation, and the model + model card written to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ml.dataset import DEFAULT_CACHE_DIR, Sample, list_samples, load_prepared
from ml.splits import group_split, groups_for

REPO = Path(__file__).resolve().parent.parent
DEFAULT_AUDIT = REPO / "ml" / "reports" / "audit.json"
VERSION = "1.0.0"


@dataclass
class TrainConfig:
    data: str
    out: str
    arch: str = "cnn"
    size: int = 128
    epochs: int = 60
    budget_minutes: float = 50.0
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 2.0
    label_smoothing: float = 0.05
    val_fraction: float = 0.15
    patience: int = 12
    seed: int = 42
    mixed_precision: bool = True
    imagenet_weights: str | None = None
    audit_json: str = str(DEFAULT_AUDIT)
    cache_dir: str = str(DEFAULT_CACHE_DIR)
    max_steps: int | None = None  # smoke tests: cap steps per epoch
    skip_fit: bool = False  # rerun only the post-fit steps on the model already in `out`
    verbose: int | None = None


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig(data="", out="")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", default=str(REPO / "ml" / "artifacts"))
    p.add_argument("--arch", default=defaults.arch)
    p.add_argument("--size", type=int, default=defaults.size)
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--budget-minutes", type=float, default=defaults.budget_minutes)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", dest="learning_rate", type=float, default=defaults.learning_rate)
    p.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    p.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
    p.add_argument("--patience", type=int, default=defaults.patience)
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--no-mixed-precision", dest="mixed_precision", action="store_false")
    p.add_argument("--imagenet-weights", default=None, help="local file; never downloaded")
    p.add_argument("--audit-json", default=defaults.audit_json)
    p.add_argument("--cache-dir", default=defaults.cache_dir)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument(
        "--skip-fit",
        action="store_true",
        help="keep the model already in --out; redo BatchNorm recalibration, temperature, "
        "thresholds and card",
    )
    p.add_argument(
        "--verbose", type=int, default=None, help="Keras verbosity (default: 1 on a tty)"
    )
    return TrainConfig(**vars(p.parse_args(argv)))


def split_training(cfg: TrainConfig, samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """Group-aware stratified train/val split of the Training samples."""
    from ml.audit import load_groups, run_audit

    training = [s for s in samples if s.split == "Training"]
    audit = Path(cfg.audit_json)
    if audit.exists():
        group_of = load_groups(audit)
    else:  # no committed audit (e.g. another data set): compute the groups now
        summary = run_audit(Path(cfg.data))[1]
        group_of = {p: g for g, members in enumerate(summary["_groups"]) for p in members}
    groups = groups_for([s.relpath for s in training], group_of)
    labels = [s.label for s in training]
    train_idx, val_idx = group_split(labels, groups, val_fraction=cfg.val_fraction, seed=cfg.seed)
    return [training[i] for i in train_idx], [training[i] for i in val_idx]


def main(argv: list[str] | None = None) -> dict:
    cfg = parse_args(argv)
    return train(cfg)


def train(cfg: TrainConfig) -> dict:
    """Run the whole recipe; returns the model card dict that was written."""
    from ml import training_loop

    started = time.time()
    samples = list_samples(cfg.data)
    train_s, val_s = split_training(cfg, samples)
    x_train = load_prepared(cfg.data, train_s, cfg.size, cache_dir=Path(cfg.cache_dir))
    x_val = load_prepared(cfg.data, val_s, cfg.size, cache_dir=Path(cfg.cache_dir))
    y_train = np.array([s.label for s in train_s])
    y_val = np.array([s.label for s in val_s])
    prep_seconds = time.time() - started
    print(
        f"train {len(y_train)} / val {len(y_val)} images at {cfg.size}px "
        f"(data ready in {prep_seconds:.0f}s)",
        flush=True,
    )

    if cfg.skip_fit:
        result = training_loop.reload_fitted(cfg)
    else:
        result = training_loop.fit(cfg, x_train, y_train, x_val, y_val)
    card = training_loop.finish(cfg, result, x_train, x_val, y_val, train_s, val_s, samples)
    card["training"]["data_prep_seconds"] = round(prep_seconds, 1)
    card["training"]["total_wall_seconds"] = round(time.time() - started, 1)
    if cfg.skip_fit:
        card["training"]["total_wall_seconds_of_fit_run"] = result["earlier_total_wall_seconds"]
    training_loop.write_card(Path(cfg.out), card)
    print(json.dumps({k: card[k] for k in ("version", "temperature", "risk_thresholds")}))
    print(f"validation: {json.dumps(card['metrics']['validation'], indent=None)[:400]}")
    return card


def config_dict(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["python"] = sys.version.split()[0]
    d["cpu_count"] = os.cpu_count()
    return d


if __name__ == "__main__":
    main()
