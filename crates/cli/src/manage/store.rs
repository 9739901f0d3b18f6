//! The management API's one door to the store: every call is confined to
//! the caller's account, every write names the acting token in the audit
//! trail and reaches this node's keyring before it returns (the store's
//! `SyncedKeyring` does both), and no call hands the caller more reach
//! than it has ([`Caller::may_grant`]).

use std::sync::Arc;

use whatsgate_auth::{AccountId, NewToken, Timestamp, Token, TokenId, TokenRecord, TokenUpdate};
use whatsgate_auth_store::{AuditEntry, StoreError, SyncedKeyring};

use super::{ApiError, Caller};

/// The audit trail's name for a management call: the acting token's id
/// (public; never its secret).
fn actor(caller: &Caller) -> String {
    format!("token:{}", caller.id)
}

/// The store, as the handlers use it.
#[derive(Clone)]
pub(super) struct Manager {
    synced: Arc<SyncedKeyring>,
}

impl Manager {
    pub(super) fn new(synced: Arc<SyncedKeyring>) -> Self {
        Self { synced }
    }

    pub(super) fn list(&self, account: &AccountId) -> Result<Vec<TokenRecord>, StoreError> {
        self.synced.list(Some(account.as_str()))
    }

    /// The record of `id` when it is one of the caller's account's tokens;
    /// otherwise the one 404 that an unknown id gets too. An account never
    /// changes, so the check holds for a write that follows it.
    pub(super) fn own(&self, caller: &Caller, id: TokenId) -> Result<TokenRecord, ApiError> {
        self.synced
            .get(id)?
            .filter(|r| r.account == caller.account)
            .ok_or_else(ApiError::not_found)
    }

    pub(super) fn create(
        &self,
        caller: &Caller,
        spec: NewToken,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), ApiError> {
        caller.may_grant(&spec.scopes)?;
        Ok(self
            .synced
            .acting_as(&actor(caller))
            .create_from(spec, now)?)
    }

    pub(super) fn update(
        &self,
        caller: &Caller,
        id: TokenId,
        change: TokenUpdate,
    ) -> Result<TokenRecord, ApiError> {
        self.own(caller, id)?;
        if let Some(scopes) = &change.scopes {
            caller.may_grant(scopes)?;
        }
        Ok(self.synced.acting_as(&actor(caller)).update(id, change)?)
    }

    pub(super) fn delete(&self, caller: &Caller, id: TokenId) -> Result<TokenRecord, ApiError> {
        let record = self.own(caller, id)?;
        self.synced.acting_as(&actor(caller)).delete(id)?;
        Ok(record)
    }

    /// The new secret goes to the caller, so the token may carry no more
    /// than the caller could grant.
    pub(super) fn regenerate(
        &self,
        caller: &Caller,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<(Token, TokenRecord), ApiError> {
        let record = self.own(caller, id)?;
        caller.may_grant(&record.scopes)?;
        Ok(self
            .synced
            .acting_as(&actor(caller))
            .regenerate(id, now, grace_until)?)
    }

    pub(super) fn revoke_all(&self, caller: &Caller) -> Result<Vec<TokenRecord>, ApiError> {
        Ok(self
            .synced
            .acting_as(&actor(caller))
            .revoke_all(&caller.account)?)
    }

    pub(super) fn audit(
        &self,
        account: &AccountId,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.synced.audit(Some(account.as_str()), limit)
    }
}
