"""Cross-validation folds: every image in exactly one, the classes in their shares, copies never split, seeded."""

from collections import Counter

import numpy as np
import pytest

from inception_tl.data.inspect.folds import duplicate_groups, grouped_stratified_folds
from inception_tl.errors import ConfigError


def test_duplicate_pairs_join_their_images_into_one_group_transitively():
    groups = duplicate_groups(6, [(0, 3), (3, 5), (1, 2)])
    assert groups[0] == groups[3] == groups[5]
    assert groups[1] == groups[2]
    assert len({groups[0], groups[1], groups[4]}) == 3


def test_plain_folds_are_stratified_and_cover_every_image_once():
    rng = np.random.default_rng(0)
    strata = rng.choice(3, size=300, p=[0.6, 0.3, 0.1]).tolist()
    folds = grouped_stratified_folds(strata, list(range(300)), 5, seed=0)
    sizes = Counter(folds)
    assert sum(sizes.values()) == 300  # every image in exactly one fold
    assert max(sizes.values()) - min(sizes.values()) <= 2  # each class's remainder lands somewhere
    for fold in range(5):
        inside = Counter(s for s, f in zip(strata, folds, strict=True) if f == fold)
        for cls, total in Counter(strata).items():
            assert abs(inside[cls] - total / 5) <= 1  # each class in its share, to one image


def test_planted_copies_always_land_in_one_fold():
    rng = np.random.default_rng(1)
    strata = rng.integers(0, 2, 200).tolist()
    pairs = [(i, i + 100) for i in range(0, 40)]  # 40 planted copies (same class, as copies are)
    for first, second in pairs:
        strata[second] = strata[first]
    groups = duplicate_groups(200, pairs)
    for seed in range(5):
        folds = grouped_stratified_folds(strata, groups, 5, seed=seed)
        assert all(folds[first] == folds[second] for first, second in pairs)
        assert max(Counter(folds).values()) - min(Counter(folds).values()) <= 2


def test_the_same_seed_gives_the_same_folds_and_another_seed_others():
    strata = [i % 3 for i in range(90)]
    first = grouped_stratified_folds(strata, list(range(90)), 3, seed=4)
    assert first == grouped_stratified_folds(strata, list(range(90)), 3, seed=4)
    assert first != grouped_stratified_folds(strata, list(range(90)), 3, seed=5)


def test_too_few_images_of_a_class_for_the_folds_says_so():
    with pytest.raises(ConfigError, match=r"cv\.folds=5 needs at least 5 images of each class"):
        grouped_stratified_folds([0] * 20 + [1] * 3, list(range(23)), 5, seed=0)
    with pytest.raises(ConfigError, match="at least 2 folds"):
        grouped_stratified_folds([0, 1], [0, 1], 1, seed=0)
