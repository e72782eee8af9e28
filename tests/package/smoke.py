"""A smoke run through the installed Fathom, as a person would do it, inside the clean Debian root
that tests/package/deb.sh made (no Rust, Node or build tree there): the window opens, the welcome
guide shows the memory check's verdict, a folder is chosen in the system folder chooser and
indexed, and a planted word is found on the Search page.

Runs under Xvfb and a private D-Bus; drives the app (SMOKE_APP: /usr/bin/fathom-app from the
.deb, or the AppImage) through tauri-driver and WebKitWebDriver, with xdotool for the keyboard."""
import os
import shutil
import socket
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

APP = os.environ.get("SMOKE_APP", "/usr/bin/fathom-app")
FOLDER = os.environ["SMOKE_FOLDER"]
WORD = os.environ["SMOKE_WORD"]
SHOTS = os.environ.get("SMOKE_SHOTS", "/tmp/smoke-shots")


def wait_for(predicate, timeout=90.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except StaleElementReferenceException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def xdotool(*args):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True).stdout.strip()


def windows(name):
    return [w for w in xdotool("search", "--onlyvisible", "--name", name).split() if w]


def shot(name):
    # WebKit paints a moment after the DOM changes.
    time.sleep(0.6)
    os.makedirs(SHOTS, exist_ok=True)
    subprocess.run(["import", "-window", "root", f"{SHOTS}/{name}.png"], check=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    native = wait_for(lambda: (p := free_port()) != port and p, what="a second port")
    driver_proc = subprocess.Popen(["tauri-driver", "--port", str(port), "--native-port", str(native),
                                    "--native-driver", shutil.which("WebKitWebDriver")])
    try:
        def listening(p):
            try:
                socket.create_connection(("127.0.0.1", p), timeout=0.5).close()
                return True
            except OSError:
                return False
        # Both tauri-driver and the WebKitWebDriver it starts must listen before a session is
        # asked for (on a loaded machine the second comes up later).
        wait_for(lambda: listening(port) and listening(native), what="tauri-driver and WebKitWebDriver")
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": APP})
        d = webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=options)
        wait_for(lambda: windows("^Fathom$"), what="the main window")
        print("smoke: the window opened")

        verdict = wait_for(lambda: [e for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="welcome-verdict"]') if e.get_attribute("data-verdict")], what="the memory check's verdict")[0]
        print(f"smoke: verdict {verdict.get_attribute('data-verdict')}: {verdict.text}")
        assert verdict.get_attribute("data-verdict") in ("fits", "fitsShorterContext", "doesNotFit")
        shot("verdict")
        d.find_element(By.CSS_SELECTOR, '[data-testid="welcome-skip"]').click()

        wait_for(lambda: [h.text for h in d.find_elements(By.CSS_SELECTOR, "main h1")] == ["Library"], what="the Library page")
        d.find_element(By.XPATH, '//button[text()="Choose folders…"]').click()
        chooser = wait_for(lambda: windows("^Add folders to the library$"), what="the folder chooser")[0]
        time.sleep(0.5)
        xdotool("windowfocus", "--sync", chooser)
        xdotool("key", "ctrl+l")
        time.sleep(0.3)
        xdotool("type", "--delay", "20", FOLDER)
        time.sleep(0.5)
        xdotool("key", "Return")
        time.sleep(0.7)
        if windows("^Add folders to the library$"):
            xdotool("key", "Return")
        wait_for(lambda: not windows("^Add folders to the library$"), what="the chooser to close")

        def indexed():
            found = d.find_elements(By.CSS_SELECTOR, '[data-testid="index"]')
            return found and found[0].get_attribute("data-state") == "done"
        wait_for(indexed, what="the folder indexed")
        print("smoke: the folder was added and indexed")
        shot("library")

        d.find_element(By.CSS_SELECTOR, 'nav a[data-page="search"]').click()
        box = wait_for(lambda: d.find_elements(By.CSS_SELECTOR, 'input[aria-label="Search the library"]'), what="the Search page")[0]
        box.send_keys(WORD)
        result = wait_for(lambda: d.find_elements(By.CSS_SELECTOR, '[data-testid="result"]'), what="the planted word found")[0]
        assert "planted.md" in result.text, result.text
        print(f"smoke: '{WORD}' found in planted.md")
        shot("search")
        d.quit()
    finally:
        driver_proc.terminate()
        driver_proc.wait(10)
        subprocess.run(["pkill", "-f", APP], check=False)
        # An AppImage run with APPIMAGE_EXTRACT_AND_RUN runs its copy of the binary from /tmp.
        subprocess.run(["pkill", "-f", "/usr/bin/fathom-app"], check=False)
    print("smoke: passed")


if __name__ == "__main__":
    sys.exit(main())
