#!/usr/bin/env python3
"""Runs the code blocks of the repository's pages as a reader would copy them.

Usage: scripts/doctest/run.py [--self-test] [PAGE.md ...]
With no page: every README*.md of the repository and every docs/*.md
(git-tracked or new, not ignored). scripts/test-docs runs --self-test, then
every page.

THE CONVENTION (the root README's "Contributing" part says it in short)

A fenced block runs according to its language (the first word of the info
string):
  rust            a complete program (with `fn main`), compiled and run as
                  src/bin/ of a scratch crate outside the workspace whose
                  manifest is a `[package]` header plus the page's latest
                  ```toml block before it; the workspace's Cargo.lock is copied
                  in. The crates live in target/doctest/crates/ and build
                  into the target dir the test parts use (target/, or
                  $CARGO_TARGET_DIR), reusing the dependencies they built.
                  No rustdoc hidden lines (`# ...`): GitHub and crates.io show
                  them, so a copied block would not compile. Rustdoc's `ignore`
                  and `no_run` only concern `cargo test --doc`; this runner
                  runs the block all the same.
  toml            Cargo dependency lines for the page's later rust blocks (not
                  run). A toml block marked `continues` adds lines to the
                  previous one (a reader adds them to the same Cargo.toml).
  python          run with the venv scripts/test-python builds
                  ($CARGO_TARGET_DIR/python-venv, built by running
                  scripts/test-python when it has no whatsgate_auth).
  sh, bash, shell run with `bash -euo pipefail`.
  console         the lines starting with `$ ` (and their `\\` continuations)
                  run as a sh block; the other lines are output.
  c               must be a `file NAME` block: the page's own shell block
                  compiles it with the README's command line.
  text, json, ini, http, diff, csv, and untagged blocks: shown, never run.
  Any other language is refused (add it here, or tag the block `text`).

Markers are HTML comments on the lines right before a fence (no blank line
between them and the fence):
  <!-- doctest: skip (REASON) -->   not run; the reason is printed. A skip
                                    without a reason is refused.
  <!-- doctest: replace `TEXT` with `VALUE` -->
                                    only for a placeholder the prose explains:
                                    VALUE replaces TEXT before the block runs;
                                    $VARS in VALUE are expanded from the page's
                                    environment (e.g. $WGAUTH_REPO). TEXT must
                                    occur in the block.
  <!-- doctest: continues -->       appended to the previous block of the same
                                    language on the page; the joined program
                                    runs once, where its last part is.
  <!-- doctest: file NAME -->       saved as NAME in the page's directory, not
                                    run; later blocks use it.
  <!-- doctest: env NAME=VALUE -->  exported for this block and the page's
                                    later ones ($VARS in VALUE expanded).
  <!-- doctest: background -->      started and left running (a server the
                                    page's later blocks talk to): the page goes
                                    on once it has printed its first line (say,
                                    "listening on ..."); stopped (SIGTERM) when
                                    the page ends; a failure if it exits with
                                    an error before then.
An unknown or malformed marker, or one not followed by a fence, is refused.

Each page runs in a fresh temp dir (the working directory of its blocks,
also in $WGAUTH_PAGE_DIR), with the repository root in $WGAUTH_REPO and the
Python venv's bin/ first in PATH (so `python` and `pip` are the venv's). A block that runs longer than
$WGAUTH_DOCTEST_TIMEOUT seconds (default 600: a cold `cargo build` in a
block counts, on a 2-core CI machine) is killed with its process group and
fails. A page stops at its first failing block; every page is run; the exit
status is 1 if any block failed, with the file, line and output of each.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOT_RUN = {"", "text", "json", "ini", "http", "diff", "csv"}
SHELL = {"sh", "bash", "shell", "console"}
RUN = SHELL | {"rust", "toml", "python", "c"}
RUST_ATTRS = {"ignore", "no_run"}
MARKER = re.compile(r"^\s*<!--\s*doctest:(.*?)-->\s*$")
# Any indentation: a fence inside a (nested) list item is still a block.
FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([^`]*?)\s*$")
VERBOSE = False  # --verbose: every block's output (a demo may print a token)
TIMEOUT = float(os.environ.get("WGAUTH_DOCTEST_TIMEOUT", "600"))


class PageError(Exception):
    """A page that breaks the convention (refused before anything runs)."""


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    attrs: list[str]
    text: str
    skip: str | None = None
    replaces: list[tuple[str, str]] = field(default_factory=list)
    continues: bool = False
    file: str | None = None
    env: list[tuple[str, str]] = field(default_factory=list)
    background: bool = False
    # Set on the first blocks of a `continues` chain: run with the last one.
    deferred: bool = False
    parts: list["Block"] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{rel(self.page)}:{self.line}"


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def parse_marker(body: str, block: Block, where: str) -> None:
    body = body.strip()
    if m := re.fullmatch(r"skip\s*\((.*)\)", body, re.S):
        if not m.group(1).strip():
            raise PageError(f"{where}: `skip` needs a reason: <!-- doctest: skip (why) -->")
        block.skip = m.group(1).strip()
    elif body == "skip" or body.startswith("skip"):
        raise PageError(f"{where}: `skip` needs a reason in parentheses: <!-- doctest: skip (why) -->")
    elif m := re.fullmatch(r"replace\s+`([^`]+)`\s+with\s+`([^`]*)`", body):
        block.replaces.append((m.group(1), m.group(2)))
    elif body == "continues":
        block.continues = True
    elif m := re.fullmatch(r"file\s+(\S+)", body):
        name = m.group(1)
        if name.startswith("/") or ".." in Path(name).parts:
            raise PageError(f"{where}: `file {name}`: a name inside the page's directory")
        block.file = name
    elif m := re.fullmatch(r"env\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)", body):
        block.env.append((m.group(1), m.group(2)))
    elif body == "background":
        block.background = True
    else:
        raise PageError(f"{where}: unknown doctest marker `{body}` (see scripts/doctest/run.py)")


def parse(page: Path) -> list[Block]:
    """The page's fenced blocks, with their markers checked."""
    lines = page.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    pending: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"\s*<!--\s*doctest", line):  # (quoted in prose, it is text)
            m = MARKER.match(line)
            if not m:
                raise PageError(f"{rel(page)}:{i + 1}: malformed doctest marker: {line.strip()}")
            pending.append((i + 1, m.group(1)))
            i += 1
            continue
        fence = FENCE.match(line)
        if not fence:
            if pending:
                raise PageError(
                    f"{rel(page)}:{pending[0][0]}: a doctest marker must sit on the lines right before a fence"
                )
            i += 1
            continue
        indent, ticks, info = fence.groups()
        words = [w for w in re.split(r"[,\s]+", info) if w]
        lang = words[0].lower() if words else ""
        start = i
        body = []
        i += 1
        close = re.compile(rf"^ *{re.escape(ticks[0])}{{{len(ticks)},}}\s*$")
        while i < len(lines) and not close.match(lines[i]):
            text = lines[i]
            body.append(text[len(indent):] if text.startswith(indent) else text.lstrip())
            i += 1
        if i == len(lines):
            raise PageError(f"{rel(page)}:{start + 1}: fence never closed")
        i += 1
        block = Block(page, start + 1, lang, words[1:], "\n".join(body) + "\n")
        for at, marker in pending:
            parse_marker(marker, block, f"{rel(page)}:{at}")
        pending = []
        check(block)
        blocks.append(block)
    if pending:
        raise PageError(f"{rel(page)}:{pending[0][0]}: a doctest marker with no block after it")
    link_continuations(blocks)
    return blocks


def check(b: Block) -> None:
    where = b.where
    if b.lang not in RUN and b.lang not in NOT_RUN:
        raise PageError(f"{where}: unknown block language `{b.lang}` (run ones: {sorted(RUN)}; shown ones: {sorted(NOT_RUN - {''})})")
    if b.lang in NOT_RUN and (b.skip or b.replaces or b.continues or b.file or b.background):
        raise PageError(f"{where}: a `{b.lang or 'untagged'}` block is never run; a marker on it means nothing")
    if b.skip is not None and (b.replaces or b.continues or b.file or b.env or b.background):
        raise PageError(f"{where}: `skip` cannot be combined with other markers")
    if b.file and (b.continues or b.background):
        raise PageError(f"{where}: a `file` block is saved, not run or continued")
    if b.lang == "c" and not b.file and b.skip is None:
        raise PageError(f"{where}: a C block is compiled by the page's own command line: mark it `file NAME`")
    if b.lang == "toml" and b.background:
        raise PageError(f"{where}: a toml block is not run")
    if b.lang == "rust":
        bad = [a for a in b.attrs if a not in RUST_ATTRS and not a.startswith("edition")]
        if bad:
            raise PageError(f"{where}: rust block attributes {bad} are not supported (only {sorted(RUST_ATTRS)})")
        for n, text in enumerate(b.text.split("\n")):
            if re.match(r"^\s*#(\s|$)", text):
                raise PageError(
                    f"{rel(b.page)}:{b.line + 1 + n}: a rustdoc hidden line (`# ...`): GitHub and crates.io show it, "
                    "so a reader's copy would not compile; write the block as a complete program"
                )
    for old, _ in b.replaces:
        if old not in b.text:
            raise PageError(f"{where}: replace `{old}`: not in the block")


def link_continuations(blocks: list[Block]) -> None:
    last: dict[str, Block] = {}
    for b in blocks:
        if b.skip is not None or b.lang in NOT_RUN:
            continue
        key = "sh" if b.lang in SHELL else b.lang
        if b.continues:
            head = last.get(key)
            if head is None:
                raise PageError(f"{b.where}: `continues`, but no earlier {key} block on the page")
            if head.file or head.background:
                raise PageError(f"{b.where}: `continues` a block that is a file or runs in the background")
            if b.lang == "toml":
                continue  # manifests are assembled in order, see Page.manifest
            head.deferred = True
            b.parts = (head.parts or [head]) + [b]
        last[key] = b


def expand(value: str, env: dict[str, str]) -> str:
    return re.sub(
        r"\$(\w+)|\$\{(\w+)\}",
        lambda m: env.get(m.group(1) or m.group(2), m.group(0)),
        value,
    )


def console_commands(text: str) -> str:
    out, cont = [], False
    for line in text.split("\n"):
        if cont:
            out.append(line)
        elif line.startswith("$ "):
            out.append(line[2:])
        else:
            continue
        cont = line.rstrip().endswith("\\")
    return "\n".join(out) + "\n"


def slug(page: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", rel(page).lower()).strip("-")


class Failed(Exception):
    pass


class Page:
    def __init__(self, path: Path, python: str | None, keep: bool):
        self.path = path
        self.blocks = parse(path)
        self.python = python
        self.keep = keep
        self.manifest = ""  # the page's toml so far
        self.manifests: dict[str, int] = {}
        self.background: list[tuple[Block, subprocess.Popen, Path]] = []

    # -- running ---------------------------------------------------------
    def run(self) -> bool:
        self.dir = Path(tempfile.mkdtemp(prefix="wgauth-doctest-"))
        self.env = dict(os.environ, WGAUTH_REPO=str(REPO), WGAUTH_PAGE_DIR=str(self.dir), PYTHONUNBUFFERED="1")
        self.env.pop("CARGO_MANIFEST_DIR", None)
        if self.python is None:  # (the venv may only be built by a later block)
            self.env["PATH"] = f"{python_venv() / 'bin'}{os.pathsep}{self.env['PATH']}"
        ok = True
        try:
            for b in self.blocks:
                for name, value in b.env:
                    self.env[name] = expand(value, self.env)
                self.one(b)
                self.check_background()
        except Failed as failure:
            print(f"FAIL {failure}", flush=True)
            for b, _, log in self.background:
                print(f"     the output of background block {b.where} so far:\n{indent(tail(log.read_bytes(), 30))}")
            ok = False
        finally:
            ok = self.stop_background() and ok
            if self.keep:
                print(f"     (page directory kept: {self.dir})")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        return ok

    def source(self, b: Block) -> str:
        parts = b.parts or [b]
        text = ""
        for p in parts:
            t = p.text
            for old, new in p.replaces:
                t = t.replace(old, expand(new, self.env))
            text += t
        return text

    def one(self, b: Block) -> None:
        if b.lang in NOT_RUN:
            return
        if b.skip is not None:
            print(f"skip {b.where} ({b.lang}): {b.skip}", flush=True)
            return
        if b.lang == "toml":
            text = self.source(b)
            self.manifest = (self.manifest + text) if b.continues else text
            print(f"  ok {b.where} (toml: dependency lines for the page's rust blocks)", flush=True)
            return
        if b.file:
            target = self.dir / b.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.source(b))
            print(f"  ok {b.where} ({b.lang}: saved as {b.file})", flush=True)
            return
        if b.deferred:
            print(f"  .. {b.where} ({b.lang}: continued below, runs with its last part)", flush=True)
            return
        start = time.monotonic()
        cmd = self.command(b)
        if b.background:
            self.start_background(b, cmd)
            print(f"  ok {b.where} ({b.lang}: started in the background)", flush=True)
            return
        self.exec(b, cmd, f"{b.lang} block")
        print(f"  ok {b.where} ({b.lang}, {time.monotonic() - start:.1f} s)", flush=True)

    def command(self, b: Block) -> list[str]:
        """Writes the block where it runs from; returns the command line."""
        text = self.source(b)
        name = f".block-{b.line}"
        if b.lang in SHELL:
            if b.lang == "console":
                text = console_commands(text)
            script = self.dir / f"{name}.sh"
            script.write_text(text)
            return ["bash", "-euo", "pipefail", str(script)]
        if b.lang == "python":
            script = self.dir / f"{name}.py"
            script.write_text(text)
            return [self.python or str(ensure_python()), str(script)]
        if b.lang == "rust":
            return [str(self.build_rust(b, text))]
        raise AssertionError(b.lang)

    def build_rust(self, b: Block, text: str) -> Path:
        # One scratch crate per (page, manifest): kept under target/ so a
        # second run only rebuilds the block that changed.
        key = self.manifests.setdefault(self.manifest, len(self.manifests))
        crate = target_dir() / "doctest" / "crates" / f"{slug(self.path)}-{key}"
        bins = crate / "src" / "bin"
        bins.mkdir(parents=True, exist_ok=True)
        name = f"{slug(self.path)}-{b.line}"
        current = {f"{slug(self.path)}-{x.line}.rs" for x in self.blocks}
        for old in bins.glob("*.rs"):
            if old.name not in current:
                old.unlink()  # a block that moved or went
        manifest = self.manifest
        if not re.search(r"^\s*\[package\]", manifest, re.M):
            manifest = (
                f'[package]\nname = "doctest-{slug(self.path)}-{key}"\nversion = "0.0.0"\n'
                f'edition = "2024"\npublish = false\n\n' + manifest
            )
        if not re.search(r"^\s*\[workspace\]", manifest, re.M):
            manifest += "\n# Not a member of any workspace above it.\n[workspace]\n"
        write_if_changed(crate / "Cargo.toml", manifest)
        lock = crate / "Cargo.lock"
        if not lock.exists():
            shutil.copy(REPO / "Cargo.lock", lock)
        write_if_changed(bins / f"{name}.rs", text)
        env = dict(self.env, CARGO_TARGET_DIR=str(target_dir()))
        self.exec(
            b,
            ["cargo", "build", "--quiet", "--manifest-path", str(crate / "Cargo.toml"), "--bin", name],
            f"rust block: cargo build (scratch crate {rel(crate)})",
            env=env,
        )
        return target_dir() / "debug" / name

    def exec(self, b: Block, cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
        proc = subprocess.Popen(
            cmd,
            cwd=self.dir,
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole
        )
        try:
            out, _ = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            raise Failed(f"{b.where}: {what} ran over {TIMEOUT:.0f} s\n{tail(out or b'')}")
        if proc.returncode != 0:
            parts = ", ".join(p.where for p in b.parts) if b.parts else b.where
            raise Failed(f"{parts}: {what} exited with {proc.returncode}\n{tail(out)}")
        if VERBOSE and out.strip():
            print(indent(tail(out, 30)))

    def start_background(self, b: Block, cmd: list[str]) -> None:
        log = self.dir / f".block-{b.line}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.background.append((b, proc, log))
        # Ready once it has printed its first line (a server's "listening on"),
        # as a reader waits for it before going on.
        deadline = time.monotonic() + 60
        while log.stat().st_size == 0 and proc.poll() is None:
            if time.monotonic() > deadline:
                raise Failed(f"{b.where}: background {b.lang} block printed nothing in 60 s")
            time.sleep(0.05)

    def check_background(self) -> None:
        for b, proc, log in self.background:
            code = proc.poll()
            if code not in (None, 0):
                raise Failed(f"{b.where}: background {b.lang} block exited with {code}\n{tail(log.read_bytes())}")

    def stop_background(self) -> bool:
        ok = True
        for b, proc, log in self.background:
            code = proc.poll()
            if code is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            elif code != 0:
                print(f"FAIL {b.where}: background {b.lang} block exited with {code}\n{tail(log.read_bytes())}")
                ok = False
        self.background = []
        return ok


def indent(text: str) -> str:
    return "\n".join("       " + t for t in text.rstrip("\n").split("\n"))


def tail(output: bytes, n: int = 60) -> str:
    lines = output.decode("utf-8", "replace").rstrip("\n").split("\n")
    cut = ["... (%d lines above)" % (len(lines) - n)] if len(lines) > n else []
    return "\n".join(cut + lines[-n:])


def write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def target_dir() -> Path:
    t = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return t if t.is_absolute() else REPO / t


def python_venv() -> Path:
    return target_dir() / "python-venv"


def ensure_python() -> Path:
    py = python_venv() / "bin" / "python"
    has = py.exists() and subprocess.run([py, "-c", "import whatsgate_auth"], capture_output=True).returncode == 0
    if not has:
        # The venv is the Python part's: it builds and installs the wheel there.
        print("     no whatsgate_auth in the venv: running scripts/test-python to build it", flush=True)
        subprocess.run(["bash", str(REPO / "scripts" / "test-python")], check=True)
    return py


def pages() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*README*.md", "docs/*.md"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout.split()
    return sorted({REPO / p for p in out if (REPO / p).exists()})


def self_test() -> bool:
    """Positive controls: each fixture must pass, or fail for the stated reason."""
    fixtures = Path(__file__).resolve().parent / "fixtures"
    ok = True
    for fixture in sorted(fixtures.glob("*.md")):
        text = fixture.read_text()
        m = re.search(r"<!-- self-test: (pass|fail): (.*?) -->", text)
        if not m:
            print(f"FAIL {rel(fixture)}: no `<!-- self-test: pass|fail: MESSAGE -->` line")
            ok = False
            continue
        want, message = m.groups()
        proc = subprocess.run(
            [sys.executable, __file__, "--python", sys.executable, str(fixture)],
            capture_output=True, text=True,
        )
        out = proc.stdout + proc.stderr
        passed = proc.returncode == 0
        if (want == "pass") != passed or message not in out:
            print(f"FAIL self-test {rel(fixture)}: expected to {want} with `{message}`, got exit {proc.returncode}:\n{indent(out)}")
            ok = False
        else:
            print(f"  ok self-test {rel(fixture)}: {'passes' if passed else 'fails'} ({message})")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pages", nargs="*", type=Path)
    ap.add_argument("--self-test", action="store_true", help="run the runner's own fixtures")
    ap.add_argument("--python", help="the Python for python blocks (the self-test uses its own)")
    ap.add_argument("--keep", action="store_true", help="keep each page's directory")
    ap.add_argument("--verbose", action="store_true", help="show every block's output")
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    if args.self_test:
        return 0 if self_test() else 1
    todo = [p.resolve() for p in args.pages] or pages()
    # Refuse a page that breaks the convention before running anything.
    failed, loaded = [], []
    for path in todo:
        try:
            loaded.append(Page(path, args.python, args.keep))
        except PageError as e:
            print(f"FAIL {e}")
            failed.append(rel(path))
    if failed:
        print(f"doctest: refused {len(failed)} page(s): {', '.join(failed)}")
        return 1
    start = time.monotonic()
    for page in loaded:
        t = time.monotonic()
        print(f"==> {rel(page.path)}", flush=True)
        if not page.run():
            failed.append(rel(page.path))
        print(f"    {rel(page.path)}: {time.monotonic() - t:.1f} s", flush=True)
    total = time.monotonic() - start
    if failed:
        print(f"doctest: {len(failed)} of {len(loaded)} page(s) failed in {total:.0f} s: {', '.join(failed)}")
        return 1
    print(f"doctest: {len(loaded)} page(s) passed in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
