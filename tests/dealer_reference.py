"""apiserver ``pkg/util/shufflesharding/shufflesharding.go`` ``Dealer.Deal``, transcribed
statement by statement for the tests (uint64 division and remainders, then each remainder
incremented past the earlier remainders, latest first): an independent reference for the
library's dealer, which takes the digit-th card still in the deck."""

from __future__ import annotations

MASK64 = (1 << 64) - 1


def upstream_deal(deck_size: int, hand_size: int, hash_value: int) -> list[int]:
    """``Dealer.Deal`` as written in shufflesharding.go."""
    remainders = [0] * 15
    for i in range(hand_size):
        hash_value_next = (hash_value // (deck_size - i)) & MASK64
        remainders[i] = (hash_value - ((deck_size - i) * hash_value_next)) & MASK64
        hash_value = hash_value_next
    hand = []
    for i in range(hand_size):
        card = remainders[i]
        for j in range(i, 0, -1):
            if card >= remainders[j - 1]:
                card += 1
        hand.append(card)
    return hand
