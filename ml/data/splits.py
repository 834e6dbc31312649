"""Group-aware, stratified, seeded train/validation split of Training/.

Near-duplicate groups (from the audit) move as a whole: a validation score is only worth
something if no slice of the same series sits in training.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np


def group_split(
    labels: list[int] | np.ndarray,
    groups: list[int] | np.ndarray,
    *,
    val_fraction: float = 0.15,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train_idx, val_idx). Groups never straddle; class shares follow the data.

    Greedy: groups in random order (largest first), each goes to validation while that
    class still needs images there. A group's class is its majority label.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups.tolist()):
        members[g].append(i)
    need = {c: val_fraction * n for c, n in Counter(labels.tolist()).items()}
    rng = np.random.default_rng(seed)
    order = list(members)
    rng.shuffle(order)
    order.sort(key=lambda g: -len(members[g]))  # stable: random among equal sizes
    in_val = np.zeros(len(labels), dtype=bool)
    for g in order:
        idx = members[g]
        cls = Counter(labels[idx].tolist()).most_common(1)[0][0]
        if need[cls] >= len(idx) / 2:
            in_val[idx] = True
            need[cls] -= len(idx)
    return np.nonzero(~in_val)[0], np.nonzero(in_val)[0]


def groups_for(relpaths: list[str], group_of: dict[str, int]) -> np.ndarray:
    """Group number per image; images in no multi-member group get a group of their own."""
    offset = max(group_of.values(), default=-1) + 1
    return np.array([group_of.get(p, offset + i) for i, p in enumerate(relpaths)])
