"""The training recipe's settings: `TrainConfig` (defaults = the shipped model's recipe) and
the model `VERSION`. No TensorFlow: the command line and the card read these cheaply."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

from ml.artifacts import AUDIT_JSON
from ml.data.samples import DEFAULT_CACHE_DIR
from ml.image.preprocess import METHOD_RANK_V3

DEFAULT_AUDIT = AUDIT_JSON
VERSION = "2.1.0"  # the next model trained by this recipe (2.0.1: 2.0.0 served with crop-rank-v3)
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
    preprocessing: str = METHOD_RANK_V3
    augment: str = "domain"  # "domain": ml.image.augment defaults; "geometric": flips/turns only
    source_balance: bool = True
    external: str | None = None  # default: ../external beside --data
    use_ixi: bool = True  # train on the IXI people of the person-level split's train part
    exclude_source: str | None = None  # leave-one-source-out: drop it from train and val
    synthetic_tumours: float = (
        0.0  # share of normal images given a drawn lesion (ml.training.synthetic)
    )
    # strength of the class-conditional source adversary (ml.training.adversary); 0 = none
    source_adversary: float = 0.0
    audit_json: str = str(DEFAULT_AUDIT)
    cache_dir: str = str(DEFAULT_CACHE_DIR)
    max_steps: int | None = None  # smoke tests: cap steps per epoch
    skip_fit: bool = False  # rerun only the post-fit steps on the model already in `out`
    verbose: int | None = None


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    d = asdict(cfg)
    d["python"] = sys.version.split()[0]
    d["cpu_count"] = os.cpu_count()
    return d
