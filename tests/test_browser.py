"""Notebook 01 in JupyterLab, driven by headless Chromium: its explorer reacts to a slider.

The test starts ``jupyter lab`` on 127.0.0.1 (a free port, a token, no browser) over a
temporary copy of ``notebooks/``, opens notebook 01 in headless Chromium through Selenium
(the system's chromium and chromedriver; nothing is downloaded), clears the outputs, runs
all cells from the Run menu, presses the right-arrow key on the lease-duration slider and
checks that the p99 on display changes to the model's value for the new lease and that
no cell shows an error. A screenshot of the explorer is kept in ``test-artifacts/browser/``
(git-ignored through the ``.gitignore`` the test writes there).

Marked ``browser``: ``pytest -m "not browser"`` or ``HA_TOOLKIT_SKIP_BROWSER=1`` skips it.
Without chromium, chromedriver or selenium it is skipped with the reason, except in CI
(``CI=true``), where it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_leader_switch_timing.ipynb"
ARTIFACTS = Path(os.environ.get("HA_TOOLKIT_ARTIFACTS", REPO / "test-artifacts")) / "browser"
SCREENSHOT = ARTIFACTS / "01_failover_explorer.png"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
SKIP_ENV = "HA_TOOLKIT_SKIP_BROWSER"
BUDGET = 110.0  # seconds for the whole test, server start to screenshot
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1100",
)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"the browser test must run in CI, but {reason}")
    pytest.skip(reason)


def _tool(names: tuple[str, ...], env: str) -> str | None:
    if os.environ.get(env):
        return shutil.which(os.environ[env])
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


class Deadline:
    """One time budget shared by every wait of the test."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        return max(0.0, min(cap, self.end - time.monotonic()))

    def wait(self, what: str, probe: Callable[[], Any], cap: float, every: float = 0.25) -> Any:
        """Poll ``probe`` until it returns something truthy; fail after ``cap`` seconds."""
        from selenium.common.exceptions import (
            NoSuchElementException,
            StaleElementReferenceException,
        )

        stop = time.monotonic() + self.left(cap)
        last: Any = None
        while True:
            try:  # JupyterLab re-renders parts of the page at will: look again
                last = probe()
            except (StaleElementReferenceException, NoSuchElementException) as exc:
                last = f"{type(exc).__name__}"
            else:
                if last:
                    return last
            if time.monotonic() >= stop:
                pytest.fail(f"timed out waiting for {what} (last seen: {last!r})")
            time.sleep(every)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> int | None:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return None


def _write_settings(settings: Path) -> None:
    """Lab user settings for the test: no news or update checks (closed network)."""
    path = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@pytest.fixture
def deadline() -> Deadline:
    return Deadline(BUDGET)


@pytest.fixture
def lab(tmp_path: Path, deadline: Deadline) -> Iterator[dict[str, Any]]:
    """A JupyterLab server over a copy of notebooks/; always stopped afterwards."""
    if os.environ.get(SKIP_ENV):
        pytest.skip(f"{SKIP_ENV} is set")
    root = tmp_path / "root"
    shutil.copytree(
        REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    home = tmp_path / "jupyter"
    settings = home / "user-settings"
    _write_settings(settings)
    port, token = _free_port(), os.urandom(16).hex()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "HA_TOOLKIT_FIGURES": str(tmp_path / "figures"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    env.pop("MPLBACKEND", None)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI runners
        command.append("--allow-root")
    log_path = tmp_path / "jupyter-lab.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{tail}")
            return _get(f"{base}/api/status", token) == 200

        deadline.wait("jupyter lab to answer", ready, cap=60.0)
        yield {"base": base, "token": token, "root": root, "log": log_path}
    finally:
        _stop(proc, base, token)


def _stop(proc: subprocess.Popen[bytes], base: str, token: str) -> None:
    """Shut the server down (kernels included); escalate to signals if it lingers."""
    if proc.poll() is None:
        request = urllib.request.Request(
            f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except (urllib.error.URLError, OSError):
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    try:  # anything left in the server's own process group
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium through chromedriver; quit afterwards."""
    if os.environ.get(SKIP_ENV):
        pytest.skip(f"{SKIP_ENV} is set")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable('selenium is not installed (pip install -e ".[dev]")')
    chromium = _tool(("chromium", "chromium-browser"), "HA_TOOLKIT_CHROMIUM")
    driver_path = _tool(("chromedriver",), "HA_TOOLKIT_CHROMEDRIVER")
    if chromium is None or driver_path is None:
        missing = " and ".join(
            name
            for name, path in (("chromium", chromium), ("chromedriver", driver_path))
            if path is None
        )
        _unavailable(f"{missing} not found (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    service = Service(executable_path=driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(15)
        yield driver
    finally:
        driver.quit()


# JavaScript run in the page (window.jupyterapp is exposed by the server flag above).
_NOTEBOOK_STATE = """
const app = window.jupyterapp;
const panel = app && app.shell.currentWidget;
if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return null;
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const cells = panel.content.model.cells;
const out = {kernel: kernel ? kernel.status : null, code: 0, executed: 0, errors: []};
for (let i = 0; i < cells.length; i++) {
  const cell = cells.get(i);
  if (cell.type !== 'code') continue;
  out.code += 1;
  if (cell.executionCount !== null) out.executed += 1;
  for (const o of cell.outputs.toJSON()) {
    if (o.output_type === 'error') out.errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
  }
}
return out;
"""


def _click_menu(driver: Any, deadline: Deadline, menu: str, entry: str) -> None:
    """Open a menu of the menu bar and click one of its entries, by their labels."""
    from selenium.webdriver.common.by import By

    def click(selector: str, label: str) -> bool:
        for item in driver.find_elements(By.CSS_SELECTOR, selector):
            if item.is_displayed() and item.text.strip().split("\n")[0] == label:
                item.click()
                return True
        return False

    deadline.wait(f"the {menu} menu", lambda: click(".lm-MenuBar-item", menu), cap=20.0)
    deadline.wait(f"menu entry {menu} > {entry}", lambda: click(".lm-Menu-item", entry), cap=10.0)


def _p99(driver: Any) -> str | None:
    text = driver.execute_script(
        "const e = document.querySelector('.ha-failover .ha-readout .ha-p99');"
        "return e ? e.innerText.trim() : null;"
    )
    return text or None


def _seconds(text: str) -> float:
    match = re.search(r"([0-9]+(?:\.[0-9]+)?) s", text)
    assert match, f"no seconds in {text!r}"
    return float(match.group(1))


def _save_screenshot(driver: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# test output, not tracked\n*\n")
    driver.save_screenshot(str(path))


def test_failover_explorer_in_jupyterlab(
    browser: Any, lab: dict[str, Any], deadline: Deadline
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from ha_toolkit.election import ElectionConfig
    from ha_toolkit.election.timing import failover

    driver = browser
    try:
        driver.get(f"{lab['base']}/lab/tree/notebooks/{NOTEBOOK}?token={lab['token']}")
        deadline.wait(
            "notebook 01 open with an idle kernel",
            lambda: (driver.execute_script(_NOTEBOOK_STATE) or {}).get("kernel") == "idle",
            cap=60.0,
        )
        _click_menu(driver, deadline, "Edit", "Clear Outputs of All Cells")
        state = driver.execute_script(_NOTEBOOK_STATE)
        assert state["executed"] == 0, state
        _click_menu(driver, deadline, "Run", "Run All Cells")

        def finished() -> Any:
            s = driver.execute_script(_NOTEBOOK_STATE)
            return s if s["executed"] == s["code"] and s["kernel"] == "idle" else None

        state = deadline.wait("all cells to run", finished, cap=60.0)
        assert not state["errors"], state["errors"]

        before = deadline.wait("the explorer's p99", lambda: _p99(driver), cap=20.0)
        base = ElectionConfig.preset("kube-scheduler")
        assert _seconds(before) == pytest.approx(failover(base).ppf(0.99), abs=0.006)

        def press_right() -> bool:
            handle = driver.find_element(
                By.CSS_SELECTOR, ".ha-failover .ha-control-lease_duration .noUi-handle"
            )
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
            handle.send_keys(Keys.ARROW_RIGHT)  # one step: lease duration 15 s -> 16 s
            return True

        deadline.wait("the lease-duration slider", press_right, cap=10.0)

        after = deadline.wait(
            "the p99 to change", lambda: (t := _p99(driver)) and t != before and t, cap=20.0
        )
        moved = ElectionConfig.preset("kube-scheduler", lease_duration=16.0)
        assert _seconds(after) == pytest.approx(failover(moved).ppf(0.99), abs=0.006)

        state = driver.execute_script(_NOTEBOOK_STATE)
        assert not state["errors"], state["errors"]
        assert not driver.find_elements(By.CSS_SELECTOR, ".ha-failover .ha-error")
        texts = driver.execute_script(
            "return Array.from(document.querySelectorAll('.jp-OutputArea-output'))"
            ".map(e => e.innerText);"
        )
        tracebacks = [t[:200] for t in texts if "Traceback" in t or "Error" in t.split("\n", 1)[0]]
        assert texts and not tracebacks, tracebacks
        assert driver.execute_script(
            "const e = document.querySelector('.ha-failover');"
            "if (e) { e.scrollIntoView({block: 'start'}); } return !!e;"
        )
        time.sleep(0.3)  # let the new figure paint
        _save_screenshot(driver, SCREENSHOT)
    except BaseException:
        _save_screenshot(driver, SCREENSHOT.with_name("01_failure.png"))
        raise
