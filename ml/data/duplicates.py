"""Duplicates in the data set (the data audit behind `python -m ml.audit`, ml/cli/audit.py).

Decodes every image, lists odd ones, finds exact and near duplicates, groups them
transitively, and writes the leak-free test subset that evaluation reads. The near-
duplicate threshold was chosen by looking at pairs (ml/reports/near_dup_pairs.png).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ml import CLASS_NAMES
from ml.data.hashing import UnionFind, dhash, hamming_matrix, phash
from ml.data.samples import Sample, list_samples, parallel_map
from ml.image.decode import UnreadableImage, decode_image
from ml.image.preprocess import crop_brain

# Two images are near-duplicates when the 64-bit pHash AND the 64-bit dHash of their brain
# crops are both within these Hamming distances. Chosen by looking at pairs around the
# threshold (ml/reports/near_dup_pairs.png) and at how often matched pairs cross classes
# (AUDIT.md): either hash alone at 8 also matches unrelated slices of similar anatomy.
PHASH_THRESHOLD = 10
DHASH_THRESHOLD = 10

Record = dict[str, Any]  # what the audit knows of one image (a row of audit.json)


def inspect_file(path: str) -> Record:
    """Everything the audit needs from one file; never raises on bad images."""
    data = Path(path).read_bytes()
    record: Record = {"bytes_sha256": hashlib.sha256(data).hexdigest(), "file_size": len(data)}
    try:
        with Image.open(io.BytesIO(data)) as img:
            record.update(mode=img.mode, width=img.width, height=img.height, format=img.format)
        gray = decode_image(data)
    except (UnreadableImage, OSError) as exc:
        record["error"] = str(exc)
        return record
    crop, bbox = crop_brain(gray)
    record.update(
        pixel_sha256=hashlib.sha256(gray.tobytes() + str(gray.shape).encode()).hexdigest(),
        phash=phash(crop),
        dhash=dhash(crop),
        phash_full=phash(gray),
        crop_fraction=round(bbox[2] * bbox[3] / gray.size, 4),
        mean=round(float(gray.mean()), 2),
    )
    return record


def inspect_all(data_dir: Path, samples: list[Sample]) -> list[Record]:
    paths = [str(data_dir / s.relpath) for s in samples]
    records = []
    for s, rec in zip(samples, parallel_map(inspect_file, paths), strict=True):
        records.append(
            {"relpath": s.relpath, "split": s.split, "label": CLASS_NAMES[s.label], **rec}
        )
    return records


def is_near_duplicate(phash_dist: np.ndarray, dhash_dist: np.ndarray) -> np.ndarray:
    """Both hashes must agree: either alone matches unrelated slices of similar anatomy."""
    return (phash_dist <= PHASH_THRESHOLD) & (dhash_dist <= DHASH_THRESHOLD)


def near_duplicate_pairs(records: list[Record], *, chunk: int = 1024) -> list[tuple[int, int]]:
    """Index pairs (i < j) of decodable images that are near-duplicates."""
    ok = [i for i, r in enumerate(records) if "error" not in r]
    ph = np.array([records[i]["phash"] for i in ok], dtype=np.uint64)
    dh = np.array([records[i]["dhash"] for i in ok], dtype=np.uint64)
    pairs = []
    for start in range(0, len(ok), chunk):
        close = is_near_duplicate(
            hamming_matrix(ph[start : start + chunk], ph),
            hamming_matrix(dh[start : start + chunk], dh),
        )
        for r, c in zip(*np.nonzero(close), strict=True):
            if start + r < c:
                pairs.append((ok[start + r], ok[c]))
    return pairs


def exact_duplicate_groups(records: list[Record], key: str) -> list[list[int]]:
    """Indices sharing the same hash under `key` (bytes_sha256 or pixel_sha256)."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        if key in r:
            by_hash[r[key]].append(i)
    return [idx for idx in by_hash.values() if len(idx) > 1]


def group_ids(records: list[Record], pairs: list[tuple[int, int]]) -> list[int]:
    """Transitive groups of exact (pixel) and near duplicates: union-find over all links."""
    uf = UnionFind(len(records))
    for i, j in pairs:
        uf.union(i, j)
    for members in exact_duplicate_groups(records, "pixel_sha256"):
        for j in members[1:]:
            uf.union(members[0], j)
    return uf.groups()


def odd_images(records: list[Record]) -> list[Record]:
    """Unreadable, unusual mode, tiny, or not a JPEG like the rest."""
    odd = []
    for r in records:
        reasons = []
        if "error" in r:
            reasons.append(f"unreadable: {r['error']}")
        else:
            if r["mode"] not in {"L", "RGB"}:
                reasons.append(f"mode {r['mode']}")
            if min(r["width"], r["height"]) < 128:
                reasons.append(f"small {r['width']}x{r['height']}")
            if r["format"] != "JPEG":
                reasons.append(f"format {r['format']}")
            if r["crop_fraction"] >= 0.999:
                reasons.append("no brain contour found (whole image used)")
        if reasons:
            odd.append({"relpath": r["relpath"], "reasons": reasons})
    return odd


def summarise(
    records: list[Record], groups: list[int], pairs: list[tuple[int, int]]
) -> dict[str, Any]:
    """Counts, duplicate groups, label conflicts and the leak-free test list."""
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    multi = [m for m in members.values() if len(m) > 1]
    train_groups = {groups[i] for i, r in enumerate(records) if r["split"] == "Training"}
    test = [i for i, r in enumerate(records) if r["split"] == "Testing"]
    leak_free = [i for i in test if groups[i] not in train_groups]

    def labels(m: list[int]) -> set[str]:
        return {records[i]["label"] for i in m}

    def splits(m: list[int]) -> set[str]:
        return {records[i]["split"] for i in m}

    def by_class(idx: list[int]) -> dict[str, int]:
        counts = Counter(records[i]["label"] for i in idx)
        return {name: counts.get(name, 0) for name in CLASS_NAMES}

    def exact(key: str) -> dict[str, Any]:
        found = exact_duplicate_groups(records, key)
        return {
            "groups": len(found),
            "redundant_images": sum(len(m) - 1 for m in found),
            "cross_split_groups": sum(len(splits(m)) > 1 for m in found),
            "label_conflict_groups": sum(len(labels(m)) > 1 for m in found),
        }

    paths = [r["relpath"] for r in records]
    return {
        "counts": {
            split: by_class([i for i, r in enumerate(records) if r["split"] == split])
            for split in ("Training", "Testing")
        },
        "modes": dict(Counter(r.get("mode", "unreadable") for r in records)),
        "unreadable": [r["relpath"] for r in records if "error" in r],
        "exact_duplicates_bytes": exact("bytes_sha256"),
        "exact_duplicates_pixels": exact("pixel_sha256"),
        "near_duplicate_groups": {
            "multi_member_groups": len(multi),
            "images_in_groups": sum(len(m) for m in multi),
            "largest_group": max((len(m) for m in multi), default=1),
            "within_training": sum(splits(m) == {"Training"} for m in multi),
            "within_testing": sum(splits(m) == {"Testing"} for m in multi),
            "across_splits": sum(len(splits(m)) > 1 for m in multi),
        },
        "label_conflicts": [
            [paths[i], paths[j]] for i, j in pairs if records[i]["label"] != records[j]["label"]
        ],
        "mixed_label_groups": sum(len(labels(m)) > 1 for m in multi),
        "leak_free_test": {
            "count": len(leak_free),
            "of": len(test),
            "by_class": by_class(leak_free),
            "official_by_class": by_class(test),
        },
        "_leak_free_paths": sorted(paths[i] for i in leak_free),
        "_groups": sorted(sorted(paths[i] for i in m) for m in multi),
    }


CANDIDATES = [
    (4, 64),
    (6, 64),
    (8, 64),
    (10, 64),
    (64, 6),
    (64, 8),
    (64, 10),
    (6, 6),
    (8, 8),
    (10, 8),
    (8, 10),
    (10, 10),
    (12, 12),
]


def threshold_evidence(records: list[Record]) -> list[Record]:
    """For candidate (pHash, dHash) limits: how many test images match training, and how
    many matched pairs join different classes. A same-patient slice keeps its tumour
    type, so cross-class matches estimate the false-match rate of a threshold."""
    ph, dh, lab, te, tr = _test_train_arrays(records)
    same = lab[te][:, None] == lab[tr][None, :]
    mp = hamming_matrix(ph[te], ph[tr])
    md = hamming_matrix(dh[te], dh[tr])
    rows = []
    for p_lim, d_lim in CANDIDATES:
        match = (mp <= p_lim) & (md <= d_lim)
        rows.append(
            {
                "phash_max": p_lim if p_lim < 64 else None,
                "dhash_max": d_lim if d_lim < 64 else None,
                "test_images_matched": round(float(match.any(axis=1).mean()), 4),
                "matched_pairs": int(match.sum()),
                "cross_class_pairs": int((match & ~same).sum()),
            }
        )
    return rows


def _test_train_arrays(
    records: list[Record],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ok = [r for r in records if "error" not in r]
    ph = np.array([r["phash"] for r in ok], dtype=np.uint64)
    dh = np.array([r["dhash"] for r in ok], dtype=np.uint64)
    lab = np.array([r["label"] for r in ok])
    split = np.array([r["split"] for r in ok])
    return ph, dh, lab, np.nonzero(split == "Testing")[0], np.nonzero(split == "Training")[0]


SHEET_BANDS = [
    ("pHash<=4 dHash<=4: clear duplicates", (0, 4), (0, 4)),
    ("pHash 8, dHash 7-8: accepted", (8, 8), (7, 8)),
    ("pHash 10, dHash 9-10: accepted, at the limit", (10, 10), (9, 10)),
    ("pHash 12, dHash<=10: rejected, just outside", (12, 12), (0, 10)),
    ("pHash<=10, dHash 11-12: rejected, just outside", (0, 10), (11, 12)),
    ("pHash 14-16, dHash 12-14: rejected, far", (14, 16), (12, 14)),
]


def contact_sheet(records: list[Record], data_dir: Path, out: Path, per_row: int = 5) -> None:
    """PNG of test/train pairs in distance bands around the threshold, to judge it by eye."""
    import cv2

    ph, dh, lab, te, tr = _test_train_arrays(records)
    ok = [r for r in records if "error" not in r]
    mp, md = hamming_matrix(ph[te], ph[tr]), hamming_matrix(dh[te], dh[tr])
    rng = np.random.default_rng(0)
    rows = []
    for title, (p0, p1), (d0, d1) in SHEET_BANDS:
        a, b = np.nonzero((mp >= p0) & (mp <= p1) & (md >= d0) & (md <= d1))
        pick: Iterable[int] = (
            rng.choice(len(a), min(per_row, len(a)), replace=False) if len(a) else []
        )
        tiles = [
            _pair_tile(data_dir, ok[te[a[k]]], ok[tr[b[k]]], mp[a[k], b[k]], md[a[k], b[k]])
            for k in pick
        ]
        tiles += [np.zeros((118, 200), np.uint8)] * (per_row - len(tiles))
        header = np.zeros((22, 200 * per_row), np.uint8)
        cv2.putText(header, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1)
        rows += [header, np.hstack(tiles)]
    cv2.imwrite(str(out), np.vstack(rows))


def _pair_tile(data_dir: Path, test_rec: Record, train_rec: Record, pd: int, dd: int) -> np.ndarray:
    import cv2

    def thumb(rec: Record) -> np.ndarray:
        crop, _ = crop_brain(decode_image((data_dir / rec["relpath"]).read_bytes()))
        return cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA)

    tile = np.full((118, 200), 40, np.uint8)
    tile[2:98, 2:98], tile[2:98, 102:198] = thumb(test_rec), thumb(train_rec)
    text = f"p{pd} d{dd} {test_rec['label'][:4]}/{train_rec['label'][:4]}"
    cv2.putText(tile, text, (4, 112), cv2.FONT_HERSHEY_SIMPLEX, 0.38, 255, 1)
    return tile


def run_audit(data_dir: Path) -> tuple[list[Record], dict[str, Any]]:
    """Inspect every image and summarise; the pure part of the CLI."""
    records = inspect_all(data_dir, list_samples(data_dir))
    pairs = near_duplicate_pairs(records)
    groups = group_ids(records, pairs)
    summary = summarise(records, groups, pairs)
    summary["near_duplicate_rule"] = {
        "hash_input": "brain crop (ml.preprocess.crop_brain) of the decoded grayscale image",
        "phash_max_hamming": PHASH_THRESHOLD,
        "dhash_max_hamming": DHASH_THRESHOLD,
        "grouping": "union-find over near-duplicate pairs and identical decoded pixels",
        "leak_free_definition": "Testing images whose group contains no Training image",
    }
    summary["threshold_evidence"] = threshold_evidence(records)
    summary["odd_images"] = odd_images(records)
    summary["images"] = len(records)
    return records, summary


def load_groups(audit_json: Path) -> dict[str, int]:
    """relpath -> group number for every image in a multi-member group."""
    data = json.loads(Path(audit_json).read_text(encoding="utf-8"))
    return {path: g for g, members in enumerate(data["groups"]) for path in members}
