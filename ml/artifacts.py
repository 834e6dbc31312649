"""Where ml/ reads and writes its files: artifact names and default paths, in one place.

A trained model is a directory of files that belong together (`python -m ml.train --out`
writes them, `Engine.load` and `python -m ml.gate fit` read them beside the model):

    brainscan.keras    the Keras model                              MODEL_FILE
    model_card.json    how to use it (ml/card.py), with its SHA-256  CARD_FILE
    gate.npz           the input gate's statistics for this model   GATE_FILE
    splits.json        the train/validation lists it was fitted on  SPLITS_FILE
    training_log.csv   one line per epoch                           TRAINING_LOG_FILE

The shipped model lives in ml/artifacts/ (ARTIFACTS_DIR); reports, some of which training
reads back (audit.json, leak_free_test.txt), live in ml/reports/ (REPORTS_DIR).
"""

from __future__ import annotations

from pathlib import Path

MODEL_FILE = "brainscan.keras"
CARD_FILE = "model_card.json"
GATE_FILE = "gate.npz"
SPLITS_FILE = "splits.json"
TRAINING_LOG_FILE = "training_log.csv"

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO / "ml" / "artifacts"
REPORTS_DIR = REPO / "ml" / "reports"
DEFAULT_MODEL = ARTIFACTS_DIR / MODEL_FILE
MODEL_CARD_MD = REPO / "ml" / "MODEL_CARD.md"
CACHE_DIR = REPO / "var" / "cache"
AUDIT_JSON = REPORTS_DIR / "audit.json"
LEAK_FREE_LIST = REPORTS_DIR / "leak_free_test.txt"
COMPARISON_JSON = REPORTS_DIR / "comparison.json"
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "brain-tumor-mri"
