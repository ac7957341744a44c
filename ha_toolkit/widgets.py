"""Interactive explorers for the notebooks: sliders in, a live CDF and numbers out.

Two panels, each one line in its notebook:

* :func:`failover_explorer` (notebook 01): lease duration, renew deadline, retry period,
  candidates and API latency; the failover CDF and its p50/p99 follow the sliders
  (:func:`ha_toolkit.election.timing.failover`).
* :func:`inflight_explorer` (notebook 04): in-flight limit, request rate and service time
  of one legacy max-in-flight pool; its 429 probability, with and without client-go's
  retries, follows the sliders (:func:`ha_toolkit.apiserver.queues.erlang_b`,
  :func:`ha_toolkit.apiserver.inflight.retry_amplification`).

The panels are :class:`ipywidgets.VBox` subclasses. They compute nothing themselves: every
number comes from the models, and :attr:`Explorer.values` holds the numbers on display, so
tests (and notebook cells) can check them without a browser. Settings the model rejects
(client-go's rule ``leaseDuration > renewDeadline``, say) are shown as a message in the
panel instead of raising inside a slider callback.

The figure is rendered to PNG with Agg and shown in an :class:`ipywidgets.Image`, so the
panel works with any matplotlib backend and in a kernel without a screen. The widgets get
model ids from a counter of this process (``ha-toolkit-000001``, ...) instead of random
UUIDs: a notebook executed headless stores the same widget ids, and therefore the same
bytes, on every run; ids stay unique within a kernel.
"""

from __future__ import annotations

import html
import io
import itertools
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

try:
    import ipywidgets as widgets
except ImportError as exc:  # pragma: no cover - ipywidgets ships with the notebooks extra
    raise ImportError(
        'ha_toolkit.widgets needs ipywidgets: pip install "ha-toolkit[notebooks]"'
    ) from exc

from ha_toolkit.apiserver.inflight import (
    CLIENT_GO_MAX_RETRIES,
    DEFAULT_MAX_REQUESTS_INFLIGHT,
    retry_amplification,
)
from ha_toolkit.apiserver.queues import erlang_b
from ha_toolkit.election.config import ElectionConfig, LeaseOverlapWarning
from ha_toolkit.election.explore import summarize
from ha_toolkit.election.timing import failover
from ha_toolkit.plotting import plot_cdf, style

__all__ = [
    "Explorer",
    "FailoverExplorer",
    "InflightExplorer",
    "failover_explorer",
    "inflight_explorer",
]

_IDS = itertools.count(1)
_FIGSIZE = (7.0, 3.6)
_DPI = 100.0
_CONTROL_WIDTH = "30em"
_DESCRIPTION_WIDTH = "11em"


def _model_id() -> str:
    return f"ha-toolkit-{next(_IDS):06d}"


def _make(cls: type, **kwargs: Any) -> Any:
    """Build a widget (and its layout and style widgets) with counter-based model ids."""
    traits = cls.class_traits()
    if "layout" in traits:
        layout = kwargs.pop("layout", {})
        if isinstance(layout, Mapping):
            layout = widgets.Layout(model_id=_model_id(), **layout)
        kwargs["layout"] = layout
    if "style" in traits:
        given = kwargs.pop("style", {})
        if isinstance(given, Mapping):
            given = traits["style"].klass(model_id=_model_id(), **given)
        kwargs["style"] = given
    return cls(model_id=_model_id(), **kwargs)


def _slider(cls: type, name: str, description: str, **kwargs: Any) -> Any:
    return _make(
        cls,
        description=description,
        continuous_update=False,
        style={"description_width": _DESCRIPTION_WIDTH},
        layout={"width": _CONTROL_WIDTH},
        _dom_classes=(f"ha-control-{name}",),
        **kwargs,
    )


def _render(draw: Callable[[Any], None]) -> bytes:
    """Draw on a fresh Agg figure in the project style; return PNG bytes (no timestamps)."""
    from matplotlib.figure import Figure

    with style({"savefig.bbox": "standard"}):  # exactly _FIGSIZE * _DPI pixels
        fig = Figure(figsize=_FIGSIZE, dpi=_DPI)
        draw(fig.add_subplot())
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _seconds(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.2f} s"


def _probability(p: float) -> str:
    if not math.isfinite(p):
        return "–"
    return f"{p:.1e}" if 0.0 < p < 1e-4 else f"{p:.4f}"


class Explorer(widgets.VBox):
    """A panel of controls, a readout and a figure that follow each other.

    Subclasses define :meth:`compute` (settings -> numbers) and :meth:`draw`.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        The sliders (and toggles), by setting name.
    readout : ipywidgets.HTML
        The numbers on display (CSS class ``ha-readout``; each number has its own
        ``ha-<key>`` class).
    image : ipywidgets.Image
        The figure, as PNG.
    values : dict of str to float
        The numbers on display; NaN while the settings are rejected.
    error : str or None
        Why the model rejected the current settings, or None.
    note : str or None
        A warning about valid but risky settings, or None.
    """

    #: Keys of :attr:`values`, in display order (set by subclasses).
    value_keys: tuple[str, ...] = ()

    def __init__(self, title: str, controls: dict[str, Any], css: str) -> None:
        self.controls = controls
        self.values: dict[str, float] = {}
        self.error: str | None = None
        self.note: str | None = None
        self.readout = _make(widgets.HTML, _dom_classes=("ha-readout",))
        self.image = _make(
            widgets.Image,
            format="png",
            width=str(round(_FIGSIZE[0] * _DPI)),
            layout={"max_width": "100%", "height": "auto"},
        )
        heading = _make(widgets.HTML, value=f"<b>{html.escape(title)}</b>")
        box = _make(
            widgets.VBox, children=tuple(controls.values()), layout={"margin": "0 0 0.5em 0"}
        )
        super().__init__(
            children=(heading, box, self.readout, self.image),
            model_id=_model_id(),
            layout=widgets.Layout(model_id=_model_id()),
            _dom_classes=("ha-explorer", css),
        )
        self._batch = False
        self.update()
        for control in controls.values():
            control.observe(self._changed, names="value")

    # -- settings
    @property
    def settings(self) -> dict[str, Any]:
        """The controls' current values, by name (in the units the model takes)."""
        return {name: self._to_model(name, c.value) for name, c in self.controls.items()}

    def _to_model(self, name: str, value: Any) -> Any:
        return value

    def _from_model(self, name: str, value: Any) -> Any:
        return value

    def set(self, **settings: Any) -> None:
        """Move several controls at once (model units), then update once.

        Raises
        ------
        ValueError
            For an unknown setting name or a value outside the control's range.
        """
        unknown = sorted(set(settings) - set(self.controls))
        if unknown:
            raise ValueError(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(self.controls)}"
            )
        shown = {name: self._from_model(name, v) for name, v in settings.items()}
        for name, value in shown.items():
            control = self.controls[name]
            low, high = getattr(control, "min", None), getattr(control, "max", None)
            if low is not None and not low <= value <= high:
                raise ValueError(
                    f"{name} must lie in [{self._to_model(name, low)}, "
                    f"{self._to_model(name, high)}], got {settings[name]!r}"
                )
            options = getattr(control, "options", None)
            if options is not None and value not in options:
                raise ValueError(f"{name} must be one of {', '.join(map(str, options))}")
        self._batch = True
        try:
            for name, value in shown.items():
                self.controls[name].value = value
        finally:
            self._batch = False
        self.update()

    def _changed(self, change: Any) -> None:
        if not self._batch:
            self.update()

    # -- computing and showing
    def compute(self, settings: dict[str, Any]) -> dict[str, float]:
        """Numbers for ``settings``; raise ValueError for settings the model rejects."""
        raise NotImplementedError

    def draw(self, ax: Any) -> None:
        """Draw the current state on ``ax``."""
        raise NotImplementedError

    def describe(self) -> str:
        """The readout's HTML for the current :attr:`values`."""
        raise NotImplementedError

    def update(self) -> None:
        """Recompute from the controls and refresh the readout and the figure."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                values = self.compute(self.settings)
            except ValueError as exc:
                self.error = str(exc)
                values = None
        self.note = "; ".join(str(w.message) for w in caught) or None
        if values is None:
            self.values = dict.fromkeys(self.value_keys, math.nan)
            self.readout.value = (
                f'<span class="ha-error" style="color:#D55E00">settings rejected: '
                f"{html.escape(self.error or '')}</span>"
            )
            return
        self.error = None
        self.values = values
        text = self.describe()
        if self.note:
            note = html.escape(self.note)
            text += f'<br><span class="ha-note" style="color:#D55E00">note: {note}</span>'
        self.readout.value = text
        self.image.value = _render(self.draw)

    def _span(self, key: str, label: str, text: str) -> str:
        return f'<span class="ha-{key}"><b>{label}</b> {text}</span>'


class FailoverExplorer(Explorer):
    """Leader-switch time of client-go leader election as the settings move.

    Built by :func:`failover_explorer`. After each change :attr:`config` is the
    :class:`~ha_toolkit.election.config.ElectionConfig` of the controls,
    :attr:`distribution` its failover distribution and :attr:`values` its summary
    (:data:`ha_toolkit.election.explore.SUMMARY_KEYS`, seconds).
    """

    value_keys = ("mean", "std", "p50", "p90", "p99", "min", "max")

    def __init__(self, cfg: ElectionConfig, scenario: str) -> None:
        self.start = cfg
        self.config: ElectionConfig = cfg
        self.scenario = scenario
        self.distribution: Any = None
        self._start_distribution: dict[str, Any] = {}

        def top(value: float, default: float) -> float:
            return float(max(default, math.ceil(value)))

        def bottom(value: float, default: float) -> float:
            return float(min(default, value))

        controls = {
            "lease_duration": _slider(
                widgets.FloatSlider,
                "lease_duration",
                "lease duration (s)",
                min=bottom(cfg.lease_duration, 1.0),
                max=top(cfg.lease_duration, 180.0),
                step=1.0,
                value=cfg.lease_duration,
                readout_format=".0f",
            ),
            "renew_deadline": _slider(
                widgets.FloatSlider,
                "renew_deadline",
                "renew deadline (s)",
                min=bottom(cfg.renew_deadline, 1.0),
                max=top(cfg.renew_deadline, 150.0),
                step=1.0,
                value=cfg.renew_deadline,
                readout_format=".0f",
            ),
            "retry_period": _slider(
                widgets.FloatSlider,
                "retry_period",
                "retry period (s)",
                min=bottom(cfg.retry_period, 0.5),
                max=top(cfg.retry_period, 30.0),
                step=0.5,
                value=cfg.retry_period,
                readout_format=".1f",
            ),
            "candidates": _slider(
                widgets.IntSlider,
                "candidates",
                "candidates",
                min=2,
                max=max(9, cfg.candidates),
                step=1,
                value=cfg.candidates,
            ),
            "api_latency": _slider(
                widgets.FloatSlider,
                "api_latency",
                "API latency (ms)",
                min=0.0,
                max=top(1000.0 * cfg.api_latency, 500.0),
                step=5.0,
                value=1000.0 * cfg.api_latency,
                readout_format=".0f",
            ),
            "scenario": _make(
                widgets.ToggleButtons,
                options=("crash", "release"),
                value=scenario,
                description="scenario",
                style={"description_width": _DESCRIPTION_WIDTH},
                _dom_classes=("ha-control-scenario",),
            ),
        }
        name = cfg.name or "settings"
        super().__init__(f"Leader-switch time explorer (start: {name})", controls, "ha-failover")

    def _to_model(self, name: str, value: Any) -> Any:
        return value / 1000.0 if name == "api_latency" else value

    def _from_model(self, name: str, value: Any) -> Any:
        return 1000.0 * value if name == "api_latency" else value

    def compute(self, settings: dict[str, Any]) -> dict[str, float]:
        """Summary of ``failover(ElectionConfig(...), scenario)`` for the settings."""
        scenario = settings.pop("scenario")
        cfg = ElectionConfig(
            jitter_factor=self.start.jitter_factor,
            release_on_cancel=self.start.release_on_cancel,
            name=self.start.name,
            **settings,
        )
        dist = failover(cfg, scenario)
        self.config, self.distribution, self.scenario = cfg, dist, scenario
        return summarize(dist)

    def draw(self, ax: Any) -> None:
        """The CDF now, beside the starting settings' CDF, p50 and p99 marked."""
        scenario = self.scenario
        if scenario not in self._start_distribution:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LeaseOverlapWarning)
                self._start_distribution[scenario] = failover(self.start, scenario)
        cfg = self.config
        now = (
            f"now {cfg.lease_duration:g}/{cfg.renew_deadline:g}/{cfg.retry_period:g} s, "
            f"{cfg.candidates} cand."
        )
        start = f"start {self.start.lease_duration:g}/{self.start.renew_deadline:g}/" + (
            f"{self.start.retry_period:g} s"
        )
        dists = {now: self.distribution}
        if cfg != self.start:
            dists[start] = self._start_distribution[scenario]
        plot_cdf(
            dists,
            ax=ax,
            quantiles=(0.99, 0.5),
            xlabel="seconds until a follower holds the lease",
            title=f"{scenario} failover",
        )

    def describe(self) -> str:
        """p50 and p99 first (classes ``ha-p50``, ``ha-p99``), then mean and range."""
        v = self.values
        parts = [
            self._span("p50", "p50", _seconds(v["p50"])),
            self._span("p99", "p99", _seconds(v["p99"])),
            self._span("mean", "mean", _seconds(v["mean"])),
            self._span("range", "range", f"{_seconds(v['min'])} to {_seconds(v['max'])}"),
        ]
        return f"{html.escape(self.scenario)} failover: " + " · ".join(parts)

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"FailoverExplorer({self.controls['scenario'].value}; LD {cfg.lease_duration:g} s, "
            f"RD {cfg.renew_deadline:g} s, RP {cfg.retry_period:g} s, {cfg.candidates} "
            f"candidates, latency {1000 * cfg.api_latency:g} ms: p50 {_seconds(self.values['p50'])}"
            f", p99 {_seconds(self.values['p99'])})"
        )


class InflightExplorer(Explorer):
    """429s of one legacy max-in-flight pool as its limit and load move.

    Built by :func:`inflight_explorer`. :attr:`values` holds ``offered_load`` (Erlangs),
    ``capacity_rate`` (limit / service time, requests/s), ``rejection_probability``
    (Erlang B: 429s per request without retries), ``utilization``, ``throughput``, and
    with client-go's retries (:func:`~ha_toolkit.apiserver.inflight.retry_amplification`)
    ``offered_rate``, ``amplification``, ``attempt_rejection_probability``,
    ``request_failure_probability`` and ``rejection_rate``.
    """

    value_keys = (
        "offered_load",
        "capacity_rate",
        "rejection_probability",
        "utilization",
        "throughput",
        "offered_rate",
        "amplification",
        "attempt_rejection_probability",
        "request_failure_probability",
        "rejection_rate",
    )

    def __init__(self, limit: int, rate: float, service_time: float, max_retries: int) -> None:
        self.max_retries = max_retries
        self.settings_now = {"limit": limit, "rate": rate, "service_time": service_time}
        controls = {
            "limit": _slider(
                widgets.IntSlider,
                "limit",
                "in-flight limit",
                min=10,
                max=max(1000, limit),
                step=10,
                value=limit,
            ),
            "rate": _slider(
                widgets.FloatSlider,
                "rate",
                "request rate (/s)",
                min=100.0,
                max=float(max(30000.0, math.ceil(rate))),
                step=100.0,
                value=rate,
                readout_format=".0f",
            ),
            "service_time": _slider(
                widgets.FloatSlider,
                "service_time",
                "service time (ms)",
                min=5.0,
                max=float(max(500.0, math.ceil(1000.0 * service_time))),
                step=5.0,
                value=1000.0 * service_time,
                readout_format=".0f",
            ),
        }
        super().__init__("In-flight limit explorer (one loss pool)", controls, "ha-inflight")

    def _to_model(self, name: str, value: Any) -> Any:
        return value / 1000.0 if name == "service_time" else value

    def _from_model(self, name: str, value: Any) -> Any:
        return 1000.0 * value if name == "service_time" else value

    def compute(self, settings: dict[str, Any]) -> dict[str, float]:
        """Erlang B of the pool, and the retry fixed point of client-go's clients."""
        c, lam, s = int(settings["limit"]), float(settings["rate"]), settings["service_time"]
        load = lam * s
        p = float(erlang_b(c, load))
        storm = retry_amplification(lam, s, c, max_retries=self.max_retries).iloc[0]
        self.settings_now = {"limit": c, "rate": lam, "service_time": s}
        return {
            "offered_load": load,
            "capacity_rate": c / s,
            "rejection_probability": p,
            "utilization": load * (1.0 - p) / c,
            "throughput": lam * (1.0 - p),
            "offered_rate": float(storm["offered_rate"]),
            "amplification": float(storm["amplification"]),
            "attempt_rejection_probability": float(storm["attempt_rejection_probability"]),
            "request_failure_probability": float(storm["request_failure_probability"]),
            "rejection_rate": float(storm["rejection_rate"]),
        }

    def draw(self, ax: Any) -> None:
        """429 probability against request rate, without and with retries; now marked."""
        c, lam, s = (self.settings_now[k] for k in ("limit", "rate", "service_time"))
        cap = c / s
        rates = np.linspace(0.02, max(2.0 * cap, 1.2 * lam), 80)
        ax.plot(rates, erlang_b(c, rates * s), label="no retries (Erlang B)")
        storm = retry_amplification(rates, s, c, max_retries=self.max_retries)
        ax.plot(
            rates,
            storm["attempt_rejection_probability"],
            ls="--",
            label=f"client-go retries ({self.max_retries}), per attempt",
        )
        v = self.values
        ax.plot([lam], [max(v["rejection_probability"], 1.2e-6)], "o", color="C0")
        ax.plot([lam], [max(v["attempt_rejection_probability"], 1.2e-6)], "o", color="C1")
        ax.axvline(lam, ls=":", lw=0.8, color="0.4")
        ax.axvline(cap, ls="-", lw=0.6, color="0.7")
        ax.set_yscale("log")
        ax.set_ylim(1e-6, 1.5)
        ax.set_xlim(0.0, rates[-1])
        ax.set_xlabel("request rate (requests/s)")
        ax.set_ylabel("429 probability")
        ax.set_title(f"{c} slots, {1000 * s:g} ms each: capacity {cap:.0f} requests/s")
        ax.legend(loc="lower right")

    def describe(self) -> str:
        """429 probability (class ``ha-p429``), utilisation, and the retry storm."""
        v = self.values
        first = [
            self._span("load", "offered load", f"{v['offered_load']:.1f} Erlangs"),
            self._span("p429", "429 probability", _probability(v["rejection_probability"])),
            self._span("utilization", "utilisation", f"{v['utilization']:.3f}"),
        ]
        second = [
            self._span(
                "retry-p429",
                "429 per attempt",
                _probability(v["attempt_rejection_probability"]),
            ),
            self._span("amplification", "attempts ×", f"{v['amplification']:.2f}"),
            self._span(
                "failure", "requests failing", _probability(v["request_failure_probability"])
            ),
        ]
        return (
            " · ".join(first)
            + f"<br>with client-go's retries ({self.max_retries}): "
            + " · ".join(second)
        )

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"InflightExplorer(limit {s['limit']}, rate {s['rate']:g}/s, service time "
            f"{1000 * s['service_time']:g} ms: 429 probability "
            f"{_probability(self.values['rejection_probability'])})"
        )


def failover_explorer(
    cfg: ElectionConfig | str | None = None, *, scenario: str = "crash"
) -> FailoverExplorer:
    """A panel of sliders over the leader-switch time (notebook 01).

    Parameters
    ----------
    cfg : ElectionConfig or str, optional
        Starting settings, or a preset name; default the ``kube-scheduler`` preset
        (15 s / 10 s / 2 s, 3 candidates). Its jitter factor and ``release_on_cancel``
        stay fixed; the sliders move lease duration, renew deadline, retry period,
        candidates and API latency, a toggle the scenario.
    scenario : {"crash", "release"}, default "crash"
        Starting scenario.

    Returns
    -------
    FailoverExplorer
        Display it (last expression of a cell). ``.values["p99"]`` is the p99 on
        display, ``.set(lease_duration=30)`` moves sliders from code.

    Raises
    ------
    ValueError
        For an unknown preset or scenario, or a configuration with fewer than two
        candidates.
    """
    if cfg is None:
        cfg = "kube-scheduler"
    if isinstance(cfg, str):
        cfg = ElectionConfig.preset(cfg)
    if not isinstance(cfg, ElectionConfig):
        raise ValueError(f"cfg must be an ElectionConfig or a preset name, got {cfg!r}")
    if scenario not in ("crash", "release"):
        raise ValueError(f"scenario must be 'crash' or 'release', got {scenario!r}")
    if cfg.candidates < 2:
        raise ValueError(f"candidates must be >= 2 for a failover, got {cfg.candidates}")
    return FailoverExplorer(cfg, scenario)


def inflight_explorer(
    limit: int = DEFAULT_MAX_REQUESTS_INFLIGHT,
    rate: float = 7600.0,
    service_time: float = 0.05,
    *,
    max_retries: int = CLIENT_GO_MAX_RETRIES,
) -> InflightExplorer:
    """A panel of sliders over one max-in-flight pool (notebook 04).

    Parameters
    ----------
    limit : int, default 400
        Starting in-flight limit (slots), a whole number >= 1.
    rate : float, default 7600
        Starting request rate (requests/s, > 0).
    service_time : float, default 0.05
        Starting mean time a request holds its slot (seconds, > 0).
    max_retries : int, default 10
        client-go's retries after a 429 (fixed; 0 to 1000).

    Returns
    -------
    InflightExplorer

    Raises
    ------
    ValueError
        For a limit that is not a whole number >= 1, a rate or service time that is not
        finite and > 0, or a bad ``max_retries``.
    """
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 1:
        raise ValueError(f"limit must be a whole number >= 1, got {limit!r}")
    for name, value in (("rate", rate), ("service_time", service_time)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValueError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int | np.integer):
        raise ValueError(f"max_retries must be an integer, got {max_retries!r}")
    if not 0 <= max_retries <= 1000:
        raise ValueError(f"max_retries must lie in [0, 1000], got {max_retries!r}")
    return InflightExplorer(int(limit), float(rate), float(service_time), int(max_retries))
