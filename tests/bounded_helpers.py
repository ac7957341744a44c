"""Running ``ha-toolkit`` on hostile input with its time and memory measured.

In process (fast): :func:`run_bounded` traces allocations with :mod:`tracemalloc`, which
numpy reports its array buffers to, so a multi-gigabyte grid shows in the peak. In a
child process (for the cases that may run long): :func:`run_child` kills the child at
its deadline and reads its peak resident memory from ``os.wait4``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from ha_toolkit.cli import main

#: The bounds of the acceptance criteria: seconds and bytes per command. The seconds are
#: the command's CPU time, which other work on a shared machine does not inflate; the wall
#: time has a looser bound that only catches a hang.
TIME_LIMIT = 10.0
WALL_LIMIT = 60.0
MEMORY_LIMIT = 500 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Outcome:
    code: int | None
    out: str
    err: str
    seconds: float  # CPU
    peak_bytes: int
    wall: float = 0.0


_WARM = (
    "ha_toolkit.audit",
    "ha_toolkit.audit.report",
    "ha_toolkit.apiserver.apf",
    "ha_toolkit.apiserver.queues",
    "ha_toolkit.apiserver.shuffle",
    "ha_toolkit.availability.explore",
    "ha_toolkit.election.explore",
    "ha_toolkit.election.outage",
    "ha_toolkit.election.overlap",
    "ha_toolkit.election.timing",
    "ha_toolkit.election.tuning",
    "prometheus_client.parser",
    "yaml",
)


def _warm_up() -> None:
    """Import what the commands import, so that neither the time nor the memory measured
    is the import (tracemalloc slows imports many times over)."""
    import importlib

    for name in _WARM:
        importlib.import_module(name)


def run_bounded(capsys, *argv: str) -> Outcome:
    """Exit status, output, wall time and peak traced memory of ``ha-toolkit ARGV``."""
    _warm_up()
    tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        code = main(list(argv))
    finally:
        wall, seconds = time.perf_counter() - start, time.process_time() - cpu
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err, seconds, peak, wall)


def run_child(*argv: str, wall_limit: float = WALL_LIMIT) -> Outcome:
    """``ha-toolkit ARGV`` in a child process, killed after ``wall_limit`` s (code None)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    # the child's own start-up (imports) is not the command's time: it reports its own
    # the peak memory is the child's own VmHWM: ru_maxrss would carry over the parent's
    # peak through fork and exec, and the test process may have grown large by then
    script = ("import sys, time; from ha_toolkit.cli import main; t = time.process_time(); "
              "w = time.perf_counter(); code = main(sys.argv[1:]); "
              "hwm = [int(x.split()[1]) for x in open('/proc/self/status') "
              "if x.startswith('VmHWM:')] or [-1]; "
              "print(f'@@seconds {time.process_time() - t} {time.perf_counter() - w} {hwm[0]}', "
              "file=sys.stderr); sys.exit(code)")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", script, *argv], stdin=subprocess.DEVNULL, stdout=out,
            stderr=err, env=env, start_new_session=True,
        )
        deadline = time.monotonic() + wall_limit  # the CPU time is checked after
        code: int | None = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = -1  # reaped above
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    seconds = wall = float("inf")
    peak_kib = -1
    lines = []
    for line in stderr.splitlines():
        if line.startswith("@@seconds "):
            seconds, wall = (float(x) for x in line.split()[1:3])
            peak_kib = int(line.split()[3])
        else:
            lines.append(line)
    if peak_kib < 0:  # no /proc (or the child was killed): the kernel's figure, an upper bound
        peak_kib = usage.ru_maxrss
    return Outcome(code, stdout, "\n".join(lines) + ("\n" if lines else ""), seconds,
                   peak_kib * 1024, wall)


def assert_bounded(outcome: Outcome, *, codes: tuple[int, ...] = (0, 2)) -> None:
    """Exit 0 or 2, no traceback, one line on stderr for 2, within time and memory."""
    assert outcome.code in codes, (outcome.code, outcome.err[-2000:])
    assert "Traceback" not in outcome.err and "Traceback" not in outcome.out
    if outcome.code == 2:
        lines = outcome.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ha-toolkit: error: "), outcome.err
    assert outcome.seconds < TIME_LIMIT, outcome.seconds
    assert outcome.wall < WALL_LIMIT, outcome.wall
    assert outcome.peak_bytes < MEMORY_LIMIT, outcome.peak_bytes
