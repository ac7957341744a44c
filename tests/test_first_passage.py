"""first_passage (one-pass renewal solve) against an attempt-by-attempt walk, and its mass.

The independent computation is the walk itself: the paths below the level take one more gap
(``+``), the part at or above the level is done (``split_at``), until no mass is left below.
It uses neither the renewal measure nor its transform.
"""

import numpy as np
import pytest

from ha_toolkit.distribution import (
    Distribution,
    first_passage,
    measure_sum,
    mixture,
    point,
    renewal_overshoot,
    uniform,
)


def walk_first_passage(start: Distribution, gap: Distribution, level: float) -> Distribution:
    """First event at or above ``level``, one gap at a time."""
    done = []
    pending = start
    for _ in range(100_000):
        below, above = pending.split_at(level)
        if above.total > 0:
            done.append(above)
        if below.total <= 0:
            break
        pending = below + gap
    else:  # pragma: no cover - a gap bounded away from 0 ends the walk
        raise AssertionError("walk did not end")
    return measure_sum(*done)


def random_gap(rng: np.random.Generator, step: float, on_lattice: bool = True) -> Distribution:
    """A gap of one of three kinds: a point, a jitter (cells), or atoms and cells mixed.

    With ``on_lattice`` a point gap is a whole number of steps (the walk then stays on one
    lattice); otherwise it may fall between lattice points.
    """
    kind = rng.integers(3)
    lo = float(rng.uniform(4, 40)) * step
    if kind == 0:
        return point(round(lo / step) * step if on_lattice else lo, step)
    width = float(rng.uniform(0.3, 30)) * step
    if kind == 1:
        return uniform(lo, lo + width, step, origin=0.0)
    # an atom at the lower end (a jitter that is sometimes zero) and a jitter above it
    return mixture(
        [0.3, 0.7],
        [point(lo, step).regrid(step, 0.0), uniform(lo, lo + width, step, origin=0.0)],
    )


def random_start(rng: np.random.Generator, step: float) -> Distribution:
    kind = rng.integers(3)
    t = float(rng.uniform(-5, 30))
    if kind == 0:
        return point(t, step)
    if kind == 1:
        return point(round(t / step) * step, step)
    return uniform(t, t + float(rng.uniform(0.5, 8)), step, origin=0.0)


def test_kube_scheduler_levels_keep_mass():
    """The levels at which the first passage lost up to 1.3 % of its mass."""
    from ha_toolkit.election.config import ElectionConfig
    from ha_toolkit.election.timing import follower_gap, lattice_step

    cfg = ElectionConfig.preset("kube-scheduler", candidates=1)
    for factor in (1, 5):
        step = factor * lattice_step(cfg)
        gap = follower_gap(cfg, step)
        for level in (10.0, 20.0, 37.42, 70.3):
            for t in (29.9, 0.0):
                total = first_passage(point(t, step), gap, level).total
                assert total == pytest.approx(1.0, abs=1e-9), (factor, level, t)


def test_mass_is_kept_at_random_levels_steps_and_gaps():
    rng = np.random.default_rng(20261201)
    for _ in range(60):
        step = float(rng.choice([0.01, 0.0333, 0.1, 0.25]))
        gap = random_gap(rng, step, on_lattice=bool(rng.integers(2)))
        start = random_start(rng, step)
        weight = float(rng.uniform(0.2, 1.0))
        start = Distribution(
            start.t0, start.step, start.atoms * weight, start.cells * weight, _defective=True
        )
        level = float(rng.uniform(-2, 60))
        result = first_passage(start, gap, level)
        assert result.total == pytest.approx(start.total, abs=1e-9), (step, gap, start, level)
        assert result.support()[0] >= level - step * (1 + 1e-9)


def _cdf_distance(a: Distribution, b: Distribution) -> float:
    lo = min(a.support()[0], b.support()[0]) - a.step
    hi = max(a.support()[1], b.support()[1]) + a.step
    x = np.union1d(np.union1d(a.grid, b.grid), np.linspace(lo, hi, 2001))
    return float(np.max(np.abs(a.cdf(x) - b.cdf(x))))


def test_whole_measure_matches_the_walk():
    rng = np.random.default_rng(7)
    for _ in range(40):
        step = float(rng.choice([0.02, 0.0333, 0.1, 0.25]))
        gap = random_gap(rng, step)
        start = random_start(rng, step)
        level = float(rng.uniform(-2, 40))
        one_pass = first_passage(start, gap, level)
        walked = walk_first_passage(start, gap, level)
        assert one_pass.total == pytest.approx(walked.total, abs=1e-9)
        assert _cdf_distance(one_pass, walked) < 1e-9, (step, gap, start, level)


def test_level_on_and_off_the_lattice_of_the_start():
    """A level at, just past and halfway into a cell of the events' lattice."""
    step = 0.1
    gap = uniform(2.0, 2.7, step, origin=0.0)
    start = point(0.0, step)
    for level in (10.0, 10.0 + 1e-3, 10.05, 10.1 - 1e-3, 10.1):
        one_pass = first_passage(start, gap, level)
        walked = walk_first_passage(start, gap, level)
        assert one_pass.total == pytest.approx(1.0, abs=1e-9)
        assert _cdf_distance(one_pass, walked) < 1e-9, level


def test_renewal_overshoot_matches_the_walk():
    """The overshoot cuts its renewal measure once, at the level: no mass is lost there."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        step = float(rng.choice([0.0333, 0.1, 0.25]))
        gap = random_gap(rng, step)
        level = float(rng.uniform(0.5, 40))
        overshoot = renewal_overshoot(gap, level)
        walked = walk_first_passage(gap, gap, level) - level
        assert overshoot.total == pytest.approx(1.0, abs=1e-9)
        assert overshoot.mean() == pytest.approx(walked.mean(), abs=step)


def walk_through_outage(polls, outage, lat, normal_gap, outage_gap):
    """The follower's attempts one at a time: normal gaps before the outage, its gap in it."""
    done = []
    pending = polls
    for _ in range(100_000):
        before, rest = pending.split_at(-lat / 2)
        during, after = rest.split_at(outage - lat / 2)
        if after.total > 0:
            done.append(after)
        moved = [part + gap for part, gap in ((before, normal_gap), (during, outage_gap))]
        moved = [m for m in moved if m.total > 0]
        if not moved:
            return measure_sum(*done)
        pending = measure_sum(*moved)
    raise AssertionError("walk did not end")  # pragma: no cover


def test_outage_passages_match_the_walk():
    """Two first passages (before the outage, then through it) against the two-level walk."""
    from ha_toolkit.election.outage import _first_poll_after_outage

    rng = np.random.default_rng(3)
    for _ in range(25):
        step = float(rng.choice([0.0333, 0.1, 0.25]))
        normal_gap = random_gap(rng, step)
        outage_gap = normal_gap + float(rng.integers(0, 40)) * step
        polls = random_start(rng, step).shift(-float(rng.uniform(0, 20)))
        # short outages too: then the first attempts after the outage start straddle its end
        outage = float(rng.uniform(0.2, 3.0)) * normal_gap.support()[1]
        lat = float(rng.uniform(0, 0.2))
        one_pass = _first_poll_after_outage(polls, outage, lat, normal_gap, outage_gap)
        walked = walk_through_outage(polls, outage, lat, normal_gap, outage_gap)
        assert one_pass.total == pytest.approx(1.0, abs=1e-9)
        assert _cdf_distance(one_pass, walked) < 1e-9, (step, normal_gap, outage, lat)
