"""Event-level Monte Carlo of an etcd leader failover: the oracle of :mod:`.timing`.

Each trial draws every survivor's tick phase and, at every reset, its randomized election
timeout (an integer uniform on ``[E, 2E - 1]``, etcd-io/raft
``resetRandomizedElectionTimeout``), and then plays the Raft rules in continuous time: tick
timers, campaigns (``tickElection``), vote and pre-vote requests with the ``inLease`` rule
of ``Step``, ``poll`` with VoteWon / VoteLost, each message arriving ``message_delay``
after it was sent (a billionth of a heartbeat when the delay is 0, so that order is kept).
It shares nothing with the exact module but :class:`~ha_toolkit.etcd.config.RaftConfig`.

A writing client is played out too: writes every ``request_timeout`` while its member
follows the dead leader (lost), then one that waits for the new leader.

The results are samples; their error is the Monte Carlo error (standard error of the
mean ``std / sqrt(n)``).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from ha_toolkit.etcd.config import RaftConfig

__all__ = ["FailoverSamples", "simulate_failover", "simulate_quorum_return"]

_MAX_EVENTS = 100_000


@dataclass(frozen=True)
class FailoverSamples:
    """Samples of a simulated failover.

    Attributes
    ----------
    failover : numpy.ndarray
        Seconds from the leader's death to a new leader.
    write_stall : numpy.ndarray
        Seconds from the death until the client's first write commits.
    campaigns : numpy.ndarray
        Campaigns (timeouts that fired) before a leader was elected, per trial.
    """

    failover: np.ndarray
    write_stall: np.ndarray
    campaigns: np.ndarray


class _Node:
    __slots__ = (
        "phase",
        "role",
        "term",
        "vote",
        "follows_old",
        "base",
        "timeout",
        "version",
        "dropped_at",
        "votes",
    )

    def __init__(self, phase: float, timeout: int) -> None:
        self.phase = phase
        self.role = "follower"
        self.term = 0
        self.vote = None
        self.follows_old = True
        self.base = -1  # index of the last tick not counted in electionElapsed
        self.timeout = timeout
        self.version = 0
        self.dropped_at = math.inf
        self.votes: dict[int, bool] = {}


class _Trial:
    def __init__(self, cfg: RaftConfig, rng: np.random.Generator, phases: np.ndarray) -> None:
        self.cfg = cfg
        self.rng = rng
        self.h = cfg.heartbeat_interval
        self.e = cfg.election_ticks
        self.delay = max(cfg.message_delay, 1e-9 * self.h)
        self.nodes = [_Node(float(p), self._draw()) for p in phases]
        self.heap: list = []
        self.seq = 0
        self.campaigns = 0
        for i in range(len(self.nodes)):
            self._schedule(i)

    def _draw(self) -> int:
        return int(self.rng.integers(self.e, 2 * self.e))

    def _push(self, t: float, kind: str, data: tuple) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, data))

    def _schedule(self, i: int) -> None:
        n = self.nodes[i]
        n.version += 1
        fire_tick = n.base + n.timeout
        self._push(n.phase + fire_tick * self.h, "tick", (i, n.version, fire_tick))

    def _tick_index(self, i: int, t: float) -> int:
        """Index of member i's last tick at or before t."""
        return math.floor((t - self.nodes[i].phase) / self.h)

    def _lose_leader(self, i: int, t: float) -> None:
        n = self.nodes[i]
        if n.follows_old:
            n.follows_old = False
            n.dropped_at = t

    def _become_follower(self, i: int, term: int, t: float) -> None:
        n = self.nodes[i]
        if term != n.term:
            n.term, n.vote = term, None
        n.role = "follower"
        self._lose_leader(i, t)
        n.base = self._tick_index(i, t)
        n.timeout = self._draw()
        self._schedule(i)

    def _send_all(self, i: int, t: float, kind: str, term: int) -> None:
        for j in range(len(self.nodes)):
            if j != i:
                self._push(t + self.delay, "msg", (j, i, kind, term, False))

    def _campaign(self, i: int, t: float, tick: int) -> None:
        n = self.nodes[i]
        self.campaigns += 1
        self._lose_leader(i, t)
        n.votes = {i: True}
        if self.cfg.pre_vote:
            n.role = "pre-candidate"
            n.base = tick  # electionElapsed = 0; the same timeout again
            self._schedule(i)
            self._send_all(i, t, "prevote", n.term + 1)
        else:
            self._start_election(i, t, tick)

    def _start_election(self, i: int, t: float, tick: int) -> None:
        n = self.nodes[i]
        n.term += 1
        n.vote, n.role = i, "candidate"
        n.votes = {i: True}
        n.base, n.timeout = tick, self._draw()
        self._schedule(i)
        self._send_all(i, t, "vote", n.term)

    def _receive(self, t: float, to: int, frm: int, kind: str, term: int, reject: bool):
        n = self.nodes[to]
        cfg = self.cfg
        if term > n.term:
            if kind in ("vote", "prevote"):
                elapsed = self._tick_index(to, t) - n.base
                if cfg.check_quorum and n.follows_old and elapsed < self.e:
                    return None  # inLease: ignore, keep term
            if not (kind == "prevote" or (kind == "prevote-resp" and not reject)):
                self._become_follower(to, term, t)
        elif term < n.term:
            if kind == "prevote":
                self._push(t + self.delay, "msg", (frm, to, "prevote-resp", n.term, True))
            return None
        if kind in ("vote", "prevote"):
            may = (
                n.vote == frm
                or (n.vote is None and not n.follows_old)
                or (kind == "prevote" and term > n.term)
            )
            if may:
                self._push(t + self.delay, "msg", (frm, to, kind + "-resp", term, False))
                if kind == "vote":
                    n.vote = frm
                    n.base = self._tick_index(to, t)
                    self._schedule(to)
            else:
                self._push(t + self.delay, "msg", (frm, to, kind + "-resp", n.term, True))
            return None
        expects = {"candidate": "vote-resp", "pre-candidate": "prevote-resp"}.get(n.role)
        if kind != expects:
            return None
        n.votes.setdefault(frm, not reject)
        yes = sum(n.votes.values())
        no = len(n.votes) - yes
        if yes >= cfg.quorum:
            if n.role == "candidate":
                return t  # leader
            self._start_election(to, t, self._tick_index(to, t))
            # electionElapsed restarts now, between two ticks
        elif cfg.members - no < cfg.quorum:
            self._become_follower(to, n.term, t)
        return None

    def run(self) -> float:
        for _ in range(_MAX_EVENTS):
            t, _, kind, data = heapq.heappop(self.heap)
            if kind == "tick":
                i, version, tick = data
                if version == self.nodes[i].version:
                    self._campaign(i, t, tick)
                continue
            won = self._receive(t, *data)
            if won is not None:
                return won
        raise RuntimeError("no leader elected within the event budget")


def _client_stall(cfg: RaftConfig, dropped: float, elected: float) -> float:
    """The writing client: each write lasts until its timeout unless it can commit."""
    tau = cfg.request_timeout
    sent = 0.0
    for _ in range(_MAX_EVENTS):
        if sent >= dropped and elected <= sent + tau:
            return max(sent, elected) + cfg.commit_latency
        sent += tau
    raise RuntimeError("the client never committed")


def simulate_failover(cfg: RaftConfig, n: int, rng: np.random.Generator) -> FailoverSamples:
    """Simulate ``n`` leader failovers.

    Parameters
    ----------
    cfg : RaftConfig
    n : int
        Trials (>= 1).
    rng : numpy.random.Generator
        The random stream.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    h = cfg.heartbeat_interval
    m = cfg.survivors
    fo = np.empty(n)
    ws = np.empty(n)
    camp = np.empty(n, dtype=np.int64)
    for k in range(n):
        phases = rng.uniform(0.0, h, m)
        shift = 0.0
        if cfg.traffic == "idle":
            # the last heartbeat left at the leader's last tick, a uniform time before death
            shift = -float(rng.uniform(0.0, h))
            phases = phases + shift
        trial = _Trial(cfg, rng, phases)
        elected = trial.run()
        fo[k] = elected
        camp[k] = trial.campaigns
        # the client's member, and the writing client (whose writes keep the traffic busy)
        if cfg.traffic == "idle":
            busy = _Trial(cfg, rng, rng.uniform(0.0, h, m))
            elected_busy = busy.run()
            member = busy.nodes[int(rng.integers(m))]
            ws[k] = _client_stall(cfg, min(member.dropped_at, elected_busy), elected_busy)
        else:
            member = trial.nodes[int(rng.integers(m))]
            ws[k] = _client_stall(cfg, min(member.dropped_at, elected), elected)
    return FailoverSamples(fo, ws, camp)


def simulate_quorum_return(cfg: RaftConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """Simulate the time from a quorum's return to a new leader (see ``quorum_return``).

    The waiting members' campaign timers run from a random moment far in the past (30
    election timeouts), drawing a timeout at each campaign (candidates) or keeping one
    (pre-candidates); the returning member starts ticking at time 0 with a fresh phase.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    e, h = cfg.election_ticks, cfg.heartbeat_interval
    if not cfg.pre_vote and cfg.members != 3:
        raise ValueError("quorum_return without pre-vote is modelled for members=3")
    out = np.empty(n)
    past = 30 * e * h
    for k in range(n):
        firsts = []
        for _ in range(cfg.quorum - 1):
            timeout = int(rng.integers(e, 2 * e))
            # the quorum returns at a moment independent of the timer: any phase of a cycle
            t = -past - float(rng.uniform(0.0, timeout * h))
            for _ in range(_MAX_EVENTS):
                t += timeout * h
                if t >= 0:
                    break
                if not cfg.pre_vote:
                    timeout = int(rng.integers(e, 2 * e))
            firsts.append(t)
        first = min(firsts)
        if cfg.pre_vote:
            returning = (int(rng.integers(e, 2 * e)) - 1 + float(rng.random())) * h
            first = min(first, returning) + 4 * cfg.message_delay
        else:
            first += 2 * cfg.message_delay
        out[k] = first
    return out
