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
//!   headers.
//! - Connection floods: a connection has [`HEADER_READ_TIMEOUT`] from its
//!   accept, or from its previous response, to deliver a whole request
//!   head; trickled bytes do not extend it, so idle keep-alive and
//!   slowloris clients are shed alike. At most `--max-connections` are held
//!   (default [`DEFAULT_MAX_CONNECTIONS`], less under a lower open-file
//!   limit, which is first raised to its hard limit); at the cap a new
//!   connection sheds the one that has waited longest for its request, so
//!   a real request is served however many idle sockets are held open.
//! - Leak response, when asked for (`--github-keys`, `--leak-report`):
//!   `/leaks/github` and `/leaks/report`, outside the guarded prefixes
//!   ([`crate::leak`]); each request carries its client's address for the
//!   public endpoint's rate limit.
//! - Token management ([`crate::manage`], `docs/MANAGEMENT.md`):
//!   `/api/tokens` for tokens with the `tokens:manage` scope, and the "API
//!   Tokens" page at `/tokens` (`/` leads there); the API's writes follow
//!   the lifetime policy (`--max-lifetime`, `--max-grace`).
//!   `--require-scope` adds scope rules to the layer.
//! - SIGINT or SIGTERM: stop accepting, finish the requests in flight (for
//!   at most [`DRAIN_TIMEOUT`]), flush last use, exit 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::any;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::ServiceExt as _;
use whatsgate_auth::{AccountId, LifetimePolicy, Profile, Timestamp, Token, TokenName};
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
/// Connections held at once unless `--max-connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16_384;
/// Connections the kernel may queue before `accept` (capped by the
/// system's `somaxconn`).
const LISTEN_BACKLOG: u32 = 4096;
/// Open files kept for everything but connections (the store, its WAL,
/// PostgreSQL sockets, stdio, the runtime).
const RESERVED_FILES: u64 = 64;
/// The file `serve --demo` writes the demo's header line to (mode 0600),
/// in the current directory, so the curl line it prints holds no token.
pub const DEMO_HEADER_FILE: &str = "wgauth-demo.header";

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
    pub max_connections: Option<u32>,
    /// The load check's control: no cap, no shedding.
    pub unlimited_connections: bool,
    /// The leak-report endpoints to serve.
    pub leak: crate::leak::Options,
    /// `--require-scope`: scopes routes need, checked by the layer.
    pub require_scope: Vec<ScopeRule>,
    /// The management API's writes are checked against it.
    pub policy: LifetimePolicy,
}

/// `--require-scope [METHOD:]PREFIX=SCOPE`: a scope that a path prefix
/// (and below) needs, for every method or one. The layer checks the prefix
/// and the scope's name when it is built.
#[derive(Debug, Clone)]
pub struct ScopeRule {
    method: Option<Method>,
    prefix: String,
    scope: String,
}

impl ScopeRule {
    /// Parses `[METHOD:]PREFIX=SCOPE` (a prefix starts with `/`, so a
    /// method is whatever comes before `:/`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "{text:?}: write [METHOD:]PREFIX=SCOPE, such as /api/send=messages:send \
                 or POST:/api/send=messages:send"
            )
        };
        let (route, scope) = text.split_once('=').ok_or_else(usage)?;
        let (method, prefix) = match route.split_once(":/") {
            Some((method, rest)) if !method.contains('/') => {
                let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .map_err(|_| usage())?;
                (Some(method), format!("/{rest}"))
            }
            _ => (None, route.to_string()),
        };
        if !prefix.starts_with('/') || scope.is_empty() {
            return Err(usage());
        }
        Ok(Self {
            method,
            prefix,
            scope: scope.to_string(),
        })
    }
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
    let files = raise_open_file_limit();
    let cap = connection_cap(&options, files)?;
    let synced = Arc::new(SyncedKeyring::open(&options.db, mode, follow)?);
    synced.set_policy(options.policy);
    let demo = if options.demo {
        let token = demo_token(&synced)?;
        // Before the server says it is ready: a script that waits for that
        // line finds the file.
        write_demo_header(&token)?;
        Some(token)
    } else {
        None
    };
    let leak = crate::leak::Leak::new(&synced, &options.leak)?;
    let keyring = Arc::clone(synced.keyring());
    let layer = if options.no_auth {
        None
    } else {
        let mut builder = AuthLayer::builder(Arc::clone(&keyring))
            .guard("/api", Profile::Rest)
            .guard("/mcp", Profile::Mcp);
        for rule in &options.require_scope {
            builder = match &rule.method {
                None => builder.require_scope(&rule.prefix, &rule.scope),
                Some(method) => {
                    builder.require_scope_for(&rule.prefix, method.clone(), &rule.scope)
                }
            };
        }
        let layer = builder
            .build()
            .map_err(|e| Error::Other(format!("cannot configure authentication: {e}")))?;
        Some(layer)
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io("starting the async runtime", e))?;
    let listener = runtime
        .block_on(async { listen(options.listen) })
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
    match cap {
        Some(cap) => say!(
            "wgauth: at most {cap} connections (open-file limit {}); {}s to send a request head",
            files.map_or_else(|| "unlimited".to_string(), |f| f.to_string()),
            HEADER_READ_TIMEOUT.as_secs()
        ),
        None => say!(
            "wgauth: WARNING: --unlimited-connections: no connection cap, idle clients kept (load check control only)"
        ),
    }
    for rule in &options.require_scope {
        let method = rule.method.as_ref().map_or("every method", Method::as_str);
        say!(
            "wgauth: {} and below need the scope {} ({method})",
            rule.prefix,
            rule.scope
        );
    }
    if options.no_auth {
        say!("wgauth: WARNING: --no-auth: nothing is authenticated (benchmarks only)");
    } else if keyring.is_empty() {
        say!(
            "wgauth: the store has no tokens yet, so every request is refused; \
             `wgauth token create` adds one (seen here within a second)"
        );
    }
    if let Some(leak) = &leak {
        say!("wgauth: {}", leak.describe());
    }
    say!(
        "wgauth: the API Tokens page is http://{local}{}; the management API is /api/tokens \
         (tokens with the {} scope)",
        crate::manage::PAGE,
        crate::manage::MANAGE_SCOPE
    );
    if let Some(token) = demo {
        print_demo(&token, local, &shown);
        // Dropping the token zeroizes it.
    }

    let app = router(leak.as_ref()).merge(crate::manage::router(Arc::clone(&synced)));
    let conns = Arc::new(Connections::new(cap));
    let served = match layer {
        None => runtime.block_on(serve(listener, signals, app, conns)),
        Some(layer) => runtime.block_on(serve(
            listener,
            signals,
            tower::Layer::layer(&layer, app),
            conns,
        )),
    };
    // Reports already answered 202 are applied before the process ends.
    if let Some(leak) = &leak {
        leak.finish();
    }
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

/// Writes the demo token's header line to [`DEMO_HEADER_FILE`] (0600), for
/// the curl line [`print_demo`] prints.
fn write_demo_header(token: &Token) -> Result<(), Error> {
    let header = zeroize::Zeroizing::new(format!("Access-Token: {}\n", token.expose_secret()));
    write_private(Path::new(DEMO_HEADER_FILE), header.as_bytes()).map_err(|e| {
        Error::Other(format!(
            "cannot write the demo's header file ./{DEMO_HEADER_FILE}: {e}"
        ))
    })
}

/// Prints the demo token once, and a curl line that reads the header from
/// [`DEMO_HEADER_FILE`] (`-H @FILE`): nothing pasted holds the token, so it
/// reaches neither the shell's history nor the process list.
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
         \nIts header line is in ./{DEMO_HEADER_FILE} (readable by you only). Call the API with it,\n\
         as in the WhatsGate docs (curl reads the header from the file, so the token stays out of\n\
         your shell history and the process list):\n\
         \ncurl -X POST \\\n  http://{host}/api/send/text \\\n  -H @{DEMO_HEADER_FILE} \\\n  \
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

/// Replaces `path` with a new file holding `bytes`, readable and writable
/// by its owner only (a file or link left there is removed, not followed).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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

fn router(leak: Option<&Arc<crate::leak::Leak>>) -> Router {
    let routes = Router::new()
        .route("/api", any(accepted))
        .route("/api/", any(accepted))
        .route("/api/{*rest}", any(accepted))
        .route("/mcp", any(accepted))
        .route("/mcp/", any(accepted))
        .route("/mcp/{*rest}", any(accepted));
    match leak {
        Some(leak) => routes.merge(leak.router()),
        None => routes,
    }
    .fallback(not_found)
}

/// Reached only once the layer accepted the request (or with --no-auth).
async fn accepted(principal: Option<Authenticated>, method: Method, uri: Uri) -> Response {
    let body = match principal {
        Some(p) => {
            let mut body = serde_json::json!({
                "account": p.account(),
                "token_id": p.token_id().to_string(),
                "token_name": p.token_name(),
                "method": method.as_str(),
                "path": uri.path(),
            });
            // Only for a restricted token, as the shared corpus spells a
            // principal (sorted; absent for full access).
            if let Some(list) = p.scopes().list() {
                body["scopes"] = list.iter().map(|s| s.as_str()).collect();
            }
            body
        }
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

/// The body in the layer's format (`{"message": "…"}`, as the core's
/// rejections write it), so every error body the server sends looks alike.
const NOT_FOUND_BODY: &str = r#"{"message": "not found: the API is under /api/ and /mcp/"}"#;

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        NOT_FOUND_BODY,
    )
        .into_response()
}

/// Accepts connections until a signal, then drains them.
async fn serve<S, B>(
    listener: TcpListener,
    signals: Signals,
    service: S,
    conns: Arc<Connections>,
) -> Result<(), Error>
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
        // `Connections::drive` enforces HEADER_READ_TIMEOUT (also between
        // keep-alive requests); hyper's own (30 s by default) is off, so the
        // load check's control has none.
        .header_read_timeout(None)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    let graceful = GracefulShutdown::new();
    let signal = signals.recv();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(conn) = conns.admit() else {
                        // At the cap with every connection mid-request:
                        // this one is closed unanswered.
                        continue;
                    };
                    // Small responses: send them at once.
                    let _ = stream.set_nodelay(true);
                    let svc = {
                        let service = service.clone();
                        let conns = Arc::clone(&conns);
                        let conn = Arc::clone(&conn);
                        hyper::service::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
                            // The leak-report endpoint's rate limit is per client.
                            request.extensions_mut().insert(crate::leak::Peer(peer));
                            conns.busy(&conn);
                            let response = service.clone().oneshot(request);
                            let conns = Arc::clone(&conns);
                            let conn = Arc::clone(&conn);
                            async move {
                                let response = response.await;
                                conns.idle(&conn);
                                response
                            }
                        })
                    };
                    let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
                    let conns = Arc::clone(&conns);
                    tokio::spawn(async move {
                        let _leave = Leave(&conns, &conn);
                        // Client errors (resets, timeouts, bad requests that
                        // hyper already answered) concern only that client.
                        conns.drive(&conn, connection).await;
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

/// Binds with a listen backlog of [`LISTEN_BACKLOG`] (the usual 128 lets a
/// burst of connections overflow while the server is busy; a client whose
/// SYN is dropped waits a second or more before it tries again).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raises the soft open-file limit to the hard one; returns the soft limit
/// in force (`None`: unlimited).
fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return limit.maximum,
            Err(e) => say!("wgauth: cannot raise the open-file limit: {e}"),
        }
    }
    limit.current
}

/// The connection cap (`None`: the control's no cap), at most what the
/// open-file limit leaves once [`RESERVED_FILES`] are kept aside.
fn connection_cap(options: &Options, files: Option<u64>) -> Result<Option<usize>, Error> {
    if options.unlimited_connections {
        return Ok(None);
    }
    let room = files.map_or(u64::MAX, |f| f.saturating_sub(RESERVED_FILES));
    if room == 0 {
        return Err(Error::Other(format!(
            "the open-file limit ({}) leaves no room for connections; raise it (ulimit -n)",
            files.unwrap_or(0)
        )));
    }
    let wanted = u64::from(options.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS));
    if options.max_connections.is_some() && wanted > room {
        say!(
            "wgauth: --max-connections {wanted} lowered to {room}: the open-file limit is {}",
            files.unwrap_or(0)
        );
    }
    Ok(Some(
        usize::try_from(wanted.min(room)).unwrap_or(usize::MAX),
    ))
}

/// One connection: how it is told to go, and since when it has waited for
/// a request head (`None` while a request is in the service).
struct Conn {
    id: u64,
    shed: Notify,
    /// Changed only with [`Connections::table`] held.
    idle_since: Mutex<Option<Instant>>,
}

/// The connections held, and the idle ones by how long they have waited,
/// so that the cap sheds the longest waiter.
struct Connections {
    /// `None`: no cap and no idle timeout (the control).
    cap: Option<usize>,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    live: usize,
    next_id: u64,
    idle: BTreeMap<(Instant, u64), Arc<Conn>>,
}

/// Leaves the table when the connection's task ends, however it ends.
struct Leave<'a>(&'a Connections, &'a Arc<Conn>);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut table = self.0.table();
        table.live -= 1;
        if let Some(since) = lock(&self.1.idle_since).take() {
            table.idle.remove(&(since, self.1.id));
        }
    }
}

/// A poisoned lock still holds consistent data here (every update is one
/// step); serving on is better than a panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Connections {
    fn new(cap: Option<usize>) -> Self {
        Self {
            cap,
            table: Mutex::new(Table::default()),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        lock(&self.table)
    }

    /// Registers a new connection, idle from now; at the cap, first tells
    /// the longest-idle one to go. `None` when at the cap and none is idle.
    fn admit(&self) -> Option<Arc<Conn>> {
        let now = Instant::now();
        let mut table = self.table();
        if self.cap.is_some_and(|cap| table.live >= cap) {
            let (_, oldest) = table.idle.pop_first()?;
            *lock(&oldest.idle_since) = None;
            oldest.shed.notify_one();
        }
        table.live += 1;
        table.next_id += 1;
        let conn = Arc::new(Conn {
            id: table.next_id,
            shed: Notify::new(),
            idle_since: Mutex::new(Some(now)),
        });
        table.idle.insert((now, conn.id), Arc::clone(&conn));
        Some(conn)
    }

    /// A request head arrived: the connection is no longer waiting.
    fn busy(&self, conn: &Conn) {
        let mut table = self.table();
        if let Some(since) = lock(&conn.idle_since).take() {
            table.idle.remove(&(since, conn.id));
        }
    }

    /// The response is ready: the connection waits for its next request.
    fn idle(&self, conn: &Arc<Conn>) {
        let now = Instant::now();
        let mut table = self.table();
        let mut since = lock(&conn.idle_since);
        if since.is_none() {
            *since = Some(now);
            table.idle.insert((now, conn.id), Arc::clone(conn));
        }
    }

    /// Runs the connection until it ends, it is shed at the cap, or it has
    /// waited [`HEADER_READ_TIMEOUT`] for a request head (counted from its
    /// accept or its last response, so trickled bytes do not extend it).
    async fn drive<F: Future>(&self, conn: &Conn, connection: F) {
        tokio::pin!(connection);
        if self.cap.is_none() {
            connection.await;
            return;
        }
        loop {
            let since = *lock(&conn.idle_since);
            // While busy, look again one timeout later.
            let wake = since.unwrap_or_else(Instant::now) + HEADER_READ_TIMEOUT;
            tokio::select! {
                _ = &mut connection => return,
                () = conn.shed.notified() => return,
                () = tokio::time::sleep_until(wake) => {
                    if lock(&conn.idle_since).is_some_and(|s| s + HEADER_READ_TIMEOUT <= Instant::now()) {
                        return;
                    }
                }
            }
        }
    }
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
