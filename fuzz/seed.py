#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/
from the shared vectors (testdata/token-vectors.json, testdata/header-cases.json).

The corpus directory is not committed: it is regenerated before each run, and
whatever the fuzzer adds to it stays there between runs on one machine.
"""
import hashlib
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
# Seeds larger than this would raise libFuzzer's -max_len for every input and
# slow every run; the 4097-byte cases already cross MAX_VALUE_LEN.
MAX_SEED = 8192


def write(target: str, data: bytes) -> None:
    if len(data) > MAX_SEED:
        return
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("seed-" + hashlib.sha1(data).hexdigest())).write_bytes(data)


def header_input(profile: str, headers: list) -> bytes:
    """The encoding of HeaderInput::decode in fuzz/src/lib.rs."""
    out = bytearray([1 if profile == "mcp" else 0])
    for name, value_hex in headers:
        name_b = name.encode()
        value = bytes.fromhex(value_hex)
        if len(name_b) > 255 or len(value) > 0xFFFF:
            return b""
        out += bytes([len(name_b)]) + name_b + struct.pack("<H", len(value)) + value
    return bytes(out)


def main() -> None:
    vectors = json.loads((ROOT / "testdata" / "token-vectors.json").read_text())
    count = 0
    for case in vectors["valid"] + vectors["invalid"]:
        token = case["token"].encode()
        write("parse", token)
        count += 1
    cases = json.loads((ROOT / "testdata" / "header-cases.json").read_text())
    for case in cases["cases"]:
        data = header_input(case["profile"], case["headers"])
        if data:
            write("headers", data)
            write("c_api", data)
            count += 1
        for _, value_hex in case["headers"]:
            write("parse", bytes.fromhex(value_hex))
    print(f"seed.py: {count} seeds from testdata/ into {CORPUS.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
