"""Train the brainscan classifier from scratch: python -m ml.train --data DATA_DIR --out DIR.

Defaults are the recipe of the shipped model. Steps: group-aware split of Kaggle Training/
plus a person-level split of the IXI normals (ml/sources.py; BraTS/TCGA is never trained
on), cached head crops, domain randomisation of every class (ml/augment.py) and the
intensity standardisation of the card's preprocessing method, source-balanced loss
weights, warmup + cosine learning rate tied to the wall-clock budget, best checkpoint on
validation loss, BatchNorm statistics recomputed, then temperature scaling and risk
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

from ml.artifacts import ARTIFACTS_DIR, AUDIT_JSON
from ml.data.samples import DEFAULT_CACHE_DIR, Sample, list_samples, load_crops, load_prepared_paths
from ml.data.sources import IXI, Item, default_external, ixi_items, kaggle_items, split_people
from ml.data.splits import group_split, groups_for
from ml.image.preprocess import METHOD_RANK, METHODS, finish_uint8

DEFAULT_AUDIT = AUDIT_JSON
VERSION = "2.0.0"
AUGMENTATIONS = ("domain", "geometric")


@dataclass
class TrainConfig:
    data: str
    out: str
    arch: str = "cnn"
    size: int = 128
    epochs: int = 60
    budget_minutes: float = 60.0
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
    preprocessing: str = METHOD_RANK
    augment: str = "domain"  # "domain": ml.augment defaults; "geometric": flips/turns only
    source_balance: bool = True
    external: str | None = None  # default: ../external beside --data
    use_ixi: bool = True  # train on the IXI people of the person-level split's train part
    exclude_source: str | None = None  # leave-one-source-out: drop it from train and val
    synthetic_tumours: float = 0.0  # share of normal images given a drawn lesion (ml.synthetic)
    audit_json: str = str(DEFAULT_AUDIT)
    cache_dir: str = str(DEFAULT_CACHE_DIR)
    max_steps: int | None = None  # smoke tests: cap steps per epoch
    skip_fit: bool = False  # rerun only the post-fit steps on the model already in `out`
    verbose: int | None = None


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig(data="", out="")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", default=str(ARTIFACTS_DIR))
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
    p.add_argument("--preprocessing", choices=METHODS, default=defaults.preprocessing)
    p.add_argument("--augment", choices=AUGMENTATIONS, default=defaults.augment)
    p.add_argument("--no-source-balance", dest="source_balance", action="store_false")
    p.add_argument("--external", default=None, help="default: ../external beside --data")
    p.add_argument("--no-ixi", dest="use_ixi", action="store_false")
    p.add_argument(
        "--exclude-source", default=None, help="leave this source out of train and validation"
    )
    p.add_argument(
        "--synthetic-tumours",
        type=float,
        default=defaults.synthetic_tumours,
        help="share of normal training images, each epoch, given a drawn glioma-like lesion",
    )
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
    from ml.data.duplicates import load_groups, run_audit

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


@dataclass
class TrainData:
    """The arrays a run trains and validates on, and where each image came from."""

    train: list[Item]
    val: list[Item]
    crops: np.ndarray  # (n, size, size) uint8 head crops of the training images
    masks: np.ndarray  # (n, size, size) bool head masks of those crops
    x_train: np.ndarray  # the same images prepared as inference does (no augmentation)
    x_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray


def training_items(cfg: TrainConfig, samples: list[Sample]) -> tuple[list[Item], list[Item]]:
    """Kaggle's group-aware split plus, if asked, the IXI people of the person split."""
    from ml.data.duplicates import load_groups

    train_s, val_s = split_training(cfg, samples)
    audit = Path(cfg.audit_json)
    group_of = load_groups(audit) if audit.exists() else {}
    train = kaggle_items(cfg.data, [(s.relpath, s.label) for s in train_s], group_of)
    val = kaggle_items(cfg.data, [(s.relpath, s.label) for s in val_s], group_of)
    if cfg.use_ixi:
        parts = split_people(ixi_items(cfg.external or default_external(cfg.data)))
        train, val = train + parts["train"], val + parts["validation"]
    if cfg.exclude_source:
        train = [i for i in train if i.source != cfg.exclude_source]
        val = [i for i in val if i.source != cfg.exclude_source]
    return train, val


def load_data(cfg: TrainConfig, samples: list[Sample]) -> TrainData:
    train, val = training_items(cfg, samples)
    cache = Path(cfg.cache_dir)
    crops, masks = load_crops(
        [i.path for i in train], cfg.size, names=[i.key for i in train], cache_dir=cache
    )
    x_train = np.stack(
        [finish_uint8(c, m, cfg.preprocessing) for c, m in zip(crops, masks, strict=True)]
    )
    x_val = load_prepared_paths(
        [i.path for i in val],
        cfg.size,
        names=[i.key for i in val],
        cache_dir=cache,
        method=cfg.preprocessing,
    )
    return TrainData(
        train,
        val,
        crops,
        masks,
        x_train,
        x_val,
        np.array([i.label for i in train]),
        np.array([i.label for i in val]),
    )


def train(cfg: TrainConfig) -> dict:
    """Run the whole recipe; returns the model card dict that was written."""
    from ml.training import loop as training_loop

    started = time.time()
    samples = list_samples(cfg.data)
    data = load_data(cfg, samples)
    prep_seconds = time.time() - started
    ixi = sum(i.source == IXI for i in data.train)
    print(
        f"train {len(data.train)} ({ixi} IXI) / val {len(data.val)} images at {cfg.size}px, "
        f"preprocessing {cfg.preprocessing} (data ready in {prep_seconds:.0f}s)",
        flush=True,
    )

    result = training_loop.reload_fitted(cfg) if cfg.skip_fit else training_loop.fit(cfg, data)
    card = training_loop.finish(cfg, result, data, samples)
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
