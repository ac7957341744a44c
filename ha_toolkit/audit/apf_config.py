"""A cluster's own API Priority and Fairness configuration, and what its metrics say.

Inputs (untrusted files, read with the bounded, safe loaders of
:mod:`ha_toolkit.audit.readers`: at most 5 MiB, UTF-8, JSON or PyYAML ``safe_load``):

* ``kubectl get flowschemas,prioritylevelconfigurations -o yaml`` (or ``-o json``): a
  ``List`` of ``FlowSchema`` and ``PriorityLevelConfiguration`` objects of
  ``flowcontrol.apiserver.k8s.io`` ``v1``, ``v1beta3`` or ``v1beta2`` (whose
  ``assuredConcurrencyShares`` is read as the nominal shares);
  :func:`parse_apf_config`.
* ``kubectl get --raw /metrics``: the per-level ``apiserver_flowcontrol_*`` series
  (``nominal_limit_seats``, ``lower_limit_seats`` = NominalCL - LendableCL,
  ``upper_limit_seats`` = NominalCL + BorrowingCL, ``current_limit_seats``,
  ``current_executing_seats``, ``current_inqueue_requests``, ``current_inqueue_seats``,
  ``dispatched_requests_total``, ``rejected_requests_total`` by reason); names from
  apiserver ``pkg/util/flowcontrol/metrics/metrics.go``; :func:`parse_apf_metrics`.

:func:`apf_audit` joins the two: per level the limits the configuration implies
(:func:`~ha_toolkit.apiserver.apf.allocate` at the server's ServerCL) beside those the
server reports, whether the level is saturated (every seat in use, or requests waiting),
whether it borrows or lends, and its 429s by reason; and, for the ``leader-election`` and
``system`` levels, which flows share queues: each flow's hand is dealt as the server deals
it (:func:`~ha_toolkit.apiserver.shuffle.flow_hand`, from the FlowSchema name and the flow
distinguisher), so two flows whose hands intersect can delay each other.

Defaults applied as the API server's defaulting does (``pkg/apis/flowcontrol/v1/
defaults.go``): nominal shares 30 for a limited level, 0 for an exempt one; lendable
percent 0; borrowing limit unset (unlimited); queuing 64 queues, hand size 8, queue length
limit 50.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ha_toolkit.audit.readers import (
    MAX_SEATS,
    ArtifactError,
    ArtifactWarning,
    _check_text,
    _load_document,
    _read_text,
    _sample_place,
    _series_samples,
)

__all__ = [
    "FLOW_SCHEMA_COLUMNS",
    "LEVEL_CONFIG_COLUMNS",
    "SHARING_COLUMNS",
    "STATE_COLUMNS",
    "ApfAudit",
    "ApfConfig",
    "apf_audit",
    "flow_candidates",
    "parse_apf_config",
    "parse_apf_metrics",
    "queue_sharing",
    "read_apf_config",
    "read_apf_metrics",
    "sample_apf_config",
]

FLOW_SCHEMA_COLUMNS = [
    "name", "priority_level", "matching_precedence", "distinguisher", "users", "groups",
    "service_accounts",
]
LEVEL_CONFIG_COLUMNS = [
    "name", "type", "nominal_concurrency_shares", "lendable_percent",
    "borrowing_limit_percent", "limit_response", "queues", "hand_size", "queue_length_limit",
]
STATE_COLUMNS = [
    "priority_level", "nominal_limit_seats", "lower_limit_seats", "upper_limit_seats",
    "current_limit_seats", "executing_seats", "inqueue_requests", "inqueue_seats",
    "dispatched", "rejected_queue_full", "rejected_time_out", "rejected_concurrency_limit",
    "rejected_cancelled",
]
SHARING_COLUMNS = [
    "priority_level", "flow_schema", "distinguisher", "hash_value", "hand",
    "shares_with", "squished",
]
AUDIT_COLUMNS = [
    "priority_level", "type", "nominal_concurrency_shares", "lendable_percent",
    "borrowing_limit_percent", "queues", "hand_size", "queue_length_limit",
    "nominal_cl", "min_cl", "max_cl", "nominal_limit_seats", "lower_limit_seats",
    "upper_limit_seats", "current_limit_seats", "executing_seats", "inqueue_requests",
    "rejected", "rejected_reasons", "saturated", "borrowing", "status",
]

_GROUP = "flowcontrol.apiserver.k8s.io"
_VERSIONS = ("v1", "v1beta3", "v1beta2")
_KINDS = ("FlowSchema", "PriorityLevelConfiguration")
_MAX_PRECEDENCE = 10_000
_MAX_QUEUES = 1 << 26
_MAX_SHARES = 1 << 31


# ------------------------------------------------------------------------ configuration
@dataclass(frozen=True, eq=False)
class ApfConfig:
    """FlowSchemas and PriorityLevelConfigurations of one cluster.

    Attributes
    ----------
    flow_schemas : pandas.DataFrame
        :data:`FLOW_SCHEMA_COLUMNS`, by matching precedence; ``distinguisher`` is
        ``"ByUser"``, ``"ByNamespace"`` or ``""``; ``users``, ``groups`` and
        ``service_accounts`` (``namespace/name``, ``*`` for all) are ``;``-joined subjects.
    priority_levels : pandas.DataFrame
        :data:`LEVEL_CONFIG_COLUMNS` with the API server's defaults applied; ``type`` is
        ``limited`` or ``exempt``, ``limit_response`` ``Queue`` or ``Reject``.
    source : str
        Where it was read from.
    """

    flow_schemas: pd.DataFrame
    priority_levels: pd.DataFrame
    source: str = "<apf config>"

    def levels(self) -> tuple[Any, ...]:
        """The levels as :class:`~ha_toolkit.apiserver.apf.PriorityLevel` objects."""
        from ha_toolkit.apiserver.apf import PriorityLevel

        out = []
        for row in self.priority_levels.to_dict("records"):
            blp = row["borrowing_limit_percent"]
            queuing = row["type"] == "limited" and row["limit_response"] == "Queue"
            out.append(PriorityLevel(
                row["name"], type=row["type"],
                nominal_concurrency_shares=int(row["nominal_concurrency_shares"]),
                lendable_percent=int(row["lendable_percent"]),
                borrowing_limit_percent=None if pd.isna(blp) or row["type"] == "exempt"
                else int(blp),
                queues=int(row["queues"]) if queuing else 0,
                hand_size=int(row["hand_size"]) if queuing else 0,
                queue_length_limit=int(row["queue_length_limit"]) if queuing else 0))
        return tuple(out)


def _field(obj: Any, key: str, source: str, place: str, kind: type | tuple[type, ...],
           default: Any = None, required: bool = False) -> Any:
    if not isinstance(obj, Mapping):
        raise ArtifactError(source, place, f"expected a mapping, got {type(obj).__name__}")
    if key not in obj or obj[key] is None:
        if required:
            raise ArtifactError(source, f"{place}.{key}", "missing")
        return default
    value = obj[key]
    if isinstance(value, bool) and kind is not bool:
        raise ArtifactError(source, f"{place}.{key}", "expected a number, got bool")
    if not isinstance(value, kind):
        raise ArtifactError(source, f"{place}.{key}",
                            f"expected {getattr(kind, '__name__', kind)}, got "
                            f"{type(value).__name__}")
    return value


def _bounded(value: int, source: str, place: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ArtifactError(source, place, f"must lie in [{low}, {high}], got {value}")
    return value


def _check_entropy(queues: int, hand: int, source: str, place: str) -> None:
    """The API server's validation of a level's queuing (``ValidatePriorityLevelQueuing
    Configuration``): a hand must be dealt from the bits of one 64-bit hash."""
    from ha_toolkit.apiserver.shuffle import MAX_HASH_BITS, required_entropy_bits

    if required_entropy_bits(queues, hand) > MAX_HASH_BITS:
        raise ArtifactError(source, place, f"required entropy bits of deckSize {queues} and "
                            f"handSize {hand} should not be greater than {MAX_HASH_BITS}")


def _level_row(item: Mapping[str, Any], version: str, source: str, place: str
               ) -> dict[str, Any]:
    meta = _field(item, "metadata", source, place, Mapping, required=True)
    name = _field(meta, "name", source, f"{place}.metadata", str, required=True)
    spec = _field(item, "spec", source, place, Mapping, required=True)
    kind = _field(spec, "type", source, f"{place}.spec", str, required=True)
    if kind not in ("Exempt", "Limited"):
        raise ArtifactError(source, f"{place}.spec.type",
                            f"must be Exempt or Limited, got {kind[:40]!r}")
    shares_key = "assuredConcurrencyShares" if version == "v1beta2" \
        else "nominalConcurrencyShares"
    row: dict[str, Any] = {"name": name, "type": kind.lower(), "borrowing_limit_percent":
                           math.nan, "limit_response": "", "queues": 0, "hand_size": 0,
                           "queue_length_limit": 0}
    if kind == "Exempt":
        ex = _field(spec, "exempt", source, f"{place}.spec", Mapping, default={})
        p = f"{place}.spec.exempt"
        row["nominal_concurrency_shares"] = _bounded(_field(
            ex, "nominalConcurrencyShares", source, p, int, default=0), source,
            f"{p}.nominalConcurrencyShares", 0, _MAX_SHARES)
        row["lendable_percent"] = _bounded(_field(ex, "lendablePercent", source, p, int,
                                                  default=0), source, f"{p}.lendablePercent",
                                           0, 100)
        return row
    p = f"{place}.spec.limited"
    lim = _field(spec, "limited", source, f"{place}.spec", Mapping, required=True)
    row["nominal_concurrency_shares"] = _bounded(_field(lim, shares_key, source, p, int,
                                                        default=30), source,
                                                 f"{p}.{shares_key}", 0, _MAX_SHARES)
    row["lendable_percent"] = _bounded(_field(lim, "lendablePercent", source, p, int,
                                              default=0), source, f"{p}.lendablePercent", 0, 100)
    blp = _field(lim, "borrowingLimitPercent", source, p, int)
    if blp is not None:
        row["borrowing_limit_percent"] = _bounded(blp, source, f"{p}.borrowingLimitPercent",
                                                  0, _MAX_SHARES)
    response = _field(lim, "limitResponse", source, p, Mapping, default={"type": "Reject"})
    rtype = _field(response, "type", source, f"{p}.limitResponse", str, required=True)
    if rtype not in ("Queue", "Reject"):
        raise ArtifactError(source, f"{p}.limitResponse.type",
                            f"must be Queue or Reject, got {rtype[:40]!r}")
    row["limit_response"] = rtype
    if rtype == "Queue":
        qp = f"{p}.limitResponse.queuing"
        queuing = _field(response, "queuing", source, f"{p}.limitResponse", Mapping,
                         default={})
        q = _bounded(_field(queuing, "queues", source, qp, int, default=64), source,
                     f"{qp}.queues", 1, _MAX_QUEUES)
        h = _bounded(_field(queuing, "handSize", source, qp, int, default=8), source,
                     f"{qp}.handSize", 1, q)
        qll = _bounded(_field(queuing, "queueLengthLimit", source, qp, int, default=50),
                       source, f"{qp}.queueLengthLimit", 1, MAX_SEATS)
        _check_entropy(q, h, source, f"{qp}.handSize")
        row.update(queues=q, hand_size=h, queue_length_limit=qll)
    return row


def _subjects(rules: Any, source: str, place: str) -> tuple[list[str], list[str], list[str]]:
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    if rules is None:
        return users, groups, accounts
    if not isinstance(rules, list):
        raise ArtifactError(source, place, f"expected a list, got {type(rules).__name__}")
    for i, rule in enumerate(rules):
        subjects = _field(rule, "subjects", source, f"{place}[{i}]", list, default=[])
        for j, subject in enumerate(subjects):
            sp = f"{place}[{i}].subjects[{j}]"
            kind = _field(subject, "kind", source, sp, str, required=True)
            if kind == "User":
                users.append(_field(_field(subject, "user", source, sp, Mapping,
                                           required=True), "name", source, f"{sp}.user", str,
                                    required=True))
            elif kind == "Group":
                groups.append(_field(_field(subject, "group", source, sp, Mapping,
                                            required=True), "name", source, f"{sp}.group",
                                     str, required=True))
            elif kind == "ServiceAccount":
                sa = _field(subject, "serviceAccount", source, sp, Mapping, required=True)
                ns = _field(sa, "namespace", source, f"{sp}.serviceAccount", str,
                            required=True)
                nm = _field(sa, "name", source, f"{sp}.serviceAccount", str, required=True)
                accounts.append(f"{ns}/{nm}")
            else:
                raise ArtifactError(source, f"{sp}.kind",
                                    f"must be User, Group or ServiceAccount, got {kind[:40]!r}")
    return users, groups, accounts


def _schema_row(item: Mapping[str, Any], source: str, place: str) -> dict[str, Any]:
    meta = _field(item, "metadata", source, place, Mapping, required=True)
    name = _field(meta, "name", source, f"{place}.metadata", str, required=True)
    spec = _field(item, "spec", source, place, Mapping, required=True)
    ref = _field(spec, "priorityLevelConfiguration", source, f"{place}.spec", Mapping,
                 required=True)
    level = _field(ref, "name", source, f"{place}.spec.priorityLevelConfiguration", str,
                   required=True)
    precedence = _bounded(_field(spec, "matchingPrecedence", source, f"{place}.spec", int,
                                 default=1000), source, f"{place}.spec.matchingPrecedence",
                          1, _MAX_PRECEDENCE)
    method = _field(spec, "distinguisherMethod", source, f"{place}.spec", Mapping)
    distinguisher = ""
    if method is not None:
        distinguisher = _field(method, "type", source, f"{place}.spec.distinguisherMethod",
                               str, required=True)
        if distinguisher not in ("ByUser", "ByNamespace"):
            raise ArtifactError(source, f"{place}.spec.distinguisherMethod.type",
                                f"must be ByUser or ByNamespace, got {distinguisher[:40]!r}")
    users, groups, accounts = _subjects(spec.get("rules"), source, f"{place}.spec.rules")
    return {"name": name, "priority_level": level, "matching_precedence": precedence,
            "distinguisher": distinguisher, "users": ";".join(users),
            "groups": ";".join(groups), "service_accounts": ";".join(accounts)}


def parse_apf_config(text: str | bytes, source: str = "<apf config>") -> ApfConfig:
    """FlowSchemas and PriorityLevelConfigurations from ``kubectl get -o yaml`` output.

    Parameters
    ----------
    text : str or bytes
        ``kubectl get flowschemas,prioritylevelconfigurations -o yaml`` (or ``-o json``):
        a ``List`` (or a single object).
    source : str
        Name used in messages.

    Returns
    -------
    ApfConfig

    Raises
    ------
    ArtifactError
        Text that does not parse, a wrong shape, a missing or mistyped field, a value out
        of range, no FlowSchema nor PriorityLevelConfiguration, or a name given twice. An
        item of another kind or API group is skipped with an :class:`ArtifactWarning`.
    """
    doc = _load_document(_check_text(text, source), source)
    if not isinstance(doc, Mapping):
        raise ArtifactError(source, "top level", f"expected a mapping, got {type(doc).__name__}")
    items = doc.get("items") if doc.get("kind") == "List" or "items" in doc else [doc]
    if not isinstance(items, list):
        raise ArtifactError(source, "items", f"expected a list, got {type(items).__name__}")
    schemas: list[dict[str, Any]] = []
    levels: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        place = f"items[{i}]"
        if not isinstance(item, Mapping):
            raise ArtifactError(source, place, f"expected a mapping, got {type(item).__name__}")
        kind = item.get("kind")
        api = item.get("apiVersion")
        group, _, version = str(api).partition("/")
        if kind not in _KINDS or group != _GROUP or version not in _VERSIONS:
            warnings.warn(f"{source}: {place}: not a {_GROUP} FlowSchema or "
                          f"PriorityLevelConfiguration ({str(api)[:60]} {str(kind)[:40]}); "
                          "skipped", ArtifactWarning, stacklevel=2)
            continue
        if kind == "FlowSchema":
            schemas.append(_schema_row(item, source, place))
        else:
            levels.append(_level_row(item, version, source, place))
    if not schemas and not levels:
        raise ArtifactError(source, "items", "no FlowSchema nor PriorityLevelConfiguration")
    for rows, what in ((schemas, "FlowSchema"), (levels, "PriorityLevelConfiguration")):
        names = [r["name"] for r in rows]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ArtifactError(source, "items", f"{what} names given twice: {dup}")
    fs = pd.DataFrame(schemas, columns=FLOW_SCHEMA_COLUMNS)
    fs = fs.sort_values(["matching_precedence", "name"], kind="stable").reset_index(drop=True)
    pl = pd.DataFrame(levels, columns=LEVEL_CONFIG_COLUMNS)
    return ApfConfig(flow_schemas=fs, priority_levels=pl, source=source)


def sample_apf_config() -> Path:
    """Path of the sample configuration shipped in ``data/samples/apf_config.yaml``: the
    API server's bootstrap FlowSchemas and PriorityLevelConfigurations (see its README)."""
    from ha_toolkit._data import data_path

    return data_path("apf_priority_levels.csv").parent / "samples" / "apf_config.yaml"


def read_apf_config(path: str | os.PathLike[str]) -> ApfConfig:
    """:func:`parse_apf_config` of a file (at most 5 MiB)."""
    text, source = _read_text(path)
    return parse_apf_config(text, source)


# ------------------------------------------------------------------------------ metrics
_STATE_SERIES = {
    "apiserver_flowcontrol_nominal_limit_seats": "nominal_limit_seats",
    "apiserver_flowcontrol_lower_limit_seats": "lower_limit_seats",
    "apiserver_flowcontrol_upper_limit_seats": "upper_limit_seats",
    "apiserver_flowcontrol_current_limit_seats": "current_limit_seats",
    "apiserver_flowcontrol_current_executing_seats": "executing_seats",
    "apiserver_flowcontrol_current_inqueue_requests": "inqueue_requests",
    "apiserver_flowcontrol_current_inqueue_seats": "inqueue_seats",
    "apiserver_flowcontrol_dispatched_requests_total": "dispatched",
    "apiserver_flowcontrol_rejected_requests_total": "rejected",
}
_PER_LEVEL = {"nominal_limit_seats", "lower_limit_seats", "upper_limit_seats",
              "current_limit_seats"}
_REASONS = {"queue-full": "rejected_queue_full", "time-out": "rejected_time_out",
            "concurrency-limit": "rejected_concurrency_limit",
            "cancelled": "rejected_cancelled"}


def parse_apf_metrics(text: str | bytes, source: str = "<metrics>") -> pd.DataFrame:
    """Per-level state of priority and fairness from one ``/metrics`` scrape.

    Parameters
    ----------
    text : str or bytes
        Prometheus text format of one API server.
    source : str
        Name used in messages.

    Returns
    -------
    pandas.DataFrame
        :data:`STATE_COLUMNS`, one row per ``priority_level``: the limit gauges, seats
        executing and requests and seats queued (gauges summed over flow schemas),
        dispatched and rejected requests by reason (counters summed over flow schemas).
        NaN where a series is absent; the reject columns are 0 when the level has none.

    Raises
    ------
    ArtifactError
        Text that does not parse, or no ``apiserver_flowcontrol_*`` series. Bad samples
        (no level, negative or non-finite, seats above the limit, repeated) are skipped
        with an :class:`ArtifactWarning`.
    """
    text = _check_text(text, source)
    totals: dict[str, dict[str, float]] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    matched = 0
    for sample in _series_samples(text, source, "apiserver_flowcontrol_"):
        column = _STATE_SERIES.get(sample.name)
        if column is None:
            continue
        matched += 1
        labels = dict(sample.labels)
        place = _sample_place(sample.name, labels)
        key = (sample.name, tuple(sorted(labels.items())))
        if key in seen:
            _skip(source, place, "repeated sample; the repeat skipped")
            continue
        seen.add(key)
        level = labels.get("priority_level")
        value = float(sample.value)
        if not level:
            _skip(source, place, "no priority_level label; sample skipped")
            continue
        if not (math.isfinite(value) and value >= 0):
            _skip(source, place, f"value must be finite and >= 0, got {value!r}; skipped")
            continue
        if column != "dispatched" and column != "rejected" and value > MAX_SEATS:
            _skip(source, place, f"{value:g} is above {MAX_SEATS}; skipped")
            continue
        if column == "rejected":
            column = _REASONS.get(labels.get("reason", ""), "rejected_cancelled")
        row = totals.setdefault(level, {})
        if column in _PER_LEVEL:
            row[column] = value
        else:
            row[column] = row.get(column, 0.0) + value
    if not matched:
        raise ArtifactError(source, "text", "no apiserver_flowcontrol_* series: not the "
                            "/metrics of an API server with priority and fairness?")
    frame = pd.DataFrame([{"priority_level": lv, **v} for lv, v in sorted(totals.items())],
                         columns=STATE_COLUMNS)
    numeric = STATE_COLUMNS[1:]
    frame[numeric] = frame[numeric].astype(float)
    for column in _REASONS.values():
        frame[column] = frame[column].fillna(0.0)
    return frame


def _skip(source: str, place: str, message: str) -> None:
    warnings.warn(f"{source}: {place}: {message}", ArtifactWarning, stacklevel=3)


def read_apf_metrics(path: str | os.PathLike[str]) -> pd.DataFrame:
    """:func:`parse_apf_metrics` of a file (at most 5 MiB)."""
    text, source = _read_text(path)
    return parse_apf_metrics(text, source)


# -------------------------------------------------------------------------- queue sharing
def flow_candidates(config: ApfConfig, levels: Iterable[str] = ("leader-election", "system"),
                    *, nodes: Sequence[str] = (), extra: Mapping[str, Sequence[str]] | None
                    = None) -> pd.DataFrame:
    """The flows (FlowSchema, distinguisher) the configuration lets one name for levels.

    A flow is a FlowSchema plus its distinguisher: the user name (``ByUser``), the
    namespace (``ByNamespace``) or nothing. The configuration names some: users of User
    subjects, ``system:serviceaccount:NS:NAME`` of named service accounts (their namespace
    for ``ByNamespace``), ``system:node:NODE`` for the ``system:nodes`` group when node
    names are given (e.g. the Leases in ``kube-node-lease``). Members of other groups and
    wildcard service accounts are not knowable from the configuration: add them with
    ``extra``.

    Parameters
    ----------
    config : ApfConfig
    levels : iterable of str
        Priority levels whose flows are listed.
    nodes : sequence of str
        Node names (users ``system:node:<name>`` of group ``system:nodes``).
    extra : mapping of str to sequence of str, optional
        More distinguishers per FlowSchema name.

    Returns
    -------
    pandas.DataFrame
        ``priority_level``, ``flow_schema``, ``distinguisher``: one row per flow, first
        matching FlowSchema first (by precedence).
    """
    wanted = set(levels)
    extra = dict(extra or {})
    rows: list[dict[str, str]] = []
    for fs in config.flow_schemas.to_dict("records"):
        if fs["priority_level"] not in wanted:
            continue
        method = fs["distinguisher"]
        found: list[str] = []
        users = [u for u in fs["users"].split(";") if u]
        accounts = [a for a in fs["service_accounts"].split(";") if a]
        groups = [g for g in fs["groups"].split(";") if g]
        if method == "ByUser":
            found += users
            found += [f"system:serviceaccount:{a.replace('/', ':')}" for a in accounts
                      if not a.endswith("/*")]
            if "system:nodes" in groups:
                found += [f"system:node:{n}" for n in nodes]
        elif method == "ByNamespace":
            found += sorted({a.split("/")[0] for a in accounts})
        else:
            found.append("")
        found += [str(d) for d in extra.get(fs["name"], ())]
        for d in dict.fromkeys(found):
            rows.append({"priority_level": fs["priority_level"], "flow_schema": fs["name"],
                         "distinguisher": d})
    return pd.DataFrame(rows, columns=["priority_level", "flow_schema", "distinguisher"])


def queue_sharing(config: ApfConfig, flows: pd.DataFrame) -> pd.DataFrame:
    """Each flow's hand, as the server deals it, and the flows it shares a queue with.

    Parameters
    ----------
    config : ApfConfig
        Gives each level's queues and hand size.
    flows : pandas.DataFrame
        ``priority_level``, ``flow_schema``, ``distinguisher`` (:func:`flow_candidates`).

    Returns
    -------
    pandas.DataFrame
        :data:`SHARING_COLUMNS`: ``hash_value`` and ``hand`` (queue indices in dealing
        order, ``;``-joined) from :func:`~ha_toolkit.apiserver.shuffle.flow_hand`;
        ``shares_with``: the other listed flows of the level whose hands intersect this
        one (``schema/distinguisher``, ``;``-joined); ``squished``: every queue of the hand
        is in some other listed flow's hand. Levels without queues (hash 0, one queue)
        are left out.
    """
    from ha_toolkit.apiserver.shuffle import Dealer, flow_hash

    levels = {r["name"]: r for r in config.priority_levels.to_dict("records")}
    rows: list[dict[str, Any]] = []
    for level, group in flows.groupby("priority_level", sort=False):
        cfg = levels.get(level)
        if cfg is None or cfg["limit_response"] != "Queue" or cfg["queues"] <= 1:
            continue
        dealer = Dealer(int(cfg["queues"]), int(cfg["hand_size"]))
        entries = []
        for f in group.to_dict("records"):
            h = flow_hash(f["flow_schema"], f["distinguisher"])
            entries.append((f["flow_schema"], f["distinguisher"], h, dealer.deal(h)))
        for k, (schema, dist, h, hand) in enumerate(entries):
            others = [e for m, e in enumerate(entries) if m != k]
            shared = [f"{s}/{d}" for s, d, _, hd in others if set(hd) & set(hand)]
            covered = set().union(*(set(hd) for *_, hd in others)) if others else set()
            rows.append({"priority_level": level, "flow_schema": schema,
                         "distinguisher": dist, "hash_value": h,
                         "hand": ";".join(map(str, hand)), "shares_with": ";".join(shared),
                         "squished": set(hand) <= covered})
    return pd.DataFrame(rows, columns=SHARING_COLUMNS)


# ------------------------------------------------------------------------------- audit
@dataclass(frozen=True, eq=False)
class ApfAudit:
    """The result of :func:`apf_audit`.

    Attributes
    ----------
    levels : pandas.DataFrame
        One row per level (configuration and metrics joined): the configured settings,
        ``nominal_cl``, ``min_cl``, ``max_cl`` implied at ``server_cl``, what the server
        reports, ``rejected`` (total) with ``rejected_reasons``, ``saturated`` (all seats
        in use or requests queued), ``borrowing`` (current - nominal seats: > 0 borrows,
        < 0 lends) and ``status`` (a short verdict).
    sharing : pandas.DataFrame
        :func:`queue_sharing` of the flows of the leader-election and system levels.
    notes : tuple of str
        Mismatches between the configuration and the server's figures.
    server_cl : int
    """

    levels: pd.DataFrame
    sharing: pd.DataFrame
    notes: tuple[str, ...]
    server_cl: int


def apf_audit(config: ApfConfig | None = None, state: pd.DataFrame | None = None, *,
              server_cl: int = 600, nodes: Sequence[str] = (),
              sharing_levels: Iterable[str] = ("leader-election", "system"),
              extra_flows: Mapping[str, Sequence[str]] | None = None) -> ApfAudit:
    """Join a cluster's APF configuration and its metrics, level by level.

    Parameters
    ----------
    config : ApfConfig, optional
        From :func:`read_apf_config`.
    state : pandas.DataFrame, optional
        From :func:`read_apf_metrics`.
    server_cl : int, default 600
        ``--max-requests-inflight`` + ``--max-mutating-requests-inflight``.
    nodes : sequence of str
        Node names, for the flows of the ``system:nodes`` group.
    sharing_levels : iterable of str
        Levels whose flows' queue sharing is reported.
    extra_flows : mapping, optional
        More distinguishers per FlowSchema (see :func:`flow_candidates`).

    Returns
    -------
    ApfAudit

    Raises
    ------
    ValueError
        Neither input given, or ``server_cl < 1``.
    """
    from ha_toolkit.apiserver.apf import allocate

    if config is None and state is None:
        raise ValueError("give config, state or both")
    if isinstance(server_cl, bool) or not isinstance(server_cl, int) or server_cl < 1:
        raise ValueError(f"server_cl must be an integer >= 1, got {server_cl!r}")
    notes: list[str] = []
    rows: dict[str, dict[str, Any]] = {}
    if config is not None and len(config.priority_levels):
        levels = config.levels()
        alloc = allocate(levels, server_cl=server_cl)
        for lv, cfg, n, lo, hi in zip(levels, config.priority_levels.to_dict("records"),
                                      alloc.nominal_cl, alloc.min_cl, alloc.max_cl,
                                      strict=True):
            rows[lv.name] = {c: math.nan for c in AUDIT_COLUMNS}
            rows[lv.name].update(
                priority_level=lv.name, type=lv.type,
                nominal_concurrency_shares=lv.nominal_concurrency_shares,
                lendable_percent=lv.lendable_percent,
                borrowing_limit_percent=cfg["borrowing_limit_percent"], queues=lv.queues,
                hand_size=lv.hand_size, queue_length_limit=lv.queue_length_limit,
                nominal_cl=float(n), min_cl=float(lo), max_cl=float(hi))
    if state is not None:
        for s in state.to_dict("records"):
            row = rows.setdefault(s["priority_level"], {c: math.nan for c in AUDIT_COLUMNS})
            row["priority_level"] = s["priority_level"]
            for c in ("nominal_limit_seats", "lower_limit_seats", "upper_limit_seats",
                      "current_limit_seats", "executing_seats", "inqueue_requests"):
                row[c] = s[c]
            reasons = {k: s[v] for k, v in _REASONS.items() if s[v] > 0}
            row["rejected"] = float(sum(reasons.values()))
            row["rejected_reasons"] = ";".join(f"{k}={v:g}" for k, v in reasons.items())
    out = []
    for row in rows.values():
        _verdict(row, notes)
        if not isinstance(row.get("type"), str):
            row["type"] = ""
        if not isinstance(row.get("rejected_reasons"), str):
            row["rejected_reasons"] = ""
        out.append(row)
    frame = pd.DataFrame(out, columns=AUDIT_COLUMNS)
    sharing = pd.DataFrame(columns=SHARING_COLUMNS)
    if config is not None:
        flows = flow_candidates(config, sharing_levels, nodes=nodes, extra=extra_flows)
        sharing = queue_sharing(config, flows)
        for r in sharing.to_dict("records"):
            if r["shares_with"]:
                notes.append(f"{r['priority_level']}: {r['flow_schema']}/{r['distinguisher']}"
                             f" shares queues with {r['shares_with'].replace(';', ', ')}")
    return ApfAudit(levels=frame, sharing=sharing, notes=tuple(notes), server_cl=server_cl)


def _verdict(row: dict[str, Any], notes: list[str]) -> None:
    name = row["priority_level"]
    for measured, computed, what in (("nominal_limit_seats", "nominal_cl", "NominalCL"),
                                     ("lower_limit_seats", "min_cl", "minCL"),
                                     ("upper_limit_seats", "max_cl", "maxCL")):
        a, b = row[measured], row[computed]
        if isinstance(a, float) and isinstance(b, float) and not (math.isnan(a) or
                                                                    math.isnan(b)) and a != b:
            notes.append(f"{name}: the server reports {what} {a:g}, the configuration gives "
                         f"{b:g} at ServerCL (other inflight limits, or levels not read?)")
    current, nominal = row["current_limit_seats"], row["nominal_limit_seats"]
    if math.isnan(nominal):
        nominal = row["nominal_cl"]
    executing, queued = row["executing_seats"], row["inqueue_requests"]
    saturated = math.nan
    if not math.isnan(current) and not math.isnan(executing):
        saturated = bool(current > 0 and executing >= current) or bool(queued > 0)
    row["saturated"] = saturated
    row["borrowing"] = current - nominal
    parts = []
    if saturated is True:
        parts.append("saturated")
    if row["borrowing"] > 0:
        parts.append(f"borrows {row['borrowing']:g}")
    elif row["borrowing"] < 0:
        parts.append(f"lends {-row['borrowing']:g}")
    if row["rejected"] > 0:
        parts.append("429s")
    row["status"] = ", ".join(parts) if parts else ("ok" if not math.isnan(current) else "")
