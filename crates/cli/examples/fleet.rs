//! The measuring half of the fleet check (`scripts/fleet`, which starts
//! PostgreSQL and the `wgauth serve` nodes, and documents the whole run).
//! A benchmark, not a test: it reports, it asserts nothing about speed.
//!
//! - `revoke`: while load threads hammer every node with valid tokens, a
//!   writer (this program, through the store crate's `Store`, so the commit
//!   instant is the instant `delete` / `regenerate` returns) revokes tokens
//!   one at a time, alternating delete and regenerate. Before each write,
//!   every node must accept the token (the positive control: a fleet that
//!   never refuses would be caught); after it, one probe thread per node
//!   asks with the old token in a tight loop until it gets
//!   `403 {"message": "invalid Access-Token"}`. The latency of a revocation
//!   is the time from the commit until the last node refused it.
//! - `restart`: the time a node takes to load every token of a store, each
//!   in a fresh process: `Store::open` plus a snapshot alone, then
//!   `Follower::start` (open, snapshot, keyring), and `wgauth serve` from
//!   spawn until it prints "serving", with resident memory; the server must
//!   then accept a real token and refuse a wrong one.
//!
//! Both also report how crowded the machine was (the mean of
//! `procs_running`): on a shared machine a figure means little without it.
//!
//! ```sh
//! cargo run --release -p whatsgate-auth-cli --example fleet -- revoke \
//!     --db URL --nodes 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 --tokens FILE
//! cargo run --release -p whatsgate-auth-cli --example fleet -- restart \
//!     --db URL --wgauth target/release/wgauth --token FILE
//! ```
//!
//! Loopback only (addresses are checked), bounded in time (`--deadline`) and
//! in requests (`--max-requests`). Tokens are read from files, never from the
//! command line, and never printed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use whatsgate_auth::{TokenId, host_records};
use whatsgate_auth_store::{FollowOptions, Follower, OpenMode, Store};

#[derive(Parser)]
#[command(about = "The fleet check's measurements (run by scripts/fleet)")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Revocation latency across nodes, under load.
    Revoke(RevokeArgs),
    /// Time and memory of a node loading every token of a store.
    Restart(RestartArgs),
    /// (internal) `Follower::start` (or a snapshot alone) once, in this
    /// process; prints one line: seconds, tokens, RSS KiB, peak RSS KiB.
    FollowerLoad {
        #[arg(long)]
        db: String,
        /// Only `Store::open` and a snapshot, no keyring.
        #[arg(long)]
        snapshot_only: bool,
    },
}

#[derive(clap::Args)]
struct RevokeArgs {
    /// The store the nodes follow.
    #[arg(long)]
    db: String,
    /// The nodes' addresses, comma-separated (loopback only).
    #[arg(long, value_delimiter = ',', required = true)]
    nodes: Vec<SocketAddr>,
    /// A file of tokens, one a line; the first `--revocations` are revoked,
    /// the rest carry the load.
    #[arg(long)]
    tokens: PathBuf,
    /// How many revocations (alternately delete and regenerate).
    #[arg(long, default_value_t = 240)]
    revocations: usize,
    /// Load connections per node (closed loop, valid tokens); 0 for none.
    #[arg(long, default_value_t = 1)]
    load: usize,
    /// Pause before each write, drawn uniformly from 0 to this many
    /// milliseconds (so writes do not fall in step with a poll period).
    #[arg(long, default_value_t = 20)]
    jitter_ms: u64,
    /// Pause between two probes of one node, in microseconds (0: a tight
    /// loop). On a small machine a tight loop takes CPU from what it measures.
    #[arg(long, default_value_t = 0)]
    probe_pause_us: u64,
    /// Longest wait for one node to refuse one token.
    #[arg(long, default_value_t = 5000)]
    refuse_timeout_ms: u64,
    /// The whole run stops after this many seconds, finished or not.
    #[arg(long, default_value_t = 120)]
    deadline: u64,
    /// The load threads stop after this many requests in all.
    #[arg(long, default_value_t = 20_000_000)]
    max_requests: u64,
    /// A label for the results (the backend's name).
    #[arg(long, default_value = "store")]
    label: String,
    /// Appends one tab-separated result line here.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Writes one CSV line per revocation here.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Seed of the jitter (the schedule is reproducible).
    #[arg(long, default_value_t = 0x5eed_f1ee7)]
    seed: u64,
}

#[derive(clap::Args)]
struct RestartArgs {
    /// The store to load.
    #[arg(long)]
    db: String,
    /// The `wgauth` binary to start.
    #[arg(long)]
    wgauth: PathBuf,
    /// A file holding one token of the store (the server must accept it).
    #[arg(long)]
    token: PathBuf,
    /// How many starts of each kind.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// A label for the results.
    #[arg(long, default_value = "store")]
    label: String,
    /// Appends tab-separated result lines here.
    #[arg(long)]
    results: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Revoke(args) => revoke(&args),
        Cmd::Restart(args) => restart(&args),
        Cmd::FollowerLoad { db, snapshot_only } => {
            follower_load(&db, snapshot_only).map(|n| match n {})
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- HTTP ---

/// What a node answered to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// 200: accepted.
    Accepted,
    /// 403 `invalid Access-Token`: refused.
    Invalid,
    /// 503: the node cannot confirm it is current (fail closed).
    Unavailable,
    /// Anything else (a bug).
    Other(u16),
}

/// One kept-alive HTTP/1.1 connection to a node (reconnects when closed).
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    line: String,
    body: Vec<u8>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            request: Vec::with_capacity(256),
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// `GET /api/fleet` with `Access-Token: token`.
    fn ask(&mut self, token: &str) -> Result<Answer, String> {
        self.request.clear();
        self.request
            .extend_from_slice(b"GET /api/fleet HTTP/1.1\r\nHost: fleet\r\nAccess-Token: ");
        self.request.extend_from_slice(token.as_bytes());
        self.request.extend_from_slice(b"\r\n\r\n");
        // A kept-alive connection the server closed fails once: try anew.
        let mut last = String::new();
        for _ in 0..3 {
            match self.exchange() {
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    self.stream = None;
                    last = e;
                }
            }
        }
        Err(format!("{}: {last}", self.addr))
    }

    fn exchange(&mut self) -> Result<Answer, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(|e| e.to_string())?;
            self.stream = Some(BufReader::with_capacity(4096, stream));
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err("no connection".into());
        };
        stream
            .get_mut()
            .write_all(&self.request)
            .map_err(|e| format!("write: {e}"))?;
        self.line.clear();
        if stream
            .read_line(&mut self.line)
            .map_err(|e| format!("read: {e}"))?
            == 0
        {
            return Err("closed".into());
        }
        let status: u16 = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {:?}", self.line))?;
        let mut length = 0usize;
        let mut close = false;
        loop {
            self.line.clear();
            if stream
                .read_line(&mut self.line)
                .map_err(|e| format!("read: {e}"))?
                == 0
            {
                return Err("closed in the headers".into());
            }
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad content-length {value:?}"))?;
                } else if name.eq_ignore_ascii_case("connection")
                    && value.trim().eq_ignore_ascii_case("close")
                {
                    close = true;
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err("chunked answers are not expected".into());
                }
            }
        }
        self.body.resize(length, 0);
        stream
            .read_exact(&mut self.body)
            .map_err(|e| format!("read body: {e}"))?;
        if close {
            self.stream = None;
        }
        let contains = |needle: &[u8]| self.body.windows(needle.len()).any(|w| w == needle);
        Ok(match status {
            200 => Answer::Accepted,
            403 if contains(b"invalid Access-Token") => Answer::Invalid,
            503 => Answer::Unavailable,
            other => Answer::Other(other),
        })
    }
}

// ---------------------------------------------------- the machine ---

/// Samples the machine's runnable tasks (`procs_running` in /proc/stat,
/// every 50 ms) while it lives: on a shared machine, the figures mean
/// little without how crowded the CPUs were.
struct Crowd {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<(f64, u64)>>,
}

impl Crowd {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("crowd".into())
            .spawn(move || {
                let (mut sum, mut n, mut max) = (0u64, 0u64, 0u64);
                while !flag.load(Ordering::Relaxed) {
                    let running = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
                        stat.lines()
                            .find_map(|l| l.strip_prefix("procs_running "))
                            .and_then(|v| v.trim().parse::<u64>().ok())
                    });
                    if let Some(running) = running {
                        sum += running;
                        n += 1;
                        max = max.max(running);
                    }
                    thread::sleep(Duration::from_millis(50));
                }
                #[allow(clippy::cast_precision_loss)]
                let mean = if n == 0 { 0.0 } else { sum as f64 / n as f64 };
                (mean, max)
            })
            .ok();
        Self { stop, thread }
    }

    /// Mean and most runnable tasks seen (the sampler itself included).
    fn finish(mut self) -> (f64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or((0.0, 0))
    }
}

fn cpus() -> usize {
    thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

// ------------------------------------------------------------- revoke ---

/// What a probe thread is asked to do.
enum Job {
    /// Ask until the node accepts the token (the positive control).
    Accepts(Arc<str>, Instant),
    /// Ask with a revoked token until the node refuses it.
    Refuse(Arc<str>, Instant),
    Stop,
}

/// What a probe thread found.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    /// When the node gave the awaited answer (None: not before the deadline).
    at: Option<Instant>,
    /// Requests made for this job.
    probes: u64,
    /// 200s answered to a revoked token after the commit.
    accepted_after: u64,
    /// 503s met.
    unavailable: u64,
    /// Other statuses, or transport errors.
    odd: u64,
}

fn probe_thread(
    addr: SocketAddr,
    pause: Duration,
    jobs: &mpsc::Receiver<Job>,
    done: &mpsc::Sender<Outcome>,
) {
    let mut conn = Conn::new(addr);
    while let Ok(job) = jobs.recv() {
        let (token, deadline, want) = match job {
            Job::Accepts(token, deadline) => (token, deadline, Answer::Accepted),
            Job::Refuse(token, deadline) => (token, deadline, Answer::Invalid),
            Job::Stop => return,
        };
        let mut outcome = Outcome::default();
        while Instant::now() < deadline {
            outcome.probes += 1;
            match conn.ask(&token) {
                Ok(answer) if answer == want => {
                    outcome.at = Some(Instant::now());
                    break;
                }
                Ok(Answer::Accepted) => {
                    outcome.accepted_after += 1;
                    if !pause.is_zero() {
                        thread::sleep(pause);
                    }
                }
                Ok(Answer::Unavailable) => {
                    // The node is past its bound: ask again soon, but do not
                    // flood it (a client would wait for `Retry-After`).
                    outcome.unavailable += 1;
                    thread::sleep(Duration::from_millis(1));
                }
                Ok(_) | Err(_) => {
                    outcome.odd += 1;
                    // Not a tight loop on a broken node.
                    thread::sleep(Duration::from_millis(1));
                }
            }
        }
        if done.send(outcome).is_err() {
            return;
        }
    }
}

/// Counters of the load threads.
#[derive(Default)]
struct Load {
    ok: AtomicU64,
    /// Answered 503 (a node past its bound).
    unavailable: AtomicU64,
    /// Any other answer, or a transport error.
    odd: AtomicU64,
    stop: AtomicBool,
}

impl Load {
    fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.unavailable.load(Ordering::Relaxed)
            + self.odd.load(Ordering::Relaxed)
    }
}

fn load_thread(addr: SocketAddr, tokens: &[Arc<str>], load: &Load, max_requests: u64) {
    let mut conn = Conn::new(addr);
    let mut i = 0usize;
    while !load.stop.load(Ordering::Relaxed) {
        if load.total() >= max_requests {
            return;
        }
        let token = &tokens[i % tokens.len()];
        i = i.wrapping_add(1);
        match conn.ask(token) {
            Ok(Answer::Accepted) => load.ok.fetch_add(1, Ordering::Relaxed),
            Ok(Answer::Unavailable) => {
                // A client backs off (`Retry-After`); a flood would only
                // slow the node's recovery on a small machine.
                thread::sleep(Duration::from_millis(10));
                load.unavailable.fetch_add(1, Ordering::Relaxed)
            }
            Ok(_) | Err(_) => {
                // Not a tight loop on a broken node.
                thread::sleep(Duration::from_millis(1));
                load.odd.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// xorshift64*: the jitter's schedule, reproducible from the seed.
struct Jitter(u64);

impl Jitter {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        if n == 0 {
            0
        } else {
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn read_tokens(path: &PathBuf) -> Result<Vec<Arc<str>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading the tokens in {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(Arc::from)
        .collect())
}

fn id_of(token: &str) -> Result<TokenId, String> {
    host_records::parse(token.as_bytes())
        .map(|p| p.id())
        .map_err(|_| "a line of the tokens file is not a token".to_string())
}

#[allow(clippy::too_many_lines)]
fn revoke(args: &RevokeArgs) -> Result<(), String> {
    if let Some(far) = args.nodes.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!(
            "{far} is not a loopback address: the check stays on this host"
        ));
    }
    let tokens = read_tokens(&args.tokens)?;
    if tokens.len() <= args.revocations {
        return Err(format!(
            "{} tokens for {} revocations: the load needs some left over",
            tokens.len(),
            args.revocations
        ));
    }
    let (targets, spare) = tokens.split_at(args.revocations);
    let spare: Arc<[Arc<str>]> = spare.into();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.deadline);
    let refuse_timeout = Duration::from_millis(args.refuse_timeout_ms);

    let mut store = Store::open(&args.db, OpenMode::Existing).map_err(|e| e.to_string())?;

    // One probe thread per node.
    let mut probes = Vec::new();
    let mut outcomes = Vec::new();
    let mut handles = Vec::new();
    let pause = Duration::from_micros(args.probe_pause_us);
    for &addr in &args.nodes {
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (out_tx, out_rx) = mpsc::channel::<Outcome>();
        handles.push(
            thread::Builder::new()
                .name(format!("probe {addr}"))
                .spawn(move || probe_thread(addr, pause, &job_rx, &out_tx))
                .map_err(|e| e.to_string())?,
        );
        probes.push(job_tx);
        outcomes.push(out_rx);
    }
    // The load: closed-loop connections with valid tokens.
    let load = Arc::new(Load::default());
    let mut loaders = Vec::new();
    for &addr in &args.nodes {
        for _ in 0..args.load {
            let load = Arc::clone(&load);
            let spare = Arc::clone(&spare);
            let max = args.max_requests;
            loaders.push(
                thread::Builder::new()
                    .name(format!("load {addr}"))
                    .spawn(move || load_thread(addr, &spare, &load, max))
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    // Let the load reach its pace.
    thread::sleep(Duration::from_millis(300));
    let crowd = Crowd::start();
    let load_started = Instant::now();
    let load_before = load.ok.load(Ordering::Relaxed);

    let mut csv = match &args.csv {
        Some(path) => {
            let mut file = std::fs::File::create(path).map_err(|e| e.to_string())?;
            let header: Vec<String> = (0..args.nodes.len())
                .map(|i| format!("node{i}_ms"))
                .collect();
            writeln!(file, "k,op,write_ms,latency_ms,{}", header.join(","))
                .map_err(|e| e.to_string())?;
            Some(file)
        }
        None => None,
    };
    let mut jitter = Jitter(args.seed | 1);
    let mut latencies = Vec::new();
    let mut per_node: Vec<Vec<Duration>> = vec![Vec::new(); args.nodes.len()];
    let mut writes = Vec::new();
    let mut deletes = 0usize;
    let mut regenerates = 0usize;
    let mut timeouts = 0usize;
    let mut accepted_after = 0u64;
    let mut worst_accepted_after = 0u64;
    let mut unavailable = 0u64;
    let mut odd = 0u64;
    let mut control_failures = 0usize;
    let mut probe_count = 0u64;

    let collect = |outcomes: &[mpsc::Receiver<Outcome>]| -> Result<Vec<Outcome>, String> {
        outcomes
            .iter()
            .map(|rx| rx.recv().map_err(|_| "a probe thread ended".to_string()))
            .collect()
    };

    for (k, token) in targets.iter().enumerate() {
        if Instant::now() >= deadline {
            eprintln!("fleet: deadline reached after {k} revocations");
            break;
        }
        let id = id_of(token)?;
        // The positive control: every node accepts the token now.
        for probe in &probes {
            let _ = probe.send(Job::Accepts(
                Arc::clone(token),
                Instant::now() + refuse_timeout,
            ));
        }
        let control = collect(&outcomes)?;
        if control.iter().any(|o| o.at.is_none()) {
            control_failures += 1;
            eprintln!("fleet: revocation {k}: a node did not accept the token before it (skipped)");
            continue;
        }
        thread::sleep(Duration::from_millis(jitter.below(args.jitter_ms + 1)));

        let regenerate = k % 2 == 1;
        let before = Instant::now();
        if regenerate {
            store
                .regenerate(id, whatsgate_auth::Timestamp::now(), None)
                .map_err(|e| format!("regenerating {id}: {e}"))?;
            regenerates += 1;
        } else {
            store
                .delete(id)
                .map_err(|e| format!("deleting {id}: {e}"))?;
            deletes += 1;
        }
        let committed = Instant::now();
        writes.push(committed - before);
        for probe in &probes {
            let _ = probe.send(Job::Refuse(Arc::clone(token), committed + refuse_timeout));
        }
        let found = collect(&outcomes)?;
        let mut worst = Duration::ZERO;
        let mut row = Vec::new();
        let mut timed_out = false;
        let mut accepted_here = 0;
        for (node, outcome) in found.iter().enumerate() {
            probe_count += outcome.probes;
            accepted_here += outcome.accepted_after;
            unavailable += outcome.unavailable;
            odd += outcome.odd;
            match outcome.at {
                Some(at) => {
                    let latency = at.saturating_duration_since(committed);
                    per_node[node].push(latency);
                    worst = worst.max(latency);
                    row.push(ms(latency));
                }
                None => {
                    timed_out = true;
                    row.push("timeout".into());
                }
            }
        }
        accepted_after += accepted_here;
        worst_accepted_after = worst_accepted_after.max(accepted_here);
        if timed_out {
            timeouts += 1;
        } else {
            latencies.push(worst);
        }
        if let Some(file) = csv.as_mut() {
            writeln!(
                file,
                "{k},{},{},{},{}",
                if regenerate { "regenerate" } else { "delete" },
                ms(committed - before),
                if timed_out {
                    "timeout".into()
                } else {
                    ms(worst)
                },
                row.join(",")
            )
            .map_err(|e| e.to_string())?;
        }
    }

    let load_secs = load_started.elapsed().as_secs_f64();
    let (runnable, most_runnable) = crowd.finish();
    let load_ok = load.ok.load(Ordering::Relaxed) - load_before;
    load.stop.store(true, Ordering::Relaxed);
    for probe in &probes {
        let _ = probe.send(Job::Stop);
    }
    for handle in handles.into_iter().chain(loaders) {
        let _ = handle.join();
    }
    let load_unavailable = load.unavailable.load(Ordering::Relaxed);
    let load_odd = load.odd.load(Ordering::Relaxed);

    latencies.sort_unstable();
    writes.sort_unstable();
    let n = latencies.len();
    let (p50, p99, max) = (
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    #[allow(clippy::cast_precision_loss)]
    let rate = load_ok as f64 / load_secs.max(1e-9);
    println!(
        "fleet: {label}: {n} revocations measured ({deletes} delete, {regenerates} regenerate) \
         on {nodes} nodes, {load} load connection(s) per node, probes {probing}",
        label = args.label,
        nodes = args.nodes.len(),
        load = args.load,
        probing = if args.probe_pause_us == 0 {
            "in a tight loop".to_string()
        } else {
            format!("every {} us", args.probe_pause_us)
        },
    );
    println!(
        "fleet: {}: commit -> every node refuses: p50 {} ms, p99 {} ms, max {} ms",
        args.label,
        ms(p50),
        ms(p99),
        ms(max)
    );
    for (node, values) in per_node.iter_mut().enumerate() {
        values.sort_unstable();
        println!(
            "fleet: {}:   node {node} ({}): p50 {} ms, p99 {} ms, max {} ms",
            args.label,
            args.nodes[node],
            ms(percentile(values, 0.5)),
            ms(percentile(values, 0.99)),
            ms(values.last().copied().unwrap_or_default()),
        );
    }
    println!(
        "fleet: {}: the write itself (call to return): p50 {} ms, p99 {} ms, max {} ms",
        args.label,
        ms(percentile(&writes, 0.5)),
        ms(percentile(&writes, 0.99)),
        ms(writes.last().copied().unwrap_or_default())
    );
    println!(
        "fleet: {}: load {rate:.0} accepted requests/s over {load_secs:.1} s ({load_unavailable} \
         answered 503, {load_odd} other answers or errors); {probe_count} probes; 200s to a \
         revoked token after its commit: {accepted_after} in all, at most \
         {worst_accepted_after} for one revocation; probes answered 503: {unavailable}, \
         otherwise odd: {odd}; timeouts: {timeouts}; failed controls: {control_failures}",
        args.label
    );
    println!(
        "fleet: {}: the machine meanwhile: {runnable:.1} runnable tasks on average (at most \
         {most_runnable}) for {} CPU(s)",
        args.label,
        cpus()
    );
    if let Some(path) = &args.results {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| e.to_string())?;
        writeln!(
            file,
            "revoke\t{}\t{}\t{n}\t{}\t{}\t{}\t{}\t{rate:.0}\t{timeouts}\t{}\t{}\t{runnable:.1}",
            args.label,
            args.load,
            ms(p50),
            ms(p99),
            ms(max),
            ms(percentile(&writes, 0.5)),
            load_unavailable + unavailable,
            load_odd + odd + control_failures as u64,
        )
        .map_err(|e| e.to_string())?;
    }
    // Reported, not fatal: the other runs still tell something.
    if timeouts > 0
        || control_failures > 0
        || load_unavailable + unavailable > 0
        || load_odd + odd > 0
    {
        println!(
            "fleet: {}: ANOMALIES: {timeouts} revocation(s) not refused everywhere within {} ms, \
             {control_failures} failed control(s), {} answer(s) 503, {} odd answer(s) or \
             error(s)",
            args.label,
            args.refuse_timeout_ms,
            load_unavailable + unavailable,
            load_odd + odd
        );
    }
    Ok(())
}

// ------------------------------------------------------------ restart ---

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = kib as f64 / 1024.0;
    format!("{m:.0}")
}

/// In this process: with `snapshot_only`, reads a snapshot through `Store`
/// alone (open + every row); else starts a follower (open, snapshot,
/// keyring). Prints: seconds, tokens, RSS KiB, peak RSS KiB.
fn follower_load(db: &str, snapshot_only: bool) -> Result<std::convert::Infallible, String> {
    let started = Instant::now();
    let (tokens, keep) = if snapshot_only {
        let mut store = Store::open(db, OpenMode::Existing).map_err(|e| e.to_string())?;
        let snapshot = store.snapshot().map_err(|e| e.to_string())?;
        (snapshot.records.len(), None)
    } else {
        let follower = Follower::start(db, FollowOptions::default()).map_err(|e| e.to_string())?;
        (follower.keyring().len(), Some(follower))
    };
    let elapsed = started.elapsed();
    let (rss, hwm) = memory("self");
    println!("{:.6} {tokens} {rss} {hwm}", elapsed.as_secs_f64());
    let _ = std::io::stdout().flush();
    // Exit without tearing the keyring down (half a second for a million
    // records, and nothing to measure).
    std::mem::forget(keep);
    std::process::exit(0)
}

/// Runs `follower-load` in a fresh process: (seconds, tokens, RSS, peak).
fn load_in_child(db: &str, snapshot_only: bool) -> Result<(String, u64, u64, u64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command.args(["follower-load", "--db", db]);
    if snapshot_only {
        command.arg("--snapshot-only");
    }
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err("follower-load failed".into());
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [secs, tokens, rss, hwm] = fields.as_slice() else {
        return Err(format!("follower-load printed {line:?}"));
    };
    let number = |v: &str| v.parse::<u64>().map_err(|e| e.to_string());
    Ok((
        (*secs).to_string(),
        number(tokens)?,
        number(rss)?,
        number(hwm)?,
    ))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[allow(clippy::too_many_lines)]
fn restart(args: &RestartArgs) -> Result<(), String> {
    let token = read_tokens(&args.token)?
        .into_iter()
        .next()
        .ok_or("the token file is empty")?;
    let crowd = Crowd::start();
    let mut snapshot_secs = Vec::new();
    let mut follower_secs = Vec::new();
    let mut follower_rss = 0;
    let mut follower_hwm = 0;
    let mut count = 0;
    for _ in 0..args.rounds {
        let (secs, tokens, rss, hwm) = load_in_child(&args.db, true)?;
        snapshot_secs.push(secs.parse::<f64>().map_err(|e| e.to_string())?);
        println!(
            "fleet: {}: Store::open + snapshot: {secs} s for {tokens} tokens (RSS {} MiB, peak \
             {} MiB)",
            args.label,
            mib(rss),
            mib(hwm)
        );
        let (secs, tokens, rss, hwm) = load_in_child(&args.db, false)?;
        follower_secs.push(secs.parse::<f64>().map_err(|e| e.to_string())?);
        (count, follower_rss, follower_hwm) = (tokens, rss, hwm);
        println!(
            "fleet: {}: Follower::start: {secs} s for {tokens} tokens (RSS {} MiB, peak {} MiB)",
            args.label,
            mib(rss),
            mib(hwm)
        );
    }

    let mut serve_secs = Vec::new();
    let mut serve_rss = 0;
    let mut serve_hwm = 0;
    for _ in 0..args.rounds {
        let started = Instant::now();
        let mut child = Command::new(&args.wgauth)
            .args(["--db", &args.db, "serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", args.wgauth.display()))?;
        let pid = child.id().to_string();
        let Some(stderr) = child.stderr.take() else {
            return Err("no stderr".into());
        };
        let (line_tx, line_rx) = mpsc::channel::<(Instant, String)>();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line_tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let mut serving = None;
        while let Ok((at, line)) = line_rx.recv_timeout(Duration::from_secs(60)) {
            if let Some(rest) = line.split("serving http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                serving = Some((at, addr.trim_end_matches(',').to_string()));
                break;
            }
            eprintln!("fleet: wgauth serve: {line}");
        }
        let result = (|| {
            let (at, addr) = serving.ok_or("wgauth serve did not print \"serving\"")?;
            let secs = at.duration_since(started).as_secs_f64();
            let (rss, hwm) = memory(&pid);
            let addr: SocketAddr = addr
                .parse()
                .map_err(|_| format!("cannot read the address in {addr:?}"))?;
            let mut conn = Conn::new(addr);
            let good = conn.ask(&token)?;
            let bad = conn.ask("wgat_not-a-token")?;
            if good != Answer::Accepted || bad != Answer::Invalid {
                return Err(format!(
                    "after loading, the node answered {good:?} to a real token and {bad:?} to \
                     a wrong one"
                ));
            }
            Ok::<_, String>((secs, rss, hwm))
        })();
        // SIGTERM (a clean stop), then wait.
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = child.wait();
        drop(line_rx);
        let _ = reader.join();
        let (secs, rss, hwm) = result?;
        serve_secs.push(secs);
        serve_rss = rss;
        serve_hwm = hwm;
        println!(
            "fleet: {}: wgauth serve, spawn -> \"serving\": {secs:.3} s (RSS {} MiB, peak {} MiB); \
             a real token accepted, a wrong one refused",
            args.label,
            mib(rss),
            mib(hwm)
        );
    }
    let (runnable, _) = crowd.finish();
    let follower_median = median(&mut follower_secs);
    let snapshot_median = median(&mut snapshot_secs);
    let serve_median = median(&mut serve_secs);
    println!(
        "fleet: {}: {count} tokens: Store::open + snapshot median {snapshot_median:.3} s, \
         Follower::start median {follower_median:.3} s, wgauth serve median {serve_median:.3} s over {} rounds; {runnable:.1} runnable tasks on average \
         for {} CPU(s)",
        args.label,
        args.rounds,
        cpus()
    );
    if let Some(path) = &args.results {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| e.to_string())?;
        writeln!(
            file,
            "restart\t{}\tStore snapshot\t{count}\t{snapshot_median:.3}\t-\t-\t{runnable:.1}",
            args.label,
        )
        .map_err(|e| e.to_string())?;
        writeln!(
            file,
            "restart\t{}\tFollower::start\t{count}\t{follower_median:.3}\t{}\t{}\t{runnable:.1}",
            args.label,
            mib(follower_rss),
            mib(follower_hwm)
        )
        .map_err(|e| e.to_string())?;
        writeln!(
            file,
            "restart\t{}\twgauth serve\t{count}\t{serve_median:.3}\t{}\t{}\t{runnable:.1}",
            args.label,
            mib(serve_rss),
            mib(serve_hwm)
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}
