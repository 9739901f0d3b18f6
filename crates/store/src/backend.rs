//! What every backend provides, and the types of the change log.

use std::time::Duration;

use whatsgate_auth::{
    AccountId, NewToken, Timestamp, Token, TokenId, TokenName, TokenRecord, TokenUpdate,
};

use crate::{AuditEntry, AuditNote, StoreError};

/// One entry of the change log: which token changed, and where in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Position in the log: 1, 2, 3, … with no gap.
    pub seq: u64,
    /// The token whose row changed (created, deleted, regenerated, …).
    pub id: TokenId,
}

/// What a changed token's row holds at the time the change is read.
#[derive(Debug, Clone)]
pub enum RowState {
    /// A valid record: insert or replace it.
    Present(TokenRecord),
    /// No row: the token was deleted.
    Absent,
    /// A row that is not a valid record: refuse the token (remove it) and
    /// report why. Never blocks the rest of the log.
    Invalid(BadRow),
}

/// A row that failed validation: its id (as stored) and why. Never holds
/// a verifier or anything secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The id column as stored (may itself be the invalid part).
    pub id: String,
    /// What is wrong with the row.
    pub why: String,
}

/// Every valid record and the head of the change log, read at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The valid records.
    pub records: Vec<TokenRecord>,
    /// The rows that failed validation (not loaded: their tokens are refused).
    pub bad_rows: Vec<BadRow>,
    /// The `seq` of the latest change included (0 for none).
    pub head: u64,
}

/// Which tokens a bulk deletion takes, and the audit action it records.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Which<'a> {
    /// Every token of the account (`token.revoke_all`).
    Account(&'a AccountId),
    /// Every token expired at this instant (`token.prune`).
    ExpiredAt(Timestamp),
}

impl Which<'_> {
    pub(crate) fn action(self) -> &'static str {
        match self {
            Self::Account(_) => "token.revoke_all",
            Self::ExpiredAt(_) => "token.prune",
        }
    }
}

/// The operations each backend implements; [`crate::Store`] forwards to it
/// (after the lifetime policy's checks). Every write records one change and
/// one audit entry (naming `actor`) per token, in its transaction.
pub(crate) trait Backend: Send {
    /// `spec` already admitted by the policy.
    fn create(
        &mut self,
        spec: NewToken,
        now: Timestamp,
        actor: &str,
    ) -> Result<(Token, TokenRecord), StoreError>;
    fn update(
        &mut self,
        id: TokenId,
        update: TokenUpdate,
        actor: &str,
    ) -> Result<TokenRecord, StoreError>;
    /// Deletes every token `which` takes (rows that are not valid records
    /// too, when their id is one); returns the valid records deleted.
    fn delete_matching(
        &mut self,
        which: Which<'_>,
        actor: &str,
    ) -> Result<Vec<TokenRecord>, StoreError>;
    fn list(&mut self, account: Option<&str>) -> Result<Vec<TokenRecord>, StoreError>;
    fn get(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError>;
    fn find(
        &mut self,
        account: &AccountId,
        name: &TokenName,
    ) -> Result<Option<TokenRecord>, StoreError>;
    fn delete(&mut self, id: TokenId, actor: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// `grace_until` already checked by the policy.
    fn regenerate(
        &mut self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
        actor: &str,
    ) -> Result<(Token, TokenRecord), StoreError>;
    /// `ids` sorted and without duplicates.
    fn delete_where(
        &mut self,
        ids: &[TokenId],
        decide: &mut dyn FnMut(&TokenRecord) -> Option<AuditNote>,
    ) -> Result<Vec<TokenRecord>, StoreError>;
    fn append_audit(
        &mut self,
        note: &AuditNote,
        token: Option<(TokenId, &AccountId)>,
    ) -> Result<(), StoreError>;
    fn audit(&mut self, account: Option<&str>, limit: usize)
    -> Result<Vec<AuditEntry>, StoreError>;
    fn record_last_used(&mut self, uses: &[(TokenId, Timestamp)]) -> Result<(), StoreError>;
    fn snapshot(&mut self) -> Result<Snapshot, StoreError>;
    fn changes_since(
        &mut self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(Change, RowState)>, StoreError>;
    fn head(&mut self) -> Result<u64, StoreError>;
    /// See [`Store::compact_changes`](crate::Store::compact_changes).
    fn compact_changes(&mut self, before: Timestamp) -> Result<u64, StoreError>;
    fn wait_for_change(&mut self, timeout: Duration) -> Result<(), StoreError>;
}
