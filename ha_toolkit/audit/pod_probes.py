"""Probes, grace period and shutdown flags of a control-plane static pod, and what they imply.

:func:`parse_pod_probes` reads one manifest (untrusted: through the same safe loading, size
and type checks as :mod:`ha_toolkit.audit.readers`) and returns the container's
``livenessProbe``, ``readinessProbe`` and ``startupProbe`` as
:class:`~ha_toolkit.availability.probes.Probe` objects, the pod's
``terminationGracePeriodSeconds`` and, for kube-apiserver, ``--shutdown-delay-duration``
and ``--shutdown-send-retry-after``. :func:`probe_rows` turns them into detection and
recovery times (:mod:`ha_toolkit.availability.probes`) with warnings where a setting
defeats its purpose.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from ha_toolkit.audit.readers import (
    MAX_DURATION,
    ArtifactError,
    _check_text,
    _container,
    _kind,
    _load_document,
    _mapping,
    _read_text,
    _tokens,
)
from ha_toolkit.availability.probes import (
    Probe,
    Restart,
    detection,
    recovery,
    startup_kill_probability,
)
from ha_toolkit.durations import parse_duration

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "PROBE_COLUMNS",
    "parse_pod_probes",
    "probe_rows",
    "read_pod_probes",
]

#: The API default of ``terminationGracePeriodSeconds`` (kubernetes ``pkg/apis/core``).
DEFAULT_GRACE_PERIOD = 30.0
_PROBE_KEYS = {
    "livenessProbe": "liveness",
    "readinessProbe": "readiness",
    "startupProbe": "startup",
}
#: A slow spell (GC pause, etcd compaction, a burst of LISTs) that should not cost a restart.
_SLOW_EPISODE = 60.0
_PROBE_FIELDS = (
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
    "initialDelaySeconds",
)
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}

PROBE_COLUMNS = [
    "component",
    "source",
    "liveness",
    "readiness",
    "startup",
    "grace_period",
    "shutdown_delay",
    "detection_exit",
    "detection_refusing",
    "detection_hung_p50",
    "detection_hung_p99",
    "recovery_hung_p50",
    "recovery_hung_p99",
    "warnings",
]


def _probe(value: Any, source: str, place: str) -> Probe:
    spec = _mapping(value, source, place)
    checked = {}
    for key in _PROBE_FIELDS:
        if key not in spec:
            continue
        raw = spec[key]
        low = 0 if key == "initialDelaySeconds" else 1
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ArtifactError(source, f"{place}.{key}",
                                f"expected a whole number, got {_kind(raw)}")
        if not low <= raw <= MAX_DURATION:
            raise ArtifactError(source, f"{place}.{key}",
                                f"must lie in [{low}, {MAX_DURATION:g}], got {raw}")
        checked[key] = raw
    return Probe.from_spec(checked)


def _shutdown_flags(tokens: list[tuple[str, str]], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {"shutdown_delay": 0.0, "shutdown_send_retry_after": False}
    i = 0
    while i < len(tokens):
        tok, place = tokens[i]
        i += 1
        name, sep, raw = tok.partition("=")
        if name not in ("--shutdown-delay-duration", "--shutdown-send-retry-after"):
            continue
        if name == "--shutdown-send-retry-after":
            raw = raw if sep else "true"
            if raw not in _BOOLS:
                raise ArtifactError(source, place, f"{name}: expected true or false")
            out["shutdown_send_retry_after"] = _BOOLS[raw]
            continue
        if not sep:
            if i >= len(tokens) or tokens[i][0].startswith("-"):
                raise ArtifactError(source, place, f"{name} needs a value")
            raw = tokens[i][0]
            i += 1
        try:
            seconds = parse_duration(raw, name=name)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ArtifactError(source, place, " ".join(str(exc).split())[:200]) from None
        if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION):
            raise ArtifactError(source, place, f"{name} must lie in [0, {MAX_DURATION:g}] s")
        out["shutdown_delay"] = seconds
    return out


def parse_pod_probes(text: str | bytes, source: str = "<manifest>") -> dict[str, Any] | None:
    """The probes and shutdown settings of a control-plane static pod manifest.

    Returns
    -------
    dict or None
        ``component``, ``file``, ``liveness``, ``readiness``, ``startup`` (a
        :class:`~ha_toolkit.availability.probes.Probe` or None), ``grace_period``
        (seconds), ``shutdown_delay`` (seconds) and ``shutdown_send_retry_after``; None
        for a document that is not a Pod of kube-apiserver, kube-scheduler or
        kube-controller-manager.

    Raises
    ------
    ArtifactError
        Malformed text, a probe field that is not a whole number in range, a bad flag.
    """
    text = _check_text(text, source)
    doc = _mapping(_load_document(text, source), source, "top level")
    if doc.get("kind") != "Pod":
        return None
    spec = _mapping(doc.get("spec"), source, "spec")
    found = _container(spec, source)
    if found is None:
        return None
    ci, container, component = found
    row: dict[str, Any] = {"component": component, "file": source}
    for key, name in _PROBE_KEYS.items():
        value = container.get(key)
        row[name] = None if value is None else _probe(
            value, source, f"spec.containers[{ci}].{key}")
    grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not (
            0 <= grace <= MAX_DURATION):
        raise ArtifactError(source, "spec.terminationGracePeriodSeconds",
                            f"expected seconds in [0, {MAX_DURATION:g}], got {grace!r:.40}")
    row["grace_period"] = float(grace)
    flags = (_shutdown_flags(_tokens(container, ci, source), source)
             if component == "kube-apiserver" else
             {"shutdown_delay": math.nan, "shutdown_send_retry_after": False})
    row.update(flags)
    return row


def read_pod_probes(path: str | os.PathLike[str]) -> dict[str, Any]:
    """:func:`parse_pod_probes` of a file (at most 5 MiB of UTF-8).

    Raises
    ------
    ArtifactError
        Also when the file is not a control-plane static pod.
    """
    text, source = _read_text(path)
    row = parse_pod_probes(text, source)
    if row is None:
        raise ArtifactError(source, "file", "not a kube-apiserver, kube-scheduler or "
                            "kube-controller-manager static pod")
    return row


def _describe(p: Probe | None) -> str:
    if p is None:
        return ""
    return (f"{p.period:g}s/{p.timeout:g}s x{p.failure_threshold}"
            + (f" delay {p.initial_delay:g}s" if p.initial_delay else ""))


def _warnings(row: Mapping[str, Any], startup: float, lb_detection: float | None) -> list[str]:
    out = []
    live, ready, start = row["liveness"], row["readiness"], row["startup"]
    for name, p in (("liveness", live), ("readiness", ready), ("startup", start)):
        if p is not None and p.timeout > p.period:
            out.append(f"{name} timeout {p.timeout:g}s > period {p.period:g}s: a hung server "
                       f"is probed every {p.timeout:g}s, not every {p.period:g}s")
    if live is None:
        out.append("no liveness probe: a hung process is never restarted")
    else:
        if start is None and startup_kill_probability(startup, live) > 0:
            out.append(f"no startup probe: a start-up longer than "
                       f"{live.initial_delay + (live.failure_threshold - 1) * live.period:g}s "
                       "is killed by the liveness probe (a slow API server restarted in a loop)")
        longest = detection(live, "hung").support()[1]
        if longest < _SLOW_EPISODE:
            out.append(f"liveness restarts a server whose /livez is slower than "
                       f"{live.timeout:g}s for {longest:.0f}s: a merely slow (loaded) API "
                       "server is restarted, which adds to the overload")
    if start is not None and startup_kill_probability(startup, live or start, start) > 0:
        out.append(f"startup probe budget shorter than a {startup:g}s start-up")
    delay = row.get("shutdown_delay", math.nan)
    if row["component"] == "kube-apiserver" and not math.isnan(delay):
        grace = row["grace_period"]
        if delay >= grace:
            out.append(f"--shutdown-delay-duration {delay:g}s >= grace period {grace:g}s: the "
                       "kubelet kills the server before the delay ends")
        if lb_detection is not None and delay < lb_detection:
            out.append(f"--shutdown-delay-duration {delay:g}s < the load balancer's longest "
                       f"detection {lb_detection:g}s: clients see refused connections at "
                       "every restart")
    return out


def probe_rows(
    rows: list[Mapping[str, Any]],
    *,
    startup: float = 20.0,
    lb: Probe | None = None,
) -> list[dict[str, Any]]:
    """Detection and recovery times of each pod's probes, with warnings.

    Parameters
    ----------
    rows : list of dict
        :func:`parse_pod_probes` results.
    startup : float, default 20
        Seconds the component needs from its container's start until it is healthy.
    lb : Probe, optional
        The load balancer's check of the API servers, to judge the shutdown delay
        (default: every 10 s, 3 failures).

    Returns
    -------
    list of dict
        One per pod, the keys of :data:`PROBE_COLUMNS` (seconds).
    """
    check = Probe(10, 5, 3) if lb is None else lb
    lb_worst = check.failure_threshold * check.period
    out = []
    for row in rows:
        live = row["liveness"]
        rec: dict[str, Any] = {c: math.nan for c in PROBE_COLUMNS}
        rec.update(component=row["component"], source=row["file"],
                   liveness=_describe(live), readiness=_describe(row["readiness"]),
                   startup=_describe(row["startup"]), grace_period=row["grace_period"],
                   shutdown_delay=row.get("shutdown_delay", math.nan))
        rec["detection_exit"] = detection(live or Probe(), "exit").mean()
        if live is not None:
            rec["detection_refusing"] = detection(live, "refusing").mean()
            hung = detection(live, "hung")
            rec["detection_hung_p50"] = float(hung.ppf(0.5))
            rec["detection_hung_p99"] = float(hung.ppf(0.99))
            restart = Restart(startup=startup, grace_period=row["grace_period"],
                              shutdown_delay=0.0 if math.isnan(rec["shutdown_delay"])
                              else rec["shutdown_delay"])
            rec_hung = recovery(live, "hung", restart, readiness=row["readiness"],
                                startup_probe=row["startup"])
            rec["recovery_hung_p50"] = float(rec_hung.ppf(0.5))
            rec["recovery_hung_p99"] = float(rec_hung.ppf(0.99))
        rec["warnings"] = "; ".join(_warnings(row, startup, lb_worst))
        out.append(rec)
    return out


def read_manifest_probes(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """:func:`parse_pod_probes` of every control-plane pod in a manifests directory.

    The files are those :func:`ha_toolkit.audit.readers.read_manifests` reads; documents
    that are not control-plane pods are skipped, the first pod of a component is kept.
    """
    import warnings
    from pathlib import Path

    from ha_toolkit.audit.readers import ArtifactWarning, _manifest_files

    root = Path(directory)
    if not root.is_dir():
        raise ArtifactError(str(root), "directory", "not found or not a directory")
    with warnings.catch_warnings():
        # read_manifests names the files left out (links out of the directory, ...) already
        warnings.simplefilter("ignore", ArtifactWarning)
        files = _manifest_files(root)
    rows: dict[str, dict[str, Any]] = {}
    for path in files:
        text, source = _read_text(path)
        row = parse_pod_probes(text, source)
        if row is not None and row["component"] not in rows:
            rows[row["component"]] = row
    order = ("kube-apiserver", "kube-scheduler", "kube-controller-manager")
    return [rows[c] for c in order if c in rows]
