"""Tests for the explorer panels of ha_toolkit.widgets (no browser: the widget models)."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

from ha_toolkit.election import ElectionConfig
from ha_toolkit.election.simulate import simulate_failover
from ha_toolkit.election.timing import lattice_step
from ha_toolkit.widgets import failover_explorer, inflight_explorer

TRIALS = 40_000


def _order_statistic_bounds(samples: np.ndarray, q: float, z: float = 4.5) -> tuple[float, float]:
    """Sample order statistics that bracket the true q-quantile with probability ~1 - 1e-5."""
    x = np.sort(samples)
    n = x.size
    half = z * math.sqrt(n * q * (1.0 - q))
    lo = max(int(math.floor(n * q - half)), 0)
    hi = min(int(math.ceil(n * q + half)), n - 1)
    return float(x[lo]), float(x[hi])


def _shown(readout: str, key: str) -> float:
    match = re.search(rf'class="ha-{key}"><b>[^<]*</b> ([0-9.]+) s', readout)
    assert match, readout
    return float(match.group(1))


def _check_against_simulation(explorer, seed: int) -> None:
    cfg, scenario = explorer.config, explorer.controls["scenario"].value
    times = simulate_failover(cfg, scenario, TRIALS, np.random.default_rng(seed))
    slack = 2.0 * lattice_step(cfg)  # the exact model lives on a lattice
    for key, q in (("p50", 0.5), ("p99", 0.99)):
        lo, hi = _order_statistic_bounds(times, q)
        assert lo - slack <= explorer.values[key] <= hi + slack, (key, lo, hi, explorer.values)
        assert _shown(explorer.readout.value, key) == pytest.approx(explorer.values[key], abs=0.006)


def test_failover_explorer_matches_the_event_simulation():
    explorer = failover_explorer()  # kube-scheduler, crash
    assert (explorer.config.lease_duration, explorer.config.renew_deadline) == (15.0, 10.0)
    _check_against_simulation(explorer, seed=1)
    first_image = explorer.image.value
    explorer.set(lease_duration=30.0, candidates=5, api_latency=0.05, scenario="release")
    assert explorer.config == ElectionConfig.preset(
        "kube-scheduler", lease_duration=30.0, candidates=5, api_latency=0.05
    )
    assert explorer.controls["api_latency"].value == pytest.approx(50.0)  # shown in ms
    _check_against_simulation(explorer, seed=2)
    assert explorer.image.value != first_image
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_moving_one_slider_updates_the_numbers():
    explorer = failover_explorer("kube-scheduler")
    before = dict(explorer.values)
    explorer.controls["lease_duration"].value = 16.0
    # a one-second longer lease moves every quantile of the crash failover by about 1 s
    assert explorer.values["p99"] - before["p99"] == pytest.approx(1.0, abs=0.05)
    assert explorer.values["p50"] - before["p50"] == pytest.approx(1.0, abs=0.05)
    _check_against_simulation(explorer, seed=3)


def test_rejected_settings_are_shown_not_raised():
    explorer = failover_explorer()
    explorer.controls["renew_deadline"].value = 20.0  # RD >= LD
    assert explorer.error == "leaseDuration must be greater than renewDeadline"
    assert all(math.isnan(v) for v in explorer.values.values())
    assert "settings rejected" in explorer.readout.value and "ha-error" in explorer.readout.value
    explorer.controls["renew_deadline"].value = 10.0
    assert explorer.error is None and math.isfinite(explorer.values["p99"])
    assert "ha-error" not in explorer.readout.value


def test_risky_settings_get_a_note_and_no_stray_warning():
    explorer = failover_explorer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorer.set(retry_period=5.0)  # LD 15 <= RD 10 + RP 5
    assert explorer.error is None
    assert "partitioned leader" in explorer.note
    assert "ha-note" in explorer.readout.value


def test_set_and_builder_validation():
    explorer = failover_explorer()
    with pytest.raises(ValueError, match="unknown setting"):
        explorer.set(jitter=1.0)
    with pytest.raises(ValueError, match=r"lease_duration must lie in \[1.0, 180.0\]"):
        explorer.set(lease_duration=500.0)
    with pytest.raises(ValueError, match="scenario must be one of"):
        explorer.set(scenario="partition")
    with pytest.raises(ValueError, match="unknown preset"):
        failover_explorer("no-such-component")
    with pytest.raises(ValueError, match="scenario"):
        failover_explorer(scenario="partition")
    with pytest.raises(ValueError, match="candidates must be >= 2"):
        failover_explorer(ElectionConfig("15s", "10s", "2s", candidates=1))
    with pytest.raises(ValueError, match="cfg must be"):
        failover_explorer(15)


def test_starting_values_outside_the_default_ranges_are_kept():
    explorer = failover_explorer(ElectionConfig("300s", "200s", "0.25s", candidates=12))
    assert explorer.config == ElectionConfig("300s", "200s", "0.25s", candidates=12)
    assert explorer.controls["lease_duration"].max >= 300.0
    assert explorer.controls["retry_period"].min <= 0.25


def _erlang_b_recursion(c: int, load: float) -> float:
    """B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1)): the textbook recursion."""
    b = 1.0
    for k in range(1, c + 1):
        b = load * b / (k + load * b)
    return b


@pytest.mark.parametrize(
    ("limit", "rate", "service_time"), [(400, 7600.0, 0.05), (200, 2500.0, 0.1), (50, 300.0, 0.2)]
)
def test_inflight_explorer_matches_erlang_b_and_the_retry_fixed_point(limit, rate, service_time):
    explorer = inflight_explorer(limit, rate, service_time)
    v = explorer.values
    load = rate * service_time
    b = _erlang_b_recursion(limit, load)
    assert v["offered_load"] == pytest.approx(load, rel=1e-12)
    assert v["capacity_rate"] == pytest.approx(limit / service_time, rel=1e-12)
    assert v["rejection_probability"] == pytest.approx(b, rel=1e-9, abs=1e-300)
    assert v["utilization"] == pytest.approx(load * (1 - b) / limit, rel=1e-9)
    assert v["throughput"] == pytest.approx(rate * (1 - b), rel=1e-9)
    # retries: attempts x solve x = rate * (1 + p + ... + p^10), p = B(limit, x * s)
    x = v["offered_rate"]
    p = _erlang_b_recursion(limit, x * service_time)
    assert v["attempt_rejection_probability"] == pytest.approx(p, rel=1e-6, abs=1e-300)
    assert x == pytest.approx(rate * sum(p**k for k in range(11)), rel=1e-6)
    assert v["amplification"] == pytest.approx(x / rate, rel=1e-9)
    assert v["request_failure_probability"] == pytest.approx(p**11, rel=1e-5, abs=1e-300)
    assert explorer.error is None


def test_inflight_sliders_move_the_model():
    explorer = inflight_explorer()
    assert explorer.settings == {"limit": 400, "rate": 7600.0, "service_time": 0.05}
    explorer.controls["limit"].value = 200
    assert explorer.values["rejection_probability"] == pytest.approx(
        _erlang_b_recursion(200, 7600.0 * 0.05), rel=1e-9
    )
    explorer.controls["service_time"].value = 20.0  # ms
    assert explorer.settings["service_time"] == pytest.approx(0.02)
    assert explorer.values["offered_load"] == pytest.approx(7600.0 * 0.02)
    assert 'class="ha-p429"' in explorer.readout.value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit must be a whole number >= 1"),
        ({"limit": 10.5}, "limit must be a whole number >= 1"),
        ({"rate": -1.0}, "rate must be finite and > 0"),
        ({"service_time": math.inf}, "service_time must be finite and > 0"),
        ({"service_time": "50ms"}, "service_time must be a number"),
        ({"max_retries": -1}, r"max_retries must lie in \[0, 1000\]"),
    ],
)
def test_inflight_builder_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        inflight_explorer(**kwargs)


def test_widget_ids_are_unique_and_the_rendering_is_repeatable():
    a, b = failover_explorer(), failover_explorer()

    def ids(widget, seen):
        seen.append(widget.model_id)
        for name in ("layout", "style"):
            sub = getattr(widget, name, None)
            if sub is not None:
                seen.append(sub.model_id)
        for child in getattr(widget, "children", ()):
            ids(child, seen)
        return seen

    all_ids = ids(a, []) + ids(b, [])
    assert len(set(all_ids)) == len(all_ids)
    assert all(i.startswith("ha-toolkit-") for i in all_ids)
    assert a.image.value == b.image.value  # same settings, same PNG bytes
    assert a.readout.value == b.readout.value
    assert repr(a).startswith("FailoverExplorer(crash; LD 15 s, RD 10 s, RP 2 s, 3 candidates")
    assert repr(inflight_explorer()).startswith("InflightExplorer(limit 400, rate 7600/s")
