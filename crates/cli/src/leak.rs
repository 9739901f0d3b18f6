//! `wgauth serve`'s leak response: tokens reported as exposed are revoked
//! through the store, so every node refuses them (docs/LEAK-RESPONSE.md).
//!
//! - `POST /leaks/github` (with `--github-keys FILE`): GitHub's
//!   secret-scanning partner format. The raw body's ECDSA P-256 signature
//!   (`Github-Public-Key-Signature`, base64 DER) is checked with the key
//!   the `Github-Public-Key-Identifier` header names, before the body is
//!   parsed. Every reported token that is ours and live is deleted in one
//!   store write, with an audit entry holding the source URL; the answer is
//!   GitHub's feedback, each token by its SHA-256 (never the token).
//! - `POST /leaks/report` (with `--leak-report`): anyone holding tokens may
//!   submit them (`{"tokens": [...]}`); possession is the proof. Rate
//!   limited per client address. The answer (202) is sent before any token
//!   is looked at, and is the same for a live token, a dead one or
//!   garbage: a queue hands the tokens to a thread that revokes the live
//!   ones. Nothing to time, nothing to compare.
//! - No token reaches a log line: lines name counts and token ids, and a
//!   source URL holding a token is withheld from the audit trail.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use whatsgate_auth::host_records::ParsedToken;
use whatsgate_auth::{Timestamp, TokenId, TokenRecord};
use whatsgate_auth_store::{AuditNote, SyncedKeyring};
use zeroize::Zeroize as _;

use crate::Error;

/// The GitHub receiver's path.
pub const GITHUB_PATH: &str = "/leaks/github";
/// The public report endpoint's path.
pub const REPORT_PATH: &str = "/leaks/report";
/// GitHub's header naming the key that signed the body.
pub const KEY_ID_HEADER: &str = "github-public-key-identifier";
/// GitHub's header with the body's signature (base64 of DER).
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";
/// The largest GitHub report body (10,000 items with long URLs fit).
pub const MAX_GITHUB_BODY: usize = 16 * 1024 * 1024;
/// The most items in one GitHub report.
pub const MAX_GITHUB_ITEMS: usize = 10_000;
/// GitHub report bodies read at once (their signature is not known yet, so
/// this is what bounds the memory unauthenticated senders can take); past
/// this, 503 and GitHub sends again.
const GITHUB_READERS: usize = 4;
/// Time a sender has to deliver a report's body once its head arrived.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest public report body.
pub const MAX_REPORT_BODY: usize = 64 * 1024;
/// The most tokens in one public report.
pub const MAX_REPORT_TOKENS: usize = 100;
/// Public reports a client may send at once (the bucket's size) …
pub const REPORT_BURST: u32 = 10;
/// … and the time it takes to earn one more.
pub const REPORT_REFILL: Duration = Duration::from_secs(6);
/// Clients the rate limiter remembers; past this, new clients wait.
const MAX_CLIENTS: usize = 65_536;
/// Public reports queued for the revoking thread; past this, 503.
const QUEUE: usize = 1_024;
/// Tries of a revocation while the store cannot be reached.
const STORE_TRIES: u32 = 5;

/// The audit actors.
const GITHUB_ACTOR: &str = "leak-report:github";
const PUBLIC_ACTOR: &str = "leak-report:public";
const ACTION: &str = "token.revoke";

/// What `wgauth serve` was asked for.
#[derive(Debug, Default)]
pub struct Options {
    /// GitHub's key document (`--github-keys`): enables `/leaks/github`.
    pub github_keys: Option<PathBuf>,
    /// `--leak-report`: enables `/leaks/report`.
    pub public_report: bool,
}

/// The client's address, put on each request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The state both endpoints share.
pub struct Leak {
    synced: Arc<SyncedKeyring>,
    keys: Option<Keys>,
    readers: tokio::sync::Semaphore,
    limiter: Mutex<Limiter>,
    /// Whether `/leaks/report` is served.
    public: bool,
    /// The revoking thread and its queue; taken at shutdown.
    revoker: Mutex<Option<Revoker>>,
}

struct Revoker {
    queue: SyncSender<Queued>,
    thread: thread::JoinHandle<()>,
}

impl Leak {
    /// Loads the key file and starts the revoking thread, as asked.
    ///
    /// # Errors
    /// A key file that cannot be read, is not GitHub's format, or holds no
    /// usable key; a thread that cannot start.
    pub fn new(synced: &Arc<SyncedKeyring>, options: &Options) -> Result<Option<Arc<Self>>, Error> {
        if options.github_keys.is_none() && !options.public_report {
            return Ok(None);
        }
        let keys = options.github_keys.as_deref().map(Keys::load).transpose()?;
        let revoker = if options.public_report {
            let (queue, rx) = sync_channel(QUEUE);
            let synced = Arc::clone(synced);
            let thread = thread::Builder::new()
                .name("wgauth-leak-report".into())
                .spawn(move || revoke_reported(&synced, &rx))
                .map_err(|e| Error::Io("starting the leak-report thread", e))?;
            Some(Revoker { queue, thread })
        } else {
            None
        };
        Ok(Some(Arc::new(Self {
            synced: Arc::clone(synced),
            keys,
            readers: tokio::sync::Semaphore::new(GITHUB_READERS),
            limiter: Mutex::new(Limiter::default()),
            public: revoker.is_some(),
            revoker: Mutex::new(revoker),
        })))
    }

    /// At shutdown: takes no more public reports, and applies those
    /// already answered (202) before returning.
    pub fn finish(&self) {
        let revoker = self
            .revoker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Revoker { queue, thread }) = revoker {
            // The thread ends once the queue is empty and closed.
            drop(queue);
            if thread.join().is_err() {
                say!("wgauth: the leak-report thread failed; queued reports may be lost");
            }
        }
    }

    /// The routes this state serves.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        let mut router = axum::Router::new();
        if self.keys.is_some() {
            router = router.route(GITHUB_PATH, axum::routing::post(github).fallback(post_only));
        }
        if self.public {
            router = router.route(REPORT_PATH, axum::routing::post(report).fallback(post_only));
        }
        router.with_state(Arc::clone(self))
    }

    /// What the startup line says.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(keys) = &self.keys {
            parts.push(format!(
                "POST {GITHUB_PATH} takes GitHub secret-scanning reports ({} key(s))",
                keys.usable()
            ));
        }
        if self.public {
            parts.push(format!(
                "POST {REPORT_PATH} takes reports of exposed tokens from anyone"
            ));
        }
        parts.join("; ")
    }
}

// ---------------------------------------------------------------------------
// GitHub's keys.

/// GitHub's key document: `GET https://api.github.com/meta/public_keys/secret_scanning`.
#[derive(Deserialize)]
struct KeyDocument {
    public_keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
struct KeyEntry {
    key_identifier: String,
    key: String,
    #[serde(default)]
    #[allow(dead_code)]
    is_current: bool,
}

/// Key id → the key, or why it cannot be used (kept, so a request that
/// names it is refused as such rather than as unknown).
struct Keys(HashMap<String, Result<VerifyingKey, &'static str>>);

impl Keys {
    fn load(path: &Path) -> Result<Self, Error> {
        let bad = |why: String| {
            Error::Other(format!(
                "--github-keys {}: {why}; the file is GitHub's key document, as \
                 https://api.github.com/meta/public_keys/secret_scanning serves it",
                path.display()
            ))
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let doc: KeyDocument =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a key document ({e})")))?;
        let mut keys = HashMap::new();
        for entry in doc.public_keys {
            let key = p256::PublicKey::from_public_key_pem(entry.key.trim())
                .map(|k| VerifyingKey::from(&k))
                .map_err(|_| "it is not an ECDSA P-256 public key (PEM)");
            if let Err(why) = key {
                say!(
                    "wgauth: --github-keys: key {:?} is refused: {why}; reports signed with it are refused",
                    entry.key_identifier
                );
            }
            keys.insert(entry.key_identifier, key);
        }
        let keys = Self(keys);
        if keys.usable() == 0 {
            return Err(bad("it holds no ECDSA P-256 public key".into()));
        }
        Ok(keys)
    }

    fn usable(&self) -> usize {
        self.0.values().filter(|k| k.is_ok()).count()
    }

    /// Checks the body's signature; `Err` is the answer's status and text.
    fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), (StatusCode, &'static str)> {
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(key_id), Some(signature)) = (text(KEY_ID_HEADER), text(SIGNATURE_HEADER)) else {
            return Err((
                StatusCode::BAD_REQUEST,
                "a report needs the Github-Public-Key-Identifier and Github-Public-Key-Signature headers",
            ));
        };
        let refused = || {
            (
                StatusCode::UNAUTHORIZED,
                "the report's signature does not verify",
            )
        };
        let Some(Ok(key)) = self.0.get(key_id.trim()) else {
            return Err((
                StatusCode::UNAUTHORIZED,
                "the report is signed with a key this server does not hold",
            ));
        };
        let der = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| refused())?;
        let signature = Signature::from_der(&der).map_err(|_| refused())?;
        key.verify(body, &signature).map_err(|_| refused())
    }
}

// ---------------------------------------------------------------------------
// POST /leaks/github

/// One item of GitHub's report.
#[derive(Deserialize)]
struct Reported {
    token: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

impl Drop for Reported {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

/// One item of the feedback.
#[derive(Serialize)]
struct Feedback<'a> {
    token_hash: String,
    token_type: &'a str,
    label: &'static str,
}

async fn github(State(leak): State<Arc<Leak>>, headers: HeaderMap, body: Body) -> Response {
    let Some(keys) = &leak.keys else {
        return message(StatusCode::NOT_FOUND, "not found");
    };
    let Ok(_reading) = leak.readers.try_acquire() else {
        return unavailable();
    };
    let body = match read_body(&headers, body, MAX_GITHUB_BODY).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    if let Err((status, text)) = keys.check(&headers, &body) {
        return message(status, text);
    }
    let items: Vec<Reported> = match serde_json::from_slice(&body) {
        Ok(items) => items,
        Err(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                "the report is not a JSON array of {token, type, url, source}",
            );
        }
    };
    if items.len() > MAX_GITHUB_ITEMS {
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the report has more than 10000 items; send it in parts",
        );
    }
    let worker = Arc::clone(&leak);
    let judged = tokio::task::spawn_blocking(move || {
        let live = revoke_as(
            &worker.synced,
            GITHUB_ACTOR,
            items.iter().map(|i| i.token.as_bytes()),
            |i| github_detail(&items[i]),
        );
        (items, live)
    })
    .await;
    let (items, live) = match judged {
        Ok((items, Ok(live))) => (items, live),
        Ok((_, Err(e))) => {
            say!("wgauth: a GitHub leak report could not be applied: {e}");
            return unavailable();
        }
        Err(_) => return unavailable(),
    };
    let revoked = live.iter().filter(|l| **l).count();
    say!(
        "wgauth: GitHub leak report: {} item(s), {revoked} live token(s) revoked",
        items.len()
    );
    let feedback: Vec<Feedback<'_>> = items
        .iter()
        .zip(&live)
        .map(|(item, &live)| Feedback {
            token_hash: sha256_hex(item.token.as_bytes()),
            token_type: &item.kind,
            label: if live {
                "true_positive"
            } else {
                "false_positive"
            },
        })
        .collect();
    axum::Json(feedback).into_response()
}

/// The audit detail of a GitHub item: where it was found.
fn github_detail(item: &Reported) -> String {
    let url = item.url.as_deref().unwrap_or("");
    let source = item.source.as_deref().unwrap_or("");
    let found = format!("{url} (source: {source})");
    // The URL is written by whoever leaked the token: it may hold it.
    if crate::redact::token_in(found.as_bytes()).is_some() {
        return format!("(source URL withheld: it holds a token) (source: {source})")
            .chars()
            .filter(|c| !c.is_control())
            .collect();
    }
    found
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

// ---------------------------------------------------------------------------
// The revocation both endpoints share.

/// Deletes, in one store write, every token of `tokens` that the store
/// holds and accepts now (with an audit entry by `actor` whose detail
/// `detail(i)` gives for the item `i`); returns, for each item, whether it
/// was live.
fn revoke_as<'t>(
    synced: &SyncedKeyring,
    actor: &str,
    tokens: impl Iterator<Item = &'t [u8]>,
    detail: impl Fn(usize) -> String,
) -> Result<Vec<bool>, whatsgate_auth_store::StoreError> {
    let parsed: Vec<Option<ParsedToken>> = tokens
        .map(|t| whatsgate_auth::host_records::parse(t).ok())
        .collect();
    let mut by_id: HashMap<TokenId, Vec<usize>> = HashMap::new();
    for (i, p) in parsed.iter().enumerate() {
        if let Some(p) = p {
            by_id.entry(p.id()).or_default().push(i);
        }
    }
    let ids: Vec<TokenId> = by_id.keys().copied().collect();
    let mut live = vec![false; parsed.len()];
    let now = Timestamp::now();
    synced.delete_where(&ids, &mut |record: &TokenRecord| {
        let items = by_id.get(&record.id)?;
        let mut first = None;
        for &i in items {
            if parsed[i].as_ref().is_some_and(|p| record.accepts(p, now)) {
                live[i] = true;
                first.get_or_insert(i);
            }
        }
        first.map(|i| AuditNote::new(actor, ACTION, detail(i)))
    })?;
    Ok(live)
}

// ---------------------------------------------------------------------------
// POST /leaks/report

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicReport {
    tokens: Vec<String>,
}

/// Tokens handed to the revoking thread, and who sent them.
struct Queued {
    tokens: Vec<String>,
    from: IpAddr,
}

impl Drop for Queued {
    fn drop(&mut self) {
        for t in &mut self.tokens {
            t.zeroize();
        }
    }
}

/// The one answer to every accepted report.
const RECEIVED: &str =
    r#"{"message": "received: every valid token in the report is revoked within seconds"}"#;

async fn report(
    State(leak): State<Arc<Leak>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let from = peer.map_or(IpAddr::from([0, 0, 0, 0]), |Extension(Peer(a))| a.ip());
    if let Err(wait) = leak
        .limiter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take(from, Instant::now())
    {
        let mut answer = message(
            StatusCode::TOO_MANY_REQUESTS,
            "too many reports from this address; retry later",
        );
        let secs = wait.as_millis().div_ceil(1000).max(1);
        if let Ok(value) = secs.to_string().parse() {
            answer.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return answer;
    }
    let body = match read_body(&headers, body, MAX_REPORT_BODY).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let report: PublicReport = match serde_json::from_slice(&body) {
        Ok(report) => report,
        Err(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                r#"the report is not {"tokens": ["…", …]}"#,
            );
        }
    };
    if report.tokens.len() > MAX_REPORT_TOKENS {
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "a report holds at most 100 tokens; send it in parts",
        );
    }
    let queued = Queued {
        tokens: report.tokens,
        from,
    };
    let sent = leak
        .revoker
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(|r| r.queue.try_send(queued));
    match sent {
        Some(Ok(())) => (
            StatusCode::ACCEPTED,
            [(header::CONTENT_TYPE, "application/json")],
            RECEIVED,
        )
            .into_response(),
        // Full, or the server is stopping.
        Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => unavailable(),
    }
}

/// The revoking thread: each queued report in one store write, retried
/// while the store cannot be reached.
fn revoke_reported(synced: &SyncedKeyring, queue: &Receiver<Queued>) {
    while let Ok(queued) = queue.recv() {
        let detail = format!("reported through POST {REPORT_PATH} from {}", queued.from);
        let mut tries = 0;
        loop {
            tries += 1;
            match revoke_as(
                synced,
                PUBLIC_ACTOR,
                queued.tokens.iter().map(|t| t.as_bytes()),
                |_| detail.clone(),
            ) {
                Ok(live) => {
                    let revoked = live.iter().filter(|l| **l).count();
                    if revoked > 0 {
                        say!(
                            "wgauth: public leak report from {}: {revoked} live token(s) revoked",
                            queued.from
                        );
                    }
                    break;
                }
                Err(e) if tries < STORE_TRIES => {
                    say!("wgauth: a public leak report could not be applied yet ({e}); retrying");
                    thread::sleep(Duration::from_secs(1 << tries));
                }
                Err(e) => {
                    say!(
                        "wgauth: a public leak report from {} was dropped after {tries} tries: {e}",
                        queued.from
                    );
                    break;
                }
            }
        }
    }
}

/// A token bucket per client: [`REPORT_BURST`] reports at once, one more
/// every [`REPORT_REFILL`]. IPv6 clients are counted per /64 (what one
/// host is usually given).
#[derive(Default)]
struct Limiter {
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl Limiter {
    /// Takes one report's worth, or says how long to wait.
    fn take(&mut self, from: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = match from {
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
            v4 => v4,
        };
        let burst = f64::from(REPORT_BURST);
        let per_sec = 1.0 / REPORT_REFILL.as_secs_f64();
        let refill = |(level, at): (f64, Instant)| {
            (level + now.saturating_duration_since(at).as_secs_f64() * per_sec).min(burst)
        };
        if !self.buckets.contains_key(&key) && self.buckets.len() >= MAX_CLIENTS {
            // Forget the clients whose buckets are full again.
            self.buckets.retain(|_, b| refill(*b) < burst);
            if self.buckets.len() >= MAX_CLIENTS {
                return Err(REPORT_REFILL);
            }
        }
        let bucket = self.buckets.entry(key).or_insert((burst, now));
        let level = refill(*bucket);
        if level >= 1.0 {
            *bucket = (level - 1.0, now);
            Ok(())
        } else {
            *bucket = (level, now);
            Err(Duration::from_secs_f64((1.0 - level) / per_sec))
        }
    }
}

// ---------------------------------------------------------------------------
// Answers.

/// Another method than POST: 405 in the server's one error format.
async fn post_only() -> Response {
    let mut answer = message(StatusCode::METHOD_NOT_ALLOWED, "reports are sent with POST");
    answer
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    answer
}

/// `{"message": "…"}`, spaced as every other error body the server sends.
fn message(status: StatusCode, text: &str) -> Response {
    let quoted = serde_json::Value::from(text).to_string();
    let body = format!(r#"{{"message": {quoted}}}"#);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The whole body, at most `limit` bytes, within [`BODY_TIMEOUT`].
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        // Past the limit (a chunked body), or cut short.
        Ok(Err(_)) => Err(message(
            StatusCode::BAD_REQUEST,
            "the report's body could not be read whole, or is too large",
        )),
        Err(_) => Err(message(
            StatusCode::REQUEST_TIMEOUT,
            "the report's body took too long to arrive",
        )),
    }
}

fn too_large(limit: usize) -> Response {
    message(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the report is larger than {limit} bytes; send it in parts"),
    )
}

fn unavailable() -> Response {
    let mut answer = message(
        StatusCode::SERVICE_UNAVAILABLE,
        "the token store cannot take the report now; retry later",
    );
    answer
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_lets_a_burst_through_then_refills() {
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        let a = IpAddr::from([192, 0, 2, 1]);
        for _ in 0..REPORT_BURST {
            assert!(limiter.take(a, t0).is_ok());
        }
        let wait = limiter.take(a, t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= REPORT_REFILL);
        // Another client is not held back by the first.
        assert!(limiter.take(IpAddr::from([192, 0, 2, 2]), t0).is_ok());
        // One refill later, one more.
        assert!(limiter.take(a, t0 + REPORT_REFILL).is_ok());
        assert!(limiter.take(a, t0 + REPORT_REFILL).is_err());
        // An IPv6 /64 is one client.
        let six = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, last]);
        for i in 0..REPORT_BURST {
            assert!(limiter.take(six(u16::try_from(i).unwrap_or(0)), t0).is_ok());
        }
        assert!(limiter.take(six(999), t0).is_err());
    }

    #[test]
    fn a_url_holding_a_token_is_withheld() {
        let token = "wgat_AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let item = |url: &str| Reported {
            token: String::new(),
            kind: "t".into(),
            url: Some(url.into()),
            source: Some("content".into()),
        };
        let plain = github_detail(&item("https://github.com/o/r/blob/1/a.txt"));
        assert_eq!(
            plain,
            "https://github.com/o/r/blob/1/a.txt (source: content)"
        );
        let held = github_detail(&item(&format!("https://x.example/?t={token}")));
        assert!(!held.contains("wgat_"), "{held}");
        assert!(held.contains("withheld"));
    }
}
