from collections import Counter

import pytest

from inception_tl.data.inspect.splits import stratified_split
from inception_tl.errors import ConfigError


def test_split_is_stratified_disjoint_and_exact():
    labels = [0] * 50 + [1] * 30 + [2] * 20
    kept, held_out = stratified_split(labels, 0.2, seed=3)
    assert len(held_out) == 20
    assert Counter(labels[i] for i in held_out) == {0: 10, 1: 6, 2: 4}
    assert not set(kept) & set(held_out)
    assert sorted(kept + held_out) == list(range(len(labels)))


def test_uneven_classes_still_give_the_configured_total():
    labels = [0] * 7 + [1] * 5 + [2] * 3
    for fraction in (0.1, 0.3, 0.5, 0.9):
        _, held_out = stratified_split(labels, fraction, seed=0)
        assert len(held_out) == round(fraction * len(labels))


def test_same_seed_same_split_other_seed_other_split():
    labels = [i % 4 for i in range(200)]
    assert stratified_split(labels, 0.25, seed=1) == stratified_split(labels, 0.25, seed=1)
    assert stratified_split(labels, 0.25, seed=1) != stratified_split(labels, 0.25, seed=2)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_fraction_outside_zero_one_is_a_config_error(fraction):
    with pytest.raises(ConfigError, match="val_split"):
        stratified_split([0, 1, 0, 1], fraction, seed=0)
