//! `wgauth serve`: the reference server.
//!
//! - `/api/*` is guarded by the `rest` profile (`Access-Token`), `/mcp/*` by
//!   the `mcp` profile (`Authorization: Bearer`), through
//!   `whatsgate-auth-tower`'s `AuthLayer`; an accepted request gets 200 JSON
//!   naming the account, token id and token name.
//! - The tokens live in memory in a core `Keyring` that a store follower
//!   (`whatsgate_auth_store::SyncedKeyring`) keeps current: it applies the
//!   store's change log in order, woken by `NOTIFY` (PostgreSQL) or
//!   `data_version` (SQLite), so a token deleted or regenerated on any host
//!   is refused here within its wake-up latency. Past `--stale-after`
//!   without confirming it is current, every token is answered 503 (fail
//!   closed) until it is again. `docs/STORE.md` has the details.
//! - A flush thread writes last-used instants in batches, every
//!   [`FLUSH_EVERY`] and at shutdown, never once per request.
//! - HTTP/1.1 through hyper: request line and headers are capped at
//!   [`MAX_HEADER_BYTES`] (larger gets 431), at most [`MAX_HEADERS`]
//!   headers, and [`HEADER_READ_TIMEOUT`] to send them.
//! - SIGINT or SIGTERM: stop accepting, finish the requests in flight (for
//!   at most [`DRAIN_TIMEOUT`]), flush last use, exit 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::any;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use whatsgate_auth::{AccountId, Profile, Timestamp, Token, TokenName};
use whatsgate_auth_store::{BackendKind, FollowOptions, OpenMode, StoreUrl, SyncedKeyring};
use whatsgate_auth_tower::{AuthLayer, Authenticated};

use crate::Error;

/// How often last-used instants are written to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// Cap on the request line plus headers, in bytes (hyper's read buffer).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Cap on the number of request headers.
pub const MAX_HEADERS: usize = 64;
/// Time a client has to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for requests in flight at shutdown.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

const DEMO_ACCOUNT: &str = "demo";
const DEMO_NAME: &str = "Demo token";

/// What `wgauth serve` was asked to do.
#[derive(Debug)]
pub struct Options {
    /// The store's URL, as given.
    pub db: String,
    pub busy_timeout: Duration,
    pub listen: SocketAddr,
    pub demo: bool,
    pub stale_after: Duration,
    pub no_auth: bool,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(options: Options) -> Result<(), Error> {
    let mode = if options.demo {
        OpenMode::CreateIfMissing
    } else {
        OpenMode::Existing
    };
    let url = StoreUrl::parse(&options.db).map_err(whatsgate_auth_store::StoreError::from)?;
    // As given for a file; a server's URL with its password redacted.
    let shown = match url.backend() {
        BackendKind::Sqlite => options.db.clone(),
        BackendKind::Postgres => url.to_string(),
    };
    let follow = FollowOptions {
        bound: options.stale_after,
        timeout: options.busy_timeout,
        ..FollowOptions::default()
    };
    crate::logger::install();
    let synced = Arc::new(SyncedKeyring::open(&options.db, mode, follow)?);
    let demo = if options.demo {
        Some(demo_token(&synced)?)
    } else {
        None
    };
    let keyring = Arc::clone(synced.keyring());
    let layer = if options.no_auth {
        None
    } else {
        let layer = AuthLayer::builder(Arc::clone(&keyring))
            .guard("/api", Profile::Rest)
            .guard("/mcp", Profile::Mcp)
            .build()
            .map_err(|e| Error::Other(format!("cannot configure authentication: {e}")))?;
        Some(layer)
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io("starting the async runtime", e))?;
    let listener = runtime
        .block_on(TcpListener::bind(options.listen))
        .map_err(|e| Error::Other(format!("cannot listen on {}: {e}", options.listen)))?;
    let signals = runtime
        .block_on(async { Signals::register() })
        .map_err(|e| Error::Io("installing the signal handlers", e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Io("reading the listening address", e))?;

    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let flusher = {
        let synced = Arc::clone(&synced);
        thread::Builder::new()
            .name("wgauth-last-use".into())
            .spawn(move || flush_last_used(&synced, &stop_rx))
            .map_err(|e| Error::Io("starting the last-use thread", e))?
    };

    say!(
        "wgauth: serving http://{local} with {} token(s) from {}; /api/* needs `Access-Token`, \
         /mcp/* needs `Authorization: Bearer`; Ctrl-C stops",
        keyring.len(),
        shown
    );
    if options.no_auth {
        say!("wgauth: WARNING: --no-auth: nothing is authenticated (benchmarks only)");
    } else if keyring.is_empty() {
        say!(
            "wgauth: the store has no tokens yet, so every request is refused; \
             `wgauth token create` adds one (seen here within a second)"
        );
    }
    if let Some(token) = demo {
        print_demo(&token, local, &shown);
        // Dropping the token zeroizes it.
    }

    let app = router();
    let served = match layer {
        None => runtime.block_on(serve(listener, signals, app)),
        Some(layer) => runtime.block_on(serve(listener, signals, tower::Layer::layer(&layer, app))),
    };
    // Stop the flush thread: it writes last use one final time.
    drop(stop_tx);
    if flusher.join().is_err() {
        say!("wgauth: the last-use thread failed; last use may not have been saved");
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    say!("wgauth: stopped");
    served
}

/// The demo token (to show once).
fn demo_token(synced: &SyncedKeyring) -> Result<Token, Error> {
    let invalid = |e| Error::Other(format!("demo label: {e}"));
    let account = AccountId::new(DEMO_ACCOUNT).map_err(invalid)?;
    let name = TokenName::new(DEMO_NAME).map_err(invalid)?;
    let now = Timestamp::now();
    let (token, _record) = match synced.find(&account, &name)? {
        Some(existing) => synced.regenerate(existing.id, now, None)?,
        None => synced.create(account, name, now)?,
    };
    Ok(token)
}

fn print_demo(token: &Token, local: SocketAddr, db: &str) {
    let id = token.id();
    let token = token.expose_secret();
    let host = match local {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    };
    let text = zeroize::Zeroizing::new(format!(
        "\nDemo token {id} of account \"{DEMO_ACCOUNT}\" (shown once; a new one on every --demo run):\n\
         \n    {token}\n\
         \nCall the API with it, as in the WhatsGate docs:\n\
         \ncurl -X POST \\\n  http://{host}/api/send/text \\\n  -H 'Access-Token: {token}' \\\n  \
         -H 'Content-Type: application/json' \\\n  -d '{{\n    \"sender_device\": \"123456789\",\n    \
         \"phone\": \"987654321\",\n    \"message\": \"Hello, this is a test message\"\n}}'\n\
         \nWithout the header, or with a wrong token, the answer is 403 with the documented message.\n\
         Revoke it from another terminal (refused here within a second):\n\
         \n    wgauth --db {db} token delete {id}\n\
         \n(from a checkout: cargo run --release -p whatsgate-auth-cli -- --db {db} token delete {id})\n\n",
        db = shell_quote(db),
    ));
    // Best effort: a closed stdout must not stop the server.
    let _ = crate::write_stdout(&text);
}

/// Quotes a path for a POSIX shell when it needs it.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn router() -> Router {
    Router::new()
        .route("/api", any(accepted))
        .route("/api/", any(accepted))
        .route("/api/{*rest}", any(accepted))
        .route("/mcp", any(accepted))
        .route("/mcp/", any(accepted))
        .route("/mcp/{*rest}", any(accepted))
        .fallback(not_found)
}

/// Reached only once the layer accepted the request (or with --no-auth).
async fn accepted(principal: Option<Authenticated>, method: Method, uri: Uri) -> Response {
    let body = match principal {
        Some(p) => serde_json::json!({
            "account": p.account(),
            "token_id": p.token_id().to_string(),
            "token_name": p.token_name(),
            "method": method.as_str(),
            "path": uri.path(),
        }),
        None => serde_json::json!({
            "account": null,
            "token_id": null,
            "token_name": null,
            "method": method.as_str(),
            "path": uri.path(),
        }),
    };
    Json(body).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"message": "not found: the API is under /api/ and /mcp/"})),
    )
        .into_response()
}

/// Accepts connections until a signal, then drains them.
async fn serve<S, B>(listener: TcpListener, signals: Signals, service: S) -> Result<(), Error>
where
    S: tower::Service<
            axum::http::Request<hyper::body::Incoming>,
            Response = axum::http::Response<B>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    let graceful = GracefulShutdown::new();
    let signal = signals.recv();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Small responses: send them at once.
                    let _ = stream.set_nodelay(true);
                    let connection = http.serve_connection(
                        TokioIo::new(stream),
                        TowerToHyperService::new(service.clone()),
                    );
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // Client errors (resets, timeouts, bad requests that
                        // hyper already answered) concern only that client.
                        let _ = connection.await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, go on.
                    say!("wgauth: accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut signal => break,
        }
    }
    drop(listener);
    say!("wgauth: shutting down");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            say!("wgauth: gave up waiting for connections after {DRAIN_TIMEOUT:?}");
        }
    }
    Ok(())
}

/// SIGINT and SIGTERM, registered before the server says it is ready, so
/// a signal sent right after that line is never lost (nor fatal).
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Must run inside the runtime.
    fn register() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Writes last use in batches until `stop` is dropped, then once more.
fn flush_last_used(synced: &SyncedKeyring, stop: &mpsc::Receiver<()>) {
    let mut failing = false;
    loop {
        let stopping = !matches!(
            stop.recv_timeout(FLUSH_EVERY),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        match synced.flush_last_used() {
            Ok(()) if failing => {
                failing = false;
                say!("wgauth: saving last use again");
            }
            // Kept for the next flush by the synced keyring.
            Err(e) if !failing => {
                failing = true;
                say!("wgauth: cannot save last use ({e}); will retry");
            }
            _ => {}
        }
        if stopping {
            break;
        }
    }
}
