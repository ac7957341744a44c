"""Wall time of the notebook checks and of the figures command.

Two commands, each timed once in a fresh process on this machine:

* the whole nbval run, as ``make test`` runs it: ``pytest --nbval --nbval-current-env
  --nbval-sanitize-with notebooks/sanitize.cfg notebooks/``;
* the figures command, as ``make figures`` runs it once the environment exists:
  ``ha-toolkit figures`` (every notebook executed headless, figures written).

Both write their figures into a scratch folder (``HA_TOOLKIT_FIGURES``), so the repository's
figures/ and notebooks are left as they are. Target: under 3 minutes each. The table lists
each notebook's own execution time from the figures run, the largest first.

Run: ``python benchmarks/bench_notebooks.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 180.0


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "HA_TOOLKIT_FIGURES": scratch, "MPLBACKEND": "Agg"}
        start = time.perf_counter()
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        return time.perf_counter() - start, run


def main() -> int:
    bin_dir = Path(sys.executable).parent
    nbval = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        "notebooks/sanitize.cfg",
        "notebooks/",
    ]
    figures_cli = bin_dir / "ha-toolkit"
    figures = (
        [str(figures_cli)] if figures_cli.exists() else [sys.executable, "-m", "ha_toolkit.cli"]
    )
    figures.append("figures")

    nbval_s, nbval_run = timed(nbval)
    figures_s, figures_run = timed(figures)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))

    last = nbval_run.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(
        f"{len(notebooks)} notebooks; target under {TARGET / 60:.0f} minutes each, 2-core machine"
    )
    print()
    print(f"{'command':40s} {'wall time':>10s} {'exit':>5s}  result")
    print(f"{'pytest --nbval notebooks/':40s} {nbval_s:9.1f}s {nbval_run.returncode:5d}  {last[0]}")
    print(f"{'ha-toolkit figures':40s} {figures_s:9.1f}s {figures_run.returncode:5d}")
    per_notebook = []
    for line in figures_run.stdout.splitlines():
        match = re.match(r"^(\S+\.ipynb)\s+([\d.]+)\s", line)
        if match:
            per_notebook.append((float(match.group(2)), match.group(1)))
    if per_notebook:
        print()
        print(f"{'notebook (figures run)':40s} {'seconds':>10s}")
        for seconds, name in sorted(per_notebook, reverse=True):
            print(f"{name:40s} {seconds:10.1f}")
    ok = (
        nbval_run.returncode == 0
        and figures_run.returncode == 0
        and nbval_s < TARGET
        and figures_s < TARGET
    )
    if nbval_run.returncode or figures_run.returncode:
        tail = (nbval_run.stdout + nbval_run.stderr + figures_run.stderr).strip().splitlines()
        print("\n".join(tail[-20:]), file=sys.stderr)
    print()
    print(
        f"nbval {nbval_s:.0f} s, figures {figures_s:.0f} s: "
        f"{'both under' if ok else 'NOT both under'} {TARGET:.0f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
