"""The distribution algebra against closed forms, Monte Carlo and its own invariants."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ha_toolkit.distribution import (
    Distribution,
    equilibrium,
    from_cdf,
    from_samples,
    max_of,
    min_of,
    mixture,
    point,
    renewal_overshoot,
    uniform,
)


def irwin_hall_cdf(x, n):
    """CDF of the sum of n Uniform(0, 1), by its closed form."""
    x = np.asarray(x, dtype=float)
    total = np.zeros_like(x)
    for k in range(n + 1):
        total += (-1) ** k * math.comb(n, k) * np.clip(x - k, 0, None) ** n
    return total / math.factorial(n)


def triangle_cdf(x):
    return irwin_hall_cdf(x, 2)


# ---------------------------------------------------------------- closed forms
def test_sum_of_two_uniforms_is_exact_at_lattice_points():
    h = 0.01
    s = uniform(0, 1, h) + uniform(0, 1, h)
    x = np.arange(0, 2.0001, h)
    np.testing.assert_allclose(s.cdf(x), triangle_cdf(x), atol=1e-12)
    xm = x[:-1] + h / 3
    np.testing.assert_allclose(s.cdf(xm), triangle_cdf(xm), atol=h**2)


def test_sum_of_three_uniforms_matches_irwin_hall():
    h = 0.005
    u = uniform(0, 1, h)
    s = u + u + u
    x = np.linspace(0, 3, 301)
    np.testing.assert_allclose(s.cdf(x), irwin_hall_cdf(x, 3), atol=5 * h**2)
    assert s.mean() == pytest.approx(1.5, rel=1e-12)
    # each convolution of cell-uniform parts adds at most step**2 / 6 of variance
    assert 0.25 <= s.var() <= 0.25 + 2 * h**2 / 6 + 1e-12


def test_uniforms_of_different_widths_give_a_trapezoid():
    h = 0.01
    s = uniform(0, 1, h) + uniform(0, 2, h)
    x = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    # X + Y, X ~ U(0,1), Y ~ U(0,2): piecewise closed form
    expected = np.where(
        x <= 1, x**2 / 4, np.where(x <= 2, (x - 0.5) / 2, 1 - (3 - x) ** 2 / 4)
    )
    np.testing.assert_allclose(s.cdf(x), expected, atol=1e-12)


def test_point_plus_uniform_is_a_shifted_uniform_everywhere():
    s = point(2.0) + uniform(0, 1, 0.1)
    x = np.linspace(1.5, 3.5, 41)
    np.testing.assert_allclose(s.cdf(x), np.clip(x - 2.0, 0, 1), atol=1e-12)
    assert s.ppf(0.37) == pytest.approx(2.37)
    assert s.support() == pytest.approx((2.0, 3.0))


def test_min_of_exponentials_on_the_grid_is_exponential_with_summed_rate():
    h = 0.01
    e1 = from_cdf(lambda x: 1 - np.exp(-1.0 * x), 0, 60, h)
    e2 = from_cdf(lambda x: 1 - np.exp(-2.5 * x), 0, 60, h)
    m = min_of(e1, e2)
    x = np.arange(0, 5, h)
    np.testing.assert_allclose(m.cdf(x), 1 - np.exp(-3.5 * x), atol=1e-12)


def test_min_of_geometric_atoms_is_geometric():
    k = np.arange(400)
    geo = Distribution(0.0, 0.5, 0.3 * 0.7**k, np.zeros(k.size - 1), _defective=True)
    m = min_of(geo, geo, geo)
    q = 0.7**3
    np.testing.assert_allclose(m.atoms[:30], (1 - q) * q ** k[:30], rtol=1e-10)
    assert m.cells.sum() == pytest.approx(0.0, abs=1e-14)


def test_max_of_uniforms_is_a_power():
    u = uniform(0, 1, 0.01)
    m = max_of(u, u, u)
    x = np.arange(0, 1.0001, 0.01)
    np.testing.assert_allclose(m.cdf(x), x**3, atol=1e-12)


def test_point_masses_keep_their_jumps():
    p = point(3.0)
    assert p.cdf(2.999) == 0.0
    assert p.cdf(3.0) == 1.0
    assert p.ppf(0.5) == 3.0
    assert p.mean() == 3.0 and p.std() == 0.0
    two = point(1.0) + point(2.5)
    assert two.support() == (3.5, 3.5)


def test_mixture_of_a_point_and_a_uniform():
    d = mixture([0.25, 0.75], [point(0.0, 0.1), uniform(0, 1, 0.1)])
    assert d.cdf(0.0) == pytest.approx(0.25)
    assert d.cdf(0.5) == pytest.approx(0.25 + 0.75 * 0.5)
    assert d.ppf(0.1) == pytest.approx(0.0)
    assert d.ppf(0.625) == pytest.approx(0.5)
    assert d.mean() == pytest.approx(0.375)


def test_negation_and_subtraction():
    u = uniform(0, 2, 0.1)
    assert (-u).support() == pytest.approx((-2.0, 0.0))
    d = u - uniform(0, 1, 0.1)
    # U(0,2) - U(0,1) on [-1, 2]: P(D <= 0) = 1/4
    assert d.cdf(0.0) == pytest.approx(0.25, abs=1e-12)
    assert d.mean() == pytest.approx(0.5, rel=1e-12)
    assert (5.0 - point(1.0)).mean() == pytest.approx(4.0)


def test_regrid_keeps_the_cdf_of_cell_uniform_mass():
    u = uniform(0, 1, 0.1)
    fine = u.regrid(0.05)
    x = np.linspace(0, 1, 21)
    np.testing.assert_allclose(fine.cdf(x), x, atol=1e-12)
    shifted_point = point(0.33).regrid(0.1, origin=0.0)
    assert shifted_point.mean() == pytest.approx(0.33)


def test_equilibrium_of_a_uniform_gap_matches_its_density():
    a, b = 2.0, 4.4
    gap = uniform(a, b, 0.008, origin=0.0)
    r = equilibrium(gap)
    mean_gap = (a + b) / 2

    def closed_form_cdf(x):
        # integral_0^x P(G > u) du / E[G]
        x = np.asarray(x, dtype=float)
        inside = a + ((b - a) ** 2 - (b - x) ** 2) / (2 * (b - a))
        integral = np.where(x <= a, x, np.where(x >= b, mean_gap, inside))
        return integral / mean_gap

    x = np.linspace(0, 4.4, 56)
    np.testing.assert_allclose(r.cdf(x), closed_form_cdf(x), atol=1e-9)
    assert r.mean() == pytest.approx((b**2 + a * b + a**2) / 3 / (2 * mean_gap), rel=1e-6)


def test_equilibrium_of_a_fixed_gap_is_uniform():
    r = equilibrium(point(2.0, 0.01))
    x = np.linspace(0, 2, 11)
    np.testing.assert_allclose(r.cdf(x), x / 2, atol=1e-12)


def test_overshoot_of_a_fixed_gap_is_a_point():
    o = renewal_overshoot(point(2.0, 0.01), 15.0)
    assert o.support() == pytest.approx((1.0, 1.0))
    exact = renewal_overshoot(point(2.0, 0.01), 16.0)
    assert exact.support() == pytest.approx((0.0, 0.0))  # an event at the level reaches it


def test_overshoot_below_the_first_gap_is_the_gap_shifted():
    gap = uniform(2.0, 4.4, 0.01, origin=0.0)
    o = renewal_overshoot(gap, 1.5)
    x = np.linspace(0.5, 2.9, 25)
    np.testing.assert_allclose(o.cdf(x), gap.cdf(x + 1.5), atol=1e-12)


def test_overshoot_matches_monte_carlo():
    gap = uniform(2.0, 4.4, 0.008, origin=0.0)
    level = 15.0
    o = renewal_overshoot(gap, level)
    rng = np.random.default_rng(20261126)
    n = 200_000
    times = rng.uniform(2.0, 4.4, size=(n, 10)).cumsum(axis=1)
    first = (times >= level).argmax(axis=1)
    sample = times[np.arange(n), first] - level
    ks = stats.kstest(sample, o.cdf)
    # 1 % critical value of the KS statistic at this n, plus the lattice error
    assert ks.statistic < 1.63 / math.sqrt(n) + 1e-3
    assert o.mean() == pytest.approx(sample.mean(), abs=4 * sample.std() / math.sqrt(n))


def test_sample_follows_the_cdf():
    d = uniform(0, 1, 0.05) + point(0.5) + uniform(0, 2, 0.05)
    draws = d.sample(50_000, rng=np.random.default_rng(7))
    assert stats.kstest(draws, d.cdf).statistic < 1.63 / math.sqrt(draws.size)
    again = d.sample(50_000, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(again, draws)


def test_from_samples_histogram():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 100_000)
    d = from_samples(x, 0.01)
    assert d.cdf(0.5) == pytest.approx(np.mean(x < 0.5), abs=1e-12)
    assert d.mean() == pytest.approx(x.mean(), abs=0.001)


def test_to_frame_and_summary():
    d = uniform(0, 1, 0.25)
    frame = d.to_frame()
    assert list(frame.columns) == ["t", "cdf", "pdf", "atom"]
    np.testing.assert_allclose(frame["cdf"], [0, 0.25, 0.5, 0.75, 1.0])
    s = d.summary()
    assert set(s) == {"mean", "std", "p50", "p90", "p99", "min", "max"}
    assert all(type(v) is float for v in s.values())  # JSON-ready, no numpy scalars
    assert s["p90"] == pytest.approx(0.9) and s["max"] == pytest.approx(1.0)
    assert s["std"] == pytest.approx(math.sqrt(1 / 12), rel=1e-12)


def test_sf_keeps_small_tails():
    d = from_cdf(lambda x: 1 - np.exp(-x), 0, 60, 0.01)
    assert d.sf(30.0) == pytest.approx(np.exp(-30.0), rel=1e-6)
    assert d.sf(61.0) == 0.0 and d.sf(-1.0) == 1.0


def test_plot_returns_the_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert uniform(0, 1, 0.1).plot(ax=ax, label="u") is ax
    assert [line.get_label() for line in ax.get_lines()][0].startswith("u")
    plt.close(fig)


def test_pdf_is_the_density_of_the_continuous_part():
    d = uniform(1, 3, 0.1)
    assert d.pdf(2.0) == pytest.approx(0.5)
    assert d.pdf(0.5) == 0.0 and d.pdf(3.5) == 0.0
    assert point(1.0).pdf(1.0) == 0.0


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("q", [-0.1, 1.5, float("nan")])
def test_ppf_rejects_probabilities_outside_unit_interval(q):
    with pytest.raises(ValueError, match="q must be in"):
        uniform(0, 1, 0.1).ppf(q)


def test_different_steps_are_refused_with_advice():
    with pytest.raises(ValueError, match="regrid"):
        uniform(0, 1, 0.1) + uniform(0, 1, 0.03)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: uniform(1, 0, 0.1), "a <= b"),
        (lambda: uniform(0, float("inf"), 0.1), "finite"),
        (lambda: uniform(0, 1, 0.0), "step"),
        (lambda: Distribution(0, 1, [0.5], []), "sum to 1"),
        (lambda: Distribution(0, 1, [1.0, -0.5], [0.5]), "non-negative"),
        (lambda: Distribution(0, 1, [1.0], [0.5]), "one more"),
        (lambda: mixture([0.5, 0.6], [point(0), point(1)]), "sum to 1"),
        (lambda: from_samples([], 0.1), "empty"),
        (lambda: renewal_overshoot(uniform(0, 1, 0.1), 5.0), "bounded away"),
        (lambda: point(1.0).shift(float("nan")), "finite"),
        (lambda: min_of(), "at least one"),
    ],
)
def test_bad_input_is_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- properties
STEP = 0.1


@st.composite
def distributions(draw):
    n = draw(st.integers(min_value=0, max_value=30))
    masses = st.floats(min_value=0, max_value=1, allow_nan=False)
    atoms = np.array(draw(st.lists(masses, min_size=n + 1, max_size=n + 1)))
    cells = np.array(draw(st.lists(masses, min_size=n, max_size=n)))
    if atoms.sum() + cells.sum() < 1e-6:
        atoms[0] = 1.0
    total = atoms.sum() + cells.sum()
    t0 = STEP * draw(st.integers(min_value=-50, max_value=50))
    return Distribution(t0, STEP, atoms / total, cells / total)


@settings(max_examples=60)
@given(distributions(), st.lists(st.floats(-10, 20), min_size=1, max_size=20))
def test_cdf_is_monotone_and_within_unit_interval(d, xs):
    x = np.sort(np.array(xs))
    f = d.cdf(x)
    assert np.all((f >= 0) & (f <= 1))
    assert np.all(np.diff(f) >= -1e-12)
    np.testing.assert_allclose(d.sf(x), 1.0 - f, atol=1e-12)


@settings(max_examples=60)
@given(distributions(), st.floats(min_value=0.001, max_value=0.999))
def test_ppf_inverts_cdf(d, q):
    x = d.ppf(q)
    assert d.cdf(x) >= q - 1e-9
    # no smaller point reaches q
    assert d.cdf(x - 1e-6) <= q + 1e-9
    # round trip: the cdf at ppf(cdf(x)) is the cdf at x
    lo, hi = d.support()
    y = lo + q * (hi - lo)
    assert d.cdf(d.ppf(d.cdf(y))) == pytest.approx(d.cdf(y), abs=1e-9)


@settings(max_examples=40)
@given(distributions(), distributions())
def test_mean_of_a_sum_is_the_sum_of_means(a, b):
    s = a + b
    assert s.mean() == pytest.approx(a.mean() + b.mean(), rel=1e-9, abs=1e-9)
    assert s.total == pytest.approx(1.0, abs=1e-9)
    # variances add, up to the step**2 / 6 of spreading each triangle over two cells
    assert s.var() == pytest.approx(a.var() + b.var(), abs=STEP**2 / 6 + 1e-9)


@settings(max_examples=40)
@given(distributions(), distributions())
def test_min_is_stochastically_smaller(a, b):
    m = min_of(a, b)
    x = np.linspace(-6, 10, 97)
    assert np.all(m.cdf(x) >= np.maximum(a.cdf(x), b.cdf(x)) - 1e-9)
    # P(min > x) = P(a > x) P(b > x) at lattice points
    grid = STEP * np.arange(-60, 100)
    np.testing.assert_allclose(m.sf(grid), a.sf(grid) * b.sf(grid), atol=1e-9)


def test_ks_distance_agrees_with_scipy_and_honours_atoms():
    d = uniform(0, 2, 0.01)
    sample = np.random.default_rng(11).uniform(0, 2, 5000)
    assert d.ks_distance(sample) == pytest.approx(stats.kstest(sample, lambda x: x / 2).statistic)
    # a sample from a point mass is at distance 0 from it, not 1
    assert point(3.0).ks_distance(np.full(10, 3.0)) == 0.0
    with pytest.raises(ValueError, match="sample"):
        d.ks_distance([])
