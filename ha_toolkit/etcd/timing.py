"""Exact timing of an etcd leader failover and of the write stall it causes.

The rules, as etcd-io/raft ``raft.go`` implements them (etcd embeds this Raft; etcd 3.4
vendors the same logic as ``go.etcd.io/etcd/raft``):

* **Ticks.** etcd calls ``Node.Tick`` once per ``--heartbeat-interval`` from a
  ``time.Ticker`` made with the server (etcd 3.4 ``etcdserver/raft.go``, 3.5 and later
  ``server/etcdserver/raft.go``: ``newRaftNode`` creates the ticker, ``raftNode.start``
  ticks on it), with ``HeartbeatTick = 1`` and ``ElectionTick = election-timeout /
  heartbeat-interval`` = E (:mod:`ha_toolkit.etcd.config`).
* **Followers and candidates** (``tickElection``): each tick adds one to
  ``electionElapsed``; when it reaches ``randomizedElectionTimeout`` the member sets it
  to 0 and campaigns (``Step(MsgHup)``).
* **The randomized timeout** (``resetRandomizedElectionTimeout``) is
  ``E + rand.Intn(E)``, uniform on the integers ``[E, 2E - 1]``, drawn in ``reset``,
  i.e. at every change of state or term (``becomeFollower``, ``becomeCandidate``), not
  at heartbeats and not on becoming a pre-candidate (``becomePreCandidate`` keeps it).
* **Leader messages** (``stepFollower``, MsgApp / MsgHeartbeat / MsgSnap) set
  ``electionElapsed = 0``; the leader sends a heartbeat every tick and appends at every
  write.
* **Votes** (``Step``): a MsgVote or MsgPreVote of a higher term is ignored while the
  receiver is ``inLease``: ``checkQuorum && lead != None && electionElapsed < E``.
  Otherwise a MsgVote of a higher term makes it a follower of that term without a leader
  (``becomeFollower(term, None)``, a new timeout), a MsgPreVote changes nothing. A vote is
  granted when ``Vote == from``, or ``Vote == None && lead == None``, or (pre-vote) the
  request's term is higher (the logs are taken as equally up to date: every survivor had
  the leader's last append); a real vote sets ``electionElapsed = 0``. A request of a
  lower term is ignored, except that a MsgPreVote is rejected with the receiver's term,
  and a rejection with a higher term makes the requester a follower of that term.
* **Campaigns** (``campaign``, ``poll``): a candidate increments its term and votes for
  itself; a pre-candidate asks with ``term + 1`` and keeps its term; with a quorum of
  grants a pre-candidate campaigns for real and a candidate becomes leader; when so many
  reject that a quorum is out of reach it becomes a follower (``VoteLost``). A split vote
  or an ignored request leaves the campaigner waiting for its next timeout, which for a
  candidate was re-randomized when it campaigned.
* **CheckQuorum** (``tickHeartbeat``, ``stepLeader`` MsgCheckQuorum): every E ticks the
  leader checks that a quorum was active since the last check and steps down otherwise
  (:func:`step_down`); the time to elect once a lost quorum is back is
  :func:`quorum_return`.

The model. The leader dies at a moment independent of the tick timers, whose phases are
independent and uniform (members started at unrelated times; the harness,
:mod:`ha_toolkit.etcd.cluster`, makes it so). With ``traffic="busy"`` each survivor's
last message from the leader arrives right at its death, so survivor j's k-th tick after
it falls at ``(k - 1 + r_j) h`` with ``r_j`` iid Uniform[0, 1); with ``"idle"`` the last
message is the heartbeat of the leader's last tick, a Uniform[0, h) time earlier, which
shifts the whole election by that much. Messages are handled in the order sent, and
everything a tick sets off happens before the next tick of any member: exact when
messages take no time; a ``message_delay`` is then added once per message on the chain
that elected the leader (2 messages, 4 with pre-vote), which is a close approximation
while the delay is small against a heartbeat (it ignores a tick falling inside the
exchange).

Who campaigns, who grants and who wins then depend only on the integer timeouts and on
the ORDER of the phases ``r_j``, so the election is a finite Markov chain over "slots"
(one tick of every survivor, in phase order) with the timeouts revealed tick by tick (a
timeout known to be at least ``lo`` fires at ``lo`` with probability
``1 / (2E - lo)``). :func:`election_outcomes` runs that chain exactly, to a remaining
mass below 1e-13; its work grows about as E times the cube of the survivors (seconds for
3 to 5 members at up to 100 ticks), and it refuses settings that would take minutes. A
failover that ends at a tick of the survivor with phase rank i in slot s lasts
``(s + U_(i)) h`` plus the message delays, with ``U_(i)`` the i-th order statistic of the
survivors' phases (a Beta(i, m - i + 1) variable); the distribution is the mixture of
these, exact up to the lattice of the returned :class:`Distribution`.

The write stall. A client writes to one survivor chosen independently of the election,
one write after the other, each with a timeout ``request_timeout`` after which it sends
again. A survivor that still follows the dead leader forwards the write to it
(``stepFollower`` MsgProp) where it is lost: the write ends at its timeout. A survivor
without a leader holds the proposal (``node.run`` stops reading proposals while there is
no leader) and forwards it once a leader is known. So with D the moment the client's
member stops following the dead leader and F the failover, the first write that commits
is the first one sent at or after D, and it commits at ``max(tau * ceil(D / tau), F)``
plus ``commit_latency`` (tau the timeout; etcd's own default ``5 s + 2 * election
timeout`` makes the stall about tau, which is why API servers log "etcdserver: request
timed out" after an etcd leader change).

Checked against a real etcd 3.4 (``benchmarks/bench_etcd.py``, 100 SIGKILLed leaders per
setting): the failover's mean within 4 % and its Kolmogorov-Smirnov distance below the
1 % critical value at 100/1000 ms, 50/500 ms, with pre-vote and with 5 members; the
members' logs show the ignored votes ("lease is not expired") and the double campaigns of
a failed round. The real exchange from campaign to leader takes 1 to 20 ms (the candidate
and the voter write term and vote to disk), which ``message_delay`` can carry.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special

from ha_toolkit.distribution import Distribution, equilibrium, min_of, mixture, point, uniform
from ha_toolkit.etcd.config import RaftConfig

__all__ = [
    "ElectionOutcomes",
    "election_outcomes",
    "failover",
    "lattice_step",
    "quorum_return",
    "step_down",
    "write_stall",
]

# Remaining mass at which the chain stops.
_TAIL = 1e-13
# Slots (in units of E ticks) after which the chain gives up.
_MAX_SLOTS_PER_E = 200
# The chain's work grows about as E * m**3 (m survivors); beyond this it takes minutes.
_MAX_WORK = 20_000

_FOLLOWER, _CANDIDATE, _PRE_CANDIDATE = 0, 1, 2
_NONE = -1
_VOTE, _PRE_VOTE, _VOTE_RESP, _PRE_VOTE_RESP = 0, 1, 2, 3


def _require_config(cfg) -> None:
    if not isinstance(cfg, RaftConfig):
        raise ValueError(f"cfg must be a RaftConfig, got {type(cfg).__name__}")


def lattice_step(cfg: RaftConfig) -> float:
    """Lattice step of the returned distributions: a hundredth of a heartbeat interval."""
    return cfg.heartbeat_interval / 100.0


# --------------------------------------------------------------------- the chain
@dataclass(frozen=True)
class ElectionOutcomes:
    """Exact outcome probabilities of the election chain.

    Attributes
    ----------
    failover : dict
        ``(slot, rank, hops) -> probability`` of a new leader at the tick of the survivor
        with phase rank ``rank`` (0-based) in slot ``slot``, after ``hops`` sequential
        messages.
    stall : dict
        ``(slot, rank, hops, drop_slot, drop_rank) -> probability`` for a client's member
        chosen uniformly among the survivors, with the tick at which it stopped following
        the dead leader (the failover's tick when it never did before).
    survivors : int
    tail : float
        Mass left when the chain stopped (below 1e-13).
    """

    failover: dict
    stall: dict
    survivors: int
    tail: float


def _reset(mem: list, term: int, e: int) -> None:
    """Raft's ``reset(term)``: new term clears the vote; no leader; a fresh timeout."""
    if mem[1] != term:
        mem[1] = term
        mem[2] = _NONE
    mem[4] = 0
    mem[5], mem[6] = e, 2 * e - 1


def _drop(mem: list, when: tuple[int, int]) -> None:
    if mem[3] is None:
        mem[3] = when


def _campaign(ms: list, c: int, pre_vote: bool, e: int, when, queue: list, votes: dict) -> None:
    mem = ms[c]
    _drop(mem, when)
    votes.clear()
    votes[c] = True
    if pre_vote:
        mem[0] = _PRE_CANDIDATE
        term, kind = mem[1] + 1, _PRE_VOTE
    else:
        _reset(mem, mem[1] + 1, e)
        mem[0], mem[2] = _CANDIDATE, c
        term, kind = mem[1], _VOTE
    for j in range(len(ms)):
        if j != c:
            queue.append((j, c, kind, term, False, 0))


def _cascade(ms: list, c: int, cfg: RaftConfig, when) -> int | None:
    """Everything member ``c``'s timeout sets off; the hop count if a leader is elected.

    ``ms`` holds one mutable record per survivor: ``[role, term, vote, drop, elapsed, lo,
    hi]``. Messages are handled in the order sent (a FIFO), as with equal delays.
    """
    e = cfg.election_ticks
    n, q = cfg.members, cfg.quorum
    # per campaigner: the votes recorded since it last started campaigning
    votes: dict[int, dict[int, bool]] = defaultdict(dict)
    queue: list = []
    _campaign(ms, c, cfg.pre_vote, e, when, queue, votes[c])
    # hops carried in each message tuple (to, from, kind, term, reject, hops)
    queue = [(to, fr, k, t, rej, 1) for to, fr, k, t, rej, _ in queue]
    head = 0
    while head < len(queue):
        to, fr, kind, term, reject, hops = queue[head]
        head += 1
        r = ms[to]
        if term > r[1]:
            if kind in (_VOTE, _PRE_VOTE):
                in_lease = cfg.check_quorum and r[3] is None and r[4] < e
                if in_lease:
                    continue
            if kind == _PRE_VOTE or (kind == _PRE_VOTE_RESP and not reject):
                pass
            else:
                r[0] = _FOLLOWER
                _reset(r, term, e)
                _drop(r, when)
        elif term < r[1]:
            if kind == _PRE_VOTE:
                queue.append((fr, to, _PRE_VOTE_RESP, r[1], True, hops + 1))
            continue
        if kind in (_VOTE, _PRE_VOTE):
            leaderless = r[3] is not None
            can_vote = (
                r[2] == fr or (r[2] == _NONE and leaderless) or (kind == _PRE_VOTE and term > r[1])
            )
            resp = _VOTE_RESP if kind == _VOTE else _PRE_VOTE_RESP
            if can_vote:
                queue.append((fr, to, resp, term, False, hops + 1))
                if kind == _VOTE:
                    r[4] = 0
                    r[2] = fr
            else:
                queue.append((fr, to, resp, r[1], True, hops + 1))
            continue
        # a vote response at the receiver's term: counted by a campaigner of that kind
        wanted = _PRE_VOTE_RESP if r[0] == _PRE_CANDIDATE else _VOTE_RESP
        if r[0] == _FOLLOWER or kind != wanted:
            continue
        rec = votes[to]
        rec.setdefault(fr, not reject)
        granted = sum(rec.values())
        rejected = len(rec) - granted
        if granted >= q:
            if r[0] == _CANDIDATE:
                return hops
            # the pre-vote is won: campaign for real
            _campaign_real(ms, to, e, when, queue, rec, hops)
        elif n - rejected < q:
            r[0] = _FOLLOWER
            _reset(r, r[1], e)
    return None


def _campaign_real(ms, c, e, when, queue, rec, hops) -> None:
    mem = ms[c]
    _reset(mem, mem[1] + 1, e)
    mem[0], mem[2] = _CANDIDATE, c
    rec.clear()
    rec[c] = True
    for j in range(len(ms)):
        if j != c:
            queue.append((j, c, _VOTE, mem[1], False, hops + 1))


def _freeze(ms: list) -> tuple:
    return tuple(tuple(m) for m in ms)


@lru_cache(maxsize=64)
def election_outcomes(cfg: RaftConfig) -> ElectionOutcomes:
    """Run the election chain of the module docstring exactly.

    Parameters
    ----------
    cfg : RaftConfig

    Returns
    -------
    ElectionOutcomes
    """
    m, e = cfg.survivors, cfg.election_ticks
    if e * m**3 > _MAX_WORK:
        raise ValueError(
            f"the exact chain for {cfg.members} members and {e} election ticks would take "
            "minutes (election ticks x survivors^3 must be at most "
            f"{_MAX_WORK}); use ha_toolkit.etcd.simulate.simulate_failover instead"
        )
    start = tuple((_FOLLOWER, 0, _NONE, None, 0, e, 2 * e - 1) for _ in range(m))
    states: dict[tuple, float] = {start: 1.0}
    done: dict = defaultdict(float)
    stall: dict = defaultdict(float)
    max_slots = _MAX_SLOTS_PER_E * e
    for slot in range(max_slots):
        for rank in range(m):
            nxt: dict[tuple, float] = defaultdict(float)
            for state, p in states.items():
                mem = list(state[rank])
                mem[4] += 1
                if mem[4] < mem[5]:
                    ms = [list(x) for x in state]
                    ms[rank] = mem
                    nxt[_freeze(ms)] += p
                    continue
                fire = 1.0 / (mem[6] - mem[5] + 1)
                if fire < 1.0:
                    ms = [list(x) for x in state]
                    ms[rank] = [*mem[:5], mem[4] + 1, mem[6]]
                    nxt[_freeze(ms)] += p * (1.0 - fire)
                ms = [list(x) for x in state]
                # the timeout that fired is known from now on (a pre-candidate keeps it)
                ms[rank] = [*mem[:4], 0, mem[4], mem[4]]
                hops = _cascade(ms, rank, cfg, (slot, rank))
                pf = p * fire
                if hops is None:
                    nxt[_freeze(ms)] += pf
                    continue
                done[(slot, rank, hops)] += pf
                for d in range(m):
                    drop = ms[d][3] if ms[d][3] is not None else (slot, rank)
                    stall[(slot, rank, hops, *drop)] += pf / m
            states = nxt
        tail = sum(states.values())
        if tail < _TAIL:
            return ElectionOutcomes(dict(done), dict(stall), m, tail)
    raise ValueError(
        f"the election did not converge within {max_slots} ticks (remaining mass {tail:.3g})"
    )


# --------------------------------------------------------------------- distributions
def _order_cdf(x: np.ndarray, i: int, m: int) -> np.ndarray:
    """P(U_(i) <= x), U_(i) the i-th smallest (1-based) of m iid Uniform(0, 1)."""
    return special.betainc(i, m - i + 1, np.clip(x, 0.0, 1.0))


def _joint_order_cdf(a: np.ndarray, i: int, b: np.ndarray, j: int, m: int) -> np.ndarray:
    """P(U_(i) <= a, U_(j) <= b) for order statistics of m iid Uniform(0, 1) (1-based)."""
    a = np.clip(a, 0.0, 1.0)
    b = np.clip(b, 0.0, 1.0)
    if i == j:
        return _order_cdf(np.minimum(a, b), i, m)
    if i > j:
        a, i, b, j = b, j, a, i
    # now i < j: U_(i) <= U_(j)
    lo, hi = np.minimum(a, b), b
    out = np.zeros(np.broadcast(a, b).shape)
    for k in range(i, m + 1):
        for ll in range(max(k, j), m + 1):
            coef = math.factorial(m) / (
                math.factorial(k) * math.factorial(ll - k) * math.factorial(m - ll)
            )
            out += coef * lo**k * (hi - lo) ** (ll - k) * (1.0 - hi) ** (m - ll)
    return np.where(b <= a, _order_cdf(b, j, m), out)


def _from_cdf_with_atoms(cdf, lo: float, hi: float, step: float) -> Distribution:
    k0 = math.floor(lo / step)
    k1 = math.ceil(hi / step) + 1
    x = step * np.arange(k0, k1 + 1)
    at = np.clip(cdf(x), 0.0, 1.0)
    left = np.clip(cdf(x - 1e-6 * step), 0.0, 1.0)
    atoms = np.maximum(at - left, 0.0)
    atoms[atoms < 1e-12] = 0.0
    cells = np.maximum(left[1:] - at[:-1], 0.0)
    total = atoms.sum() + cells.sum()
    return Distribution(x[0], step, atoms / total, cells / total)._trimmed()


def failover(cfg: RaftConfig, *, step: float | None = None) -> Distribution:
    """Time from the leader's death to a new leader (seconds), exact up to the lattice.

    Parameters
    ----------
    cfg : RaftConfig
    step : float, optional
        Lattice step; default :func:`lattice_step`.
    """
    _require_config(cfg)
    out = election_outcomes(cfg)
    h, m, delay = cfg.heartbeat_interval, out.survivors, cfg.message_delay
    step = lattice_step(cfg) if step is None else float(step)
    keys = list(out.failover)

    def cdf(t):
        t = np.asarray(t, dtype=float)
        total = np.zeros_like(t)
        for slot, rank, hops in keys:
            total += out.failover[(slot, rank, hops)] * _order_cdf(
                (t - hops * delay) / h - slot, rank + 1, m
            )
        return total / (1.0 - out.tail)

    lo = min(s for s, _, _ in keys) * h
    hi = (max(s for s, _, _ in keys) + 1) * h + max(k for _, _, k in keys) * delay
    busy = _from_cdf_with_atoms(cdf, lo, hi, step)
    if cfg.traffic == "idle":
        return busy - uniform(0.0, h, step)
    return busy


def write_stall(cfg: RaftConfig, *, step: float | None = None) -> Distribution:
    """Time from the leader's death until a client's write to a survivor commits.

    The client writes continuously (so the traffic is ``"busy"`` whatever ``cfg`` says),
    each write with the timeout ``cfg.request_timeout``; see the module docstring.
    """
    _require_config(cfg)
    out = election_outcomes(cfg)
    h, m, delay = cfg.heartbeat_interval, out.survivors, cfg.message_delay
    tau, c = cfg.request_timeout, cfg.commit_latency
    step = lattice_step(cfg) if step is None else float(step)
    keys = list(out.stall)

    def cdf(w):
        w = np.asarray(w, dtype=float) - c
        sent = tau * np.floor(w / tau + 1e-10)
        total = np.zeros_like(w)
        for key in keys:
            slot, rank, hops, dslot, drank = key
            a = (w - hops * delay) / h - slot
            b = sent / h - dslot
            total += out.stall[key] * _joint_order_cdf(a, rank + 1, b, drank + 1, m)
        return np.where(w >= 0, total / (1.0 - out.tail), 0.0)

    f_hi = (max(k[0] for k in keys) + 1) * h + max(k[2] for k in keys) * delay
    hi = max(f_hi, tau * math.ceil(f_hi / tau)) + c
    lo = min(k[3] for k in keys) * h + c
    return _from_cdf_with_atoms(cdf, lo, hi, step)


def step_down(cfg: RaftConfig, *, step: float | None = None) -> Distribution:
    """Time from losing quorum until the leader steps down (CheckQuorum).

    The leader checks every E ticks that a quorum was active since the previous check
    (``tickHeartbeat``: ``electionElapsed >= electionTimeout`` -> MsgCheckQuorum;
    ``stepLeader``: ``QuorumActive`` resets the activity flags). The first check after the
    loss still sees the followers' answers from before it; the second steps down. The loss
    falls at a uniform phase of the check cycle, so the delay is Uniform[E h, 2 E h).
    """
    _require_config(cfg)
    if not cfg.check_quorum:
        raise ValueError(
            "step_down needs check_quorum=True: without it the leader never steps down"
        )
    period = cfg.election_ticks * cfg.heartbeat_interval
    step = lattice_step(cfg) if step is None else float(step)
    return uniform(period, 2 * period, step)


def quorum_return(cfg: RaftConfig, *, step: float | None = None) -> Distribution:
    """Time from a quorum coming back until a new leader (seconds).

    The cluster lost its quorum long ago; ``quorum - 1`` members kept running without a
    leader, and at time 0 one more member is up and reachable (a restart), which makes a
    quorum. Nobody has a leader, so nobody is in a lease.

    * Without pre-vote a waiting member is a candidate that campaigns every R ticks with a
      fresh R each time (``becomeCandidate`` -> ``reset``), raising its term: its next
      campaign comes after the stationary residual of that renewal process
      (:func:`~ha_toolkit.distribution.equilibrium` of R h, R uniform on [E, 2E - 1]). The
      returning member's term is lower, so its own requests are ignored (``Step``, lower
      term) and it grants the waiting candidate's. Modelled for 3 members (one waiting
      member): with more, the waiting candidates' terms differ and a lower one is ignored.
    * With pre-vote the waiting members are pre-candidates that keep their R
      (``becomePreCandidate`` does not reset it), so each next campaign comes uniformly
      within R h; terms do not rise, so whoever times out first wins, the returning member
      included, whose first timeout is (R - 1 + r) h with a fresh phase r.
    """
    _require_config(cfg)
    e, h = cfg.election_ticks, cfg.heartbeat_interval
    step = lattice_step(cfg) if step is None else float(step)
    waiting = cfg.quorum - 1
    weights = [1.0 / e] * e
    if not cfg.pre_vote:
        if cfg.members != 3:
            raise ValueError(
                "quorum_return without pre-vote is modelled for members=3 (one waiting "
                f"member); got members={cfg.members}"
            )
        gap = mixture(weights, [point(r * h, step) for r in range(e, 2 * e)])
        return equilibrium(gap, step).shift(2 * cfg.message_delay)
    residual = mixture(weights, [uniform(0.0, r * h, step, origin=0.0) for r in range(e, 2 * e)])
    returning = uniform((e - 1) * h, (2 * e - 1) * h, step, origin=0.0)
    first = min_of(*([residual] * waiting), returning)
    return first.shift(4 * cfg.message_delay)
