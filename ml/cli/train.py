"""Train the brainscan classifier from scratch: python -m ml.train --data DATA_DIR --out DIR.

Defaults are the recipe of the shipped model. Steps: group-aware split of Kaggle Training/
plus a person-level split of the IXI normals (ml/data/sources.py; BraTS/TCGA is never trained
on), cached head crops, domain randomisation of every class (ml/image/augment.py) and the
intensity standardisation of the card's preprocessing method, source-balanced loss
weights, warmup + cosine learning rate tied to the wall-clock budget, best checkpoint on
validation loss, BatchNorm statistics recomputed, then temperature scaling and risk
thresholds fitted on validation, and the model + model card written to --out.
"""

from __future__ import annotations

import argparse
from typing import Any

from ml.artifacts import ARTIFACTS_DIR
from ml.image.preprocess import METHODS
from ml.training.config import AUGMENTATIONS, TrainConfig
from ml.training.run import train


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
    p.add_argument(
        "--source-adversary",
        type=float,
        default=defaults.source_adversary,
        help="strength of a class-conditional source adversary (gradient reversal); 0 = none",
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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    cfg = parse_args(argv)
    return train(cfg)


if __name__ == "__main__":
    main()
