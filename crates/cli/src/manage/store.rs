//! The management API's one door to the store: every write names the
//! acting token in the audit trail and reaches this node's keyring before
//! it returns (the store's `SyncedKeyring` does both), and every call is
//! confined to the caller's account.

use std::sync::Arc;

use whatsgate_auth::{AccountId, NewToken, Timestamp, Token, TokenId, TokenRecord, TokenUpdate};
use whatsgate_auth_store::{AuditEntry, StoreError, SyncedKeyring};

use super::ApiError;

/// The store, as the handlers use it.
#[derive(Clone)]
pub(super) struct Manager {
    synced: Arc<SyncedKeyring>,
}

/// The audit trail's name for a management call: the acting token's id
/// (public; never its secret).
fn actor(id: TokenId) -> String {
    format!("token:{id}")
}

impl Manager {
    pub(super) fn new(synced: Arc<SyncedKeyring>) -> Self {
        Self { synced }
    }

    pub(super) fn list(&self, account: &AccountId) -> Result<Vec<TokenRecord>, StoreError> {
        self.synced.list(Some(account.as_str()))
    }

    /// The record of `id` when it is one of `account`'s tokens; otherwise
    /// the one 404 that an unknown id gets too.
    pub(super) fn own(&self, account: &AccountId, id: TokenId) -> Result<TokenRecord, ApiError> {
        self.synced
            .get(id)?
            .filter(|r| r.account == *account)
            .ok_or_else(ApiError::not_found)
    }

    pub(super) fn create(
        &self,
        by: TokenId,
        spec: NewToken,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), ApiError> {
        Ok(self.synced.acting_as(&actor(by)).create_from(spec, now)?)
    }

    pub(super) fn update(
        &self,
        account: &AccountId,
        by: TokenId,
        id: TokenId,
        change: TokenUpdate,
    ) -> Result<TokenRecord, ApiError> {
        // An account never changes, so the check holds for the write after it.
        self.own(account, id)?;
        Ok(self.synced.acting_as(&actor(by)).update(id, change)?)
    }

    pub(super) fn delete(
        &self,
        account: &AccountId,
        by: TokenId,
        id: TokenId,
    ) -> Result<TokenRecord, ApiError> {
        let record = self.own(account, id)?;
        self.synced.acting_as(&actor(by)).delete(id)?;
        Ok(record)
    }

    pub(super) fn regenerate(
        &self,
        account: &AccountId,
        by: TokenId,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<(Token, TokenRecord), ApiError> {
        self.own(account, id)?;
        Ok(self
            .synced
            .acting_as(&actor(by))
            .regenerate(id, now, grace_until)?)
    }

    pub(super) fn revoke_all(
        &self,
        account: &AccountId,
        by: TokenId,
    ) -> Result<Vec<TokenRecord>, ApiError> {
        Ok(self.synced.acting_as(&actor(by)).revoke_all(account)?)
    }

    pub(super) fn audit(
        &self,
        account: &AccountId,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.synced.audit(Some(account.as_str()), limit)
    }
}
