r"""Shuffle sharding: how well API Priority and Fairness isolates flows that share a level.

A queuing priority level has ``queues`` queues. Each flow (a FlowSchema plus its
distinguisher, e.g. the user) is dealt a *hand* of ``hand_size`` distinct queues from its
hash (apiserver ``pkg/util/shufflesharding``), and each of its requests joins the queue of
its hand with the least waiting work. A heavy flow (an *elephant*) fills the queues of its
hand; a light flow (a *mouse*) suffers only if every queue of its hand is also in some
elephant's hand: it is then *squished*.

The model, as in KEP-1040 and the Kubernetes documentation page on API Priority and
Fairness: hands are independent and uniformly random ``hand_size``-subsets of the
``queues`` queues.

Exact computation
-----------------
Let ``U`` be the union of the elephants' hands. Adding one hand to a union of ``u`` queues
adds ``j`` new ones with the hypergeometric probability
:math:`\binom{N-u}{j}\binom{u}{H-j} / \binom{N}{H}`, so the distribution of ``|U|`` after
``E`` elephants follows from ``E`` steps of that chain, and

.. math:: P(\text{squished}) = \sum_u P(|U| = u)\, \binom{u}{H} / \binom{N}{H}.

Everything is carried in integers (numerators over :math:`\binom{N}{H}^{E+1}`), so the
probability is exact and converted to a float once, correctly rounded.

Examples
--------
>>> from ha_toolkit.apiserver.shuffle import squish_probability
>>> squish_probability(queues=32, hand_size=12, elephants=1)  # 1 / C(32, 12)
4.428838398950118e-09
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_HASH_BITS",
    "Dealer",
    "deal_hands",
    "expected_queues_used",
    "flow_hand",
    "flow_hash",
    "overlap_probability",
    "required_entropy_bits",
    "squish_probability",
    "squish_table",
]

MAX_HASH_BITS = 60
"""``shufflesharding.MaxHashBits``: the bits of a flow's hash a dealer may consume."""

# math.Log2E as a float64: Go's Log2 multiplies by it
_LOG2_E = 1.4426950408889634


def _go_log2(x: float) -> float:
    """Go's ``math.Log2``: exact for powers of two, else ``Log(frac) * Log2E + exp``."""
    frac, exp = math.frexp(x)
    if frac == 0.5:
        return float(exp - 1)
    return math.log(frac) * _LOG2_E + exp


def required_entropy_bits(queues: int, hand_size: int) -> int:
    """Bits of hash a shuffle-sharding deal of ``hand_size`` of ``queues`` queues consumes.

    ``ceil(log2(queues) * hand_size)``, as apiserver ``pkg/util/shufflesharding``
    ``RequiredEntropyBits`` computes it in float64 (a slightly conservative estimate of
    ``log2(queues * (queues-1) * ... )``). The API server accepts a queuing configuration
    only when this is at most :data:`MAX_HASH_BITS` (60): kubernetes
    ``pkg/apis/flowcontrol/validation`` ``ValidatePriorityLevelQueuingConfiguration`` and
    ``shufflesharding.NewDealer``. Note that it is not ``hand_size * ceil(log2(queues))``:
    100 queues with hands of 9 need ``ceil(59.79) = 60`` bits and are valid.

    Parameters
    ----------
    queues, hand_size : int
        Deck and hand size, ``1 <= hand_size <= queues``.

    Returns
    -------
    int
        The required bits.

    Examples
    --------
    >>> required_entropy_bits(100, 9), required_entropy_bits(128, 6)
    (60, 42)
    """
    n, h = _check_hand(queues, hand_size)
    return math.ceil(_go_log2(float(n)) * float(h))


def _check_int(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if int(value) < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


def _check_hand(queues: object, hand_size: object) -> tuple[int, int]:
    n = _check_int(queues, "queues", 1)
    h = _check_int(hand_size, "hand_size", 1)
    if h > n:
        raise ValueError(f"hand_size must be <= queues ({n}), got {h}")
    return n, h


def _union_counts(n: int, h: int, elephants: int) -> dict[int, int]:
    """Weights w[u] with P(|union of the hands| = u) = w[u] / C(n, h)**elephants."""
    dist = {0: 1}
    for _ in range(elephants):
        new: dict[int, int] = {}
        for u, w in dist.items():
            # j new queues: choose them among the n - u outside, the rest among the u inside
            for j in range(max(0, h - u), min(h, n - u) + 1):
                new[u + j] = new.get(u + j, 0) + w * math.comb(n - u, j) * math.comb(u, h - j)
        dist = new
    return dist


def squish_probability(queues: int, hand_size: int, elephants: int) -> float:
    """Probability that a mouse's whole hand lies inside the elephants' hands.

    Parameters
    ----------
    queues : int
        Queues of the priority level (the deck), ``>= 1``.
    hand_size : int
        Queues dealt to each flow, ``1 <= hand_size <= queues``.
    elephants : int
        Number of heavy flows, ``>= 0``.

    Returns
    -------
    float
        The exact probability (rounded once to double precision) for independent uniformly
        random hands; 0 without elephants.

    Raises
    ------
    ValueError
        Non-integer or out-of-range arguments.
    """
    n, h = _check_hand(queues, hand_size)
    e = _check_int(elephants, "elephants", 0)
    if e == 0:
        return 0.0
    if e * n * h <= _CHAIN_WORK:
        dist = _union_counts(n, h, e)
        numerator = sum(w * math.comb(u, h) for u, w in dist.items())
        return numerator / math.comb(n, h) ** (e + 1)
    return _squish_by_inclusion_exclusion(n, h, e)


# Up to this much work (elephants x queues x hand size) the union chain runs in integers.
_CHAIN_WORK = 20_000


def _squish_by_inclusion_exclusion(n: int, h: int, e: int) -> float:
    """``sum_i (-1)**i C(h, i) (C(n - i, h) / C(n, h))**e`` over the mouse's ``i``-subsets.

    The mouse's hand lies in the union unless some of its queues are in no elephant's hand;
    a given ``i`` of them avoid one elephant with probability ``C(n - i, h) / C(n, h)``.
    Each term is formed in log space and the alternating sum taken with ``math.fsum``; when
    the round-off of the terms (``2**-52`` of their absolute sum) could exceed ``1e-13`` of
    the result, the sum is redone exactly in integers (few elephants: small powers).
    """
    terms = min(h, n - h)  # C(n - i, h) = 0 beyond
    values = []
    log_avoid = 0.0  # log(C(n - i, h) / C(n, h)), step by step: no cancellation
    for i in range(terms + 1):
        if i:
            log_avoid += math.log1p(-h / (n - i + 1))
        log_term = _log_comb(h, i) + e * log_avoid
        if log_term < -745.0:  # below the smallest double: this and every later term
            break
        values.append((-1) ** i * math.exp(log_term))
    result = math.fsum(values)
    round_off = 2.0**-52 * (len(values) + 1) * math.fsum(abs(v) for v in values)
    if result > 0 and round_off <= 1e-13 * result:
        return float(min(result, 1.0))
    numerator = sum(
        (-1) ** i * math.comb(h, i) * math.comb(n - i, h) ** e for i in range(terms + 1)
    )
    return numerator / math.comb(n, h) ** e


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def overlap_probability(queues: int, hand_size: int) -> float:
    """Probability that a flow shares at least one queue with one given other flow.

    ``1 - C(queues - hand_size, hand_size) / C(queues, hand_size)``, exact.

    Parameters
    ----------
    queues, hand_size : int
        As in :func:`squish_probability`.

    Returns
    -------
    float
        The probability that two independent uniformly random hands intersect.
    """
    n, h = _check_hand(queues, hand_size)
    total = math.comb(n, h)
    return (total - math.comb(n - h, h)) / total


def expected_queues_used(queues: int, hand_size: int, flows: float) -> float:
    """Expected number of distinct queues in the union of ``flows`` independent hands.

    Each queue is missed by one hand with probability ``1 - hand_size/queues``, so the
    expectation is ``queues * (1 - (1 - hand_size/queues) ** flows)``: ``hand_size`` for
    one flow, tending to ``queues`` as flows grow.

    Parameters
    ----------
    queues, hand_size : int
        As in :func:`squish_probability`.
    flows : float
        Number of flows (``>= 1``; a real number is accepted for interpolation).

    Returns
    -------
    float
        The expected union size.
    """
    n, h = _check_hand(queues, hand_size)
    try:
        f = float(flows)
    except (TypeError, ValueError):
        raise ValueError(f"flows must be a number >= 1, got {flows!r}") from None
    if isinstance(flows, bool) or not (math.isfinite(f) and f >= 1):
        raise ValueError(f"flows must be a finite number >= 1, got {flows!r}")
    if h == n:
        return float(n)
    return n * -math.expm1(f * math.log1p(-h / n))


def deal_hands(
    queues: int, hand_size: int, flows: int, rng: np.random.Generator
) -> np.ndarray:
    """Deal independent uniformly random hands, one per flow.

    Parameters
    ----------
    queues, hand_size : int
        As in :func:`squish_probability`.
    flows : int
        Number of hands to deal (``>= 0``).
    rng : numpy.random.Generator
        The random stream.

    Returns
    -------
    numpy.ndarray
        Integer array of shape ``(flows, hand_size)``; each row holds distinct queue
        indices in ``0 .. queues-1`` in the order dealt.
    """
    n, h = _check_hand(queues, hand_size)
    f = _check_int(flows, "flows", 0)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if f == 0:
        return np.empty((0, h), dtype=np.int64)
    # the first h columns of independent uniform permutations are uniform h-subsets
    keys = rng.random((f, n))
    return np.argsort(keys, axis=1)[:, :h].astype(np.int64)


def squish_table(
    queues: Iterable[int],
    hand_sizes: Iterable[int],
    elephants: Sequence[int] | int = (1, 4, 16),
) -> pd.DataFrame:
    """Squish and overlap probabilities over a grid, as a tidy table.

    Parameters
    ----------
    queues, hand_sizes : iterable of int
        Grid values; cells with ``hand_size > queues`` are left out.
    elephants : int or sequence of int, default (1, 4, 16)
        Elephant counts.

    Returns
    -------
    pandas.DataFrame
        Columns ``queues``, ``hand_size``, ``elephants``, ``probability`` (squish) and
        ``overlap_probability`` (shares a queue with one given elephant).
    """
    import pandas as pd

    es = [elephants] if isinstance(elephants, int | np.integer) else list(elephants)
    rows = []
    for n in queues:
        for h in hand_sizes:
            if h > n:
                continue
            overlap = overlap_probability(n, h)
            for e in es:
                rows.append(
                    {
                        "queues": int(n),
                        "hand_size": int(h),
                        "elephants": int(e),
                        "probability": squish_probability(n, h, e),
                        "overlap_probability": overlap,
                    }
                )
    return pd.DataFrame(
        rows, columns=["queues", "hand_size", "elephants", "probability", "overlap_probability"]
    )


# ------------------------------------------------------------------------- the dealer
class Dealer:
    """The API server's shuffle-sharding dealer (apiserver ``pkg/util/shufflesharding/
    shufflesharding.go``, ``Dealer``): a hand of distinct queues from a 64-bit hash.

    ``deal(hash)`` reads the hash as a mixed-radix number with digits ``d_i = hash mod
    (deck - i)`` (then ``hash //= deck - i``), ``i = 0 .. hand-1``; digit ``d_i`` picks the
    ``d_i``-th card still in the deck, counting from the lowest, in the order the earlier
    digits were taken out (upstream writes this as incrementing the digit past every
    earlier digit it reaches, latest first). Cards come out in dealing order, the order
    the server visits them (``DealIntoHand``).

    Parameters
    ----------
    deck_size : int
        Queues of the level (``1 .. 2**26``).
    hand_size : int
        Queues per hand, ``1 <= hand_size <= deck_size``, with
        ``ceil(log2(deck_size) * hand_size) <= 60`` (:func:`required_entropy_bits`).

    Raises
    ------
    ValueError
        With upstream's ``NewDealer`` messages.
    """

    def __init__(self, deck_size: int, hand_size: int) -> None:
        if isinstance(deck_size, bool) or not isinstance(deck_size, int | np.integer):
            raise ValueError(f"deck_size must be a whole number, got {deck_size!r}")
        if isinstance(hand_size, bool) or not isinstance(hand_size, int | np.integer):
            raise ValueError(f"hand_size must be a whole number, got {hand_size!r}")
        deck, hand = int(deck_size), int(hand_size)
        if deck <= 0 or hand <= 0:
            raise ValueError(f"deckSize {deck} or handSize {hand} is not positive")
        if hand > deck:
            raise ValueError(f"handSize {hand} is greater than deckSize {deck}")
        if deck > 1 << 26:
            raise ValueError(f"deckSize {deck} is impractically large")
        if required_entropy_bits(deck, hand) > MAX_HASH_BITS:
            raise ValueError(f"required entropy bits of deckSize {deck} and handSize {hand} "
                             f"is greater than {MAX_HASH_BITS}")
        self.deck_size = deck
        self.hand_size = hand

    def __repr__(self) -> str:
        return f"Dealer(deck_size={self.deck_size}, hand_size={self.hand_size})"

    def deal(self, hash_value: int) -> tuple[int, ...]:
        """The hand dealt from one hash value, in dealing order.

        Parameters
        ----------
        hash_value : int
            An unsigned 64-bit value (``0 <= hash_value < 2**64``).

        Returns
        -------
        tuple of int
            ``hand_size`` distinct queue indices.
        """
        h = _check_hash_value(hash_value)
        remaining = list(range(self.deck_size))
        hand = []
        for i in range(self.hand_size):
            h, digit = divmod(h, self.deck_size - i)
            hand.append(remaining.pop(digit))
        return tuple(hand)

    def deal_many(self, hash_values: Any) -> np.ndarray:
        """Hands for many hash values at once (vectorised; the same deal as :meth:`deal`).

        Parameters
        ----------
        hash_values : array_like of int
            Unsigned 64-bit values.

        Returns
        -------
        numpy.ndarray
            ``(len(hash_values), hand_size)`` int64 array of queue indices.
        """
        hv = np.asarray(hash_values)
        if hv.ndim != 1 or not (hv.dtype.kind in "ui" or hv.size == 0):
            raise ValueError("hash_values must be a one-dimensional array of integers")
        if hv.dtype.kind == "i" and hv.size and int(hv.min()) < 0:
            raise ValueError("hash_values must be >= 0")
        h = hv.astype(np.uint64)
        digits = np.empty((h.size, self.hand_size), dtype=np.int64)
        for i in range(self.hand_size):
            base = np.uint64(self.deck_size - i)
            digits[:, i] = (h % base).astype(np.int64)
            h = h // base
        # the digit-th card left in the deck: count past every card dealt before
        cards = digits.copy()
        for i in range(1, self.hand_size):
            c = digits[:, i].copy()
            taken = np.sort(cards[:, :i], axis=1)
            for j in range(i):  # lowest first: each taken card at or below c pushes c up
                c += taken[:, j] <= c
            cards[:, i] = c
        return cards


def _check_hash_value(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"hash_value must be a whole number, got {value!r}")
    v = int(value)
    if not 0 <= v < 1 << 64:
        raise ValueError(f"hash_value must lie in [0, 2**64), got {value!r}")
    return v


def flow_hash(flow_schema: str, distinguisher: str = "") -> int:
    """The API server's hash of a flow (``hashFlowID`` in apiserver
    ``pkg/util/flowcontrol/apf_controller.go``).

    SHA-256 of the FlowSchema name, one zero byte and the flow distinguisher (the user
    name, the namespace, or empty when the FlowSchema has no distinguisher method); the
    first 8 bytes of the digest read as a little-endian unsigned 64-bit integer. The server
    uses it only for levels with more than one queue (otherwise the hash is 0).

    Parameters
    ----------
    flow_schema : str
        The FlowSchema's name.
    distinguisher : str, default ""
        The flow distinguisher.

    Returns
    -------
    int
        The hash value, ``0 <= value < 2**64``.
    """
    import hashlib

    if not isinstance(flow_schema, str):
        raise ValueError(f"flow_schema must be a string, got {flow_schema!r}")
    if not isinstance(distinguisher, str):
        raise ValueError(f"distinguisher must be a string, got {distinguisher!r}")
    digest = hashlib.sha256(flow_schema.encode() + b"\0" + distinguisher.encode()).digest()
    return int.from_bytes(digest[:8], "little")


def flow_hand(queues: int, hand_size: int, flow_schema: str, distinguisher: str = ""
              ) -> tuple[int, ...]:
    """The queues the API server deals a flow: ``Dealer(queues, hand_size).deal(
    flow_hash(flow_schema, distinguisher))``.

    Parameters
    ----------
    queues, hand_size : int
        The level's queues and hand size.
    flow_schema, distinguisher : str
        As in :func:`flow_hash`.

    Returns
    -------
    tuple of int
        The hand in dealing order.
    """
    return Dealer(queues, hand_size).deal(flow_hash(flow_schema, distinguisher))
