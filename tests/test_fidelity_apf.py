"""Upstream-fidelity fixes of the API server models: entropy check, queue-wait limit.

Hand-derived values:

* ``shufflesharding.RequiredEntropyBits(deck, hand) = ceil(log2(deck) * hand)`` is the
  smallest ``b`` with ``deck**hand <= 2**b``: exactly ``(deck**hand - 1).bit_length()`` in
  integers. 100 queues, hand 9: 100**9 = 10**18 < 2**60 (about 1.15e18), valid; hand 10
  needs 67 bits.
* The queue-wait limit is a quarter of the request's deadline, at most 1 min; the deadline
  is ``?timeout=`` when in (0, --request-timeout), else --request-timeout.
"""

from __future__ import annotations

import math

import pytest

from ha_toolkit.apiserver.apf import PriorityLevel, level_queue, queue_wait_limit
from ha_toolkit.apiserver.shuffle import MAX_HASH_BITS, required_entropy_bits


# ---------------------------------------------------------------- 4. entropy
def test_required_entropy_bits_is_the_bit_length_of_the_deals():
    for queues in range(1, 600):
        for hand in range(1, min(queues, 16) + 1):
            exact = (queues**hand - 1).bit_length() if queues > 1 else 0
            assert required_entropy_bits(queues, hand) == exact, (queues, hand)


def test_a_level_upstream_accepts_is_accepted():
    # 100 queues, hand 9: ceil(6.64 * 9) = 60 bits; the old rule said 9 * 7 = 63
    assert 100**9 <= 2**MAX_HASH_BITS
    level = PriorityLevel("x", queues=100, hand_size=9, queue_length_limit=50)
    assert level.queuing
    # 1024 queues (exactly 10 bits each): hand 6 is 60 bits, hand 7 is 70
    PriorityLevel("y", queues=1024, hand_size=6, queue_length_limit=1)


@pytest.mark.parametrize(("queues", "hand"), [(100, 10), (1024, 7), (17, 15)])
def test_a_level_upstream_rejects_is_rejected_with_its_message(queues, hand):
    assert queues**hand > 2**MAX_HASH_BITS
    with pytest.raises(ValueError, match="required entropy bits of deckSize") as info:
        PriorityLevel("x", queues=queues, hand_size=hand, queue_length_limit=1)
    assert "hand_size" in str(info.value)


# ---------------------------------------------------------------- 5. queue-wait limit
@pytest.mark.parametrize(
    ("timeout", "server", "expected"),
    [
        (None, 60.0, 15.0),  # no ?timeout=: a quarter of --request-timeout
        (0.0, 60.0, 15.0),  # ?timeout=0 means none
        (5.0, 60.0, 1.25),  # kube-scheduler's lease calls (lock client timeout 5 s)
        (30.0, 60.0, 7.5),
        (107.0, 60.0, 15.0),  # OpenShift's 1m47s is above --request-timeout
        (60.0, 60.0, 15.0),
        (None, 600.0, 60.0),  # the 1 min cap
        (300.0, 600.0, 60.0),
        (200.0, 600.0, 50.0),
        (3e-9, 60.0, 0.0),  # Go's integer Duration / 4: 3 ns -> 0
        (1.000000001, 60.0, 0.25),  # 1000000001 ns / 4 = 250000000 ns
    ],
)
def test_queue_wait_limit(timeout, server, expected):
    assert queue_wait_limit(timeout, server_request_timeout=server) == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"request_timeout": -1.0}, "request_timeout"),
        ({"request_timeout": "soon"}, "request_timeout"),
        ({"server_request_timeout": 0.0}, "server_request_timeout"),
        ({"server_request_timeout": math.inf}, "server_request_timeout"),
    ],
)
def test_queue_wait_limit_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        queue_wait_limit(**kwargs)


def test_level_queue_takes_the_wait_limit_from_the_request_timeout():
    # One server, ample room, wait limit D: Barrer's M/M/1+D, P(timeout) =
    # rho (1 - rho) z / (1 - rho^2 z), z = exp(-(mu - lambda) D); a lease call with
    # ?timeout=5s waits at most D = 1.25 s, not the 15 s of a request without one.
    level = PriorityLevel("one", queues=1, hand_size=1, queue_length_limit=1000)
    lam = 0.9
    lease = level_queue(level, 1, lam, 1.0, request_timeout=5.0)
    plain = level_queue(level, 1, lam, 1.0)
    for result, limit in ((lease, 1.25), (plain, 15.0)):
        z = math.exp(-(1.0 - lam) * limit)
        expected = lam * (1 - lam) * z / (1 - lam**2 * z)
        assert result.wait_limit == limit
        assert float(result.timeout_probability) == pytest.approx(expected, rel=1e-9)
    assert float(lease.timeout_probability) > 2 * float(plain.timeout_probability)
    with pytest.raises(ValueError, match="not both"):
        level_queue(level, 1, lam, 1.0, wait_limit=2.0, request_timeout=5.0)
