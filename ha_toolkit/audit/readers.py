"""Readers for what a cluster exposes: Leases, static pod manifests and ``/metrics``.

The files come from other machines and are treated as untrusted input. Each reader parses
with a maintained library (``json``, PyYAML's ``safe_load``, ``prometheus_client``'s text
parser) and checks every field it uses. A problem that spoils the whole file raises
:class:`ArtifactError` (a :class:`ValueError`) naming the file and the place; a problem
confined to one record (one Lease, one metric sample, a repeated flag) emits an
:class:`ArtifactWarning` with the same naming and the record is skipped, so the rest of the
report can still be produced.

What is refused:

* files larger than :data:`MAX_BYTES` (5 MiB), checked before reading, and text that is not
  UTF-8;
* text that the library cannot parse (the message carries its line and column);
* YAML anchors and aliases (kubectl never writes them; nested aliases expand
  exponentially), YAML of more than :data:`MAX_YAML_NODES` nodes, integers of more than
  :data:`MAX_INT_DIGITS` digits;
* a top level of the wrong shape, missing or mistyped fields;
* absurd values: durations <= 0 or above :data:`MAX_DURATION` (one day), seat counts above
  :data:`MAX_SEATS`, negative or non-finite counters and gauges, times that are not
  RFC 3339, names that are not Kubernetes object names.

What is bounded: at most :data:`MAX_LEASES` Leases per file, :data:`MAX_MANIFEST_FILES`
files of a manifests directory, :data:`MAX_WARNINGS` warnings per file (then a count).
A repeated key in a mapping warns (the last one wins). No message quotes the text of a
file: it gives the line and column or the field's path, and names from the file only when
they have the shape of a Kubernetes name.
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from ha_toolkit.durations import parse_duration

__all__ = [
    "MAX_LEASES",
    "MAX_WARNINGS",
    "MAX_YAML_NODES",
    "COMPONENT_DEFAULTS",
    "CONTROL_PLANE_COMPONENTS",
    "MAX_BYTES",
    "MAX_DURATION",
    "MAX_INT_DIGITS",
    "MAX_MANIFEST_FILES",
    "MAX_SEATS",
    "ArtifactError",
    "ArtifactWarning",
    "parse_leases",
    "parse_manifest",
    "parse_latency_buckets",
    "parse_metrics",
    "read_latency_buckets",
    "read_leases",
    "read_manifests",
    "read_metrics",
]

#: Largest artifact read, in bytes (a /metrics scrape of a big cluster is ~1-3 MB).
MAX_BYTES = 5 * 1024 * 1024
#: Largest credible duration (lease, renew deadline, retry period), seconds.
MAX_DURATION = 86_400.0
#: Largest credible seat count (inflight limits, seats of a priority level).
MAX_SEATS = 1_000_000
#: Most Leases read from one file (a 5000-node cluster has about 5000).
MAX_LEASES = 50_000
#: Most nodes (scalars, lists, mappings) of a YAML artifact: composing a node costs about a
#: kilobyte, and a 5 MiB file of ``- a`` lines holds 1.3 million of them.
MAX_YAML_NODES = 200_000
#: Most files of a manifests directory read (a control-plane node holds four or five).
MAX_MANIFEST_FILES = 64
_MAX_ENTRIES = 10_000

CONTROL_PLANE_COMPONENTS = ("kube-apiserver", "kube-scheduler", "kube-controller-manager")

#: Defaults of the flags read, as the components apply them when a flag is absent
#: (component-base leader-election defaults; kube-apiserver generic server options).
COMPONENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "kube-apiserver": {"max_requests_inflight": 400, "max_mutating_requests_inflight": 200},
    "kube-scheduler": {
        "leader_elect": True,
        "lease_duration": 15.0,
        "renew_deadline": 10.0,
        "retry_period": 2.0,
        "lease_namespace": "kube-system",
        "lease_name": "kube-scheduler",
    },
    "kube-controller-manager": {
        "leader_elect": True,
        "lease_duration": 15.0,
        "renew_deadline": 10.0,
        "retry_period": 2.0,
        "lease_namespace": "kube-system",
        "lease_name": "kube-controller-manager",
    },
}

# flag -> (field, kind); the leader-election flags of component-base and the inflight limits
_FLAGS: dict[str, tuple[str, str]] = {
    "leader-elect": ("leader_elect", "bool"),
    "leader-elect-lease-duration": ("lease_duration", "duration"),
    "leader-elect-renew-deadline": ("renew_deadline", "duration"),
    "leader-elect-retry-period": ("retry_period", "duration"),
    "leader-elect-resource-namespace": ("lease_namespace", "string"),
    "leader-elect-resource-name": ("lease_name", "string"),
    "max-requests-inflight": ("max_requests_inflight", "seats"),
    "max-mutating-requests-inflight": ("max_mutating_requests_inflight", "seats"),
}
# KubeSchedulerConfiguration.leaderElection keys -> (field, kind)
_SCHEDULER_CONFIG: dict[str, tuple[str, str]] = {
    "leaderElect": ("leader_elect", "bool"),
    "leaseDuration": ("lease_duration", "duration"),
    "renewDeadline": ("renew_deadline", "duration"),
    "retryPeriod": ("retry_period", "duration"),
    "resourceNamespace": ("lease_namespace", "string"),
    "resourceName": ("lease_name", "string"),
}
# strconv.ParseBool, which pflag's bool flags use
_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
_INT = re.compile(r"[+-]?[0-9]{1,30}")
#: Most digits of an integer in an artifact (every count read fits in 30 digits).
MAX_INT_DIGITS = 30
_MAX_REPEATS_NAMED = 5
# a quoted piece of a parser's message: it may hold bytes of the file
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# a Kubernetes object or label name (DNS subdomain, or a Prometheus-safe label value)
_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?")
_NOT_A_NAME = "not a Kubernetes object name (letters, digits, '-', '_', '.'; at most 253)"
# client-go's holder identity is the host name plus a UUID; room for much longer ones
_MAX_HOLDER = 1024
# RFC 3339 date-time (metav1.Time, metav1.MicroTime): upper-case T and Z, a numeric offset
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)

MANIFEST_COLUMNS = [
    "component",
    "file",
    "leader_elect",
    "lease_duration",
    "renew_deadline",
    "retry_period",
    "lease_namespace",
    "lease_name",
    "max_requests_inflight",
    "max_mutating_requests_inflight",
    "defaulted",
]
LEASE_COLUMNS = [
    "namespace",
    "name",
    "holder",
    "lease_duration_seconds",
    "lease_transitions",
    "acquire_time",
    "renew_time",
]
METRIC_COLUMNS = [
    "priority_level",
    "nominal_limit_seats",
    "current_limit_seats",
    "dispatched",
    "rejected",
    "inqueue",
    "execution_seconds_sum",
    "execution_seconds_count",
]
# sample name -> column; counters and per-flow gauges are summed over their other labels
_SERIES = {
    "apiserver_flowcontrol_nominal_limit_seats": "nominal_limit_seats",
    "apiserver_flowcontrol_current_limit_seats": "current_limit_seats",
    "apiserver_flowcontrol_dispatched_requests_total": "dispatched",
    "apiserver_flowcontrol_rejected_requests_total": "rejected",
    "apiserver_flowcontrol_current_inqueue_requests": "inqueue",
    "apiserver_flowcontrol_request_execution_seconds_sum": "execution_seconds_sum",
    "apiserver_flowcontrol_request_execution_seconds_count": "execution_seconds_count",
}
_SEAT_SERIES = {"nominal_limit_seats", "current_limit_seats"}


class ArtifactError(ValueError):
    """An artifact that cannot be used: the message names the file and the place.

    Parameters
    ----------
    source : str or path
        The file (or a label for text given directly).
    place : str
        Where in the file: ``line 3 column 7``, ``items[2].spec.leaseDurationSeconds``,
        ``spec.containers[0].command[5]``, a metric sample, ...
    message : str
        What is wrong, and the rule broken.
    """

    def __init__(self, source: str | os.PathLike[str], place: str, message: str) -> None:
        self.source = str(source)
        self.place = place
        self.reason = message
        super().__init__(f"{self.source}: {place}: {message}")


class ArtifactWarning(UserWarning):
    """A record of an artifact was skipped or a setting overridden; the rest is usable."""


#: Most warnings about one file; the rest are counted in one last warning.
MAX_WARNINGS = 20
# source -> [warnings so far, nesting depth] while a parse_* function reads it
_BUDGETS: dict[str, list[int]] = {}


def _warn(source: str, place: str, message: str) -> None:
    budget = _BUDGETS.get(source)
    if budget is not None:
        budget[0] += 1
        if budget[0] > MAX_WARNINGS:
            return
    warnings.warn(f"{source}: {place}: {message}", ArtifactWarning, stacklevel=3)


def _bounded_warnings(func: Callable[..., Any]) -> Callable[..., Any]:
    """At most MAX_WARNINGS warnings per file from ``func(text, source)``: a hostile file
    of a million bad records gets twenty notes and a count, not a million notes."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        source = str(bound.arguments["source"])
        budget = _BUDGETS.setdefault(source, [0, 0])
        budget[1] += 1
        try:
            return func(*args, **kwargs)
        finally:
            budget[1] -= 1
            if budget[1] == 0:
                del _BUDGETS[source]
                if budget[0] > MAX_WARNINGS:
                    warnings.warn(f"{source}: file: {budget[0] - MAX_WARNINGS} more warnings "
                                  "not shown", ArtifactWarning, stacklevel=2)

    return wrapper


# ------------------------------------------------------------------------------ files
def _read_text(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The text of a file of at most MAX_BYTES, UTF-8; (text, source label)."""
    p = Path(path)
    source = str(p)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ArtifactError(source, "file", f"cannot read it: {exc.strerror or exc}") from None
    if not p.is_file():
        raise ArtifactError(source, "file", "not a regular file")
    if size > MAX_BYTES:
        raise ArtifactError(
            source, "file", f"{size} bytes is over the limit of {MAX_BYTES} bytes for an artifact"
        )
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ArtifactError(source, "file", f"cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:  # grew since stat
        raise ArtifactError(source, "file", f"over the limit of {MAX_BYTES} bytes")
    return _decode(data, source), source


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtifactError(source, f"byte {exc.start}", "not UTF-8 text") from None


def _check_text(text: Any, source: str) -> str:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise ArtifactError(source, "file", f"over the limit of {MAX_BYTES} bytes")
        text = _decode(text, source)
    if not isinstance(text, str):
        raise ArtifactError(source, "file", f"expected text, got {type(text).__name__}")
    if len(text) > MAX_BYTES:
        raise ArtifactError(source, "file", f"over the limit of {MAX_BYTES} bytes")
    return text


def _load_document(text: str, source: str) -> Any:
    """One JSON or YAML document, parsed strictly (see :func:`_load_json`, :func:`_load_yaml`)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise ArtifactError(source, "file", "empty")
    if stripped[0] in "{[":
        return _load_json(stripped, source)
    return _load_yaml(stripped, source)


class _TooManyDigitsError(Exception):
    def __init__(self, digits: int) -> None:
        self.digits = digits


def _json_int(literal: str) -> int:
    # called once per integer of the file: the common short literal costs one len()
    if len(literal) > MAX_INT_DIGITS and len(literal.lstrip("+-")) > MAX_INT_DIGITS:
        raise _TooManyDigitsError(len(literal.lstrip("+-")))
    return int(literal)


def _load_json(text: str, source: str) -> Any:
    """JSON with integers of at most MAX_INT_DIGITS digits; a repeated key warns."""
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) < len(items):
            seen: set[str] = set()
            repeated.extend(k for k, _ in items if k in seen or seen.add(k))
        return out

    try:
        doc = json.loads(text, parse_int=_json_int, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        place = f"line {exc.lineno} column {exc.colno}"
        raise ArtifactError(source, place, f"malformed JSON: {exc.msg}") from None
    except _TooManyDigitsError as exc:
        raise ArtifactError(source, "file", f"an integer of {exc.digits} digits; at most "
                            f"{MAX_INT_DIGITS} are accepted") from None
    except RecursionError:
        raise ArtifactError(source, "file", "JSON nested too deeply") from None
    for key in repeated[:_MAX_REPEATS_NAMED]:
        _warn(source, "file", f"key {_ident(key)} repeated in an object; the last one wins, as "
              "in Go's encoding/json")
    if len(repeated) > _MAX_REPEATS_NAMED:
        _warn(source, "file", f"{len(repeated) - _MAX_REPEATS_NAMED} more repeated keys")
    return doc


@lru_cache(maxsize=1)
def _yaml_loader() -> type:
    """PyYAML's safe loader (libyaml when present), stricter for artifacts.

    * No anchors and aliases: kubectl never writes them, and a few hundred bytes of nested
      aliases expand to gigabytes ("billion laughs"). A node reached a second time is an
      alias; it is refused before anything is built from it.
    * Integers of more than MAX_INT_DIGITS digits are refused with their line and column.
    * Timestamps stay strings: the readers accept RFC 3339 only, as the API server does.
    * A repeated mapping key warns (the last one wins).
    """
    import yaml
    from yaml.constructor import ConstructorError

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class ArtifactLoader(base):  # type: ignore[misc, valid-type]
        source = "<yaml>"

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            if node in self.constructed_objects or node in self.recursive_objects:
                raise ConstructorError(
                    None, None, "YAML anchors and aliases are not accepted in an artifact "
                    "(kubectl never writes them)", node.start_mark)
            return super().construct_object(node, deep)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            mapping = super().construct_mapping(node, deep)
            if len(mapping) < len(node.value):
                self._warn_repeated(node)
            return mapping

        def _warn_repeated(self, node: Any) -> None:
            first: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = key_node.value if isinstance(key_node.value, str) else id(key_node)
                if key in first:
                    mark = key_node.start_mark
                    was = first[key]
                    _warn(self.source, f"line {mark.line + 1} column {mark.column + 1}",
                          f"key {_ident(key)} repeated (first at line {was.line + 1} column "
                          f"{was.column + 1}); the last one wins")
                else:
                    first[key] = key_node.start_mark

        def construct_yaml_int(self, node: Any) -> int:
            digits = len(str(node.value).lstrip("+-").replace("_", ""))
            if digits > MAX_INT_DIGITS:
                raise ConstructorError(None, None, f"an integer of {digits} digits; at most "
                                       f"{MAX_INT_DIGITS} are accepted", node.start_mark)
            return super().construct_yaml_int(node)

    ArtifactLoader.add_constructor("tag:yaml.org,2002:int", ArtifactLoader.construct_yaml_int)
    ArtifactLoader.add_constructor("tag:yaml.org,2002:timestamp", base.construct_yaml_str)
    return ArtifactLoader


def _load_yaml(text: str, source: str) -> Any:
    """One YAML document through :func:`_yaml_loader` (safe: no object construction)."""
    import yaml

    loader = _yaml_loader()(text)
    loader.source = source
    try:
        _count_nodes(_yaml_loader()(text), source)
        return loader.get_single_data()
    except ArtifactError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = f"line {mark.line + 1} column {mark.column + 1}" if mark else "file"
        reason = _unquoted(str(exc.problem or exc.context or "syntax error"))
        raise ArtifactError(source, place, f"malformed YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise ArtifactError(source, "file", f"malformed YAML ({type(exc).__name__})") from None
    except RecursionError:
        raise ArtifactError(source, "file", "YAML nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. !!binary that is not base64
        raise ArtifactError(source, "file", f"malformed YAML value ({type(exc).__name__})"
                            ) from None
    finally:
        loader.dispose()


def _count_nodes(scanner: Any, source: str) -> None:
    """Refuse a YAML text of more than MAX_YAML_NODES nodes, from its event stream (one
    event at a time, nothing composed), before the loader builds them all."""
    import yaml

    node_events = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)
    nodes = 0
    try:
        while scanner.check_event():
            if isinstance(scanner.get_event(), node_events):
                nodes += 1
                if nodes > MAX_YAML_NODES:
                    raise ArtifactError(source, "file", f"more than {MAX_YAML_NODES} YAML "
                                        "nodes; write it as JSON (-o json) or split it")
    finally:
        scanner.dispose()


def _unquoted(message: str) -> str:
    """A parser's message without the pieces of the file it quotes."""
    return " ".join(_QUOTED.sub("'...'", message).split())[:200]


def _ident(value: Any) -> str:
    """A name from a file, quoted when it looks like a Kubernetes name, else only its size."""
    text = str(value) if isinstance(value, str) else ""
    if _NAME.fullmatch(text):
        return repr(text)
    return f"(a name of {len(text)} characters)" if isinstance(value, str) else "(not a string)"


def _mapping(value: Any, source: str, place: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ArtifactError(source, place, f"expected a mapping, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _kind_name(kind: Any) -> str:
    """A ``kind`` field for a message: short and safe, else only its type."""
    if isinstance(kind, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,62}", kind):
        return repr(kind)
    return f"a {_kind(kind)}" if not isinstance(kind, str) else "an unknown kind"


# ------------------------------------------------------------------------------ leases
def _whole(value: Any, source: str, place: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArtifactError(source, place, f"expected a whole number, got {_kind(value)}")
    if not low <= value <= high:
        raise ArtifactError(source, place, f"must lie in [{low}, {high}], got {value}")
    return value


def _time(value: Any, source: str, place: str) -> pd.Timestamp | None:
    """An RFC 3339 time as Go's time.RFC3339 layout reads it (metav1.Time), in UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ArtifactError(source, place, f"expected an RFC 3339 time, got {_kind(value)}")
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ArtifactError(
            source, place, "expected an RFC 3339 time such as 2024-01-31T12:00:00Z"
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        zone = _dt.UTC
        if offset != "Z":
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError("offset")
            zone = _dt.timezone(sign * _dt.timedelta(hours=hours, minutes=minutes))
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        stamp = _dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                             int(second), micro, tzinfo=zone)
        # to UTC in Python first: pandas would wrap a time past year 9999 around silently
        return pd.Timestamp(stamp.astimezone(_dt.UTC))
    except (ValueError, OverflowError):
        raise ArtifactError(source, place, "an RFC 3339 time out of range") from None


def _lease_row(item: Any, source: str, place: str) -> dict[str, Any]:
    item = _mapping(item, source, place)
    kind = item.get("kind", "Lease")
    if kind != "Lease":
        raise ArtifactError(source, f"{place}.kind", f"expected Lease, got {_kind_name(kind)}")
    meta = _mapping(item.get("metadata"), source, f"{place}.metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise ArtifactError(source, f"{place}.metadata.name", "missing or not a string")
    if not _NAME.fullmatch(name):
        raise ArtifactError(source, f"{place}.metadata.name", _NOT_A_NAME)
    namespace = meta.get("namespace", "")
    if not isinstance(namespace, str):
        raise ArtifactError(source, f"{place}.metadata.namespace", "not a string")
    if namespace and not _NAME.fullmatch(namespace):
        raise ArtifactError(source, f"{place}.metadata.namespace", _NOT_A_NAME)
    spec = item.get("spec")
    spec = {} if spec is None else _mapping(spec, source, f"{place}.spec")
    holder = spec.get("holderIdentity")
    if holder is not None and not isinstance(holder, str):
        raise ArtifactError(source, f"{place}.spec.holderIdentity", "not a string")
    if holder and not (len(holder) <= _MAX_HOLDER and holder.isprintable()):
        raise ArtifactError(source, f"{place}.spec.holderIdentity",
                            f"not printable or longer than {_MAX_HOLDER} characters")
    duration = spec.get("leaseDurationSeconds")
    if duration is not None:
        duration = _whole(duration, source, f"{place}.spec.leaseDurationSeconds", 1,
                          int(MAX_DURATION))
    transitions = spec.get("leaseTransitions")
    if transitions is not None:
        transitions = _whole(transitions, source, f"{place}.spec.leaseTransitions", 0, 2**31 - 1)
    return {
        "namespace": namespace,
        "name": name,
        "holder": holder or "",
        "lease_duration_seconds": math.nan if duration is None else float(duration),
        "lease_transitions": math.nan if transitions is None else float(transitions),
        "acquire_time": _time(spec.get("acquireTime"), source, f"{place}.spec.acquireTime"),
        "renew_time": _time(spec.get("renewTime"), source, f"{place}.spec.renewTime"),
    }


@_bounded_warnings
def parse_leases(text: str | bytes, source: str = "<leases>") -> pd.DataFrame:
    """Leases from the output of ``kubectl get leases -A -o json`` (or ``-o yaml``).

    Parameters
    ----------
    text : str or bytes
        A ``List`` (``items``) of Leases, or one Lease.
    source : str
        Name used in messages.

    Returns
    -------
    pandas.DataFrame
        One row per Lease: ``namespace``, ``name``, ``holder`` (empty when released),
        ``lease_duration_seconds``, ``lease_transitions`` (NaN when absent),
        ``acquire_time``, ``renew_time`` (UTC timestamps or None).

    Raises
    ------
    ArtifactError
        Text that does not parse or whose top level is neither a Lease nor a list. A
        malformed Lease (wrong types, durations outside ``[1, 86400]`` s, negative
        transitions, a bad time) is skipped with an :class:`ArtifactWarning`.
    """
    text = _check_text(text, source)
    doc = _load_document(text, source)
    if isinstance(doc, Mapping) and doc.get("kind") == "Lease":
        items: list[Any] = [doc]
        prefix = ""
    elif isinstance(doc, Mapping) and isinstance(doc.get("items"), list):
        items, prefix = doc["items"], "items"
    else:
        raise ArtifactError(
            source, "top level",
            "expected a Lease or a List with 'items' (kubectl get leases -A -o json)",
        )
    if len(items) > MAX_LEASES:
        _warn(source, prefix or "top level", f"{len(items)} items; only the first "
              f"{MAX_LEASES} are read")
        items = items[:MAX_LEASES]
    rows, seen = [], set()
    for i, item in enumerate(items):
        place = f"{prefix}[{i}]" if prefix else "top level"
        try:
            row = _lease_row(item, source, place)
        except ArtifactError as exc:
            _warn(source, exc.place, f"{exc.reason}; Lease skipped")
            continue
        key = (row["namespace"], row["name"])
        if key in seen:
            _warn(source, place, f"Lease {_ident(key[0])}/{_ident(key[1])} listed twice; the "
                  "repeat skipped")
            continue
        seen.add(key)
        rows.append(row)
    return pd.DataFrame(rows, columns=LEASE_COLUMNS)


def read_leases(path: str | os.PathLike[str]) -> pd.DataFrame:
    """:func:`parse_leases` of a file (at most :data:`MAX_BYTES`)."""
    text, source = _read_text(path)
    return parse_leases(text, source)


# ------------------------------------------------------------------------------ manifests
def _flag_value(kind: str, raw: Any, source: str, place: str, name: str) -> Any:
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if not isinstance(raw, str) or raw not in _GO_BOOLS:
            raise ArtifactError(source, place, f"{name}: expected true or false")
        return _GO_BOOLS[raw]
    if kind == "string":
        if not isinstance(raw, str) or not raw:
            raise ArtifactError(source, place, f"{name}: expected a non-empty string")
        return raw
    if kind == "seats":
        if isinstance(raw, str) and _INT.fullmatch(raw.strip()):
            raw = int(raw.strip())
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ArtifactError(source, place, f"{name}: expected a whole number of at most "
                                f"{MAX_INT_DIGITS} digits, got {_kind(raw)}")
        if not 0 <= raw <= MAX_SEATS:
            raise ArtifactError(source, place, f"{name} must lie in [0, {MAX_SEATS}], got {raw}")
        return raw
    # a duration: Go's time.ParseDuration strings ("15s", "1m30s") or seconds
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ArtifactError(source, place, f"{name}: expected a duration, got {_kind(raw)}")
    try:
        seconds = parse_duration(raw, name=name)
    except (ValueError, TypeError, OverflowError):
        raise ArtifactError(
            source, place, f"{name}: expected a duration such as 15s, 1m30s or 500ms"
        ) from None
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_DURATION):
        raise ArtifactError(
            source, place, f"{name} must be > 0 and <= {MAX_DURATION:g} s, got {seconds:g} s"
        )
    return seconds


def _container(spec: Mapping[str, Any], source: str) -> tuple[int, Mapping[str, Any], str] | None:
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise ArtifactError(source, "spec.containers", "missing or not a non-empty list")
    for ci, c in enumerate(containers):
        c = _mapping(c, source, f"spec.containers[{ci}]")
        command = c.get("command")
        first = command[0] if isinstance(command, list) and command else None
        for candidate in (c.get("name"), first):
            if isinstance(candidate, str):
                base = candidate.rsplit("/", 1)[-1]
                if base in CONTROL_PLANE_COMPONENTS:
                    return ci, c, base
    return None


def _tokens(container: Mapping[str, Any], ci: int, source: str) -> list[tuple[str, str]]:
    """(token, place) of the command line after the program name, then args."""
    out = []
    for key in ("command", "args"):
        value = container.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise ArtifactError(source, f"spec.containers[{ci}].{key}", "not a list")
        for j, tok in enumerate(value):
            place = f"spec.containers[{ci}].{key}[{j}]"
            if not isinstance(tok, str):
                raise ArtifactError(source, place, f"expected a string, got {_kind(tok)}")
            if key == "command" and j == 0:
                continue
            out.append((tok, place))
    return out


def _parse_flags(tokens: list[tuple[str, str]], source: str) -> dict[str, tuple[Any, str]]:
    """field -> (value, place) of the flags read; the last of a repeated flag wins."""
    found: dict[str, tuple[Any, str]] = {}
    i = 0
    while i < len(tokens):
        tok, place = tokens[i]
        i += 1
        if not tok.startswith("--"):
            continue
        name, sep, raw = tok[2:].partition("=")
        if name not in _FLAGS:
            continue
        field, kind = _FLAGS[name]
        if not sep:
            if kind == "bool":
                raw = "true"
            elif i < len(tokens) and not tokens[i][0].startswith("-"):
                raw = tokens[i][0]
                i += 1
            else:
                raise ArtifactError(source, place, f"--{name} needs a value")
        value = _flag_value(kind, raw, source, place, f"--{name}")
        if field in found:
            _warn(source, place, f"--{name} repeated (first at {found[field][1]}); the last "
                  "one wins, as in the component's flag parser")
        found[field] = (value, place)
    return found


@_bounded_warnings
def parse_manifest(text: str | bytes, source: str = "<manifest>") -> dict[str, Any] | None:
    """The settings of a control-plane static pod manifest, or of a scheduler config file.

    Parameters
    ----------
    text : str or bytes
        A Pod (``/etc/kubernetes/manifests/*.yaml``) or a ``KubeSchedulerConfiguration``.
    source : str
        Name used in messages.

    Returns
    -------
    dict or None
        For a Pod of kube-apiserver, kube-scheduler or kube-controller-manager: the
        ``component``, ``file``, the settings read (see :data:`MANIFEST_COLUMNS`, seconds
        for durations) with :data:`COMPONENT_DEFAULTS` for absent flags, and
        ``defaulted``, the comma-separated settings left at their defaults. For a
        ``KubeSchedulerConfiguration``: ``component`` ``"kube-scheduler-config"`` and the
        ``leaderElection`` settings it gives. None (with an :class:`ArtifactWarning`) for
        another kind of object or another program.

    Raises
    ------
    ArtifactError
        Malformed text, missing or mistyped fields, a flag without its value, a duration
        that does not parse or lies outside ``(0, 86400]`` s, inflight limits outside
        ``[0, 10^6]``.
    """
    text = _check_text(text, source)
    doc = _mapping(_load_document(text, source), source, "top level")
    kind = doc.get("kind")
    if kind == "KubeSchedulerConfiguration":
        le = doc.get("leaderElection")
        le = {} if le is None else _mapping(le, source, "leaderElection")
        row: dict[str, Any] = {"component": "kube-scheduler-config", "file": source}
        for key, (field, fkind) in _SCHEDULER_CONFIG.items():
            if key in le:
                row[field] = _flag_value(fkind, le[key], source, f"leaderElection.{key}", key)
        return row
    if kind != "Pod":
        _warn(source, "kind", f"not a Pod nor a KubeSchedulerConfiguration ({_kind_name(kind)}); "
              "file skipped")
        return None
    spec = _mapping(doc.get("spec"), source, "spec")
    found = _container(spec, source)
    if found is None:
        _warn(source, "spec.containers", "no kube-apiserver, kube-scheduler or "
              "kube-controller-manager container; file skipped")
        return None
    ci, container, component = found
    flags = _parse_flags(_tokens(container, ci, source), source)
    defaults = COMPONENT_DEFAULTS[component]
    row = {"component": component, "file": source}
    defaulted = []
    for field, default in defaults.items():
        if field in flags:
            row[field] = flags[field][0]
        else:
            row[field] = default
            defaulted.append(field)
    row["defaulted"] = ",".join(defaulted)
    return row


def _manifest_files(root: Path) -> list[Path]:
    """The files of ``root`` to read, in name order; a warning names each one left out.

    Left out: names without a .yaml, .yml or .json suffix, subdirectories and other
    non-regular files, symbolic links that lead out of ``root`` (a copied directory must
    not make the reader open other files of the machine), and files beyond
    :data:`MAX_MANIFEST_FILES` or beyond :data:`MAX_BYTES` in total.
    """
    source = str(root)
    real_root = Path(os.path.realpath(root))  # realpath: a link loop is no exception
    chosen: list[Path] = []
    skipped: dict[str, list[str]] = {}
    total = 0
    try:
        with os.scandir(root) as listing:
            # a directory of millions of entries is not a manifests directory: list a
            # bounded number of them
            names = [entry.name for _, entry in zip(range(_MAX_ENTRIES + 1), listing,
                                                    strict=False)]
    except OSError as exc:
        raise ArtifactError(source, "directory", f"cannot list it: {exc.strerror or exc}"
                            ) from None
    if len(names) > _MAX_ENTRIES:
        _warn(source, "directory", f"more than {_MAX_ENTRIES} entries: only {_MAX_ENTRIES} "
              "of them looked at")
        names = names[:_MAX_ENTRIES]
    entries = [root / name for name in sorted(names)]
    for path in entries:
        reason = None
        if path.suffix.lower() not in (".yaml", ".yml", ".json"):
            reason = "not *.yaml, *.yml or *.json"
        elif path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(real_root):
            reason = "a symbolic link out of the directory"
        elif not path.is_file():
            reason = "not a regular file"
        elif len(chosen) >= MAX_MANIFEST_FILES:
            reason = f"beyond the first {MAX_MANIFEST_FILES} files"
        else:
            total += path.stat().st_size
            if total > MAX_BYTES:
                reason = f"beyond {MAX_BYTES} bytes in total"
        if reason is None:
            chosen.append(path)
        else:
            skipped.setdefault(reason, []).append(path.name)
    for reason, names in skipped.items():
        shown = ", ".join(_file_name(n) for n in names[:_MAX_REPEATS_NAMED])
        more = f" and {len(names) - _MAX_REPEATS_NAMED} more" if len(names) > 5 else ""
        _warn(source, "directory", f"skipped ({reason}): {shown}{more}")
    return chosen


def _file_name(name: str) -> str:
    printable = name.isprintable() and len(name) <= 100
    return repr(name) if printable else f"(a name of {len(name)} characters)"


def read_manifests(directory: str | os.PathLike[str]) -> pd.DataFrame:
    """Settings of the control-plane components from a copy of ``/etc/kubernetes/manifests``.

    Every ``*.yaml``, ``*.yml`` and ``*.json`` file of the directory is read with
    :func:`parse_manifest`, up to :data:`MAX_MANIFEST_FILES` files and :data:`MAX_BYTES`
    in total; symbolic links that lead out of the directory are not followed. Each file
    left out is named in an :class:`ArtifactWarning` with the reason, and so is a directory
    without any control-plane manifest. A ``KubeSchedulerConfiguration`` in the same
    directory supplies the scheduler's ``leaderElection`` settings; flags given explicitly on
    the command line override it, as kube-scheduler does with ``--config``.

    Returns
    -------
    pandas.DataFrame
        One row per component, columns :data:`MANIFEST_COLUMNS` (NaN where a setting does
        not apply to the component).

    Raises
    ------
    ArtifactError
        The directory is missing, or one of its files is malformed (see
        :func:`parse_manifest`). A second manifest for the same component is skipped with
        an :class:`ArtifactWarning`.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ArtifactError(str(root), "directory", "not found or not a directory")
    rows: dict[str, dict[str, Any]] = {}
    config: dict[str, Any] | None = None
    files = _manifest_files(root)
    for path in files:
        text, source = _read_text(path)
        row = parse_manifest(text, source)
        if row is None:
            continue
        if row["component"] == "kube-scheduler-config":
            config = row
        elif row["component"] in rows:
            _warn(source, "file", f"a second manifest for {row['component']} (first: "
                  f"{rows[row['component']]['file']}); skipped")
        else:
            rows[row["component"]] = row
    if not rows:
        _warn(str(root), "directory", f"no manifest of {', '.join(CONTROL_PLANE_COMPONENTS)} "
              f"among the {len(files)} file(s) read: no component settings")
    sched = rows.get("kube-scheduler")
    if config is not None and sched is not None:
        defaulted = set(filter(None, sched["defaulted"].split(",")))
        for field, value in config.items():
            if field in defaulted:
                sched[field] = value
                defaulted.discard(field)
        sched["defaulted"] = ",".join(f for f in COMPONENT_DEFAULTS["kube-scheduler"]
                                      if f in defaulted)
        sched["file"] = f"{sched['file']} + {config['file']}"
    order = [rows[c] for c in CONTROL_PLANE_COMPONENTS if c in rows]
    return pd.DataFrame(order, columns=MANIFEST_COLUMNS)


# ------------------------------------------------------------------------------ metrics
_FLOWCONTROL = "apiserver_flowcontrol_"


def _series_lines(text: str, prefix: str) -> list[tuple[int, str]]:
    """(line number, line) of the samples whose names start with ``prefix``, and of their
    TYPE and HELP comments.

    Only these lines go to the parser: the rest of a scrape (most of it) is not read, so a
    malformed line of another series cannot spoil the audit.
    """
    comments = (f"# TYPE {prefix}", f"# HELP {prefix}")
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.lstrip(" \t")
        if stripped.startswith(prefix) or stripped.startswith(comments):
            out.append((number, stripped))
    return out


def _flowcontrol_lines(text: str) -> list[tuple[int, str]]:
    """:func:`_series_lines` of the ``apiserver_flowcontrol_*`` series."""
    return _series_lines(text, _FLOWCONTROL)


def _series_samples(text: str, source: str, prefix: str) -> list[Any]:
    """The parsed samples of the series named ``prefix...`` (none when absent); lines the
    parser refuses are skipped with a warning that gives their number only."""
    lines = _series_lines(text, prefix)
    return _samples(lines, source) if lines else []


def _parse_samples(text: str) -> list[Any]:
    from prometheus_client.parser import text_string_to_metric_families

    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _samples(lines: list[tuple[int, str]], source: str) -> list[Any]:
    """The samples of ``lines``; a line the parser refuses is skipped with a warning.

    The parser's messages quote the line, so they are not passed on: the warning gives the
    line number only.
    """
    try:
        return _parse_samples("".join(line + "\n" for _, line in lines))
    except Exception:  # a third-party parser on untrusted text: whatever it raises
        pass
    samples: list[Any] = []
    bad: list[int] = []
    for number, line in lines:  # again line by line, to skip only the bad ones
        try:
            samples.extend(_parse_samples(line + "\n"))
        except Exception:
            bad.append(number)
    if not samples:
        raise ArtifactError(source, f"line {bad[0]}", "not Prometheus text format")
    for number in bad[:_MAX_REPEATS_NAMED]:
        _warn(source, f"line {number}", "not a Prometheus sample line; skipped")
    if len(bad) > _MAX_REPEATS_NAMED:
        _warn(source, "text", f"{len(bad) - _MAX_REPEATS_NAMED} more malformed lines skipped")
    return samples


def _sample_value(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer literal of hundreds of digits
        return math.inf


def _sample_place(name: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f"{k}={_ident(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


@_bounded_warnings
def parse_metrics(
    text: str | bytes, source: str = "<metrics>"
) -> pd.DataFrame:
    """Per priority level totals of the ``apiserver_flowcontrol_*`` series of one scrape.

    Parameters
    ----------
    text : str or bytes
        ``kubectl get --raw /metrics`` of one API server (Prometheus text format).
    source : str
        Name used in messages.

    Returns
    -------
    pandas.DataFrame
        One row per ``priority_level`` with ``nominal_limit_seats`` and
        ``current_limit_seats`` (gauges), ``dispatched`` and ``rejected`` (counters summed
        over ``flow_schema`` and ``reason``), ``inqueue`` (gauge summed over flow schemas),
        ``execution_seconds_sum`` and ``execution_seconds_count`` (the histogram's sum and
        count, summed over flow schemas and ``type``). NaN where a series is absent.

    Raises
    ------
    ArtifactError
        Text that does not parse, or no ``apiserver_flowcontrol_*`` series at all. A sample
        without a ``priority_level`` label, with a negative or non-finite value, seats above
        :data:`MAX_SEATS`, or repeated with the same labels is skipped with an
        :class:`ArtifactWarning`.
    """
    text = _check_text(text, source)
    totals: dict[str, dict[str, float]] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    matched = 0
    for sample in _samples(_flowcontrol_lines(text), source):
        column = _SERIES.get(sample.name)
        if column is None:
            continue
        matched += 1
        labels = dict(sample.labels)
        place = _sample_place(sample.name, labels)
        key = (sample.name, tuple(sorted(labels.items())))
        if key in seen:
            _warn(source, place, "repeated sample; the repeat skipped")
            continue
        seen.add(key)
        level = labels.get("priority_level")
        if not level:
            _warn(source, place, "no priority_level label; sample skipped")
            continue
        if not _NAME.fullmatch(level):
            _warn(source, place, f"priority_level: {_NOT_A_NAME}; sample skipped")
            continue
        value = _sample_value(sample.value)
        if not (math.isfinite(value) and value >= 0):
            _warn(source, place, f"value must be finite and >= 0, got {value!r}; skipped")
            continue
        if column in _SEAT_SERIES and value > MAX_SEATS:
            _warn(source, place, f"{value:g} seats is above {MAX_SEATS}; skipped")
            continue
        row = totals.setdefault(level, {})
        if column in _SEAT_SERIES:
            row[column] = value
        else:
            row[column] = row.get(column, 0.0) + value
    if not matched:
        raise ArtifactError(source, "text", "no apiserver_flowcontrol_* series: not the "
                            "/metrics of an API server with priority and fairness?")
    rows = [{"priority_level": level, **values} for level, values in sorted(totals.items())]
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    numeric = METRIC_COLUMNS[1:]
    frame[numeric] = frame[numeric].astype(float)
    return frame


def read_metrics(path: str | os.PathLike[str]) -> pd.DataFrame:
    """:func:`parse_metrics` of a file (at most :data:`MAX_BYTES`)."""
    text, source = _read_text(path)
    return parse_metrics(text, source)



# ------------------------------------------------------------------ lease call latencies
#: The API server's request latency histogram (``apiserver/pkg/endpoints/metrics``).
LATENCY_HISTOGRAM = "apiserver_request_duration_seconds_bucket"


def _csv_buckets(text: str, source: str) -> dict[float, float]:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if header[:2] != ["le", "count"]:
        raise ArtifactError(source, "line 1", "expected Prometheus text with "
                            f"{LATENCY_HISTOGRAM} or a CSV with the header le,count")
    buckets: dict[float, float] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            le = float(row[0].strip().replace("+Inf", "inf"))
            count = float(row[1])
        except (ValueError, IndexError):
            raise ArtifactError(source, f"line {number}", "expected a bound and a count"
                                ) from None
        if math.isnan(le) or not (math.isfinite(count) and count >= 0):
            raise ArtifactError(source, f"line {number}", "bounds must be numbers and counts "
                                "finite and >= 0")
        buckets[le] = count
    return buckets


def parse_latency_buckets(
    text: str | bytes, source: str = "<metrics>", *, resource: str = "leases",
    verb: str = "PUT",
) -> dict[float, float]:
    """Cumulative bucket counts of the lease requests' latency histogram.

    Parameters
    ----------
    text : str or bytes
        Prometheus text holding ``apiserver_request_duration_seconds_bucket`` (summed over
        every label but ``le``, among the samples with the given ``resource`` and ``verb``),
        or a CSV with the header ``le,count`` (``+Inf`` allowed).
    source : str
        Name used in messages.
    resource, verb : str
        Which requests: the renewals of a leader are ``PUT`` on ``leases``.

    Returns
    -------
    dict
        ``le`` (seconds, ``inf`` for ``+Inf``) -> cumulative count; empty when the scrape
        has no such samples.

    Raises
    ------
    ArtifactError
        Text that is neither Prometheus text nor the CSV.
    """
    text = _check_text(text, source)
    if LATENCY_HISTOGRAM not in text:
        if text.lstrip().lower().startswith("le"):
            return _csv_buckets(text, source)
        return {}
    buckets: dict[float, float] = {}
    for sample in _series_samples(text, source, LATENCY_HISTOGRAM.removesuffix("_bucket")):
        if sample.name != LATENCY_HISTOGRAM:
            continue
        labels = dict(sample.labels)
        if labels.get("resource") != resource or labels.get("verb") != verb:
            continue
        place = _sample_place(sample.name, labels)
        try:
            le = float(labels.get("le", "nan"))
        except ValueError:
            le = math.nan
        value = float(sample.value)
        if math.isnan(le) or not (math.isfinite(value) and value >= 0):
            _warn(source, place, "bad bound or count; sample skipped")
            continue
        buckets[le] = buckets.get(le, 0.0) + value
    return buckets


def read_latency_buckets(path: str | os.PathLike[str], **kwargs: Any) -> dict[float, float]:
    """:func:`parse_latency_buckets` of a file (at most :data:`MAX_BYTES`).

    Raises
    ------
    ArtifactError
        Also when the file holds no lease latency histogram.
    """
    text, source = _read_text(path)
    buckets = parse_latency_buckets(text, source, **kwargs)
    if not buckets:
        raise ArtifactError(source, "text", f"no {LATENCY_HISTOGRAM} samples for "
                            "resource=\"leases\", verb=\"PUT\"")
    return buckets
