//! What the first `wgauth` release wrote, frozen: the upgrade tests build a
//! store exactly as it did and check that nothing is lost. Never derived
//! from the current code, which is what these tests check.

/// The first release's SQLite schema, verbatim (version 1).
pub const SQLITE_SCHEMA_V1: &str = "
CREATE TABLE tokens (
    id                TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    account           TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    verifier          BLOB    NOT NULL CHECK (length(verifier) = 32),
    created_at        INTEGER NOT NULL,
    last_used_at      INTEGER,
    rollover_verifier BLOB    CHECK (rollover_verifier IS NULL OR length(rollover_verifier) = 32),
    rollover_until    INTEGER,
    CHECK ((rollover_verifier IS NULL) = (rollover_until IS NULL)),
    UNIQUE (account, name)
) STRICT;
";

/// The first release's `PRAGMA application_id` ("WGAT").
pub const SQLITE_APPLICATION_ID: i32 = 0x5747_4154;

/// The first release's INSERT of one token row.
pub const SQLITE_INSERT: &str = "INSERT INTO tokens (id, account, name, verifier, created_at, \
     last_used_at, rollover_verifier, rollover_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
