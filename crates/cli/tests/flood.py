#!/usr/bin/env python3
"""The load check of `wgauth serve` (issue 16), run by scripts/test-cli.

Loopback only, bounded (about 30 s, at most 10,000 client sockets). Passes
when a real request is answered 200 in under 1 s, again and again, while
10,000 idle and slowloris connections are held open against the server,
and the server sheds them (slowloris ones despite their trickled bytes).

Controls run first, each with the hidden --unlimited-connections (no cap,
no shedding, no header timeout: how the server behaved before) and then the
defaults; a control whose unlimited run passes means this check cannot tell,
and fails it:
- open-file limit 256, 400 idle connections held: the real request must
  NOT be served within 1 s unlimited, and must be with the defaults (the cap,
  lowered to fit the limit, sheds the longest-idle connection);
- 50 slowloris connections (one header byte every 0.25 s or so), 50 idle
  ones and 20 idle after one request (keep-alive) for 12 s: unlimited, none
  is closed; with the defaults, all are (10 s to send a whole request head,
  however it trickles).

Usage: flood.py WGAUTH_BINARY
"""

import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

IDLE = 5000
SLOWLORIS = 5000
HOLD_SECONDS = 13  # the server's 10 s to send a request head, and some
LIMIT = 1.0  # seconds a real request may take
CONTROL_FILES = 256
CONTROL_IDLE = 400

BODY = (
    b'{"sender_device": "123456789", "phone": "987654321", '
    b'"message": "Hello, this is a test message"}'
)


def fail(message):
    print(f"flood: FAIL: {message}", flush=True)
    sys.exit(1)


class Server:
    """`wgauth serve` on a free loopback port; stderr kept."""

    def __init__(self, wgauth, db, extra, files=None):
        def limit():
            if files:
                resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

        self.proc = subprocess.Popen(
            [wgauth, "--db", db, "serve", "--listen", "127.0.0.1:0", *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=limit,
        )
        self.lines = []
        ready = threading.Event()
        self.addr = None

        def read():
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace").rstrip()
                self.lines.append(line)
                if "serving http://" in line:
                    host, port = line.split("serving http://")[1].split()[0].rsplit(":", 1)
                    self.addr = (host, int(port))
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            self.stop()
            fail("the server did not start:\n" + "\n".join(self.lines))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def probe(addr, token, timeout=3.0):
    """One real request on a new connection: (status or None, seconds)."""
    start = time.monotonic()
    request = (
        b"POST /api/send/text HTTP/1.1\r\nHost: localhost\r\n"
        + b"Access-Token: " + token + b"\r\n"
        + b"Content-Type: application/json\r\n"
        + b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
        + b"Connection: close\r\n\r\n" + BODY
    )
    try:
        with socket.create_connection(addr, timeout=timeout) as s:
            s.settimeout(max(0.01, timeout - (time.monotonic() - start)))
            s.sendall(request)
            answer = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None, time.monotonic() - start
    elapsed = time.monotonic() - start
    try:
        status = int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = None
    return status, elapsed


def open_idle(addr, count, deadline, patience=3):
    """Opens up to `count` connections that send nothing (stops at the
    deadline, or after `patience` connects in a row time out: the control's
    full backlog)."""
    socks = []
    stalled = 0
    while len(socks) < count and time.monotonic() < deadline and stalled < patience:
        try:
            s = socket.create_connection(addr, timeout=1.5)
        except OSError:
            stalled += 1
            continue
        stalled = 0
        s.setblocking(False)
        socks.append(s)
    return socks


def control(wgauth, db, token, extra, expect_served):
    server = Server(wgauth, db, extra, files=CONTROL_FILES)
    try:
        held = open_idle(server.addr, CONTROL_IDLE, time.monotonic() + 8)
        if len(held) <= CONTROL_FILES:
            fail(f"the control held only {len(held)} connections")
        time.sleep(0.3)
        status, elapsed = probe(server.addr, token, timeout=3.0)
        served = status == 200 and elapsed < LIMIT
        what = " ".join(extra) or "defaults"
        print(
            f"flood: control ({what}, open-file limit {CONTROL_FILES}, "
            f"{len(held)} idle connections): request "
            + (f"{status} in {elapsed * 1000:.0f} ms" if status else f"unanswered after {elapsed:.1f} s"),
            flush=True,
        )
        for s in held:
            s.close()
        if served != expect_served:
            if expect_served:
                fail("the capped server did not serve the request in time")
            fail("the uncapped control served the request: this check cannot tell")
    finally:
        server.stop()


def hold(addr, idle, slow, seconds, on_tick=None):
    """Keeps `idle` silent and trickles a never-ending request head on
    `slow` for `seconds`; returns {socket: seconds until the server closed
    it} and the most bytes one slowloris socket sent."""
    trickle = b"GET /api/x HTTP/1.1\r\nHost: localhost\r\n" + b"X-Slow: yes\r\n" * 10000
    sent = {s: 0 for s in slow}
    closed = {}
    start = time.monotonic()
    sel = selectors.DefaultSelector()
    for s in idle + slow:
        sel.register(s, selectors.EVENT_READ)
    while time.monotonic() < start + seconds:
        for s in slow:
            if s in closed:
                continue
            try:
                sent[s] += s.send(trickle[sent[s]: sent[s] + 1])
            except BlockingIOError:
                pass
            except OSError:
                closed.setdefault(s, time.monotonic() - start)
        for key, _ in sel.select(timeout=0):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed.setdefault(s, time.monotonic() - start)
                sel.unregister(s)
        if on_tick:
            on_tick(time.monotonic() - start)
        time.sleep(0.05)
    sel.close()
    return closed, max(sent.values(), default=0)


def control_shedding(wgauth, db, extra, expect_shed):
    server = Server(wgauth, db, extra)
    try:
        idle = open_idle(server.addr, 50, time.monotonic() + 10)
        slow = open_idle(server.addr, 50, time.monotonic() + 10)
        # Keep-alive: one whole request (a 404), then nothing.
        kept = open_idle(server.addr, 20, time.monotonic() + 10)
        for s in kept:
            s.setblocking(True)
            s.sendall(b"GET /nothing HTTP/1.1\r\nHost: localhost\r\n\r\n")
            if b" 404 " not in s.recv(4096):
                fail("no answer on a keep-alive connection")
            s.setblocking(False)
        closed, most = hold(server.addr, idle + kept, slow, 12)
        shed = len(closed)
        total = len(idle) + len(slow) + len(kept)
        what = " ".join(extra) or "defaults"
        print(
            f"flood: control ({what}): after 12 s the server closed {shed} of "
            f"{total} idle, slowloris and idle keep-alive connections "
            f"(slowloris sent up to {most} bytes each)",
            flush=True,
        )
        for s in idle + slow + kept:
            s.close()
        if expect_shed and shed < total:
            fail("idle, slowloris or keep-alive connections outlived the header timeout")
        if not expect_shed and shed > 0:
            fail("the unlimited control closed connections: this check cannot tell")
    finally:
        server.stop()


def main():
    if len(sys.argv) != 2:
        fail("usage: flood.py WGAUTH_BINARY")
    wgauth = sys.argv[1]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE + SLOWLORIS + 200
    if hard != resource.RLIM_INFINITY and hard < need:
        # Root (CI) may raise the hard limit; anyone else gets the reason.
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            soft, hard = need, need
        except (ValueError, OSError):
            fail(f"this check needs {need} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else hard, hard))

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "tokens.db")
        made = subprocess.run(
            [wgauth, "--db", db, "token", "create", "--account", "acct_1", "--name", "Load"],
            capture_output=True,
            check=True,
        )
        token = made.stdout.strip()

        control(wgauth, db, token, ["--unlimited-connections"], expect_served=False)
        control(wgauth, db, token, [], expect_served=True)
        control_shedding(wgauth, db, ["--unlimited-connections"], expect_shed=False)
        control_shedding(wgauth, db, [], expect_shed=True)

        server = Server(wgauth, db, [])
        try:
            flood(server, token)
        finally:
            server.stop()
        if server.proc.returncode != 0:
            fail(f"the server exited with {server.proc.returncode}:\n" + "\n".join(server.lines))
        if not any("at most" in line for line in server.lines):
            fail("the server did not report its connection cap")
    print("flood: PASS", flush=True)


def flood(server, token):
    addr = server.addr
    start = time.monotonic()
    # On a busy machine the accept queue can overflow for a moment: retry.
    idle = open_idle(addr, IDLE, start + 30, patience=20)
    slow = open_idle(addr, SLOWLORIS, start + 30, patience=20)
    if len(idle) < IDLE or len(slow) < SLOWLORIS:
        fail(f"opened only {len(idle)} idle and {len(slow)} slowloris connections")
    opened = time.monotonic()
    print(
        f"flood: {len(idle)} idle and {len(slow)} slowloris connections open "
        f"in {opened - start:.1f} s",
        flush=True,
    )
    latencies = []
    failures = []
    next_probe = [0.0]

    def tick(now):
        if now >= next_probe[0]:
            status, elapsed = probe(addr, token)
            latencies.append(elapsed)
            if status != 200 or elapsed >= LIMIT:
                failures.append((round(now, 1), status, round(elapsed, 3)))
            next_probe[0] = now + 0.5

    closed, most = hold(addr, idle, slow, HOLD_SECONDS, tick)
    idle_closed = sorted(closed[s] for s in idle if s in closed)
    slow_closed = sorted(closed[s] for s in slow if s in closed)
    for s in idle + slow:
        s.close()
    latencies.sort()
    print(
        f"flood: {len(latencies)} real requests over {HOLD_SECONDS} s: median "
        f"{latencies[len(latencies) // 2] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms",
        flush=True,
    )

    def when(times):
        return f"first at {times[0]:.1f} s, last at {times[-1]:.1f} s" if times else "none"

    print(
        f"flood: shed by the server: {len(idle_closed)} of {len(idle)} idle ({when(idle_closed)}), "
        f"{len(slow_closed)} of {len(slow)} slowloris ({when(slow_closed)}); "
        f"slowloris sent up to {most} bytes each",
        flush=True,
    )
    if failures:
        fail(f"real requests not served 200 within {LIMIT} s: {failures}")
    if len(latencies) < HOLD_SECONDS:
        fail(f"only {len(latencies)} real requests were made")
    if len(idle_closed) < len(idle) or len(slow_closed) < len(slow):
        fail("connections that never sent a whole request head were still open")
    if most < 8:
        fail("the slowloris connections did not trickle")


if __name__ == "__main__":
    main()
