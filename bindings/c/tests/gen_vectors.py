#!/usr/bin/env python3
"""Turns the shared JSON vectors into a C header for test_vectors.c.

Usage: gen_vectors.py TOKEN_VECTORS_JSON HEADER_CASES_JSON OUT_H

The output is generated at test time (scripts/test-c) and never committed,
so the C tests always read the same testdata/ as the Rust and Python ones.
Byte strings become uint8_t arrays (not string literals: values hold NUL and
64 KiB, past the length ISO C guarantees for a literal).
"""

import json
import sys


def c_string(text):
    """A C string literal for short text (escaped, UTF-8 bytes)."""
    out = []
    for b in text.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F and ch != "?":
            out.append(ch)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def c_opt_string(text):
    return "NULL" if text is None else c_string(text)


class Emitter:
    def __init__(self):
        self.lines = []
        self.n = 0

    def bytes_array(self, data):
        """Emits a static byte array; returns its name."""
        self.n += 1
        name = "bytes_%d" % self.n
        items = ["0x%02x" % b for b in data] or ["0"]
        # 16 bytes a line, so the file stays readable by tools.
        chunks = [",".join(items[i : i + 16]) for i in range(0, len(items), 16)]
        self.lines.append(
            "static const uint8_t %s[] = {\n  %s\n};" % (name, ",\n  ".join(chunks))
        )
        return name


def main():
    token_path, cases_path, out_path = sys.argv[1:4]
    with open(token_path, encoding="utf-8") as f:
        tv = json.load(f)
    with open(cases_path, encoding="utf-8") as f:
        hc = json.load(f)

    e = Emitter()
    valid_rows = []
    for v in tv["valid"]:
        tok = v["token"].encode("utf-8")
        arr = e.bytes_array(tok)
        verifier = bytes.fromhex(v["verifier"])
        assert len(verifier) == 32 and len(v["id"]) == 16
        valid_rows.append(
            "  {%s, %d, %s, {%s}},"
            % (arr, len(tok), c_string(v["id"]), ",".join("0x%02x" % b for b in verifier))
        )
    invalid_rows = []
    for v in tv["invalid"]:
        tok = v["token"].encode("utf-8")
        arr = e.bytes_array(tok)
        invalid_rows.append("  {%s, %d, %s}," % (arr, len(tok), c_string(v["why"])))

    record_rows = []
    for r in hc["records"]:
        assert r["format"] in (1, 2)
        ro = r.get("rollover")
        # Format 2's fields (absent: the defaults). Scopes travel as the C
        # API carries them: one space-separated string, NULL for full access.
        scopes = r.get("scopes")
        record_rows.append(
            "  {%s, %s, %s, {%s}, %dULL, %d, %dULL, %d, {%s}, %dULL, %s, %d, %dULL, %d, %s},"
            % (
                c_string(r["id"]),
                c_string(r["account"]),
                c_string(r["name"]),
                ",".join("0x%02x" % b for b in bytes.fromhex(r["verifier"])),
                r["created_at"],
                1 if r["last_used_at"] is not None else 0,
                r["last_used_at"] or 0,
                1 if ro else 0,
                ",".join("0x%02x" % b for b in bytes.fromhex(ro["verifier"] if ro else "00" * 32)),
                ro["until"] if ro else 0,
                c_opt_string(None if scopes is None else " ".join(scopes)),
                1 if r.get("expires_at") is not None else 0,
                r.get("expires_at") or 0,
                1 if r.get("disabled") else 0,
                c_opt_string(r.get("description")),
            )
        )

    case_rows = []
    header_tables = []
    for i, c in enumerate(hc["cases"]):
        hrows = []
        for name, value_hex in c["headers"]:
            value = bytes.fromhex(value_hex)
            narr = e.bytes_array(name.encode("utf-8"))
            varr = e.bytes_array(value)
            hrows.append("  {%s, %d, %s, %d}," % (narr, len(name.encode("utf-8")), varr, len(value)))
        table = "case_headers_%d" % i
        if hrows:
            header_tables.append(
                "static const struct hc_header %s[] = {\n%s\n};" % (table, "\n".join(hrows))
            )
        else:
            table = "NULL"
        p = c.get("principal") or {}
        case_rows.append(
            "  {%s, %d, %s, %d, %s, %d, %s, %s, %s, %s, %s, %s, %s},"
            % (
                c_string(c["name"]),
                1 if c["profile"] == "mcp" else 0,
                table,
                len(c["headers"]),
                c_string(c["expect"]),
                c["status"],
                c_opt_string(c["body"]),
                c_opt_string(c["www_authenticate"]),
                c_opt_string(p.get("account")),
                c_opt_string(p.get("token_id")),
                c_opt_string(p.get("token_name")),
                c_opt_string(None if "scopes" not in p else " ".join(p["scopes"])),
                c_opt_string(c.get("required_scope")),
            )
        )

    out = [
        "/* Generated by bindings/c/tests/gen_vectors.py from testdata/; do not edit. */",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        "struct tv_valid { const uint8_t *token; size_t token_len; const char *id; uint8_t verifier[32]; };",
        "struct tv_invalid { const uint8_t *token; size_t token_len; const char *why; };",
        "struct hc_record { const char *id; const char *account; const char *name; uint8_t verifier[32];",
        "  uint64_t created_at; int has_last_used_at; uint64_t last_used_at;",
        "  int has_rollover; uint8_t rollover_verifier[32]; uint64_t rollover_until;",
        "  const char *scopes; int has_expires_at; uint64_t expires_at; int disabled;",
        "  const char *description; };",
        "struct hc_header { const uint8_t *name; size_t name_len; const uint8_t *value; size_t value_len; };",
        "struct hc_case { const char *name; int mcp; const struct hc_header *headers; size_t header_count;",
        "  const char *expect; int status; const char *body; const char *www_authenticate;",
        "  const char *account; const char *token_id; const char *token_name;",
        "  const char *scopes; const char *required_scope; };",
        "",
        *e.lines,
        "",
        "static const struct tv_valid TV_VALID[] = {\n%s\n};" % "\n".join(valid_rows),
        "static const struct tv_invalid TV_INVALID[] = {\n%s\n};" % "\n".join(invalid_rows),
        "#define TV_VALID_COUNT (sizeof TV_VALID / sizeof TV_VALID[0])",
        "#define TV_INVALID_COUNT (sizeof TV_INVALID / sizeof TV_INVALID[0])",
        "",
        "#define HC_NOW %dULL" % hc["now"],
        "static const struct hc_record HC_RECORDS[] = {\n%s\n};" % "\n".join(record_rows),
        "#define HC_RECORD_COUNT (sizeof HC_RECORDS / sizeof HC_RECORDS[0])",
        *header_tables,
        "static const struct hc_case HC_CASES[] = {\n%s\n};" % "\n".join(case_rows),
        "#define HC_CASE_COUNT (sizeof HC_CASES / sizeof HC_CASES[0])",
        "",
    ]
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
