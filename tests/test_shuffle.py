"""Shuffle-sharding probabilities against the published table and independent methods."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ha_toolkit._data import data_path
from ha_toolkit.apiserver.shuffle import (
    deal_hands,
    expected_queues_used,
    overlap_probability,
    squish_probability,
    squish_table,
)


def inclusion_exclusion(n: int, h: int, e: int) -> Fraction:
    """P(all h queues of the mouse are hit) = sum_k (-1)^k C(h,k) P(k given queues missed)^e."""
    total = math.comb(n, h)
    return sum(
        (-1) ** k * math.comb(h, k) * Fraction(math.comb(n - k, h), total) ** e
        for k in range(h + 1)
    )


# ------------------------------------------------------------------ the published table
def test_reference_csv_holds_the_documented_table_with_its_source():
    frame = pd.read_csv(data_path("shuffle_sharding_reference.csv"))
    assert list(frame.columns) == ["hand_size", "queues", "elephants", "probability", "source"]
    assert len(frame) == 33  # 11 (hand size, queues) rows x 3 elephant counts
    assert sorted(frame["elephants"].unique()) == [1, 4, 16]
    assert frame["source"].str.contains("flow-control.md").all()


def test_every_row_of_the_reference_table_to_1e_9_relative():
    frame = pd.read_csv(data_path("shuffle_sharding_reference.csv"))
    for row in frame.itertuples():
        p = squish_probability(int(row.queues), int(row.hand_size), int(row.elephants))
        assert p == pytest.approx(row.probability, rel=1e-9, abs=0), row


# ------------------------------------------------------------------- independent methods
@given(
    n=st.integers(1, 40),
    h=st.integers(1, 8),
    e=st.integers(0, 6),
)
def test_matches_inclusion_exclusion_exactly(n, h, e):
    if h > n:
        return
    expected = float(inclusion_exclusion(n, h, e)) if e else 0.0
    assert squish_probability(n, h, e) == pytest.approx(expected, rel=1e-15, abs=0)


def test_matches_brute_force_enumeration_of_all_hands():
    n, h, e = 6, 2, 2
    hands = list(itertools.combinations(range(n), h))
    squished = 0
    for mouse in hands:
        for elephants in itertools.product(hands, repeat=e):
            union = set().union(*elephants)
            squished += set(mouse) <= union
    assert squish_probability(n, h, e) == pytest.approx(squished / len(hands) ** (e + 1), rel=1e-15)


def test_matches_monte_carlo_with_dealt_hands():
    rng = np.random.default_rng(11)
    n, h, e, trials = 10, 3, 3, 20_000
    hands = deal_hands(n, h, trials * (e + 1), rng).reshape(trials, e + 1, h)
    hit = np.zeros((trials, n), dtype=bool)
    for k in range(e):
        np.put_along_axis(hit, hands[:, k + 1, :], True, axis=1)
    squished = np.take_along_axis(hit, hands[:, 0, :], axis=1).all(axis=1)
    p = squish_probability(n, h, e)
    sigma = math.sqrt(p * (1 - p) / trials)
    assert abs(squished.mean() - p) < 5 * sigma


def test_one_elephant_is_one_over_the_number_of_hands():
    assert squish_probability(64, 8, 1) == pytest.approx(1 / math.comb(64, 8), rel=1e-15)


def test_limits():
    assert squish_probability(16, 4, 0) == 0.0
    assert squish_probability(5, 5, 1) == 1.0  # every hand is the whole deck
    assert squish_probability(4, 1, 1) == pytest.approx(0.25, rel=1e-15)
    # more elephants never help the mouse
    ps = [squish_probability(32, 4, e) for e in range(0, 12)]
    assert all(a <= b for a, b in zip(ps, ps[1:], strict=False))


# ----------------------------------------------------------------------------- overlap
def test_overlap_probability_by_enumeration():
    n, h = 7, 3
    hands = list(itertools.combinations(range(n), h))
    meets = sum(bool(set(a) & set(b)) for a in hands for b in hands)
    assert overlap_probability(n, h) == pytest.approx(meets / len(hands) ** 2, rel=1e-15)
    assert overlap_probability(10, 6) == 1.0  # two hands of 6 out of 10 always meet


# ---------------------------------------------------------------- expected queues used
def test_expected_queues_used_limits_and_simulation():
    assert expected_queues_used(128, 6, 1) == pytest.approx(6.0, rel=1e-14)
    assert expected_queues_used(128, 6, 10_000) == pytest.approx(128.0, rel=1e-12)
    assert expected_queues_used(8, 8, 3) == 8.0
    rng = np.random.default_rng(3)
    n, h, f, trials = 16, 4, 3, 4000
    hands = deal_hands(n, h, trials * f, rng).reshape(trials, f * h)
    used = np.array([np.unique(row).size for row in hands])
    sigma = used.std() / math.sqrt(trials)
    assert abs(used.mean() - expected_queues_used(n, h, f)) < 5 * sigma


# -------------------------------------------------------------------------- dealing
def test_deal_hands_distinct_uniform_and_seeded():
    a = deal_hands(32, 5, 4000, np.random.default_rng(1))
    b = deal_hands(32, 5, 4000, np.random.default_rng(1))
    assert a.shape == (4000, 5)
    np.testing.assert_array_equal(a, b)
    assert all(np.unique(row).size == 5 for row in a)
    counts = np.bincount(a.ravel(), minlength=32)
    expected = 4000 * 5 / 32
    # every queue equally likely: counts within 5 sigma of the binomial mean
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected))
    assert deal_hands(8, 2, 0, np.random.default_rng(1)).shape == (0, 2)


def test_squish_table_grid():
    frame = squish_table([16, 64], [2, 4, 32], elephants=(1, 4))
    assert list(frame.columns) == [
        "queues",
        "hand_size",
        "elephants",
        "probability",
        "overlap_probability",
    ]
    assert len(frame) == 2 * 2 + 3 * 2  # hand 32 only fits 64 queues
    row = frame[(frame.queues == 64) & (frame.hand_size == 4) & (frame.elephants == 4)]
    assert float(row.probability.iloc[0]) == squish_probability(64, 4, 4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 1, 1), "queues must be >= 1"),
        ((4, 0, 1), "hand_size must be >= 1"),
        ((4, 5, 1), "hand_size must be <= queues"),
        ((4, 2, -1), "elephants must be >= 0"),
        ((4.0, 2, 1), "queues must be a whole number"),
        ((4, 2, True), "elephants must be a whole number"),
    ],
)
def test_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        squish_probability(*args)


def test_bad_input_of_the_helpers():
    with pytest.raises(ValueError, match="flows must be a finite number >= 1"):
        expected_queues_used(8, 2, 0.5)
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        deal_hands(8, 2, 3, 42)


def _union_chain_in_floats(n, h, e):
    """P(squished) by the union-size chain in floating point (a second method)."""
    from scipy.stats import hypergeom

    u = np.arange(n + 1)[:, None]
    j = np.arange(h + 1)[None, :]
    # from a union of u queues, j new ones among the n - u outside: hypergeometric
    pmf = np.nan_to_num(hypergeom.pmf(j, n, n - u, h))
    step = np.zeros((n + 1, n + 1))
    rows, cols = np.nonzero((u + j <= n) & (pmf > 0))
    step[rows, rows + cols] = pmf[rows, cols]
    dist = np.zeros(n + 1)
    dist[0] = 1.0
    for _ in range(e):
        dist = dist @ step
    u = np.arange(n + 1)
    inside = np.exp(
        np.where(
            u >= h,
            [
                math.lgamma(x + 1) - math.lgamma(h + 1) - math.lgamma(x - h + 1) if x >= h else 0
                for x in u
            ],
            -np.inf,
        )
        - (math.lgamma(n + 1) - math.lgamma(h + 1) - math.lgamma(n - h + 1))
    )
    return float(dist @ inside)


@pytest.mark.parametrize(("n", "h", "e"), [(64, 8, 40), (128, 6, 300), (256, 7, 120)])
def test_many_elephants_match_the_union_chain_in_floats(n, h, e):
    assert squish_probability(n, h, e) == pytest.approx(_union_chain_in_floats(n, h, e), rel=1e-9)


def test_thousands_of_elephants_saturate():
    # 5000 elephants with hands of 6 of 1024 queues leave a given queue free with
    # probability (1 - 6/1024)**5000 ~ 1.9e-13; the mouse's 6 queues are all covered
    p = squish_probability(1024, 6, 5000)
    free = (1 - 6 / 1024) ** 5000
    assert p == pytest.approx(1 - 6 * free, abs=1e-20 + 20 * free**2)
