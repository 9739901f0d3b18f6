//! The in-process keyring: token id → record, verified concurrently.

#[cfg(not(feature = "std"))]
mod btree;
mod entry;
mod index;
mod principal;
mod store;
#[cfg(feature = "std")]
mod table;

use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use rand_core::TryCryptoRng;

use crate::ct;
use crate::http::{Failure, Profile, Rejection};
use crate::record::{
    AccountId, LifetimePolicy, NewToken, PolicyError, TokenName, TokenRecord, TokenUpdate,
};
use crate::time::Timestamp;
use crate::token::{InvalidToken, RngError, Token, TokenFormat, TokenId};
#[cfg(not(feature = "std"))]
use btree::Map;
use entry::{Content, View};
use index::{AccountName, Accounts, Batch, Names};
pub use principal::{Principal, PrincipalRef};
use store::{LastUsed, Mutex, NameHasher};
#[cfg(feature = "std")]
use table::Table as Map;

/// A lifecycle operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringError {
    /// No token has this id (it may have been deleted).
    UnknownToken(TokenId),
    /// A token with this id is already in the keyring.
    DuplicateId(TokenId),
    /// The account already has a token with this name.
    DuplicateName {
        /// The account.
        account: AccountId,
        /// The name that is taken.
        name: TokenName,
    },
    /// The random number generator failed; nothing was changed.
    Rng(RngError),
    /// The keyring's lifetime policy refused an expiry or a grace period.
    Policy(PolicyError),
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownToken(id) => write!(f, "no token has id {id}"),
            Self::DuplicateId(id) => write!(f, "a token with id {id} already exists"),
            Self::DuplicateName { account, name } => write!(
                f,
                "account {account:?} already has a token named {name:?}; pick another name or delete that token"
            ),
            Self::Rng(e) => fmt::Display::fmt(e, f),
            Self::Policy(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for KeyringError {}

impl From<RngError> for KeyringError {
    fn from(e: RngError) -> Self {
        Self::Rng(e)
    }
}

impl From<PolicyError> for KeyringError {
    fn from(e: PolicyError) -> Self {
        Self::Policy(e)
    }
}

/// What writers keep beside the map, behind the writers' lock.
#[derive(Default)]
struct Writer {
    names: Names,
    accounts: Accounts,
}

/// Token records in memory, verified by many threads at once.
///
/// - **Readers never wait**: with `std`, verification takes no lock and
///   never waits for a writer (the index's slot protocol; see
///   docs/BENCHMARKS.md, "The verification index"). It writes nothing other
///   readers write (its own thread's reclamation slot aside) but a token's
///   last-used second, at most once a second; [`Keyring::verify`] returns a
///   copy of the account and name, not a shared reference. Writers are
///   serialised among themselves only. Without `std`, a `spin` lock.
/// - **One memory access**: with `std`, a token's id, verifier and account
///   sit in one cache line, fetched while the token is hashed.
/// - **Revocation is immediate**: once [`Keyring::delete`] or
///   [`Keyring::regenerate`] returns, no verification that starts afterwards
///   accepts the old secret (unless a grace period was asked for).
/// - **Last use is batched**: verification records it in memory;
///   [`Keyring::take_last_used`] hands the changes to the host to store.
/// - **Loading in bulk**: [`Keyring::from_records`] builds a keyring from
///   stored records, [`Keyring::sync`] and [`Keyring::replace_all`] make one
///   hold a new set (a follower's snapshot), several times faster than a
///   call per record; each account's string is kept once.
///
/// ```
/// use whatsgate_auth::{AccountId, Keyring, OsRng, Profile, Timestamp, TokenName};
///
/// let keyring = Keyring::new();
/// let now = Timestamp::now();
/// let account = AccountId::new("acct_42")?;
/// let (token, record) = keyring.create(&mut OsRng, account, TokenName::new("Production API")?, now)?;
///
/// let principal = keyring.verify(token.expose_secret().as_bytes(), now)?;
/// assert_eq!(principal.account(), "acct_42");
/// assert_eq!(principal.token_name(), "Production API");
///
/// keyring.delete(record.id)?;
/// assert!(keyring.verify(token.expose_secret().as_bytes(), now).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Keyring {
    format: TokenFormat,
    entries: Map,
    /// Held by every writer, so writers are serialised (readers never take it).
    writer: Mutex<Writer>,
    hasher: NameHasher,
    touched: Mutex<Vec<TokenId>>,
    /// Cleared by a follower that cannot confirm it is current: every
    /// verification is then refused (fail closed).
    available: AtomicBool,
    policy: LifetimePolicy,
}

impl Default for Keyring {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("format", &self.format)
            .field("tokens", &self.len())
            .finish()
    }
}

impl Keyring {
    /// An empty keyring for tokens in the default format (`wgat_`).
    pub fn new() -> Self {
        Self::with_format(TokenFormat::DEFAULT)
    }

    /// An empty keyring for tokens in `format`.
    pub fn with_format(format: TokenFormat) -> Self {
        let hasher = NameHasher::new();
        Self {
            format,
            entries: Map::new(hasher.map_key()),
            writer: Mutex::new(Writer {
                names: Names::default(),
                accounts: Accounts::default(),
            }),
            hasher,
            touched: Mutex::new(Vec::new()),
            available: AtomicBool::new(true),
            policy: LifetimePolicy::DEFAULT,
        }
    }

    /// The same keyring, applying `policy` to the tokens it creates and
    /// regenerates from now on (the default: no maximum lifetime, grace
    /// periods up to 30 days). Records added or loaded are kept as they are.
    #[must_use]
    pub fn with_policy(mut self, policy: LifetimePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The lifetime policy it applies.
    pub const fn policy(&self) -> &LifetimePolicy {
        &self.policy
    }

    /// Marks the keyring current (`true`, the default) or not. A follower
    /// of a token store clears it when it cannot confirm, within its bound,
    /// that the keyring holds every change; while cleared, every presented
    /// token is refused: [`Keyring::authenticate`] answers
    /// [`Failure::Unavailable`](crate::Failure::Unavailable) (503),
    /// [`Keyring::verify`] answers [`InvalidToken`]. Lifecycle calls still work.
    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::Release);
    }

    /// Whether the keyring is current (see [`Keyring::set_available`]).
    #[inline]
    pub fn is_available(&self) -> bool {
        self.available.load(Ordering::Acquire)
    }

    /// The token format this keyring issues and accepts.
    pub const fn format(&self) -> &TokenFormat {
        &self.format
    }

    /// How many tokens it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Verifies a presented token (the bare token, not a header value).
    ///
    /// Parse → checksum → recompute the verifier → look up by id → compare
    /// in constant time (the hash is computed before the lookup so the two
    /// overlap). On success, records the use (in memory).
    ///
    /// # Errors
    /// [`InvalidToken`], the same for every reason.
    pub fn verify(&self, token: &[u8], now: Timestamp) -> Result<Principal, InvalidToken> {
        self.verify_with(token, now, |principal| principal.to_principal())
    }

    /// Like [`Keyring::verify`], but lends the principal to `f` instead of
    /// returning an owned one: no copy of the account and name (for
    /// bindings that copy them out their own way).
    ///
    /// # Errors
    /// [`InvalidToken`], the same for every reason; `f` is not called then.
    pub fn verify_with<R>(
        &self,
        token: &[u8],
        now: Timestamp,
        f: impl FnOnce(PrincipalRef<'_>) -> R,
    ) -> Result<R, InvalidToken> {
        if !self.is_available() {
            return Err(InvalidToken);
        }
        self.verify_current(token, now, f)
    }

    /// [`Keyring::verify_with`] once availability is known.
    #[inline]
    fn verify_current<R>(
        &self,
        token: &[u8],
        now: Timestamp,
        f: impl FnOnce(PrincipalRef<'_>) -> R,
    ) -> Result<R, InvalidToken> {
        // The id's slot is prefetched before the hash runs: the two are
        // independent, so the memory access overlaps the SHA-256 rounds, and
        // an unknown id costs the same hash as a known one.
        self.format
            .with_verifier_prepared(
                token,
                |id| self.entries.pin(id),
                |pinned, id, presented| {
                    let (hit, last_used) = Map::verify_pinned(&pinned, presented, now)?;
                    ct::reveal(hit.accepted).then(|| {
                        self.note_use(id, last_used, now);
                        #[cfg(feature = "std")]
                        let inline = hit.name.decode();
                        #[cfg(feature = "std")]
                        let name = inline
                            .as_ref()
                            .map_or_else(|| hit.name.long(), entry::InlineName::as_str);
                        #[cfg(not(feature = "std"))]
                        let name = hit.name.long();
                        f(PrincipalRef {
                            token_id: id,
                            account: hit.account,
                            name,
                            scopes: hit.scopes,
                            #[cfg(feature = "std")]
                            inline_name: inline.as_ref(),
                        })
                    })
                },
            )?
            .ok_or(InvalidToken)
    }

    /// Authenticates a request: finds the token in all values of the
    /// profile's header (see [`Profile::extract`]) and verifies it.
    ///
    /// # Errors
    /// The [`Rejection`] to answer with: its status, body and challenge.
    #[inline]
    pub fn authenticate<'a, I>(
        &self,
        profile: Profile,
        header_values: I,
        now: Timestamp,
    ) -> Result<Principal, Rejection>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let token = self.presented(profile, header_values)?;
        // Through `verify`, compiled on its own: with the verification
        // inlined into the header parsing, the whole measured 15-20 ns
        // slower (docs/BENCHMARKS.md, History, fifth session). Small enough
        // to inline into the caller (the tower layer measured it).
        self.verify(token, now).map_err(|InvalidToken| {
            // A keyring cleared during the call answers 503, as before it.
            profile.reject(if self.is_available() {
                Failure::Invalid
            } else {
                Failure::Unavailable
            })
        })
    }

    /// Like [`Keyring::authenticate`], lending the principal to `f` (see
    /// [`Keyring::verify_with`]).
    ///
    /// # Errors
    /// The [`Rejection`] to answer with; `f` is not called then.
    pub fn authenticate_with<'a, I, R>(
        &self,
        profile: Profile,
        header_values: I,
        now: Timestamp,
        f: impl FnOnce(PrincipalRef<'_>) -> R,
    ) -> Result<R, Rejection>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let token = self.presented(profile, header_values)?;
        self.authenticate_token(profile, token, now, f)
    }

    /// The verification of [`Keyring::authenticate_with`], compiled on its
    /// own: inlined with the header parsing, the whole measured 14 ns slower
    /// (docs/BENCHMARKS.md, History, fifth session). It answers the final
    /// result, so the caller's result is written once, not copied.
    #[inline(never)]
    fn authenticate_token<R>(
        &self,
        profile: Profile,
        token: &[u8],
        now: Timestamp,
        f: impl FnOnce(PrincipalRef<'_>) -> R,
    ) -> Result<R, Rejection> {
        self.verify_current(token, now, f)
            .map_err(|InvalidToken| profile.reject(Failure::Invalid))
    }

    /// The token in the profile's header, once the keyring is known to be
    /// current.
    fn presented<'a, I>(&self, profile: Profile, header_values: I) -> Result<&'a [u8], Rejection>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let token = profile
            .extract(header_values)
            .map_err(|failure| profile.reject(failure))?;
        // No token needs no store; any token does.
        if !self.is_available() {
            return Err(profile.reject(Failure::Unavailable));
        }
        Ok(token)
    }

    fn note_use(&self, id: TokenId, last_used: &LastUsed, now: Timestamp) {
        // At most once a second per token; the list is kept within twice
        // the tokens held, however long the host waits to take it.
        if last_used.advance(now) {
            let mut touched = self.touched.lock();
            touched.push(id);
            if touched.len() > 2 * self.len() + 64 {
                touched.sort_unstable();
                touched.dedup();
            }
        }
    }

    /// Hands over the last-used instants that changed since the previous
    /// call, for the host to store in one batch.
    pub fn take_last_used(&self) -> Vec<(TokenId, Timestamp)> {
        let mut ids = core::mem::take(&mut *self.touched.lock());
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| Some((id, self.entries.last_used(id)?)))
            .collect()
    }

    /// Adds a stored record (loading a keyring from a database; for many
    /// at once, [`Keyring::from_records`] and [`Keyring::sync`] are faster).
    ///
    /// # Errors
    /// [`KeyringError::DuplicateId`] or [`KeyringError::DuplicateName`].
    pub fn add(&self, record: TokenRecord) -> Result<(), KeyringError> {
        let mut writer = self.writer.lock();
        let hash = self.check_free(&writer, &record)?;
        self.add_entry(&mut writer, record, hash);
        Ok(())
    }

    /// The old name of [`Keyring::add`].
    ///
    /// # Errors
    /// As [`Keyring::add`].
    #[deprecated(since = "0.1.0", note = "renamed `add`, as in C, Python and the CLI")]
    pub fn insert(&self, record: TokenRecord) -> Result<(), KeyringError> {
        self.add(record)
    }

    fn name_hash(&self, account: &str, name: &str) -> u64 {
        self.hasher.hash(account, name)
    }

    /// The name hash of a token held.
    fn stored_name_hash(&self, id: TokenId) -> u64 {
        self.entries
            .with(id, |view, _| {
                self.name_hash(view.account, view.name.as_str())
            })
            .unwrap_or(0)
    }

    /// The token that holds `account` and `name`, if one does.
    fn holder(&self, writer: &Writer, hash: u64, account: &str, name: &str) -> Option<TokenId> {
        writer
            .names
            .candidates(hash)
            .find(|id| self.entries.with(*id, |view, _| view.holds(account, name)) == Some(true))
    }

    /// Refuses a record whose id or name is taken; returns its name's hash.
    fn check_free(&self, writer: &Writer, record: &TokenRecord) -> Result<u64, KeyringError> {
        if self.entries.with(record.id, |_, _| ()).is_some() {
            return Err(KeyringError::DuplicateId(record.id));
        }
        let (account, name) = (record.account.as_str(), record.name.as_str());
        let hash = self.name_hash(account, name);
        if self.holder(writer, hash, account, name).is_some() {
            return Err(KeyringError::DuplicateName {
                account: record.account.clone(),
                name: record.name.clone(),
            });
        }
        Ok(hash)
    }

    /// Puts `record` in the map and the index, under `hash` (its name's).
    fn add_entry(&self, writer: &mut Writer, mut record: TokenRecord, hash: u64) {
        let account = writer
            .accounts
            .intern(&self.hasher, record.account.as_str());
        writer
            .names
            .add(hash, record.id, |id| self.stored_name_hash(id));
        let (id, content, last_used) = Content::take(&mut record, account);
        self.entries.put(id, content, last_used);
    }

    /// Inserts a record, replacing the one with its id and evicting any
    /// other that holds its account and name; returns the evicted ids.
    ///
    /// This is how a follower applies a store's changes: the store's own
    /// constraints hold at every read, so a record evicted here was renamed
    /// or deleted in the store by the time of that read, and its own change
    /// follows. A last-used instant kept in memory is not moved back.
    pub fn replace(&self, record: TokenRecord) -> Vec<TokenId> {
        let mut writer = self.writer.lock();
        let hash = self.name_hash(record.account.as_str(), record.name.as_str());
        let mut evicted = Vec::new();
        if let Some(holder) =
            self.holder(&writer, hash, record.account.as_str(), record.name.as_str())
            && holder != record.id
        {
            self.entries.remove(holder);
            writer.names.remove(hash, holder);
            evicted.push(holder);
        }
        let id = record.id;
        let old_hash = self.entries.with(id, |view, _| {
            self.name_hash(view.account, view.name.as_str())
        });
        if let Some(old_hash) = old_hash
            && old_hash != hash
        {
            writer.names.remove(old_hash, id);
        }
        // The map keeps the later of the two last uses.
        self.add_entry(&mut writer, record, hash);
        evicted
    }

    /// Removes a token if it is there (see [`Keyring::delete`]): for
    /// followers applying a deletion that may already have been applied.
    pub fn discard(&self, id: TokenId) -> Option<TokenRecord> {
        self.delete(id).ok()
    }

    /// Creates a new token for an account and adds its record. Returns the
    /// plaintext token (show it once) and the record (store it).
    ///
    /// # Errors
    /// [`KeyringError::DuplicateName`]; [`KeyringError::Rng`] when the
    /// generator fails; [`KeyringError::DuplicateId`] when it keeps producing
    /// ids that are taken (a generator that is not random). Nothing is added
    /// then.
    pub fn create<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), KeyringError> {
        self.create_from(rng, NewToken::new(account, name), now)
    }

    /// Creates a new token as `spec` describes it (scopes, expiry,
    /// description), under the keyring's [`LifetimePolicy`]; see
    /// [`Keyring::create`].
    ///
    /// # Errors
    /// As [`Keyring::create`], and [`KeyringError::Policy`] for an expiry
    /// the policy refuses.
    pub fn create_from<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        mut spec: NewToken,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), KeyringError> {
        self.policy.admit(&mut spec, now)?;
        let mut writer = self.writer.lock();
        // 64 random bits: a collision is a 1-in-2^40 event even with millions
        // of tokens, and costs a retry. A generator that repeats itself
        // (stuck, not random) gets an error instead of an endless loop.
        let mut last = None;
        for _ in 0..4 {
            let (token, record) = TokenRecord::create_from(&self.format, rng, spec.clone(), now)?;
            match self.check_free(&writer, &record) {
                Err(KeyringError::DuplicateId(id)) => last = Some(id),
                Err(e) => return Err(e),
                Ok(hash) => {
                    self.add_entry(&mut writer, record.clone(), hash);
                    return Ok((token, record));
                }
            }
        }
        Err(KeyringError::DuplicateId(
            last.unwrap_or_else(|| unreachable!("the loop ran")),
        ))
    }

    /// The old name of [`Keyring::create`].
    ///
    /// # Errors
    /// As [`Keyring::create`].
    #[deprecated(
        since = "0.1.0",
        note = "renamed `create`, as in C, Python and the CLI"
    )]
    pub fn issue<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        account: AccountId,
        name: TokenName,
        now: Timestamp,
    ) -> Result<(Token, TokenRecord), KeyringError> {
        self.create(rng, account, name, now)
    }

    /// The old name of [`Keyring::delete`].
    ///
    /// # Errors
    /// As [`Keyring::delete`].
    #[deprecated(
        since = "0.1.0",
        note = "renamed `delete`, as in C, Python and the CLI"
    )]
    pub fn remove(&self, id: TokenId) -> Result<TokenRecord, KeyringError> {
        self.delete(id)
    }

    /// Deletes a token. Once this returns, the token is refused.
    ///
    /// # Errors
    /// [`KeyringError::UnknownToken`].
    pub fn delete(&self, id: TokenId) -> Result<TokenRecord, KeyringError> {
        let mut writer = self.writer.lock();
        let record = self.get(id).ok_or(KeyringError::UnknownToken(id))?;
        self.remove_held(&mut writer, &record);
        Ok(record)
    }

    /// Deletes every token of `account` (say, when it is closed or its
    /// tokens leaked) and returns their records, in [`Keyring::list`]'s
    /// order. One writer's step: a token created for the account meanwhile
    /// is either deleted too or created after this returns.
    pub fn revoke_all(&self, account: &str) -> Vec<TokenRecord> {
        self.delete_matching(Some(account), |_| true)
    }

    /// Deletes every token expired at `now` and returns their records.
    /// Expired tokens are refused already; this clears them away. A
    /// disabled token that has not expired is kept.
    pub fn prune(&self, now: Timestamp) -> Vec<TokenRecord> {
        self.delete_matching(None, |record| record.is_expired(now))
    }

    /// Deletes the records of `account` (or of all) that `matches`, under
    /// one hold of the writers' lock.
    fn delete_matching(
        &self,
        account: Option<&str>,
        matches: impl Fn(&TokenRecord) -> bool,
    ) -> Vec<TokenRecord> {
        let mut writer = self.writer.lock();
        let mut deleted = self.list(account);
        deleted.retain(|record| matches(record));
        for record in &deleted {
            self.remove_held(&mut writer, record);
        }
        deleted
    }

    /// Removes a record the keyring holds, from the map and the name index.
    fn remove_held(&self, writer: &mut Writer, record: &TokenRecord) {
        self.entries.remove(record.id);
        let hash = self.name_hash(record.account.as_str(), record.name.as_str());
        writer.names.remove(hash, record.id);
    }

    /// Replaces a token's secret, keeping its id, name and account. The old
    /// token is refused once this returns, or, with `grace_until` in the
    /// future, until that instant.
    ///
    /// # Errors
    /// [`KeyringError::UnknownToken`]; [`KeyringError::Policy`] for a grace
    /// period that ends before `now` or lasts longer than the policy allows;
    /// [`KeyringError::Rng`]. The token is then unchanged.
    pub fn regenerate<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        id: TokenId,
        now: Timestamp,
        grace_until: Option<Timestamp>,
    ) -> Result<(Token, TokenRecord), KeyringError> {
        self.policy.check_grace(grace_until, now)?;
        let _writer = self.writer.lock();
        let (content, last_used) = self
            .entries
            .content(id)
            .ok_or(KeyringError::UnknownToken(id))?;
        let mut record = content.view().record(id, last_used);
        let token = record.regenerate(&self.format, rng, now, grace_until)?;
        // The same account string and name, the new verifiers; the last use
        // stays the slot's own.
        let content = Content {
            verifier: record.verifier,
            rollover: record.rollover.map(alloc::boxed::Box::new),
            ..content
        };
        self.entries.put(id, content, None);
        Ok((token, record))
    }

    /// Changes a token's name, description, scopes or state (disabled or
    /// enabled); returns the record as it now is. Once this returns, every
    /// verification that starts sees the change (a disabled token is
    /// refused).
    ///
    /// # Errors
    /// [`KeyringError::UnknownToken`], or [`KeyringError::DuplicateName`]
    /// for a new name that another token of the account holds; the token is
    /// then unchanged.
    pub fn update(&self, id: TokenId, update: TokenUpdate) -> Result<TokenRecord, KeyringError> {
        let mut writer = self.writer.lock();
        let mut record = self.get(id).ok_or(KeyringError::UnknownToken(id))?;
        let old_hash = self.name_hash(record.account.as_str(), record.name.as_str());
        record.apply(update);
        let (account, name) = (record.account.as_str(), record.name.as_str());
        let hash = self.name_hash(account, name);
        if let Some(holder) = self.holder(&writer, hash, account, name)
            && holder != id
        {
            return Err(KeyringError::DuplicateName {
                account: record.account.clone(),
                name: record.name.clone(),
            });
        }
        if old_hash != hash {
            writer.names.remove(old_hash, id);
        }
        self.add_entry(&mut writer, record.clone(), hash);
        Ok(record)
    }

    /// A copy of one record, with its in-memory last use.
    pub fn get(&self, id: TokenId) -> Option<TokenRecord> {
        self.entries
            .with(id, |view, last_used| view.record(id, last_used.get()))
    }

    /// The old name of [`Keyring::list`].
    #[deprecated(since = "0.1.0", note = "renamed `list`, as in C, Python and the CLI")]
    pub fn records(&self, account: Option<&str>) -> Vec<TokenRecord> {
        self.list(account)
    }

    /// Copies of the records, of one account or of all, ordered by account,
    /// creation time and id.
    pub fn list(&self, account: Option<&str>) -> Vec<TokenRecord> {
        let mut out = Vec::new();
        self.entries.for_each(|id, view, last_used| {
            if account.is_none_or(|a| view.account == a) {
                out.push(view.record(id, last_used));
            }
        });
        out.sort_by(|a, b| (&a.account, a.created_at, a.id).cmp(&(&b.account, b.created_at, b.id)));
        out
    }

    /// A keyring for tokens in `format` holding `records`: the bulk load,
    /// for a host that loads its records from a database at start. Much
    /// faster than [`Keyring::add`] per record: the id map is sized
    /// once, the name index is built in one pass from a sort, and each
    /// account's string is kept once, shared by its tokens.
    ///
    /// # Errors
    /// [`KeyringError::DuplicateId`] or [`KeyringError::DuplicateName`] when
    /// two records share an id, or an account and a name (the first such
    /// record in the order given is named); no keyring is made then. To
    /// load the rest and hear about each record left out instead, use
    /// [`Keyring::replace_all`].
    pub fn from_records<I>(format: TokenFormat, records: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = TokenRecord>,
    {
        let keyring = Self::with_format(format);
        keyring.sync(records)?;
        Ok(keyring)
    }

    /// Makes the keyring hold exactly `records` (by id), as when following a
    /// database that other processes change. Unchanged tokens are left as
    /// they are; changed ones are replaced atomically; missing ones removed
    /// (first, before any other change). Last use is kept as the later of
    /// memory and the record. The batch is checked as a whole before
    /// anything changes, then applied in bulk (see
    /// [`Keyring::from_records`]); verifications run on meanwhile, each
    /// seeing a token either as it was or as it is in `records`.
    ///
    /// # Errors
    /// [`KeyringError::DuplicateId`] or [`KeyringError::DuplicateName`] when
    /// `records` contradicts itself (the first such record in the order
    /// given is named); nothing is changed then.
    pub fn sync<I>(&self, records: I) -> Result<(), KeyringError>
    where
        I: IntoIterator<Item = TokenRecord>,
    {
        let mut writer = self.writer.lock();
        let batch = Batch::check(records, &self.hasher, |id| self.entries.hash(id));
        if let Some((_, first)) = batch.refused.first() {
            return Err(first.clone());
        }
        self.apply(&mut writer, batch);
        Ok(())
    }

    /// Like [`Keyring::sync`], but a batch that contradicts itself is still
    /// applied, without the records that contradict one another: every
    /// record that shares its id, or its account and name, with another
    /// record of the batch is left out (whatever the order: neither of the
    /// two is more right than the other), and so refused like a removed
    /// token. Returns the ids left out and why, in the order given: a
    /// follower of a store that another program wrote into reports them.
    #[must_use = "the records left out should be reported"]
    pub fn replace_all<I>(&self, records: I) -> Vec<(TokenId, KeyringError)>
    where
        I: IntoIterator<Item = TokenRecord>,
    {
        let mut writer = self.writer.lock();
        let mut batch = Batch::check(records, &self.hasher, |id| self.entries.hash(id));
        let refused = core::mem::take(&mut batch.refused)
            .into_iter()
            .filter_map(|(i, why)| Some((batch.id(i)?, why)))
            .collect();
        self.apply(&mut writer, batch);
        refused
    }

    /// Makes the map and the index hold exactly the batch's records kept.
    fn apply(&self, writer: &mut Writer, batch: Batch) {
        if !self.is_empty() {
            // Removals first: a token gone from the batch is refused as early
            // as possible.
            let mut held = Vec::with_capacity(self.len());
            self.entries.for_each(|id, _, _| held.push(id));
            for id in batch.missing(held, |id| self.entries.hash(id)) {
                self.entries.remove(id);
            }
        }
        // A fresh map is sized by the bulk load itself.
        let fresh = self.is_empty();
        if !fresh {
            self.entries
                .reserve(batch.kept().saturating_sub(self.len()));
        }
        let kept_count = batch.kept();
        let Batch {
            records,
            keep,
            names,
            ..
        } = batch;
        let old = core::mem::take(&mut writer.accounts);
        let accounts = &mut writer.accounts;
        // Records are read in the order given (in sequence: their strings
        // are where the cache misses are), kept ones interned.
        // Taken apart where they lie (`Content::take`), not moved out whole:
        // a record is 200 bytes, copied a million times.
        let mut records = records;
        let kept = records
            .iter_mut()
            .zip(keep)
            .filter_map(|(record, keep)| keep.then_some(record))
            .map(|record| {
                let account =
                    accounts.intern_from(Some(&old), &self.hasher, record.account.as_str());
                (record, account)
            });
        if fresh {
            // Straight into the map: one write to a random slot each, which
            // the CPU overlaps, instead of moving every record twice more to
            // write the slots in order.
            self.entries.load(
                kept_count,
                kept.map(|(record, account)| Content::take(record, account)),
            );
        } else {
            for (record, account) in kept {
                self.sync_one(record, account);
            }
        }
        writer.names = names;
    }

    /// One record of a bulk update: an unchanged token is left as it is
    /// (its last use moved forward if the record's is later).
    fn sync_one(&self, record: &mut TokenRecord, account: alloc::sync::Arc<AccountName>) {
        let id = record.id;
        let same = self.entries.with(id, |view, _| {
            view.holds(record.account.as_str(), record.name.as_str())
                && view.created_at == record.created_at
                && same_verifiers(view, record)
                && same_extras(view, record)
        });
        if same == Some(true) {
            if let Some(at) = record.last_used_at {
                self.entries.advance(id, at);
            }
        } else {
            // The map keeps the later of memory and the record.
            let (id, content, last_used) = Content::take(record, account);
            self.entries.put(id, content, last_used);
        }
    }
}

/// Whether a view already holds a record's verifiers. Compares public
/// stored values, so a plain comparison of bytes is fine here.
fn same_verifiers(view: &View<'_>, record: &TokenRecord) -> bool {
    let rollover_bytes =
        |r: Option<&crate::verifier::Rollover>| r.map(|r| (r.verifier.to_bytes(), r.until));
    view.verifier.to_bytes() == record.verifier.to_bytes()
        && rollover_bytes(view.rollover.as_ref()) == rollover_bytes(record.rollover.as_ref())
}

/// Whether a view already holds a record's fields beyond the seed's (a
/// change to any of them, such as disabling, must be applied).
fn same_extras(view: &View<'_>, record: &TokenRecord) -> bool {
    match view.extras {
        None => record.is_plain(),
        Some(e) => {
            e.scopes == record.scopes
                && e.expires_at == record.expires_at
                && e.disabled == record.disabled
                && e.description == record.description
        }
    }
}

#[cfg(test)]
mod tests {
    //! Runs with and without `std`, so both map backends are exercised.

    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn lifecycle_on_this_backend() {
        let k = Keyring::new();
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let account = AccountId::new("a").unwrap();
        let (t, r) = k
            .create(
                &mut rng,
                account.clone(),
                TokenName::new("n").unwrap(),
                Timestamp(1),
            )
            .unwrap();
        let text = t.expose_secret().as_bytes();
        assert_eq!(k.verify(text, Timestamp(2)).unwrap().token_id(), r.id);
        assert_eq!(k.take_last_used(), [(r.id, Timestamp(2))]);

        let (t2, _) = k
            .regenerate(&mut rng, r.id, Timestamp(3), Some(Timestamp(5)))
            .unwrap();
        assert!(k.verify(text, Timestamp(4)).is_ok());
        assert!(k.verify(text, Timestamp(5)).is_err());
        assert!(
            k.verify(t2.expose_secret().as_bytes(), Timestamp(5))
                .is_ok()
        );

        let copy = k.list(None);
        k.delete(r.id).unwrap();
        assert!(
            k.verify(t2.expose_secret().as_bytes(), Timestamp(5))
                .is_err()
        );
        k.sync(copy).unwrap();
        assert!(
            k.verify(t2.expose_secret().as_bytes(), Timestamp(5))
                .is_ok()
        );
        assert_eq!(k.list(Some("a")).len(), 1);
        assert!(k.add(k.get(r.id).unwrap()).is_err());
    }
}
