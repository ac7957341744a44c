"""Random durations on a uniform time grid, and their algebra.

A :class:`Distribution` is a probability measure on the real line made of two parts that
live on one lattice ``x_k = t0 + k * step`` (``k = 0 .. n``):

* **atoms**: point masses at the lattice points (fixed latencies, jitter-free periods);
* **cells**: mass spread uniformly over each open cell ``(x_k, x_k+1)`` (densities).

This mixed form keeps point masses exact while densities are piecewise constant, so the
CDF is piecewise linear between lattice points with jumps at the atoms. The operations are
exact for that representation at the lattice points, with one exception each:

* ``+`` (convolution): the sum of two cell-uniform pieces is a triangle over two cells; its
  mass per cell is exact (half in each) but is again spread uniformly within each cell.
  The CDF error this causes is O(step**2) times the density's slope.
* :func:`min_of` / :func:`max_of`: survival functions multiply exactly at lattice points;
  inside a cell the product is again taken as linear.

Shifting by any amount only moves ``t0`` and is exact. Operations between distributions
need the same ``step``; :meth:`Distribution.regrid` moves a distribution to another lattice.

The scipy-like face (``cdf``, ``sf``, ``pdf``, ``ppf``, ``mean``, ``std``, ``sample``) follows
:mod:`scipy.stats` frozen distributions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Distribution",
    "equilibrium",
    "first_passage",
    "from_cdf",
    "from_samples",
    "max_of",
    "measure_sum",
    "min_of",
    "mixture",
    "point",
    "renewal_measure",
    "renewal_overshoot",
    "uniform",
]

# Relative tolerance for "this position is a lattice point" and "these steps are equal".
_LATTICE_TOL = 1e-7
# Absolute tolerance on total probability mass.
_MASS_TOL = 1e-8
# Masses at or below this at either end of a result are dropped: only exact zeros, so that a
# result keeps its whole support (its smallest and largest values).
_TRIM = 0.0
# Masses below this, made by differences of products, are round-off.
_ROUND_OFF = 1e-12
# Masses of a renewal measure below this fraction of its largest are the transform's round-off.
_RENEWAL_ROUND_OFF = 1e-10
# Above this many products, convolution goes through the FFT.
_FFT_THRESHOLD = 1_000_000


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.size == 0 or b.size == 0:
        return np.zeros(max(a.size + b.size - 1, 0))
    if a.size * b.size > _FFT_THRESHOLD:
        from scipy import signal  # imported here: it costs the command line a second

        out = signal.fftconvolve(a, b)
        # the transform's round-off, about 1e-16 of the largest value, is not mass
        out[out < 1e-14 * out.max()] = 0.0
        return out
    return np.convolve(a, b)


class Distribution:
    """A random duration: atoms and cell-uniform mass on a uniform lattice.

    Parameters
    ----------
    t0 : float
        Position of the first lattice point (seconds).
    step : float
        Lattice spacing (seconds), > 0.
    atoms : array_like, shape (n + 1,)
        Point mass at ``t0 + k * step``.
    cells : array_like, shape (n,)
        Mass spread uniformly over ``(t0 + k * step, t0 + (k + 1) * step)``.

    Notes
    -----
    Use the factory functions (:func:`point`, :func:`uniform`, :func:`from_cdf`,
    :func:`from_samples`) rather than this constructor. Masses must be non-negative and sum
    to one (within 1e-8; they are renormalised).
    """

    __slots__ = ("_t0", "_step", "_atoms", "_cells", "_cum")

    def __init__(self, t0: float, step: float, atoms, cells, *, _defective: bool = False):
        t0 = float(t0)
        step = float(step)
        if not math.isfinite(t0):
            raise ValueError(f"t0 must be finite, got {t0!r}")
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be finite and > 0, got {step!r}")
        atoms = np.asarray(atoms, dtype=float).ravel()
        cells = np.asarray(cells, dtype=float).ravel()
        if atoms.size != cells.size + 1:
            raise ValueError(
                f"atoms must have one more entry than cells, got {atoms.size} and {cells.size}"
            )
        if not (np.all(np.isfinite(atoms)) and np.all(np.isfinite(cells))):
            raise ValueError("masses must be finite")
        if np.any(atoms < 0) or np.any(cells < 0):
            raise ValueError("masses must be non-negative")
        total = atoms.sum() + cells.sum()
        if not _defective:
            if abs(total - 1.0) > _MASS_TOL:
                raise ValueError(f"masses must sum to 1, got {total!r}")
            atoms = atoms / total
            cells = cells / total
        self._t0, self._step = t0, step
        self._atoms, self._cells = atoms, cells
        self._cum = None

    # ------------------------------------------------------------------ structure
    @property
    def step(self) -> float:
        """Lattice spacing in seconds."""
        return self._step

    @property
    def t0(self) -> float:
        """Position of the first lattice point."""
        return self._t0

    @property
    def atoms(self) -> np.ndarray:
        """Point masses at the lattice points (a copy)."""
        return self._atoms.copy()

    @property
    def cells(self) -> np.ndarray:
        """Masses of the lattice cells (a copy)."""
        return self._cells.copy()

    @property
    def grid(self) -> np.ndarray:
        """The lattice points ``t0 + k * step``."""
        return self._t0 + self._step * np.arange(self._atoms.size)

    @property
    def total(self) -> float:
        """Total mass (1 for a distribution)."""
        return float(self._atoms.sum() + self._cells.sum())

    @property
    def is_point(self) -> bool:
        """True when all mass sits at one lattice point."""
        return self._cells.size == 0

    def __repr__(self) -> str:
        lo, hi = self.support()
        return (
            f"Distribution(support=[{lo:.6g}, {hi:.6g}], mean={self.mean():.6g}, "
            f"std={self.std():.6g}, step={self._step:.3g}, points={self._atoms.size})"
        )

    # ------------------------------------------------------------------ cumulative arrays
    def _cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        """F(x_k) and F(x_k-) at every lattice point."""
        if self._cum is None:
            before = np.concatenate(([0.0], np.cumsum(self._atoms[:-1] + self._cells)))
            at = before + self._atoms
            self._cum = (np.minimum(at, 1.0), np.minimum(before, 1.0))
        return self._cum

    def _position(self, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cell index, fraction inside it, and a mask of points before the lattice."""
        u = (np.asarray(x, dtype=float) - self._t0) / self._step
        k = np.floor(u + _LATTICE_TOL)
        frac = np.clip(u - k, 0.0, 1.0)
        before = k < 0
        k = np.clip(k, 0, self._atoms.size - 1).astype(np.int64)
        return k, frac, before

    # ------------------------------------------------------------------ scipy-like face
    def cdf(self, x):
        """P(X <= x)."""
        at, _ = self._cumulative()
        k, frac, before = self._position(x)
        cells = np.append(self._cells, 0.0)
        value = at[k] + cells[k] * frac
        value = np.where(before, 0.0, np.minimum(value, 1.0))
        return value if np.ndim(value) else float(value)

    def _cdf_left(self, x) -> np.ndarray:
        """P(X < x): the CDF without the atom at a lattice point x."""
        at, before = self._cumulative()
        k, frac, outside = self._position(x)
        cells = np.append(self._cells, 0.0)
        on_point = frac <= 0.0
        value = np.where(on_point, before[k], at[k] + cells[k] * frac)
        return np.where(outside, 0.0, np.minimum(value, 1.0))

    def sf(self, x):
        """P(X > x), summed from the right so that small tails keep their precision."""
        k, frac, before = self._position(x)
        cells = np.append(self._cells, 0.0)
        # mass of everything after lattice point k: atoms k+1.. and cells k..
        after = np.concatenate((np.cumsum((self._atoms[1:] + self._cells)[::-1])[::-1], [0.0]))
        value = after[k] - cells[k] * frac
        value = np.where(before, 1.0, np.clip(value, 0.0, 1.0))
        return value if np.ndim(value) else float(value)

    def pdf(self, x):
        """Density of the continuous part (atoms are not densities and are left out)."""
        u = (np.asarray(x, dtype=float) - self._t0) / self._step
        k = np.floor(u)
        inside = (k >= 0) & (k < self._cells.size)
        kk = np.clip(k, 0, max(self._cells.size - 1, 0)).astype(np.int64)
        dens = self._cells[kk] / self._step if self._cells.size else np.zeros_like(u)
        value = np.where(inside, dens, 0.0)
        return value if np.ndim(value) else float(value)

    def ppf(self, q):
        """Smallest x with P(X <= x) >= q (the quantile function)."""
        q_arr = np.asarray(q, dtype=float)
        if np.any(~np.isfinite(q_arr)) or np.any((q_arr < 0) | (q_arr > 1)):
            raise ValueError(f"q must be in [0, 1], got {q!r}")
        at, before = self._cumulative()
        lo, hi = self.support()
        k = np.searchsorted(at, q_arr - 1e-15, side="left")
        k = np.clip(k, 0, at.size - 1)
        in_cell = (before[k] >= q_arr) & (k > 0)
        km1 = np.maximum(k - 1, 0)
        cell_mass = np.append(self._cells, 0.0)[km1]
        rise = np.broadcast_to(q_arr - at[km1], cell_mass.shape)
        frac = np.divide(rise, cell_mass, out=np.ones(cell_mass.shape), where=cell_mass > 0)
        x_cell = self._t0 + self._step * (km1 + np.clip(frac, 0.0, 1.0))
        x_atom = self._t0 + self._step * k
        value = np.where(in_cell, x_cell, x_atom)
        value = np.clip(value, lo, hi)
        value = np.where(q_arr <= 0, lo, value)
        return value if np.ndim(value) else float(value)

    quantile = ppf

    def isf(self, q):
        """Inverse survival function: ppf(1 - q)."""
        return self.ppf(1.0 - np.asarray(q, dtype=float))

    def mean(self) -> float:
        """Expected value."""
        x = self.grid
        return float(self._atoms @ x + self._cells @ (x[:-1] + 0.5 * self._step))

    def var(self) -> float:
        """Variance."""
        m = self.mean()
        x = self.grid - m
        mid = x[:-1] + 0.5 * self._step
        second = self._atoms @ x**2 + self._cells @ (mid**2 + self._step**2 / 12.0)
        return float(max(second, 0.0))

    def std(self) -> float:
        """Standard deviation."""
        return math.sqrt(self.var())

    def support(self) -> tuple[float, float]:
        """Smallest interval holding all the mass."""
        atom_idx = np.flatnonzero(self._atoms)
        cell_idx = np.flatnonzero(self._cells)
        starts = []
        ends = []
        if atom_idx.size:
            starts.append(atom_idx[0])
            ends.append(atom_idx[-1])
        if cell_idx.size:
            starts.append(cell_idx[0])
            ends.append(cell_idx[-1] + 1)
        return (self._t0 + self._step * min(starts), self._t0 + self._step * max(ends))

    def expect(self, func) -> float:
        """E[func(X)], integrating each cell by 5-point Gauss-Legendre."""
        nodes, weights = np.polynomial.legendre.leggauss(5)
        x = self.grid
        value = float(self._atoms @ func(x))
        if self._cells.size:
            pts = x[:-1, None] + 0.5 * self._step * (nodes[None, :] + 1.0)
            value += float(self._cells @ (func(pts) @ (0.5 * weights)))
        return value

    def integrated_cdf(self, x):
        """The integral of the CDF from minus infinity to ``x``, exact for this representation.

        ``E[max(x - X, 0)]``; differences of it give integrals of the CDF over intervals.
        """
        x = np.asarray(x, dtype=float)
        at, _ = self._cumulative()
        grid = self.grid
        cells = np.append(self._cells, 0.0)
        # integral of F over source cell k: step * (F(x_k) + cells_k / 2)
        cum = np.concatenate(([0.0], np.cumsum(self._step * (at[:-1] + 0.5 * self._cells))))
        u = (x - grid[0]) / self._step
        k = np.clip(np.floor(u), 0, grid.size - 1).astype(np.int64)
        d = np.clip(x - grid[k], 0.0, None)
        inside = cum[k] + at[k] * d + cells[k] * np.clip(d / self._step, 0.0, 1.0) * d / 2.0
        value = np.where(u >= 0, inside, 0.0)
        value = np.where(x > grid[-1], cum[-1] + at[-1] * (x - grid[-1]), value)
        return value if np.ndim(value) else float(value)

    def sample(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Draw ``n`` independent values.

        Parameters
        ----------
        n : int
            Number of draws.
        rng : numpy.random.Generator, optional
            The random stream; pass one for reproducible draws.
        """
        if rng is None:
            rng = np.random.default_rng()
        if int(n) != n or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        n = int(n)
        probs = np.concatenate((self._atoms, self._cells))
        idx = rng.choice(probs.size, size=n, p=probs / probs.sum())
        n_atoms = self._atoms.size
        is_cell = idx >= n_atoms
        k = np.where(is_cell, idx - n_atoms, idx)
        offset = np.where(is_cell, rng.random(n), 0.0)
        return self._t0 + self._step * (k + offset)

    def summary(self, quantiles: Sequence[float] = (0.5, 0.9, 0.99)) -> dict[str, float]:
        """Mean, std, the given quantiles (keys ``p50``, ``p90``, ...), min and max."""
        out = {"mean": self.mean(), "std": self.std()}
        for q in quantiles:
            out[f"p{100 * q:g}"] = float(self.ppf(q))
        lo, hi = self.support()
        out["min"], out["max"] = float(lo), float(hi)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Tidy table of the lattice: t, cdf, pdf (of the cell starting at t), atom."""
        import pandas as pd

        at, _ = self._cumulative()
        return pd.DataFrame(
            {
                "t": self.grid,
                "cdf": at,
                "pdf": np.append(self._cells, 0.0) / self._step,
                "atom": self._atoms,
            }
        )

    def ks_distance(self, sample) -> float:
        """One-sample Kolmogorov-Smirnov distance ``sup |F_n - F|`` of a sample to this.

        Atoms are honoured: on each side of a jump the empirical CDF is compared with the
        CDF's value on that side.
        """
        x = np.sort(np.asarray(sample, dtype=float).ravel())
        if x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError("sample must be non-empty and finite")
        n = x.size
        right = np.asarray(self.cdf(x), dtype=float)
        left = self._cdf_left(x)
        above = np.arange(1, n + 1) / n - right
        below = left - np.arange(n) / n
        return float(max(above.max(), below.max()))

    def plot(self, ax=None, *, label: str = "distribution", **kwargs):
        """Plot the CDF with its p99 marked (see :func:`ha_toolkit.plotting.plot_cdf`).

        Returns the matplotlib Axes.
        """
        from ha_toolkit.plotting import plot_cdf

        return plot_cdf({label: self}, ax=ax, **kwargs)

    # ------------------------------------------------------------------ algebra
    def shift(self, dt: float) -> Distribution:
        """The distribution of X + dt (exact)."""
        dt = float(dt)
        if not math.isfinite(dt):
            raise ValueError(f"dt must be finite, got {dt!r}")
        return self._like(self._t0 + dt, self._atoms, self._cells)

    def scale(self, factor: float) -> Distribution:
        """The distribution of factor * X, factor > 0 (exact; the step scales too)."""
        factor = float(factor)
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"factor must be finite and > 0, got {factor!r}")
        return Distribution(
            self._t0 * factor, self._step * factor, self._atoms, self._cells, _defective=True
        )

    def __neg__(self) -> Distribution:
        lo = self._t0 + self._step * (self._atoms.size - 1)
        return self._like(-lo, self._atoms[::-1], self._cells[::-1])

    def __add__(self, other) -> Distribution:
        if isinstance(other, Distribution):
            return _convolve_distributions(self, other)
        if isinstance(other, int | float | np.floating | np.integer):
            return self.shift(float(other))
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other) -> Distribution:
        if isinstance(other, Distribution):
            return _convolve_distributions(self, -other)
        if isinstance(other, int | float | np.floating | np.integer):
            return self.shift(-float(other))
        return NotImplemented

    def __rsub__(self, other) -> Distribution:
        return (-self) + other

    def regrid(self, step: float | None = None, origin: float = 0.0) -> Distribution:
        """Move the mass onto the lattice ``origin + k * step``.

        Cell mass is split in proportion to overlap (exact for cell-uniform mass); an atom
        that falls between two lattice points is split between them so that the mean is
        kept (this smears it over one step).
        """
        step = self._step if step is None else float(step)
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be finite and > 0, got {step!r}")
        lo, hi = self.support()
        k0 = math.floor((lo - origin) / step + _LATTICE_TOL)
        k1 = math.ceil((hi - origin) / step - _LATTICE_TOL)
        k1 = max(k1, k0)
        y = origin + step * np.arange(k0, k1 + 1)
        atoms = np.zeros(y.size)
        # Atoms: split between the two neighbouring target points.
        src = self.grid
        mask = self._atoms > 0
        u = (src[mask] - y[0]) / step
        j = np.floor(u + _LATTICE_TOL).astype(np.int64)
        frac = np.clip(u - j, 0.0, 1.0)
        frac[frac < _LATTICE_TOL] = 0.0
        j = np.clip(j, 0, y.size - 1)
        np.add.at(atoms, j, self._atoms[mask] * (1.0 - frac))
        np.add.at(atoms, np.minimum(j + 1, y.size - 1), self._atoms[mask] * frac)
        # Cells: the continuous part's CDF, evaluated at the target points.
        if self._cells.size:
            cont = np.concatenate(([0.0], np.cumsum(self._cells)))
            cont_at_y = np.interp(y, src, cont)
            cells = np.maximum(np.diff(cont_at_y), 0.0)
        else:
            cells = np.zeros(y.size - 1)
        return Distribution(y[0], step, atoms, cells, _defective=True)._normalised_like(self)

    # ------------------------------------------------------------------ helpers
    def _like(self, t0: float, atoms: np.ndarray, cells: np.ndarray) -> Distribution:
        return Distribution(t0, self._step, atoms, cells, _defective=True)

    def _normalised_like(self, source: Distribution) -> Distribution:
        """Keep the total mass of ``source`` (regridding moves mass, never makes it)."""
        total = self.total
        if total > 0:
            scale = source.total / total
            self._atoms *= scale
            self._cells *= scale
        return self

    def _trimmed(self) -> Distribution:
        """Drop lattice points with (near) no mass at both ends."""
        mass = self._atoms + np.concatenate(([0.0], self._cells))
        mass_fwd = self._atoms + np.append(self._cells, 0.0)
        keep_from = int(np.argmax(mass_fwd > _TRIM)) if np.any(mass_fwd > _TRIM) else 0
        nz = np.flatnonzero(mass > _TRIM)
        keep_to = int(nz[-1]) if nz.size else 0  # last point index with mass at or before it
        keep_to = min(max(keep_to, keep_from), self._atoms.size - 1)
        atoms = self._atoms[keep_from : keep_to + 1].copy()
        cells = self._cells[keep_from:keep_to].copy()
        lost = self.total - atoms.sum() - cells.sum()
        if lost > 0 and atoms.size:
            # What was cut is round-off; keep the total by giving it back in proportion.
            s = atoms.sum() + cells.sum()
            if s > 0:
                atoms *= 1.0 + lost / s
                cells *= 1.0 + lost / s
        return self._like(self._t0 + self._step * keep_from, atoms, cells)

    def split_at(self, level: float) -> tuple[Distribution, Distribution]:
        """The sub-probability measures on (-inf, level) and [level, inf).

        Their masses (``.total``) add up to this one's; combine such parts again with
        :func:`measure_sum`.

        A cell that straddles ``level`` is split in proportion to length; the part above
        stays spread over the whole cell (an O(step) displacement of that sliver).
        """
        u = (level - self._t0) / self._step
        x_idx = np.arange(self._atoms.size)
        atoms_below = np.where(x_idx < u - _LATTICE_TOL, self._atoms, 0.0)
        c_idx = np.arange(self._cells.size)
        frac_below = np.clip(u - c_idx, 0.0, 1.0)
        frac_below[np.abs(frac_below - 1.0) < _LATTICE_TOL] = 1.0
        frac_below[frac_below < _LATTICE_TOL] = 0.0
        cells_below = self._cells * frac_below
        below = self._like(self._t0, atoms_below, cells_below)
        above = self._like(self._t0, self._atoms - atoms_below, self._cells - cells_below)
        return below, above


# ---------------------------------------------------------------------- lattice alignment
def _common_step(dists: Sequence[Distribution]) -> float:
    steps = [d.step for d in dists if not d.is_point]
    if not steps:
        return dists[0].step
    ref = steps[0]
    for s in steps[1:]:
        if abs(s - ref) > _LATTICE_TOL * ref:
            raise ValueError(
                f"distributions have different steps ({ref!r} and {s!r}); "
                "bring them onto one lattice with .regrid(step, origin)"
            )
    return ref


def _on_common_lattice(dists: Sequence[Distribution]) -> tuple[float, float, list[tuple]]:
    """Embed every distribution in one lattice; return (t0, step, [(atoms, cells)])."""
    step = _common_step(dists)
    ref = next((d for d in dists if not d.is_point), dists[0])
    origin = ref.t0
    aligned = []
    for d in dists:
        offset = (d.t0 - origin) / step
        if abs(offset - round(offset)) > 1e-6 or (d.is_point and d.step != step):
            d = d.regrid(step, origin)
        aligned.append(d)
    starts = [round((d.t0 - origin) / step) for d in aligned]
    ends = [s + d._atoms.size - 1 for s, d in zip(starts, aligned, strict=True)]
    k0, k1 = min(starts), max(ends)
    n = k1 - k0
    out = []
    for s, d in zip(starts, aligned, strict=True):
        atoms = np.zeros(n + 1)
        cells = np.zeros(n)
        i = s - k0
        atoms[i : i + d._atoms.size] = d._atoms
        cells[i : i + d._cells.size] = d._cells
        out.append((atoms, cells))
    return origin + step * k0, step, out


def _convolve_distributions(a: Distribution, b: Distribution) -> Distribution:
    if a.is_point and a._atoms.size == 1:
        return b.shift(a.t0) if a.total == 1 else _scaled(b.shift(a.t0), a.total)
    if b.is_point and b._atoms.size == 1:
        return _scaled(a.shift(b.t0), b.total)
    step = _common_step([a, b])
    aa = _convolve(a._atoms, b._atoms)
    cells = _convolve(a._atoms, b._cells) + _convolve(a._cells, b._atoms)
    cc = _convolve(a._cells, b._cells)
    if cc.size:
        # U(0,h) + U(0,h) is a triangle on (0, 2h): half its mass in each of two cells.
        cells[: cc.size] += 0.5 * cc
        cells[1 : cc.size + 1] += 0.5 * cc
    return Distribution(a.t0 + b.t0, step, aa, cells, _defective=True)._trimmed()


def _scaled(d: Distribution, factor: float) -> Distribution:
    if factor == 1.0:
        return d
    return d._like(d.t0, d._atoms * factor, d._cells * factor)


def _survival_pair(atoms: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(X > x_k) and P(X >= x_k) on the lattice, summed from the right for tail accuracy."""
    total = atoms.sum() + cells.sum()
    after = np.concatenate((np.cumsum((atoms[1:] + cells)[::-1])[::-1], [0.0]))
    surv = np.minimum(after / total, 1.0)
    surv_left = np.minimum((after + atoms) / total, 1.0)
    return surv, surv_left


def _cdf_pair(atoms: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(X <= x_k) and P(X < x_k) on the lattice, summed from the left for head accuracy."""
    total = atoms.sum() + cells.sum()
    before = np.concatenate(([0.0], np.cumsum(atoms[:-1] + cells)))
    return np.minimum((before + atoms) / total, 1.0), np.minimum(before / total, 1.0)


# ---------------------------------------------------------------------- factories
def point(t: float, step: float = 1.0) -> Distribution:
    """A point mass at ``t`` (a fixed duration).

    ``step`` only matters when the point is regridded; a point combines with a
    distribution on any lattice.
    """
    return Distribution(t, step, [1.0], [])


def uniform(a: float, b: float, step: float, origin: float | None = None) -> Distribution:
    """Uniform on [a, b] on the lattice ``origin + k * step`` (origin defaults to ``a``).

    When ``b - a`` is a whole number of steps and ``a`` is a lattice point the cell masses
    are exact and the CDF is exact everywhere; otherwise the end cells hold their exact
    mass spread over the whole cell.
    """
    a, b = float(a), float(b)
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"uniform bounds must be finite, got a={a!r}, b={b!r}")
    if b < a:
        raise ValueError(f"uniform needs a <= b, got a={a!r}, b={b!r}")
    if b == a:
        return point(a, step)
    width = b - a
    return from_cdf(lambda x: np.clip((x - a) / width, 0.0, 1.0), a, b, step, origin)


def from_cdf(cdf, lo: float, hi: float, step: float, origin: float | None = None) -> Distribution:
    """Discretise a continuous CDF on [lo, hi] into cells of the lattice ``origin + k*step``.

    Each cell gets its exact mass ``cdf(x_k+1) - cdf(x_k)``; the mass outside [lo, hi] is
    dropped and the rest renormalised, so choose [lo, hi] to hold all but a negligible tail.
    """
    step = float(step)
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step must be finite and > 0, got {step!r}")
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"from_cdf needs finite lo < hi, got lo={lo!r}, hi={hi!r}")
    origin = float(lo) if origin is None else float(origin)
    k0 = math.floor((lo - origin) / step + _LATTICE_TOL)
    k1 = math.ceil((hi - origin) / step - _LATTICE_TOL)
    x = origin + step * np.arange(k0, k1 + 1)
    x_clipped = np.clip(x, lo, hi)
    values = np.asarray(cdf(x_clipped), dtype=float)
    cells = np.maximum(np.diff(values), 0.0)
    total = cells.sum()
    if not total > 0:
        raise ValueError("cdf puts no mass on [lo, hi]")
    return Distribution(x[0], step, np.zeros(x.size), cells / total)


def from_samples(samples, step: float, origin: float = 0.0) -> Distribution:
    """Histogram of ``samples`` on the lattice ``origin + k * step`` (cell-uniform)."""
    x = np.asarray(samples, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("samples must not be empty")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples must be finite")
    step = float(step)
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step must be finite and > 0, got {step!r}")
    k = np.floor((x - origin) / step).astype(np.int64)
    k0 = int(k.min())
    counts = np.bincount(k - k0).astype(float)
    return Distribution(origin + step * k0, step, np.zeros(counts.size + 1), counts / x.size)


def measure_sum(*parts: Distribution) -> Distribution:
    """Add (sub-probability) measures, e.g. the pieces made by :meth:`Distribution.split_at`.

    Parts with no mass are skipped; the result's mass is the sum of the parts' masses.
    """
    parts = tuple(p for p in parts if p.total > 0)
    if not parts:
        raise ValueError("measure_sum needs at least one part with mass")
    if len(parts) == 1:
        return parts[0]
    t0, step, embedded = _on_common_lattice(parts)
    atoms = sum(a for a, _ in embedded)
    cells = sum(c for _, c in embedded)
    return Distribution(t0, step, atoms, cells, _defective=True)._trimmed()


def min_of(*dists: Distribution) -> Distribution:
    """Distribution of the minimum of independent durations (exact at lattice points)."""
    return _extreme(dists, smallest=True)


def max_of(*dists: Distribution) -> Distribution:
    """Distribution of the maximum of independent durations (exact at lattice points)."""
    return _extreme(dists, smallest=False)


def _extreme(dists: Sequence[Distribution], smallest: bool) -> Distribution:
    if not dists:
        raise ValueError("need at least one distribution")
    if len(dists) == 1:
        return dists[0]
    # identical operands (the same follower many times) enter as one power
    counts: dict[int, int] = {}
    unique: list[Distribution] = []
    for d in dists:
        if id(d) not in counts:
            unique.append(d)
            counts[id(d)] = 0
        counts[id(d)] += 1
    t0, step, parts = _on_common_lattice(unique)
    powers = [counts[id(d)] for d in unique]
    if smallest:
        surv = np.ones(parts[0][0].size)
        surv_left = np.ones_like(surv)
        for (atoms, cells), power in zip(parts, powers, strict=True):
            s, s_left = _survival_pair(atoms, cells)
            surv *= s**power
            surv_left *= s_left**power
        atoms = np.maximum(surv_left - surv, 0.0)
        cells = np.maximum(surv[:-1] - surv_left[1:], 0.0)
    else:
        cdf = np.ones(parts[0][0].size)
        cdf_left = np.ones_like(cdf)
        for (atoms, cells), power in zip(parts, powers, strict=True):
            f, f_left = _cdf_pair(atoms, cells)
            cdf *= f**power
            cdf_left *= f_left**power
        atoms = np.maximum(cdf - cdf_left, 0.0)
        cells = np.maximum(cdf_left[1:] - cdf[:-1], 0.0)
    # differences of products leave round-off where there is no mass at all: relative to the
    # probability left on that side, which keeps genuinely small tail masses
    if smallest:
        atoms[atoms < _ROUND_OFF * surv_left] = 0.0
        cells[cells < _ROUND_OFF * surv[:-1]] = 0.0
    else:
        atoms[atoms < _ROUND_OFF * cdf] = 0.0
        cells[cells < _ROUND_OFF * cdf_left[1:]] = 0.0
    total = atoms.sum() + cells.sum()
    return Distribution(t0, step, atoms / total, cells / total)._trimmed()


def mixture(weights: Sequence[float], parts: Sequence[Distribution]) -> Distribution:
    """With probability ``weights[i]`` the duration is drawn from ``parts[i]``."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size != len(parts) or w.size == 0:
        raise ValueError("weights and parts must be non-empty and of the same length")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    if abs(w.sum() - 1.0) > _MASS_TOL:
        raise ValueError(f"weights must sum to 1, got {w.sum()!r}")
    t0, step, embedded = _on_common_lattice(list(parts))
    atoms = sum(wi * a for wi, (a, _) in zip(w, embedded, strict=True))
    cells = sum(wi * c for wi, (_, c) in zip(w, embedded, strict=True))
    return Distribution(t0, step, atoms, cells)._trimmed()


# ---------------------------------------------------------------------- renewal processes
def equilibrium(gap: Distribution, step: float | None = None) -> Distribution:
    """Stationary residual time of a renewal process with inter-event gaps ``gap``.

    The time from an instant chosen independently of the process to the next event has
    density ``P(gap > x) / E[gap]`` (the equilibrium distribution). The result lives on
    the lattice ``k * step`` starting at 0 and its cell masses are the exact integrals of
    that density for the cell-uniform ``gap``.
    """
    step = gap.step if step is None else float(step)
    lo, hi = gap.support()
    if lo < 0:
        raise ValueError(f"gap must be non-negative, its support starts at {lo!r}")
    mean = gap.mean()
    if not mean > 0:
        raise ValueError("gap must have a positive mean")
    n = math.ceil(hi / step - _LATTICE_TOL)
    y = step * np.arange(n + 1)
    # integral_0^y P(gap > u) du = y - integral_0^y F(u) du (F = 0 below 0)
    integrated_survival = y - gap.integrated_cdf(y)
    dens_cells = np.maximum(np.diff(integrated_survival), 0.0) / mean
    return Distribution(0.0, step, np.zeros(n + 1), dens_cells / dens_cells.sum())._trimmed()


def renewal_measure(gap: Distribution, level: float) -> Distribution:
    """The renewal measure ``sum_k P(S_k in .)`` of a process with an event at 0, below ``level``.

    ``S_k = G_1 + ... + G_k`` (``S_0 = 0``, iid gaps ``gap``). Returned as a measure (its
    ``total`` is the expected number of events in ``[0, level)``, the one at 0 included) on
    the lattice ``k * step`` of the gap, on ``[0, level]``.

    It is solved in one pass: on the lattice, adding a gap is a linear map of the
    (atoms, cells) pair, ``A' = A Fa``, ``C' = A Fc + C (Fa + (1 + z) Fc / 2)`` as power series
    in the one-step shift ``z`` (the second term is the cell-on-cell triangle rule of ``+``),
    so the sum over all k is ``Ua = 1 / (1 - Fa)`` and ``Uc = Fc / ((1 - Fa) (1 - Fa - (1 + z)
    Fc / 2))``. The series are inverted by one FFT on a circle of radius ``rho < 1``, which
    damps the wrap-around of the discrete transform below 1e-15; the result equals the sum
    of the k-fold convolutions made with ``+`` up to round-off (about 1e-12 of each mass).
    """
    level = float(level)
    step = gap.step
    lo, _ = gap.support()
    if not lo > 0:
        raise ValueError("gap must be bounded away from 0 for the renewal measure to be finite")
    gap = _on_lattice_through_zero(gap)
    first = int(round(gap.t0 / step))
    n = max(math.ceil(level / step - _LATTICE_TOL) + 1, 1)
    if first > n:  # no renewal before the level: the event at 0 alone
        return Distribution(0.0, step, [1.0], [], _defective=True)
    size = _fft_size(6 * n + 16)
    # rho**n = 1e-3: the wrap-around of the transform, about rho**(size - n) <= 1e-15, is
    # negligible, and round-off, amplified by rho**-n when the scaling is undone, stays
    # near 1e-13 of the largest mass
    rho = 10.0 ** (-3.0 / max(n, 1))
    powers = rho ** np.arange(size)
    fa = np.zeros(size)
    fc = np.zeros(size)
    end = min(first + gap._atoms.size, size)
    fa[first:end] = gap._atoms[: end - first]
    end_c = min(first + gap._cells.size, size)
    fc[first:end_c] = gap._cells[: end_c - first]
    fa_hat = np.fft.rfft(fa * powers)
    fc_hat = np.fft.rfft(fc * powers)
    z = rho * np.exp(-2j * np.pi * np.arange(fa_hat.size) / size)
    one_minus_fa = 1.0 - fa_hat
    ua_hat = 1.0 / one_minus_fa
    uc_hat = fc_hat / (one_minus_fa * (one_minus_fa - 0.5 * (1.0 + z) * fc_hat))
    scale = 1.0 / powers[: n + 1]
    atoms = np.fft.irfft(ua_hat, size)[: n + 1] * scale
    cells = np.fft.irfft(uc_hat, size)[:n] * scale[:n]
    # what is left of the transform's round-off where there is no mass
    atoms[atoms < _RENEWAL_ROUND_OFF * max(atoms.max(initial=0.0), 1.0)] = 0.0
    reference = max(cells.max(initial=0.0), gap._cells.max(initial=0.0))
    cells[cells < _RENEWAL_ROUND_OFF * reference] = 0.0
    measure = Distribution(0.0, step, atoms, cells, _defective=True)
    below, _ = measure.split_at(level)
    return below


def _on_lattice_through_zero(gap: Distribution) -> Distribution:
    """``gap`` on the lattice ``k * step`` (an atom off it is split between its neighbours)."""
    offset = gap.t0 / gap.step
    if abs(offset - round(offset)) > 1e-6:
        return gap.regrid(gap.step, 0.0)
    return gap


def _fft_size(n: int) -> int:
    from scipy import fft as sp_fft

    return sp_fft.next_fast_len(n, real=True)


def renewal_overshoot(gap: Distribution, level: float) -> Distribution:
    """Overshoot past ``level`` of a renewal process that has an event at time 0.

    With events at ``S_k = G_1 + ... + G_k`` (iid gaps, ``S_0 = 0``), let ``N`` be the
    first ``k >= 1`` with ``S_k >= level``; the result is the law of ``S_N - level``: the
    part at or above ``level`` of ``U * law(G)``, ``U`` the renewal measure below ``level``
    (:func:`renewal_measure`, one pass), of which only the last ``max(G)`` before the level
    contributes. An event exactly at ``level`` counts as reaching it.
    """
    level = float(level)
    if not math.isfinite(level):
        raise ValueError(f"level must be finite, got {level!r}")
    lo, hi = gap.support()
    if not lo > 0:
        raise ValueError("gap must be bounded away from 0 for the overshoot to terminate")
    if level <= 0:
        return gap - level if level else gap
    # the jumps over the level take the gap the renewal measure was solved with
    gap = _on_lattice_through_zero(gap)
    measure = renewal_measure(gap, level)
    # only events in the last longest gap before the level can jump over it
    _, window = measure.split_at(level - hi - 2 * gap.step)
    window = window._trimmed() if window.total > 0 else window
    _, above = (window + gap).split_at(level)
    return _past_level(above, level)


def _past_level(above: Distribution, level: float) -> Distribution:
    """``above - level`` normalised, on the lattice through 0 of the same step.

    ``above`` lives at or above ``level``; the cell that straddles the level holds mass that
    lies above it only, so that cell's CDF rises from the level on, not from its start.
    """
    step = above.step
    total = above.total
    x = np.maximum(above.grid - level, 0.0)
    cum = np.concatenate(([0.0], np.cumsum(above._cells))) / total
    n = math.ceil(x[-1] / step - _LATTICE_TOL)
    y = step * np.arange(n + 1)
    keep = np.concatenate(([True], np.diff(x) > 0))  # one point per position where clamped
    cells = np.maximum(np.diff(np.interp(y, x[keep], cum[keep])), 0.0)
    atoms = np.zeros(n + 1)
    mask = above._atoms > 0
    u = x[mask] / step
    j = np.minimum(np.floor(u + _LATTICE_TOL).astype(np.int64), n)
    frac = np.clip(u - j, 0.0, 1.0)
    frac[frac < _LATTICE_TOL] = 0.0
    np.add.at(atoms, j, above._atoms[mask] / total * (1.0 - frac))
    np.add.at(atoms, np.minimum(j + 1, n), above._atoms[mask] / total * frac)
    return Distribution(0.0, step, atoms, cells, _defective=True)._trimmed()


def first_passage(start: Distribution, gap: Distribution, level: float) -> Distribution:
    """Measure of the first event at or above ``level`` of a renewal process.

    The first event is at ``start`` (a measure: its total is kept), each next one ``gap``
    later. The events of the paths that start below the level are ``start_below`` and, after
    it, ``(start_below + gap) * U`` (``U``: the renewal measure of the gap,
    :func:`renewal_measure`, solved in one pass); the first passage is the part at or above
    the level of those events below the level plus one gap, added to ``start``'s part at or
    above the level. It equals the walk that adds one gap at a time to what is still below
    the level (:meth:`Distribution.split_at` and ``+``) up to round-off, and is exact up to
    the lattice (a cell that straddles the level is split in proportion to length; a gap off
    the lattice ``k * step`` is first moved onto it, its atoms split between neighbours).

    Every measure is cut at the level once only: ``split_at`` keeps the below-level share
    ``f`` of a straddling cell spread over the whole cell, so a second cut would keep
    ``f * f`` of it and lose mass. For the same reason, do not pass as ``start`` a part
    already cut at ``level`` (the first part of ``split_at(level)``): pass that part plus
    one gap, the next events, instead.
    """
    level = float(level)
    below, above = start.split_at(level)
    if below.total <= 0:
        return above
    lo, _ = below.support()
    # the jumps over the level take the gap the renewal measure was solved with
    gap = _on_lattice_through_zero(gap)
    g_lo, hi = gap.support()
    step = gap.step
    # The later events, (below + gap) * U, are cut at the level once, here: below was cut
    # already, and U reaches two steps past what the earliest path needs, so no cell of it
    # that lands at the level was cut before.
    later = below + gap
    reach = level - lo - g_lo + 2 * step
    if reach > 0:
        later = later + renewal_measure(gap, reach)
    later, _ = later.split_at(level)
    events = measure_sum(below, later) if later.total > 0 else below
    # only events in the last longest gap before the level can jump over it
    _, window = events.split_at(level - hi - 2 * step)
    if window.total <= 0:
        return above
    _, jumped = (window._trimmed() + gap).split_at(level)
    return measure_sum(above, jumped) if above.total > 0 else jumped._trimmed()
