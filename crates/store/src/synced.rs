//! A keyring attached to a store: verification from the follower's keyring,
//! writes through the store, each write visible on this host before the
//! call returns.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use whatsgate_auth::{AccountId, Keyring, Timestamp, Token, TokenId, TokenName, TokenRecord};

use crate::{
    AuditEntry, AuditNote, FollowOptions, Follower, FollowerStats, OpenMode, Store, StoreError,
};

/// What every host holds to attach to a store: a [`Keyring`] a
/// [`Follower`] keeps current (and unavailable when it cannot be sure), and
/// the lifecycle writes, which go to the store.
///
/// Once [`delete`](Self::delete) or [`regenerate`](Self::regenerate)
/// returns, this host refuses the old secret, even if reading the change
/// log back fails; every other host follows within its wake-up latency.
pub struct SyncedKeyring {
    follower: Follower,
    writer: Mutex<Store>,
    /// Last uses a failed flush could not write, retried by the next one.
    unflushed: Mutex<Vec<(TokenId, Timestamp)>>,
}

impl std::fmt::Debug for SyncedKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncedKeyring")
            .field("follower", &self.follower)
            .finish_non_exhaustive()
    }
}

/// Writes the last uses not yet flushed (best effort: a store that cannot
/// be reached loses them), then stops the follower.
impl Drop for SyncedKeyring {
    fn drop(&mut self) {
        if let Err(e) = self.flush_last_used() {
            log::warn!("token store: last use not saved at shutdown: {e}");
        }
    }
}

impl SyncedKeyring {
    /// Opens the store at `url` (creating an empty one with
    /// [`OpenMode::CreateIfMissing`]) and starts following it.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be opened or read.
    pub fn open(url: &str, mode: OpenMode, options: FollowOptions) -> Result<Self, StoreError> {
        let writer = Store::open_with_timeout(url, mode, options.timeout)?;
        let follower = Follower::start(url, options)?;
        Ok(Self {
            follower,
            writer: Mutex::new(writer),
            unflushed: Mutex::new(Vec::new()),
        })
    }

    /// The keyring to verify with (hand it to the tower layer, the C or
    /// Python binding, …).
    pub fn keyring(&self) -> &Arc<Keyring> {
        self.follower.keyring()
    }

    /// The follower, for its stats and options.
    pub fn follower(&self) -> &Follower {
        &self.follower
    }

    /// The follower's counters and state.
    pub fn stats(&self) -> FollowerStats {
        self.follower.stats()
    }

    fn writer(&self) -> MutexGuard<'_, Store> {
        // A panic while writing leaves the connection usable: each write is
        // one transaction, rolled back if it did not commit.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues a token in the store; returns the plaintext token (show it
    /// once) and its record.
    ///
    /// # Errors
    /// As [`Store::create`].
    pub fn create(
        &self,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.follower
            .write_through(&mut self.writer(), |store, keyring| {
                let (token, record) = store.create(account, name, now)?;
                keyring.replace(record.clone());
                Ok((token, record))
            })
    }

    /// Deletes a token from the store; refused on this host once this
    /// returns (see [`Store::delete`]).
    ///
    /// # Errors
    /// As [`Store::delete`].
    pub fn delete(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        self.follower
            .write_through(&mut self.writer(), |store, keyring| {
                let deleted = store.delete(id)?;
                // Committed: refuse it here whatever happens next.
                keyring.discard(id);
                Ok(deleted)
            })
    }

    /// Deletes, in one transaction, each of `ids` that `decide` answers
    /// with an audit note for (see [`Store::delete_where`]); every deleted
    /// token is refused on this host once this returns.
    ///
    /// # Errors
    /// As [`Store::delete_where`].
    pub fn delete_where(
        &self,
        ids: &[TokenId],
        decide: &mut dyn FnMut(&TokenRecord) -> Option<AuditNote>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.follower
            .write_through(&mut self.writer(), |store, keyring| {
                let deleted = store.delete_where(ids, decide)?;
                for record in &deleted {
                    keyring.discard(record.id);
                }
                Ok(deleted)
            })
    }

    /// The latest audit entries, newest first (see [`Store::audit`]).
    ///
    /// # Errors
    /// As [`Store::audit`].
    pub fn audit(
        &self,
        account: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.writer().audit(account, limit)
    }

    /// Regenerates a token's secret in the store (see
    /// [`Store::regenerate`]); the old secret is refused on this host once
    /// this returns, unless a grace period was asked for.
    ///
    /// # Errors
    /// As [`Store::regenerate`].
    pub fn regenerate(
        &self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.follower
            .write_through(&mut self.writer(), |store, keyring| {
                let (token, record) = store.regenerate(id, now, grace_until)?;
                keyring.replace(record.clone());
                Ok((token, record))
            })
    }

    /// Every record in the store, or those of one account.
    ///
    /// # Errors
    /// As [`Store::list`].
    pub fn list(&self, account: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        self.writer().list(account)
    }

    /// One record by account and name, from the store.
    ///
    /// # Errors
    /// As [`Store::find`].
    pub fn find(
        &self,
        account: &AccountId,
        name: &TokenName,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.writer().find(account, name)
    }

    /// Writes the last-used instants this host saw since the previous call
    /// to the store, in one transaction.
    ///
    /// # Errors
    /// As [`Store::record_last_used`]; the instants are then kept for the
    /// next call.
    pub fn flush_last_used(&self) -> Result<(), StoreError> {
        let mut unflushed = self
            .unflushed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        unflushed.extend(self.keyring().take_last_used());
        self.writer().record_last_used(&unflushed)?;
        unflushed.clear();
        Ok(())
    }
}
