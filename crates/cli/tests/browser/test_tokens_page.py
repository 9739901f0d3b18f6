#!/usr/bin/env python3
"""The "API Tokens" page in headless Chromium (scripts/test-browser runs it).

Usage: test_tokens_page.py PATH/TO/wgauth

Starts `wgauth serve` on a fresh store over loopback, drives the page as a
user would (mouse and keyboard) and checks each step against the server
itself (the API, and whether a token is accepted). With UPDATE_SCREENSHOT=1
it rewrites docs/img/api-tokens.png. The server and the browser are stopped
whatever happens.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

REPO = Path(__file__).resolve().parents[4]
SCREENSHOT = REPO / "docs" / "img" / "api-tokens.png"
TOKEN = re.compile(r"^wgat_[A-Za-z0-9_-]{50}$")
WAIT = 10  # seconds for any one thing to appear in the page


def step(text: str) -> None:
    print(f"  - {text}", flush=True)


class Server:
    """`wgauth serve` on a temporary store; its output kept to check."""

    def __init__(self, wgauth: str, workdir: Path) -> None:
        self.wgauth = wgauth
        self.db = workdir / "tokens.db"
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.base = ""
        self.issued: list[str] = []  # every token the page showed

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [self.wgauth, "--db", str(self.db), *args],
            capture_output=True, text=True, timeout=30, check=True,
        )
        return done.stdout.strip()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.wgauth, "--db", str(self.db), "serve", "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=self.db.parent,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                found = re.search(r"serving (http://\S+)", line)
                if found:
                    self.base = found.group(1)
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(20):
            raise AssertionError("the server did not start:\n" + "".join(self.output))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self, token: str, method: str, path: str, body: object = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Access-Token", token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def accepts(self, token: str) -> bool:
        status, body = self.api(token, "GET", "/api/check")
        assert status in (200, 403), (status, body)
        return status == 200


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,860", "--force-device-scale-factor=1",
                "--no-first-run", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    return driver


def run(wgauth: str, workdir: Path) -> None:
    server = Server(wgauth, workdir)
    admin = server.cli("token", "create", "--account", "acct_demo", "--name", "Admin")
    server.start()
    status, body = server.api(admin, "POST", "/api/tokens",
                              {"name": "Sender", "scopes": ["messages:send"]})
    assert status == 201, body
    sender = body["token"]
    driver = None
    try:
        driver = browser()
        check_page(driver, server, admin, sender)
    finally:
        if driver is not None:
            driver.quit()
        server.stop()
    output = "".join(server.output)
    assert "API Tokens page" in output, output  # the control: output was read
    for secret in server.issued + [admin, sender]:
        assert secret not in output, "a token in the server's output"
    step("no token in the server's output")


def check_page(driver: webdriver.Chrome, server: Server, admin: str, sender: str) -> None:
    wait = WebDriverWait(driver, WAIT)
    by_id = lambda name: driver.find_element(By.ID, name)  # noqa: E731
    status_says = lambda text: wait.until(  # noqa: E731
        ec.text_to_be_present_in_element((By.ID, "status"), text))

    driver.get(server.base + "/")
    assert driver.current_url == server.base + "/tokens", driver.current_url
    assert driver.title == "API Tokens · WhatsGate", driver.title
    # Focus starts in the token field: a keyboard user types at once.
    assert driver.switch_to.active_element == by_id("sign-in-token")
    step("/ leads to the page; the sign-in field has focus")

    # A token without tokens:manage: refused with the reason.
    by_id("sign-in-token").send_keys(sender, Keys.ENTER)
    status_says("the token lacks the scope tokens:manage")
    assert "needs a token with the tokens:manage scope" in by_id("status").text
    assert by_id("sign-in").is_displayed() and not by_id("signed-in").is_displayed()
    assert by_id("sign-in-token").get_attribute("value") == ""
    step("a token without tokens:manage is refused: " + by_id("status").text)

    by_id("sign-in-token").send_keys(admin, Keys.ENTER)
    status_says("Signed in to account acct_demo")
    assert by_id("session-account").text == "Account acct_demo"
    names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#token-rows .name")]
    assert sorted(names) == ["Admin", "Sender"], names
    assert driver.switch_to.active_element == by_id("create-name")
    step("signed in; the list shows Admin and Sender")

    # A refusal that is not about the session says why and stays signed in.
    by_id("create-name").send_keys("Admin", Keys.ENTER)
    status_says("already has a token with this name")
    assert by_id("signed-in").is_displayed()
    by_id("create-name").clear()
    step("a name taken: said, still signed in")

    # Create, by keyboard: a name with markup, scopes, an expiry.
    hostile = "CI <script>window.pwned=1</script><img src=x onerror=pwned=2>"
    assert len(hostile) <= 64  # a name's limit, and the field's
    by_id("create-name").send_keys(hostile)
    by_id("create-description").send_keys("the CI pipeline")
    by_id("create-scopes").send_keys("messages:send, devices:*")
    Select(by_id("create-expiry")).select_by_value("30d")
    by_id("create-name").send_keys(Keys.ENTER)
    wait.until(ec.visibility_of_element_located((By.ID, "issued")))
    token = by_id("issued-token").get_attribute("value")
    assert TOKEN.match(token), "the new token is shown"
    server.issued.append(token)
    assert server.accepts(token)
    rows = [r for r in driver.find_elements(By.CSS_SELECTOR, "#token-rows tr")
            if r.find_element(By.CSS_SELECTOR, ".name").text == hostile]
    assert len(rows) == 1, "the name shows as typed, markup and all"
    row = rows[0]
    cells = [c.text for c in row.find_elements(By.CSS_SELECTOR, "td")]
    assert cells[2] == "devices:* messages:send", cells
    assert cells[4] == "active", cells
    assert cells[3].endswith("UTC"), cells
    assert driver.execute_script("return window.pwned") is None
    assert not driver.find_elements(By.CSS_SELECTOR, "#token-rows script, #token-rows img")
    token_id = row.get_attribute("data-id")
    labels = [b.accessible_name for b in row.find_elements(By.CSS_SELECTOR, "button")]
    assert labels == [f"{a} {hostile}" for a in ("Regenerate", "Disable", "Delete")], labels
    step("created a token named with markup: listed as text, no script ran")

    # Copy: the clipboard holds the token.
    driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": server.base,
        "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
    })
    by_id("issued-copy").click()
    status_says("Copied the token to the clipboard")
    pasted = driver.execute_async_script(
        "const done = arguments[0];"
        "navigator.clipboard.readText().then(done, (e) => done('error: ' + e));")
    assert pasted == token, "the clipboard holds the new token"
    by_id("issued-done").click()
    assert not by_id("issued").is_displayed()
    assert by_id("issued-token").get_attribute("value") == ""
    step("copied: the clipboard holds the token; Done hides it")

    def row_of(id_: str):
        return driver.find_element(By.CSS_SELECTOR, f'#token-rows tr[data-id="{id_}"]')

    def press(id_: str, label: str) -> None:
        row_of(id_).find_element(By.XPATH, f".//button[.='{label}']").click()

    # Regenerate, through the dialog; Escape first cancels it.
    press(token_id, "Regenerate")
    dialog = by_id("confirm")
    wait.until(lambda d: dialog.get_attribute("open") is not None)
    assert driver.switch_to.active_element == by_id("confirm-cancel")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(lambda d: dialog.get_attribute("open") is None)
    assert server.accepts(token)
    press(token_id, "Regenerate")
    wait.until(lambda d: dialog.get_attribute("open") is not None)
    by_id("confirm-ok").click()
    status_says("Regenerated token")
    new = by_id("issued-token").get_attribute("value")
    assert TOKEN.match(new) and new != token
    server.issued.append(new)
    assert not server.accepts(token) and server.accepts(new)
    by_id("issued-done").click()
    step("regenerated (after a cancel): the old token refused, the new one accepted")

    # Disable, then enable.
    press(token_id, "Disable")
    status_says("Disabled token")
    assert row_of(token_id).find_element(By.CSS_SELECTOR, ".status").text == "disabled"
    assert not server.accepts(new)
    press(token_id, "Enable")
    status_says("Enabled token")
    assert server.accepts(new)
    step("disabled (refused) and enabled (accepted) again")

    # A few more tokens for the screenshot.
    for name, scopes, expiry in (("Production API", "", ""),
                                 ("Reporting", "messages:read", "90d")):
        by_id("create-name").send_keys(name)
        if scopes:
            by_id("create-scopes").send_keys(scopes)
        if expiry:
            Select(by_id("create-expiry")).select_by_value(expiry)
        by_id("create-form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(ec.visibility_of_element_located((By.ID, "issued")))
        server.issued.append(by_id("issued-token").get_attribute("value"))
        by_id("issued-done").click()
    # A plainer name for the picture (the page shows it on its next refresh).
    status, _ = server.api(admin, "PATCH", f"/api/tokens/{token_id}", {"name": "CI pipeline"})
    assert status == 200
    status, listed = server.api(admin, "GET", "/api/tokens")
    sender_id = next(t["id"] for t in listed["tokens"] if t["name"] == "Sender")
    press(sender_id, "Disable")
    status_says("Disabled token")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        driver.execute_script("document.activeElement.blur()")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1280, "height": int(height), "scale": 1},
        })
        SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
        step(f"screenshot written: {SCREENSHOT.relative_to(REPO)}")

    # Delete, through the dialog: Cancel keeps it, Delete removes it.
    press(token_id, "Delete")
    wait.until(lambda d: dialog.get_attribute("open") is not None)
    assert "cannot be undone" in by_id("confirm-text").text
    by_id("confirm-cancel").click()
    status_says("Nothing deleted")
    assert server.accepts(new)
    press(token_id, "Delete")
    wait.until(lambda d: dialog.get_attribute("open") is not None)
    by_id("confirm-ok").click()
    status_says("Deleted token")
    assert not driver.find_elements(By.CSS_SELECTOR, f'#token-rows tr[data-id="{token_id}"]')
    assert not server.accepts(new)
    step("deleted (after a cancel): gone from the list, refused at once")

    # Nothing kept: no cookie, no storage; a reload signs out.
    assert driver.execute_script(
        "return [document.cookie, localStorage.length, sessionStorage.length]") == ["", 0, 0]
    driver.refresh()
    wait.until(ec.visibility_of_element_located((By.ID, "sign-in")))
    assert not by_id("signed-in").is_displayed()
    step("no cookie or storage; a reload signs out")

    # The console: no CSP or Trusted Types violation, no script error.
    bad = [e["message"] for e in driver.get_log("browser")
           if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]
           and "/api/" not in e["message"]]
    assert not bad, bad
    step("no error in the console (CSP, Trusted Types, scripts)")

    # The controls: markup through innerHTML is refused (Trusted Types, from
    # the CSP header), and the console check above sees such a violation.
    outcome = driver.execute_script(
        "try { document.body.innerHTML = '<img src=x onerror=pwned=3>'; return 'parsed'; }"
        " catch (e) { return e.name; }")
    assert outcome == "TypeError", outcome
    seen = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert any("TrustedHTML" in m for m in seen), seen
    step("controls: innerHTML refused by the policy, and the violation is in the console")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    wgauth = os.path.abspath(sys.argv[1])
    # scripts/test-browser's timeout sends SIGTERM: unwind, so the finally
    # blocks stop the browser, its driver and the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("test_tokens_page: timed out"))
    print("test_tokens_page: the API Tokens page in headless Chromium", flush=True)
    with tempfile.TemporaryDirectory(prefix="wgauth-browser-") as workdir:
        run(wgauth, Path(workdir))
    print("test_tokens_page: passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
