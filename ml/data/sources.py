"""Where each image comes from: the source and the person, for every data set we use.

A source label is free and tells the truth about a model: the Kaggle set's tumours are
almost all figshare slices (512 x 512, one hospital group's T1 contrast scans) and its
normals almost all Br35H/SARTAJ slices (other sizes), so inside Kaggle "looks like figshare"
predicts "tumour". Every report is given per source, training balances sources within a
class, and the external sets (other hospitals) are split by person, never by slice.

Keys: Kaggle images are named as in the audit and splits.json ("Training/glioma/x.jpg",
relative to the Kaggle directory); external images by their path relative to the
external directory ("ixi-hh-t1/notumor/IXI012-HH-1211_z044.png").
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ml import CLASS_NAMES

FIGSHARE_SIZE = (512, 512)
KAGGLE_FIGSHARE = "kaggle-figshare"  # 512 x 512: the figshare (Cheng 2017) look
KAGGLE_OTHER = "kaggle-other"  # every other size: Br35H / SARTAJ
IXI = "ixi"
BRATS = "brats-tcga"
IXI_DIR = "ixi-hh-t1"
BRATS_DIR = "glioma-brats2013-tcga"
# Person-level split of IXI (seeded): train / validation / test shares of the 185 people.
IXI_SPLIT = {"train": 0.55, "validation": 0.10, "test": 0.35}
IXI_SPLIT_SEED = 2026


@dataclass(frozen=True)
class Item:
    """One image of any data set: where it is, what it shows, where it comes from."""

    key: str  # stable name (see the module docstring)
    path: Path  # the file
    label: int  # index into CLASS_NAMES
    source: str
    person: str  # person id; Kaggle has none, so its near-duplicate group stands in


def default_external(kaggle_dir: str | Path) -> Path:
    """The external sets sit beside the Kaggle directory in ../shared/datasets/."""
    return Path(kaggle_dir).resolve().parent / "external"


def kaggle_source(path: Path) -> str:
    """figshare or other, from the image size alone (no decoding)."""
    with Image.open(path) as img:
        return KAGGLE_FIGSHARE if img.size == FIGSHARE_SIZE else KAGGLE_OTHER


def kaggle_items(
    kaggle_dir: str | Path, relpaths: Iterable[tuple[str, int]], group_of: dict[str, int]
) -> list[Item]:
    """Items for Kaggle images given as (relpath, label); person = near-duplicate group."""
    root = Path(kaggle_dir)
    items = []
    for rel, label in relpaths:
        path = root / rel
        group = group_of.get(rel)
        person = f"kaggle-group-{group}" if group is not None else f"kaggle-image-{rel}"
        items.append(Item(rel, path, label, kaggle_source(path), person))
    return items


def external_items(external_dir: str | Path, folder: str, source: str) -> list[Item]:
    """Every image of one external set, with its person from manifest.csv."""
    root = Path(external_dir) / folder
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        Item(
            key=f"{folder}/{row['file']}",
            path=root / row["file"],
            label=CLASS_NAMES.index(row["label"]),
            source=source,
            person=row["patient_id"],
        )
        for row in sorted(rows, key=lambda r: r["file"])
    ]


def ixi_items(external_dir: str | Path) -> list[Item]:
    return external_items(external_dir, IXI_DIR, IXI)


def brats_items(external_dir: str | Path) -> list[Item]:
    return external_items(external_dir, BRATS_DIR, BRATS)


def split_people(
    items: list[Item], shares: dict[str, float] = IXI_SPLIT, seed: int = IXI_SPLIT_SEED
) -> dict[str, list[Item]]:
    """Split by person (seeded): every slice of a person lands in the same part."""
    people = sorted({item.person for item in items})
    order = np.random.default_rng(seed).permutation(len(people))
    part_of: dict[str, str] = {}
    start = 0
    names = list(shares)
    for i, name in enumerate(names):
        count = len(people) - start if i == len(names) - 1 else round(shares[name] * len(people))
        for j in order[start : start + count]:
            part_of[people[j]] = name
        start += count
    parts: dict[str, list[Item]] = {name: [] for name in names}
    for item in items:
        parts[part_of[item.person]].append(item)
    return parts


def source_weights(labels: np.ndarray, sources: list[str], cap: float = 6.0) -> np.ndarray:
    """Per-image loss weights: every class weighs the same in total, and inside a class a
    rare source weighs more (sqrt of the size ratio to the class's largest source, capped),
    so "looks like source S" cannot stand for "class C" as cheaply.

    Returns weights with mean 1 over the images.
    """
    labels = np.asarray(labels)
    cells: dict[tuple[int, str], int] = {}
    for label, source in zip(labels.tolist(), sources, strict=True):
        cells[(label, source)] = cells.get((label, source), 0) + 1
    largest = {label: max(n for (c, _), n in cells.items() if c == label) for label, _ in cells}
    raw = np.array(
        [
            min(cap, (largest[c] / cells[(c, s)]) ** 0.5)
            for c, s in zip(labels.tolist(), sources, strict=True)
        ]
    )
    weights = np.empty(len(labels))
    classes = np.unique(labels)
    for c in classes:
        idx = labels == c
        weights[idx] = raw[idx] / raw[idx].sum() * (len(labels) / len(classes))
    return weights
