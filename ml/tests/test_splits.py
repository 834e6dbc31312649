from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ml.data.splits import group_split, groups_for


def _toy(seed: int = 0, n: int = 600):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    # groups of 1-12 consecutive images sharing one label, like slices of one series
    groups, g, i = np.empty(n, int), 0, 0
    while i < n:
        size = int(rng.integers(1, 13))
        groups[i : i + size] = g
        labels[i : i + size] = labels[i]
        g, i = g + 1, i + size
    return labels, groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_group_is_split_between_train_and_val(seed):
    labels, groups = _toy(seed)
    train, val = group_split(labels, groups, val_fraction=0.2, seed=seed)
    assert not set(groups[train]) & set(groups[val])
    assert sorted([*train, *val]) == list(range(len(labels)))


def test_every_class_gets_about_its_share_of_validation():
    labels, groups = _toy(3, 2000)
    _, val = group_split(labels, groups, val_fraction=0.2, seed=0)
    total, in_val = Counter(labels.tolist()), Counter(labels[val].tolist())
    for cls, n in total.items():
        assert in_val[cls] / n == pytest.approx(0.2, abs=0.03)


def test_same_seed_same_split_other_seed_other_split():
    labels, groups = _toy(4)
    a = group_split(labels, groups, seed=7)[1]
    b = group_split(labels, groups, seed=7)[1]
    c = group_split(labels, groups, seed=8)[1]
    np.testing.assert_array_equal(a, b)
    assert set(a) != set(c)


def test_ungrouped_images_get_their_own_group():
    g = groups_for(["a", "b", "c", "d"], {"a": 0, "c": 0})
    assert g[0] == g[2]
    assert len({g[1], g[3], g[0]}) == 3
