//! What every backend provides, and the types of the change log.

use std::time::Duration;

use whatsgate_auth::{AccountId, Timestamp, Token, TokenId, TokenName, TokenRecord};

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

/// The operations each backend implements; [`crate::Store`] forwards to it.
pub(crate) trait Backend: Send {
    fn create(
        &mut self,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), StoreError>;
    fn list(&mut self, account: Option<&str>) -> Result<Vec<TokenRecord>, StoreError>;
    fn get(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError>;
    fn find(
        &mut self,
        account: &AccountId,
        name: &TokenName,
    ) -> Result<Option<TokenRecord>, StoreError>;
    fn delete(&mut self, id: TokenId) -> Result<Option<TokenRecord>, StoreError>;
    fn regenerate(
        &mut self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
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
    fn wait_for_change(&mut self, timeout: Duration) -> Result<(), StoreError>;
}
