"""Token stores for the tests: a SQLite file per test and, when ``WGAUTH_TEST_PG_URL``
is set, a PostgreSQL database per test on that server (scripts/test-python starts a
throwaway one with scripts/pg and stops it at the end)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from whatsgate_auth import InvalidToken, Keyring, StoreUnavailable

REPO = Path(__file__).resolve().parents[3]
PG_URL = os.environ.get("WGAUTH_TEST_PG_URL")
PG_DIR = os.environ.get("WGAUTH_TEST_PG_DIR")
NO_PG = "no PostgreSQL: set WGAUTH_TEST_PG_URL (scripts/test-python starts a server with scripts/pg)"
NO_PG_DIR = "stopping the server needs WGAUTH_TEST_PG_DIR, a server made by 'scripts/pg start'"


def accepts(keyring: Keyring, token: str) -> bool:
    """Whether the keyring accepts the token now (refused as invalid or with 503: no)."""
    try:
        keyring.verify_access_token(token)
    except (InvalidToken, StoreUnavailable):
        return False
    return True


def sqlite_url(directory: Path) -> str:
    return f"sqlite:{directory / 'tokens.db'}"


def pg_database() -> str:
    """A new, empty database on the test server; its URL."""
    if not PG_URL:
        pytest.skip(NO_PG)
    name = f"py_{uuid.uuid4().hex[:12]}"
    psql = "psql"
    if PG_DIR and (Path(PG_DIR) / "bin").is_file():
        psql = str(Path((Path(PG_DIR) / "bin").read_text().strip()) / "psql")
    subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", PG_URL, "-c", f"CREATE DATABASE {name}"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    base, _, query = PG_URL.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name
    return f"{url}?{query}" if query else url


def pg_server(action: str, *args: str) -> None:
    """``scripts/pg ACTION DIR [ARGS]`` on the test server (down, up, ...)."""
    if not PG_DIR:
        pytest.skip(NO_PG_DIR)
    subprocess.run([str(REPO / "scripts" / "pg"), action, PG_DIR, *args], check=True, timeout=120)


def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> float:
    """Polls ``check`` until it holds; the seconds that took. Fails after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.005)
    return time.monotonic() - start


# Another program's SQLite: a separate process, never Python's sqlite3 module in
# this one. Two SQLite libraries in one process (the module's and the one in the
# wheel) break each other's POSIX locks: closing the module's connection drops the
# wheel's locks, and the module then deletes the WAL the wheel's connections use
# (https://www.sqlite.org/howtocorrupt.html, section 2.2.1).
_SQLITE_CHILD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
for line in sys.stdin:
    if line.strip():
        db.execute(line)
        print("ok", flush=True)
"""


class SqliteProcess:
    """A SQLite connection in a child process: ``run`` one statement at a time."""

    def __init__(self, path: Path) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-c", _SQLITE_CHILD, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, statement: str) -> None:
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write(statement.replace("\n", " ") + "\n")
        self._child.stdin.flush()
        if self._child.stdout.readline().strip() != "ok":
            raise RuntimeError(f"the SQLite child process failed on: {statement}")

    def close(self) -> None:
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.close()
        self._child.wait(timeout=30)
        self._child.stdout.close()
        if self._child.returncode != 0:
            raise RuntimeError(f"the SQLite child process exited with {self._child.returncode}")

    def __enter__(self) -> SqliteProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
