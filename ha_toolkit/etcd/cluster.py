"""A real etcd cluster on 127.0.0.1, driven to measure leader failovers and write stalls.

:class:`EtcdCluster` starts ``members`` etcd processes (Debian's ``etcd-server`` package,
etcd 3.4) as children of this process: every member listens on 127.0.0.1 only, on ports
found free at start, keeps its data in a temporary folder and writes its JSON log
(``--logger zap``) to a file there. :meth:`EtcdCluster.failovers` then repeats:

1. a client keeps writing to one surviving member (chosen at random), one write after the
   other, each with the client timeout ``request_timeout``; so the leader is busy
   replicating, as in a Kubernetes cluster, and the followers' last message from it comes
   right before its death (the model's ``traffic="busy"``);
2. after a random pause (uniform over one heartbeat interval, so that the kill falls at a
   random phase of the tick timers) the leader is killed with SIGKILL through its handle;
   time 0 is the moment the killed process has been reaped;
3. the failover is the time from the kill to the timestamp of the new leader's
   ``became leader at term N`` line in its log; the write stall is the time from the kill
   to the end of the first successful write sent after it;
4. the killed member is started again on its data and ports; once every member reports
   the same leader and its log has caught up, the next round begins.

Tick phases. etcd's raft ticker is a ``time.Ticker`` of one heartbeat interval started
with the server (etcd ``server/etcdserver/raft.go``, ``newRaftNode`` and ``raftNode.start``),
so members started together tick nearly together. The model takes every member's tick
phase as independent and uniform, as in a cluster whose members started at unrelated
times. The harness makes that so: it starts the members one after the other with random
pauses (uniform over one heartbeat interval), and each restarted member gets a fresh
phase; the survivors of a round always include the member restarted in the round before.

Every wait is bounded in count and in time; every process is stopped through its handle
(SIGTERM, then SIGKILL), also when a round fails.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import math
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "EtcdCluster",
    "EtcdNotFoundError",
    "FailoverRecord",
    "QuorumReturnRecord",
    "etcd_binary",
    "etcd_version",
    "failovers_frame",
]

# Bounds of the waits (seconds) and of the polling loops (counts).
_START_TIMEOUT = 30.0
_POLL = 0.02
_STATUS_TIMEOUT = 0.5
_STOP_TIMEOUT = 5.0
_MAX_CATCH_UP_LAG = 50


class EtcdNotFoundError(RuntimeError):
    """No ``etcd`` executable on the PATH (install Debian's ``etcd-server``)."""


def etcd_binary() -> str:
    """Path of the ``etcd`` executable, or :class:`EtcdNotFoundError`."""
    path = shutil.which("etcd")
    if path is None:
        raise EtcdNotFoundError(
            "etcd not found on PATH: install it with "
            "`apt-get install etcd-server etcd-client` (Debian, etcd 3.4)"
        )
    return path


def etcd_version() -> str:
    """The first line of ``etcd --version``, e.g. ``etcd Version: 3.4.23``."""
    out = subprocess.run(
        [etcd_binary(), "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return out.stdout.splitlines()[0].strip() if out.stdout else "unknown"


def _free_ports(count: int) -> list[int]:
    """Ports the kernel reports free on 127.0.0.1 (held open together, so distinct)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _post(port: int, path: str, body: dict, timeout: float) -> dict:
    """POST a JSON body to etcd's gRPC gateway on 127.0.0.1; the decoded reply."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise OSError(f"HTTP {resp.status}: {data[:200]!r}")
        return json.loads(data)
    finally:
        conn.close()


def _log_time(stamp: str) -> float:
    """Seconds since the epoch of a zap timestamp such as ``2024-05-01T10:00:00.123Z``."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class FailoverRecord:
    """One measured failover.

    Attributes
    ----------
    failover : float
        Seconds from the leader's kill to the new leader's ``became leader`` log line.
    write_stall : float
        Seconds from the kill to the end of the first successful write sent after it.
    old_leader, new_leader : str
        Member names.
    term : int
        The new leader's term.
    failed_writes : int
        Writes sent after the kill that failed before the first success.
    """

    failover: float
    write_stall: float
    old_leader: str
    new_leader: str
    term: int
    failed_writes: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class QuorumReturnRecord:
    """One measured return of a lost quorum.

    Attributes
    ----------
    election : float
        Seconds from the moment the waiting member saw the returning one (its log line
        ``peer became active``) to the ``became leader`` line.
    waited : float
        Seconds the cluster spent without a quorum.
    term_after : int
        The new leader's term.
    """

    election: float
    waited: float
    term_after: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


def failovers_frame(records: list[FailoverRecord]):
    """A DataFrame of failover records, one row each."""
    import pandas as pd

    columns = [f for f in FailoverRecord.__dataclass_fields__]
    return pd.DataFrame([r.to_dict() for r in records], columns=columns)


@dataclass
class _Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen | None = None
    log_file: IO | None = None
    member_id: str = ""
    # bytes of the log already scanned for leader lines, and what they held
    log_offset: int = 0
    leader_lines: list = field(default_factory=list)
    other_offsets: dict = field(default_factory=dict)
    other_lines: dict = field(default_factory=dict)


@dataclass
class _Writer:
    """A client writing to one member, one write after the other, in a thread."""

    port: int
    timeout: float
    key: str
    attempts: list[tuple[float, float, bool]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def run(self, max_attempts: int) -> None:
        body = {"key": _b64(self.key), "value": _b64("x")}
        for _ in range(max_attempts):
            if self.stop.is_set():
                return
            sent = time.time()
            try:
                _post(self.port, "/v3/kv/put", body, self.timeout)
                ok = True
            except (OSError, ValueError):
                ok = False
            done = time.time()
            self.attempts.append((sent, done, ok))
            if not ok:
                # a refused connection returns at once: do not spin
                time.sleep(max(0.0, min(0.005, self.timeout - (done - sent))))

    def start(self, max_attempts: int) -> None:
        self.thread = threading.Thread(target=self.run, args=(max_attempts,), daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=self.timeout + _STOP_TIMEOUT)

    def first_success_after(self, t: float) -> tuple[float, int] | None:
        failed = 0
        for sent, done, ok in list(self.attempts):
            if sent < t:
                continue
            if ok:
                return done, failed
            failed += 1
        return None


class EtcdCluster:
    """An etcd cluster of child processes on 127.0.0.1 (use as a context manager).

    Parameters
    ----------
    members : int
        Cluster size (>= 3: a smaller cluster cannot elect after losing its leader).
    heartbeat_interval, election_timeout : float
        etcd's ``--heartbeat-interval`` and ``--election-timeout`` in seconds (whole ms).
    pre_vote : bool
        etcd's ``--pre-vote`` (off by default in etcd 3.4).
    rng : numpy.random.Generator
        Stream of the start pauses, the kill phases and the client's member.
    data_root : str, optional
        Folder in which the temporary data folder is made (default: the system's).
    """

    def __init__(
        self,
        members: int = 3,
        heartbeat_interval: float = 0.1,
        election_timeout: float = 1.0,
        *,
        pre_vote: bool = False,
        rng: np.random.Generator,
        data_root: str | None = None,
    ) -> None:
        if isinstance(members, bool) or not isinstance(members, int) or members < 3:
            raise ValueError(f"members must be an integer >= 3, got {members!r}")
        self.heartbeat_ms = _whole_ms(heartbeat_interval, "heartbeat_interval")
        self.election_ms = _whole_ms(election_timeout, "election_timeout")
        if 5 * self.heartbeat_ms > self.election_ms:
            raise ValueError(
                f"--election-timeout[{self.election_ms}ms] should be at least as 5 times as "
                f"--heartbeat-interval[{self.heartbeat_ms}ms]"
            )
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy.random.Generator")
        self.members = members
        self.pre_vote = bool(pre_vote)
        self.rng = rng
        self._binary = etcd_binary()
        self._root = tempfile.mkdtemp(prefix="ha-toolkit-etcd-", dir=data_root)
        ports = _free_ports(2 * members)
        self._members = [
            _Member(
                f"m{i}",
                ports[2 * i],
                ports[2 * i + 1],
                Path(self._root) / f"m{i}",
                Path(self._root) / f"m{i}.log",
            )
            for i in range(members)
        ]

    # ------------------------------------------------------------ processes
    def _command(self, m: _Member) -> list[str]:
        initial = ",".join(f"{x.name}=http://127.0.0.1:{x.peer_port}" for x in self._members)
        cmd = [
            self._binary,
            f"--name={m.name}",
            f"--data-dir={m.data_dir}",
            f"--listen-client-urls=http://127.0.0.1:{m.client_port}",
            f"--advertise-client-urls=http://127.0.0.1:{m.client_port}",
            f"--listen-peer-urls=http://127.0.0.1:{m.peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{m.peer_port}",
            f"--initial-cluster={initial}",
            "--initial-cluster-state=new",
            "--initial-cluster-token=ha-toolkit",
            f"--heartbeat-interval={self.heartbeat_ms}",
            f"--election-timeout={self.election_ms}",
            "--logger=zap",
            "--log-outputs=stderr",
            "--enable-v2=false",
        ]
        if self.pre_vote:
            cmd.append("--pre-vote=true")
        return cmd

    def _spawn(self, m: _Member) -> None:
        m.log_file = open(m.log_path, "ab")  # noqa: SIM115 - closed in _stop
        m.proc = subprocess.Popen(
            self._command(m),
            stdout=subprocess.DEVNULL,
            stderr=m.log_file,
            stdin=subprocess.DEVNULL,
        )

    def _stop(self, m: _Member, sig: int = signal.SIGTERM) -> None:
        if m.proc is not None:
            if m.proc.poll() is None:
                m.proc.send_signal(sig)
                try:
                    m.proc.wait(timeout=_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait(timeout=_STOP_TIMEOUT)
            m.proc = None
        if m.log_file is not None:
            m.log_file.close()
            m.log_file = None

    def start(self) -> EtcdCluster:
        """Start every member (random pauses in between) and wait for a leader."""
        h = self.heartbeat_ms / 1000.0
        try:
            for m in self._members:
                self._spawn(m)
                time.sleep(float(self.rng.uniform(0.0, h)))
            self._wait_stable(_START_TIMEOUT)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every member through its handle and delete the data folder."""
        for m in self._members:
            self._stop(m)
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> EtcdCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ observation
    def _status(self, m: _Member) -> dict | None:
        if m.proc is None or m.proc.poll() is not None:
            return None
        try:
            return _post(m.client_port, "/v3/maintenance/status", {}, _STATUS_TIMEOUT)
        except (OSError, ValueError):
            return None

    def _wait_stable(self, timeout: float) -> _Member:
        """Wait until every running member names the same leader and has caught up."""
        deadline = time.monotonic() + timeout
        polls = math.ceil(timeout / _POLL) + 1
        for _ in range(polls):
            statuses = [(m, self._status(m)) for m in self._members if m.proc is not None]
            if statuses and all(s is not None for _, s in statuses):
                for m, s in statuses:
                    m.member_id = str(s["header"]["member_id"])
                leaders = {str(s.get("leader", "0")) for _, s in statuses}
                indexes = [int(s.get("raftIndex", 0)) for _, s in statuses]
                if (
                    len(leaders) == 1
                    and "0" not in leaders
                    and (max(indexes) - min(indexes) <= _MAX_CATCH_UP_LAG)
                ):
                    (lead,) = leaders
                    for m, _ in statuses:
                        if m.member_id == lead:
                            return m
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL)
        raise RuntimeError(f"etcd cluster did not settle on a leader within {timeout:g} s")

    def _became_leader(self, since: float, timeout: float) -> tuple[float, _Member, int]:
        """The first ``became leader`` log line stamped after ``since``."""
        deadline = time.monotonic() + timeout
        polls = math.ceil(timeout / _POLL) + 1
        for _ in range(polls):
            found = []
            for m in self._members:
                for t, term in _new_leader_lines(m):
                    if t >= since - 0.001:
                        found.append((t, m, term))
            if found:
                return min(found, key=lambda x: x[0])
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL)
        raise RuntimeError(f"no new etcd leader within {timeout:g} s of the kill")

    # ------------------------------------------------------------ failovers
    def failovers(
        self, count: int, *, request_timeout: float = 0.1, time_limit: float = 600.0
    ) -> Iterator[FailoverRecord]:
        """Kill the leader ``count`` times; yield one :class:`FailoverRecord` per kill.

        Parameters
        ----------
        count : int
            Number of failovers (>= 1).
        request_timeout : float
            The writing client's timeout per write, seconds (> 0); a write that fails or
            times out is sent again at once.
        time_limit : float
            Stop (RuntimeError) when the rounds take longer than this in total.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an integer >= 1, got {count!r}")
        if not (request_timeout > 0 and math.isfinite(request_timeout)):
            raise ValueError(f"request_timeout must be > 0, got {request_timeout!r}")
        h = self.heartbeat_ms / 1000.0
        et = self.election_ms / 1000.0
        wait = 10 * et + 5.0
        deadline = time.monotonic() + time_limit
        for round_no in range(count):
            if time.monotonic() > deadline:
                raise RuntimeError(f"time limit of {time_limit:g} s reached")
            leader = self._wait_stable(wait)
            survivors = [m for m in self._members if m is not leader]
            client = survivors[int(self.rng.integers(len(survivors)))]
            writer = _Writer(client.client_port, request_timeout, f"/ha-toolkit/{round_no}")
            max_attempts = math.ceil((wait + 2.0) / 0.001)
            writer.start(max_attempts)
            try:
                # keep writing a while, then kill at a random phase of the tick timers
                time.sleep(2 * h + float(self.rng.uniform(0.0, h)))
                assert leader.proc is not None
                leader.proc.send_signal(signal.SIGKILL)
                leader.proc.wait(timeout=_STOP_TIMEOUT)
                # SIGKILL takes effect asynchronously: count from the moment the process is
                # reaped, so that no write sent "after the kill" can reach the old leader
                kill_time = time.time()
                self._stop(leader)
                elected, new_leader, term = self._became_leader(kill_time, wait)
                stall = None
                for _ in range(math.ceil(wait / _POLL)):
                    stall = writer.first_success_after(kill_time)
                    if stall is not None or time.monotonic() > deadline:
                        break
                    time.sleep(_POLL)
            finally:
                writer.join()
            if stall is None:
                raise RuntimeError("no write succeeded after the failover")
            yield FailoverRecord(
                failover=elected - kill_time,
                write_stall=stall[0] - kill_time,
                old_leader=leader.name,
                new_leader=new_leader.name,
                term=term,
                failed_writes=stall[1],
            )
            self._spawn(leader)
            time.sleep(float(self.rng.uniform(0.0, h)))


    def quorum_returns(
        self, count: int, *, time_limit: float = 600.0
    ) -> Iterator[QuorumReturnRecord]:
        """Take the quorum away and give it back ``count`` times (3 members, no writes).

        Each round kills the leader and one follower with SIGKILL, waits until the
        remaining member has campaigned alone for a while (three to four longest
        timeouts, at a random moment of its cycle), restarts the killed follower and
        measures from the survivor's ``peer became active`` line for it to the new
        leader's ``became leader`` line; then restarts the old leader.
        """
        if self.members != 3:
            raise ValueError("quorum_returns drives a 3-member cluster")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an integer >= 1, got {count!r}")
        et = self.election_ms / 1000.0
        wait = 10 * et + 5.0
        deadline = time.monotonic() + time_limit
        for _ in range(count):
            if time.monotonic() > deadline:
                raise RuntimeError(f"time limit of {time_limit:g} s reached")
            leader = self._wait_stable(wait)
            followers = [m for m in self._members if m is not leader]
            keep, gone = followers
            for m in (leader, gone):
                assert m.proc is not None
                m.proc.send_signal(signal.SIGKILL)
                m.proc.wait(timeout=_STOP_TIMEOUT)
                self._stop(m)
            lost = time.time()
            time.sleep(6 * et + float(self.rng.uniform(0.0, 2 * et)))
            restart = time.time()
            self._spawn(gone)
            active = self._peer_active(keep, gone, restart, wait)
            elected, _, term = self._became_leader(active, wait)
            yield QuorumReturnRecord(elected - active, restart - lost, term)
            self._spawn(leader)

    def _peer_active(self, seer: _Member, seen: _Member, since: float, timeout: float) -> float:
        """Time of ``seer``'s first ``peer became active`` line for ``seen`` after ``since``."""
        peer = format(int(seen.member_id), "x")
        deadline = time.monotonic() + timeout
        for _ in range(math.ceil(timeout / _POLL) + 1):
            for t, who in _new_lines(seer, b"peer became active", "peer-id"):
                if who == peer and t >= since - 0.001:
                    return t
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL)
        raise RuntimeError(f"{seer.name} did not see {seen.name} within {timeout:g} s")


def _new_lines(m: _Member, needle: bytes, key: str) -> list[tuple[float, str]]:
    """(time, record[key]) of the lines of m's log with ``needle``, scanning new bytes."""
    offset = m.other_offsets.get(needle, 0)
    out = []
    with contextlib.suppress(FileNotFoundError), open(m.log_path, "rb") as f:
        f.seek(offset)
        chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        m.other_offsets[needle] = offset + end
        for raw in chunk[:end].splitlines():
            if needle not in raw:
                continue
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            out.append((_log_time(str(rec["ts"])), str(rec.get(key, ""))))
    m.other_lines.setdefault(needle, []).extend(out)
    return m.other_lines[needle]


def _whole_ms(value: float, name: str) -> int:
    ms = float(value) * 1000.0
    if not (math.isfinite(ms) and ms >= 1 and abs(ms - round(ms)) < 1e-6):
        raise ValueError(f"{name} must be a whole number of milliseconds >= 1, got {value!r}")
    return int(round(ms))


def _new_leader_lines(m: _Member) -> list[tuple[float, int]]:
    """(time, term) of every ``became leader`` line of a member's log, reading only new bytes.

    Only whole lines are consumed, so a line being written is read at the next call; the
    harness then spends little CPU while the members race for leadership.
    """
    with contextlib.suppress(FileNotFoundError), open(m.log_path, "rb") as f:
        f.seek(m.log_offset)
        chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        m.log_offset += end
        m.leader_lines.extend(_leader_lines(chunk[:end].splitlines()))
    return m.leader_lines


def _leader_lines(lines) -> list[tuple[float, int]]:
    """(time, term) of every ``became leader at term N`` line among JSON log lines."""
    out = []
    for raw in lines:
        if b"became leader at term" not in raw:
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        msg = str(rec.get("msg", ""))
        term = int(msg.rsplit(" ", 1)[-1])
        out.append((_log_time(str(rec["ts"])), term))
    return out
