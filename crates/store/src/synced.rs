//! A keyring attached to a store: verification from the follower's keyring,
//! writes through the store, each write visible on this host before the
//! call returns.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use whatsgate_auth::{
    AccountId, Keyring, LifetimePolicy, NewToken, Timestamp, Token, TokenId, TokenName,
    TokenRecord, TokenUpdate,
};

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

    /// Sets the lifetime policy of this host's writes (see
    /// [`Store::set_policy`]).
    pub fn set_policy(&self, policy: LifetimePolicy) {
        self.writer().set_policy(policy);
    }

    /// The lifetime policy of this host's writes.
    pub fn policy(&self) -> LifetimePolicy {
        *self.writer().policy()
    }

    /// Sets who the audit entries of this host's writes name by default
    /// (see [`Store::set_actor`]); [`SyncedKeyring::acting_as`] names
    /// another for some writes.
    pub fn set_actor(&self, actor: impl Into<String>) {
        self.writer().set_actor(actor);
    }

    /// The writes, with audit entries naming `actor` instead of the default
    /// (the management API passes `token:<acting token id>`). Each write
    /// takes the actor for itself only, so concurrent callers acting as
    /// different actors never mix them up.
    pub fn acting_as<'a>(&'a self, actor: &'a str) -> Acting<'a> {
        Acting {
            synced: self,
            actor: Some(actor),
        }
    }

    /// The writes with the default actor.
    fn acting(&self) -> Acting<'_> {
        Acting {
            synced: self,
            actor: None,
        }
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
        self.acting().create_from(NewToken::new(account, name), now)
    }

    /// Issues a token as `spec` describes it (see [`Store::create_from`]).
    ///
    /// # Errors
    /// As [`Store::create_from`].
    pub fn create_from(
        &self,
        spec: NewToken,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.acting().create_from(spec, now)
    }

    /// Changes a token's name, description, scopes or state (see
    /// [`Store::update`]); in effect on this host once this returns.
    ///
    /// # Errors
    /// As [`Store::update`].
    pub fn update(&self, id: TokenId, update: TokenUpdate) -> Result<TokenRecord, StoreError> {
        self.acting().update(id, update)
    }

    /// Deletes every token of an account (see [`Store::revoke_all`]); all
    /// refused on this host once this returns.
    ///
    /// # Errors
    /// As [`Store::revoke_all`].
    pub fn revoke_all(&self, account: &AccountId) -> Result<Vec<TokenRecord>, StoreError> {
        self.acting().revoke_all(account)
    }

    /// Deletes every token expired at `now` (see [`Store::prune`]).
    ///
    /// # Errors
    /// As [`Store::prune`].
    pub fn prune(&self, now: Timestamp) -> Result<Vec<TokenRecord>, StoreError> {
        self.acting().prune(now)
    }

    /// Deletes a token from the store; refused on this host once this
    /// returns (see [`Store::delete`]).
    ///
    /// # Errors
    /// As [`Store::delete`].
    pub fn delete(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        self.acting().delete(id)
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
        self.acting().regenerate(id, now, grace_until)
    }

    /// One record by id, from the store.
    ///
    /// # Errors
    /// As [`Store::get`].
    pub fn get(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        self.writer().get(id)
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

/// A [`SyncedKeyring`]'s writes under one actor ([`SyncedKeyring::acting_as`]):
/// each is in effect on this host once it returns.
#[derive(Debug, Clone, Copy)]
pub struct Acting<'a> {
    synced: &'a SyncedKeyring,
    /// `None`: the store's default actor.
    actor: Option<&'a str>,
}

impl Acting<'_> {
    /// Runs one write with the actor set for it alone (the writer's lock is
    /// held throughout), then applies its effect to this host's keyring.
    fn write<T>(
        &self,
        write: impl FnOnce(&mut Store, &Keyring) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut store = self.synced.writer();
        let saved = self
            .actor
            .map(|actor| std::mem::replace(&mut store.actor, actor.to_owned()));
        let result = self.synced.follower.write_through(&mut store, write);
        if let Some(saved) = saved {
            store.actor = saved;
        }
        result
    }

    /// As [`SyncedKeyring::create_from`].
    ///
    /// # Errors
    /// As [`Store::create_from`].
    pub fn create_from(
        &self,
        spec: NewToken,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.write(|store, keyring| {
            let (token, record) = store.create_from(spec, now)?;
            keyring.replace(record.clone());
            Ok((token, record))
        })
    }

    /// As [`SyncedKeyring::update`].
    ///
    /// # Errors
    /// As [`Store::update`].
    pub fn update(&self, id: TokenId, update: TokenUpdate) -> Result<TokenRecord, StoreError> {
        self.write(|store, keyring| {
            let record = store.update(id, update)?;
            // Committed: a disable or a narrower scope holds here at once.
            keyring.replace(record.clone());
            Ok(record)
        })
    }

    /// As [`SyncedKeyring::delete`].
    ///
    /// # Errors
    /// As [`Store::delete`].
    pub fn delete(&self, id: TokenId) -> Result<Option<TokenRecord>, StoreError> {
        self.write(|store, keyring| {
            let deleted = store.delete(id)?;
            // Committed: refuse it here whatever happens next.
            keyring.discard(id);
            Ok(deleted)
        })
    }

    /// As [`SyncedKeyring::regenerate`].
    ///
    /// # Errors
    /// As [`Store::regenerate`].
    pub fn regenerate(
        &self,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<(Token, TokenRecord), StoreError> {
        self.write(|store, keyring| {
            let (token, record) = store.regenerate(id, now, grace_until)?;
            keyring.replace(record.clone());
            Ok((token, record))
        })
    }

    /// As [`SyncedKeyring::revoke_all`].
    ///
    /// # Errors
    /// As [`Store::revoke_all`].
    pub fn revoke_all(&self, account: &AccountId) -> Result<Vec<TokenRecord>, StoreError> {
        self.write(|store, keyring| {
            let deleted = store.revoke_all(account)?;
            for record in &deleted {
                keyring.discard(record.id);
            }
            Ok(deleted)
        })
    }

    /// As [`SyncedKeyring::prune`].
    ///
    /// # Errors
    /// As [`Store::prune`].
    pub fn prune(&self, now: Timestamp) -> Result<Vec<TokenRecord>, StoreError> {
        self.write(|store, keyring| {
            let deleted = store.prune(now)?;
            for record in &deleted {
                keyring.discard(record.id);
            }
            Ok(deleted)
        })
    }
}
