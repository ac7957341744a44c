"""The failing renew cycle's last calls, found by jumping ahead, against the full schedule."""

import warnings

import numpy as np
import pytest

from ha_toolkit.election import outage
from ha_toolkit.election.config import ElectionConfig


def _latest_from_full_schedule(cfg, mode):
    lat, rd = cfg.api_latency, cfg.renew_deadline
    feasible = [
        offset
        for offset, kind in outage.renew_call_offsets(cfg, mode)
        if offset + (lat if kind == "update" else 2 * lat) <= rd
    ]
    return max(feasible)


def test_tail_agrees_with_the_full_schedule_on_random_settings():
    rng = np.random.default_rng(20261201)
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while checked < 300:
            rp = float(rng.choice([0.1, 0.5, 1.0, 2.0, 3.0, 7.5]))
            rd = float(rng.uniform(1.3 * rp, 40 * rp))
            lat = float(rng.choice([0.0, 0.01, 0.3, 1.0])) * float(rng.uniform())
            cfg = ElectionConfig(rd + float(rng.uniform(0.1, 20)), rd, rp, api_latency=lat)
            for mode in ("refuse", "blackhole"):
                try:
                    expected = _latest_from_full_schedule(cfg, mode)
                except ValueError:
                    continue
                result = outage.outage_survival(cfg, 0.0, mode)
                assert result.min_tolerated_outage == pytest.approx(expected, abs=1e-9)
                checked += 1


def test_nanosecond_retry_period_answers_with_the_last_tick_before_the_deadline():
    # refused calls with no latency: attempts on every tick k RP < RD, the last at RD - RP
    cfg = ElectionConfig(15, 10, 1e-9)
    result = outage.outage_survival(cfg, 5.0, "refuse")
    assert result.min_tolerated_outage == pytest.approx(10 - 1e-9, abs=1e-12)
    assert result.survival_probability == 1.0
    with pytest.raises(ValueError, match="too many to list"):
        outage.renew_call_offsets(cfg, "refuse")
