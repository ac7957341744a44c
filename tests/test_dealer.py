"""The upstream dealer and flow hash.

The reference deal below is apiserver ``pkg/util/shufflesharding/shufflesharding.go``
``Dealer.Deal`` transcribed statement by statement (uint64 division and remainders, then
each remainder incremented past the earlier remainders, latest first); the library deals
by taking the digit-th card still in the deck, a different formulation. The other tests
port ``shufflesharding_test.go`` (``TestNewDealer``, ``TestCardDuplication``,
``TestUniformDistribution``).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from dealer_reference import MASK64, upstream_deal

from ha_toolkit.apiserver.shuffle import Dealer, flow_hand, flow_hash

CONFIGS = [(9, 3), (9, 1), (16, 4), (64, 6), (128, 6), (128, 8), (256, 7), (512, 6),
           (1024, 6), (6, 6), (12, 12), (1, 1)]


@pytest.mark.parametrize(("deck", "hand"), CONFIGS)
def test_deal_matches_upstream_source(deck, hand):
    rng = np.random.default_rng(deck * 100 + hand)
    values = [int(v) for v in rng.integers(0, 1 << 63, 400, dtype=np.uint64) * 2
              + rng.integers(0, 2, 400, dtype=np.uint64)]
    values += [0, 1, MASK64, MASK64 - 1, 1001001001, 2002002002, (1 << 60) - 1]
    dealer = Dealer(deck, hand)
    expected = [upstream_deal(deck, hand, v) for v in values]
    assert [list(dealer.deal(v)) for v in values] == expected
    np.testing.assert_array_equal(dealer.deal_many(np.array(values, dtype=np.uint64)),
                                  expected)


def test_scenario_hashes():
    """The hands of upstream's scenario clients (9 queues): with hands of one, the queue is
    the hash modulo 9 (digit sums 4 and 8)."""
    assert Dealer(9, 1).deal(1001001001) == (4,)
    assert Dealer(9, 1).deal(2002002002) == (8,)
    assert Dealer(9, 3).deal(1001001001) == tuple(upstream_deal(9, 3, 1001001001))


@pytest.mark.parametrize(("deck", "hand", "message"), [
    (-100, 8, "deckSize -100 or handSize 8 is not positive"),
    (100, 0, "deckSize 100 or handSize 0 is not positive"),
    (100, 101, "handSize 101 is greater than deckSize 100"),
    (1 << 27, 2, "deckSize 134217728 is impractically large"),
    (512, 8, "required entropy bits of deckSize 512 and handSize 8 is greater than 60"),
])
def test_new_dealer_errors(deck, hand, message):
    """``TestNewDealer``, with upstream's messages; 1024/6 needs exactly 60 bits."""
    with pytest.raises(ValueError, match=message):
        Dealer(deck, hand)
    assert Dealer(1024, 6).hand_size == 6


@pytest.mark.parametrize(("deck", "hand"), [(4, 4), (8, 8), (10, 10), (12, 12), (128, 8),
                                            (256, 7), (512, 6)])
def test_card_duplication(deck, hand):
    """``TestCardDuplication``: hand_size distinct cards in range."""
    rng = np.random.default_rng(deck + hand)
    for v in rng.integers(0, 1 << 63, 50, dtype=np.uint64):
        cards = Dealer(deck, hand).deal(int(v) * 2 + 1)
        assert len(cards) == hand and len(set(cards)) == hand
        assert all(0 <= c < deck for c in cards)


def _falling(n: int, m: int) -> int:
    return math.perm(n, m)


@pytest.mark.parametrize(("deck", "hand", "hash_max"), [
    pytest.param(64, 3, 1 << (math.ceil(math.log2(_falling(64, 3))) + 4),
                 marks=pytest.mark.slow),
    (128, 3, _falling(128, 3)),
    pytest.param(50, 4, _falling(50, 4), marks=pytest.mark.slow),
])
def test_uniform_distribution(deck, hand, hash_max):
    """``TestUniformDistribution``: dealing every hash in [0, hashMax) gives every hand
    (as a set) a count within [permutations x floor(n), permutations x ceil(n)],
    n = hashMax / fallingFactorial."""
    dealer = Dealer(deck, hand)
    cards = np.sort(dealer.deal_many(np.arange(hash_max, dtype=np.uint64)), axis=1)
    code = np.zeros(hash_max, dtype=np.int64)
    for j in range(hand):
        code = code * 128 + cards[:, j]
    _, counts = np.unique(code, return_counts=True)
    permutations = math.factorial(hand)
    nff = hash_max / _falling(deck, hand)
    assert counts.size == math.comb(deck, hand)
    assert counts.min() >= permutations * math.floor(nff)
    assert counts.max() <= permutations * math.ceil(nff)


def test_flow_hash_is_sha256_of_name_nul_distinguisher_little_endian():
    """``hashFlowID``: the first 8 digest bytes, least significant first."""
    for name, dist in [("system-leader-election", "system:kube-scheduler"),
                       ("workload-leader-election", ""), ("service-accounts", "kube-system"),
                       ("supercalifragilistic expialidocious",
                        "the sound of it is something quite atrocious")]:
        digest = hashlib.sha256(bytes(name, "utf-8") + bytes([0]) + bytes(dist, "utf-8"))
        first = digest.digest()[:8]
        expected = sum(b << (8 * k) for k, b in enumerate(first))
        assert flow_hash(name, dist) == expected
    # the separator keeps (name, distinguisher) pairs apart
    assert flow_hash("ab", "c") != flow_hash("a", "bc")
    assert flow_hand(64, 6, "ab", "c") == Dealer(64, 6).deal(flow_hash("ab", "c"))


@pytest.mark.parametrize("bad", [-1, 1 << 64, 1.5, True, "7"])
def test_bad_hash_values(bad):
    with pytest.raises(ValueError, match="hash_value"):
        Dealer(8, 2).deal(bad)
