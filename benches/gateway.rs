//! The gateway's overhead: the same OpenAI chat requests sent straight to a fake upstream and
//! through Promptyard, side by side in one run.
//!
//! Run: `cargo bench --bench gateway` (release build; about two minutes on 2 cores once built).
//!
//! The bench starts a fake OpenAI-compatible upstream on 127.0.0.1 (a fixed 16-piece reply,
//! whole JSON or SSE ending in `data: [DONE]`, with usage) and the release `promptyard` binary as
//! its own process, with a temporary data directory, its log in a file there, and the fake
//! allowed by `[outbound]`. It is provisioned without a browser: `admin create-user`,
//! `admin add-provider` and `admin create-api-key` run before the server starts (they need the
//! redb file to themselves), then a login over HTTP gives the session for the workspace
//! settings. Every phase sends identical requests to both targets, alternating in rounds
//! (direct, gateway, direct, ...) so that drift on a shared machine hits both alike, and
//! reports the gateway's cost as a difference (latency) or a ratio (throughput):
//!
//! 1. added latency at one request in flight (closed loop, non-streaming), and at a constant
//!    rate (open loop: latency counts from the scheduled send time, so a stalled server cannot
//!    hide its queue by slowing the sender);
//! 2. throughput at 32 requests in flight, gateway / direct;
//! 3. streaming from a paced upstream (one chunk per millisecond): added time to first token
//!    and added gap between chunks, for a text answer and for a streamed tool call (the same
//!    sixteen pieces as argument fragments), side by side;
//! 4. 256 concurrent slow streams: each must end with `[DONE]` and the full reply within a
//!    timeout; the server's resident memory (VmRSS) before, at the peak and after;
//! 5. throughput with run recording on and off (the workspace's `retention` setting);
//! 6. token counting, `promptyard::llm::tokens` against tiktoken-rs on a chat-like corpus
//!    (`cargo bench --bench tokens` has the detail).
//!
//! Requests to the fast model get the whole reply at once from the fake, so what differs between
//! the two targets is the gateway alone (note that the gateway always calls upstream with
//! `stream: true`, even for a non-streaming client). Targets are printed with PASS or MISS; a
//! missed target never fails the run. The exit code is non-zero only for functional errors: a
//! wrong or failed answer, a stalled stream, a token count that differs from tiktoken-rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The load generator is a client of its own, not the server's outbound path.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use promptyard::llm::tokens::{self, Encoding};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Sample counts and targets

/// Requests per target before any measurement (opens connections, warms caches).
const WARMUP: usize = 300;
/// Latency at one in flight: rounds per target, requests per round.
const LATENCY_ROUNDS: usize = 10;
const LATENCY_PER_ROUND: usize = 500;
/// Open loop: requests per second, rounds per target, requests per round.
const OPEN_RATE: u32 = 500;
const OPEN_ROUNDS: usize = 4;
const OPEN_PER_ROUND: usize = 500;
/// Throughput: requests in flight, rounds per target, length of a round.
const INFLIGHT: usize = 32;
const THROUGHPUT_ROUNDS: usize = 6;
const THROUGHPUT_ROUND: Duration = Duration::from_millis(1500);
/// Streaming at one in flight: rounds per target, streams per round.
const STREAM_ROUNDS: usize = 8;
const STREAM_PER_ROUND: usize = 40;
/// The paced model's pause between chunks.
const PACED_INTERVAL: Duration = Duration::from_millis(1);
/// Concurrent streams, the slow model's pause between chunks, and when a stream counts as
/// stalled.
const CONCURRENT_STREAMS: usize = 256;
const SLOW_INTERVAL: Duration = Duration::from_millis(50);
const STREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// Recording on/off: rounds per setting, length of a round.
const RECORDING_ROUNDS: usize = 6;
const RECORDING_ROUND: Duration = Duration::from_millis(1500);
/// Token counting: chat messages in the corpus, timed passes per counter (best one counts).
const TOKEN_MESSAGES: usize = 4000;
const TOKEN_ROUNDS: usize = 5;

const TARGET_ADDED_P50_US: f64 = 200.0;
const TARGET_ADDED_P99_US: f64 = 500.0;
const TARGET_THROUGHPUT_RATIO: f64 = 0.35;
const TARGET_ADDED_TTFT_P99_MS: f64 = 2.0;
const TARGET_RECORDING_RATIO: f64 = 0.85;
const TARGET_TOKEN_SPEEDUP: f64 = 1.5;

// ---------------------------------------------------------------------------------------------
// The fake upstream

/// Whole reply at once.
const FAST: &str = "bench-fast";
/// One chunk per `PACED_INTERVAL`.
const PACED: &str = "bench-paced";
/// One chunk per `SLOW_INTERVAL`.
const SLOW: &str = "bench-slow";
/// Like `PACED`, but the answer is a tool call whose arguments arrive in the reply's pieces.
const PACED_TOOL: &str = "bench-paced-tool";
/// The reply, one SSE chunk per piece.
const REPLY: [&str; 16] = [
    "Hello",
    " there",
    ",",
    " this",
    " is",
    " the",
    " fake",
    " upstream",
    " answering",
    " with",
    " sixteen",
    " small",
    " pieces",
    " of",
    " text",
    ".",
];
const PROMPT_TOKENS: u64 = 24;
const COMPLETION_TOKENS: u64 = REPLY.len() as u64;

struct Fake {
    base: String,
    port: u16,
}

async fn start_fake() -> Fake {
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(fake_chat));
    // A backlog of 4096, not tokio's 128: 256 streams connect at once, and a full accept queue
    // drops handshakes that the client only retries after 200 ms to 1 s.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(4096).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Without TCP_NODELAY a paced chunk waits for the ACK of the last one (Nagle), and the
    // client's delayed ACK makes that up to 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake {
        base: format!("http://127.0.0.1:{port}"),
        port,
    }
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

async fn fake_chat(Json(body): Json<Value>) -> Response {
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let usage = json!({"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS});
    if body["stream"] != json!(true) {
        let text: String = REPLY.concat();
        return Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                "finish_reason": "stop"}],
            "usage": usage,
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        sse(
            &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        )
    };
    let tool = model == PACED_TOOL;
    let mut chunks = vec![if tool {
        chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
                "id": "call_bench", "type": "function",
                "function": {"name": "bench_tool", "arguments": ""}}]}),
            Value::Null,
        )
    } else {
        chunk(json!({"role": "assistant", "content": ""}), Value::Null)
    }];
    chunks.extend(REPLY.iter().map(|p| {
        let delta = if tool {
            json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
        } else {
            json!({"content": p})
        };
        chunk(delta, Value::Null)
    }));
    chunks.push(chunk(
        json!({}),
        json!(if tool { "tool_calls" } else { "stop" }),
    ));
    if body["stream_options"]["include_usage"] == json!(true) {
        chunks.push(sse(
            &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
            "created": 0, "model": model, "choices": [], "usage": usage}),
        ));
    }
    chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let pause = match model.as_str() {
        PACED | PACED_TOOL => PACED_INTERVAL,
        SLOW => SLOW_INTERVAL,
        _ => Duration::ZERO,
    };
    let body = if pause.is_zero() {
        Body::from(chunks.concat())
    } else {
        // The role chunk and the first piece go at once; each later piece after a pause.
        let paced =
            futures::stream::iter(chunks.into_iter().enumerate()).then(move |(i, c)| async move {
                if (2..=REPLY.len()).contains(&i) {
                    tokio::time::sleep(pause).await;
                }
                Ok::<_, std::convert::Infallible>(c)
            });
        Body::from_stream(paced)
    };
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

// ---------------------------------------------------------------------------------------------
// The Promptyard process

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench password long enough";

/// The server process; killed when dropped (also on panic), before its directory goes.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// `promptyard --config FILE`, with no PROMPTYARD_ variable of ours leaking in.
fn promptyard(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_promptyard"));
    cmd.arg("--config").arg(config);
    for (k, _) in std::env::vars() {
        if k.starts_with("PROMPTYARD_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs `promptyard admin ARGS` (split at spaces) to completion, feeding `stdin`; returns its
/// standard output.
fn admin(config: &Path, args: &str, stdin: &str) -> String {
    let mut child = promptyard(config)
        .arg("admin")
        .args(args.split(' '))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promptyard admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Provisions an account, a connection to the fake and an API key, then starts the server.
/// Returns it and the key.
async fn start_promptyard(fake: &Fake) -> (Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("promptyard.toml");
    let log = dir.path().join("server.log");
    let data = dir.path().join("data");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n[log]\nformat = \"json\"\nlevel = \"info\"\n\
             [outbound]\nallow_cidrs = [\"127.0.0.1\"]\nallow_ports = [{}]\n",
            data.display().to_string(),
            fake.port
        ),
    )
    .unwrap();
    admin(
        &config,
        &format!("create-user --email {EMAIL} --name Bench --admin --password-stdin"),
        PASSWORD,
    );
    admin(
        &config,
        &format!(
            "add-provider --name fake --kind openai-compatible --base-url {}/v1 --model {FAST} \
             --model {PACED} --model {PACED_TOOL} --model {SLOW} --api-key-stdin",
            fake.base
        ),
        "sk-bench-upstream",
    );
    let create_key = format!("create-api-key --email {EMAIL} --workspace personal --name bench");
    let key = admin(&config, &create_key, "").trim().to_owned();
    let log_file = std::fs::File::create(&log).unwrap();
    let child = promptyard(&config)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let mut server = Server {
        child,
        base: String::new(),
        log,
        _dir: dir,
    };
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&server.log).unwrap_or_default();
        if let Some(at) = text.find("listening on http://") {
            let rest = &text[at + "listening on http://".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                .unwrap_or(rest.len());
            server.base = format!("http://{}", &rest[..end]);
            break;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("promptyard exited ({status}):\n{}", server.log_tail());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "promptyard did not start:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (server, key)
}

/// A logged-in browser-like client (session cookie, same-origin `Origin` header) and the id of
/// the personal workspace.
async fn login(base: &str) -> (reqwest::Client, String) {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", base.parse().unwrap());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .no_proxy()
        .build()
        .unwrap();
    let res = client
        .post(format!("{base}/login"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        303,
        "login failed: {}",
        res.text().await.unwrap()
    );
    let list: Value = client
        .get(format!("{base}/api/workspaces"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws = list[0]["id"].as_str().unwrap().to_owned();
    (client, ws)
}

/// Sets the workspace's history retention: `Ok(true)` when set, `Ok(false)` when the server
/// has no such setting (404/405), `Err` for any other answer.
async fn set_retention(
    session: &reqwest::Client,
    base: &str,
    ws: &str,
    mode: &str,
) -> Result<bool, String> {
    let res = session
        .put(format!("{base}/api/workspaces/{ws}/gateway"))
        .json(&json!({"retention": mode}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    match res.status().as_u16() {
        200..=299 => Ok(true),
        404 | 405 => Ok(false),
        s => Err(format!(
            "PUT retention {mode} answered {s}: {}",
            res.text().await.unwrap_or_default()
        )),
    }
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// The load generator

/// One endpoint to send chat requests to, with its own keep-alive connection pool.
struct Target {
    name: &'static str,
    url: String,
    auth: Option<String>,
    client: reqwest::Client,
}

/// When the pieces of a streamed reply arrived.
struct StreamTimes {
    /// Until the first non-empty piece.
    ttft: Duration,
    /// Between consecutive pieces.
    gaps: Vec<Duration>,
    /// Until the end of the stream.
    total: Duration,
}

impl Target {
    fn new(name: &'static str, base: &str, key: Option<&str>) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .build()
            .unwrap();
        Arc::new(Self {
            name,
            url: format!("{base}/v1/chat/completions"),
            auth: key.map(|k| format!("Bearer {k}")),
            client,
        })
    }

    fn post(&self, body: &Bytes) -> reqwest::RequestBuilder {
        let req = self
            .client
            .post(&self.url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        match &self.auth {
            Some(a) => req.header(header::AUTHORIZATION, a),
            None => req,
        }
    }

    /// A non-streaming call; checks the reply and its usage.
    async fn once(&self, body: &Bytes) -> Result<(), String> {
        let res = self.post(body).send().await.map_err(|e| e.to_string())?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let ok = v["choices"][0]["message"]["content"] == json!(REPLY.concat())
            && v["usage"]["completion_tokens"] == json!(COMPLETION_TOKENS)
            && v["usage"]["prompt_tokens"] == json!(PROMPT_TOKENS);
        if ok {
            Ok(())
        } else {
            Err(format!("wrong answer: {v}"))
        }
    }

    /// A streaming call timed from `start`: the first non-empty piece and the gaps between
    /// pieces. Checks the pieces, the usage chunk and the final `[DONE]`.
    async fn stream(&self, body: &Bytes, start: Instant) -> Result<StreamTimes, String> {
        let mut res = self.post(body).send().await.map_err(|e| e.to_string())?;
        if res.status() != 200 {
            return Err(format!(
                "{}: {}",
                res.status(),
                res.text().await.unwrap_or_default()
            ));
        }
        let mut buf: Vec<u8> = Vec::new();
        let (mut ttft, mut last, mut gaps) = (None, start, Vec::with_capacity(REPLY.len()));
        let (mut pieces, mut usage, mut done) = (Vec::new(), false, false);
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            let now = Instant::now();
            buf.extend_from_slice(&chunk);
            while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = buf.drain(..end + 2).collect();
                let data = std::str::from_utf8(&event)
                    .map_err(|e| e.to_string())?
                    .trim()
                    .strip_prefix("data: ")
                    .ok_or("an event without data")?
                    .to_owned();
                if done {
                    return Err("data after [DONE]".into());
                }
                if data == "[DONE]" {
                    done = true;
                    continue;
                }
                let v: Value = serde_json::from_str(&data).map_err(|e| e.to_string())?;
                if v["usage"]["completion_tokens"] == json!(COMPLETION_TOKENS) {
                    usage = true;
                }
                let delta = &v["choices"][0]["delta"];
                let piece = delta["content"]
                    .as_str()
                    .or_else(|| delta["tool_calls"][0]["function"]["arguments"].as_str());
                match piece {
                    Some(piece) if !piece.is_empty() => {
                        match ttft {
                            None => ttft = Some(now - start),
                            Some(_) => gaps.push(now - last),
                        }
                        last = now;
                        pieces.push(piece.to_owned());
                    }
                    _ => {}
                }
            }
        }
        if !done || !usage || pieces != REPLY {
            return Err(format!(
                "incomplete stream: [DONE] {done}, usage {usage}, pieces {pieces:?}"
            ));
        }
        Ok(StreamTimes {
            ttft: ttft.unwrap_or_default(),
            gaps,
            total: start.elapsed(),
        })
    }
}

fn request(model: &str, stream: bool) -> Bytes {
    let mut body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a terse assistant. Answer in one sentence."},
            {"role": "user", "content": "Say hello to the benchmark in sixteen small pieces."},
        ],
        "temperature": 0.2,
        "stream": stream,
    });
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if model == PACED_TOOL {
        body["tools"] = json!([{"type": "function", "function": {"name": "bench_tool",
            "description": "A tool the fake calls", "parameters": {"type": "object",
            "properties": {"text": {"type": "string"}}}}}]);
    }
    Bytes::from(body.to_string())
}

/// Functional errors seen during the run (the exit code), with the first few messages.
#[derive(Default)]
struct Failures {
    count: AtomicUsize,
    first: Mutex<Vec<String>>,
}

impl Failures {
    fn add(&self, phase: &str, target: &str, e: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().unwrap();
        if first.len() < 10 {
            first.push(format!("{phase} ({target}): {e}"));
        }
    }

    fn check<T>(&self, phase: &str, target: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|e| self.add(phase, target, e)).ok()
    }
}

/// Closed loop: `inflight` workers each send the next request as soon as the last is answered,
/// until `length` has passed. Returns how many were answered and the time taken.
async fn closed_loop(
    t: &Arc<Target>,
    body: &Bytes,
    inflight: usize,
    length: Duration,
    fails: &Arc<Failures>,
) -> (usize, Duration) {
    let start = Instant::now();
    let deadline = start + length;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..inflight {
        let (t, body, fails) = (t.clone(), body.clone(), fails.clone());
        workers.spawn(async move {
            let mut answered = 0;
            while Instant::now() < deadline {
                let r = t.once(&body).await;
                answered += usize::from(fails.check("closed loop", t.name, r).is_some());
            }
            answered
        });
    }
    let mut answered = 0;
    while let Some(n) = workers.join_next().await {
        answered += n.unwrap();
    }
    (answered, start.elapsed())
}

/// One request at a time, `n` times; returns the latencies.
async fn sequential(t: &Target, body: &Bytes, n: usize, fails: &Failures) -> Vec<Duration> {
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let sent = Instant::now();
        if fails
            .check("one in flight", t.name, t.once(body).await)
            .is_some()
        {
            lat.push(sent.elapsed());
        }
    }
    lat
}

/// Open loop: `n` requests at `rate` per second on a fixed schedule kept by a thread of its
/// own (`thread::sleep` is precise to tens of microseconds, the runtime's timer only to a
/// millisecond). Each latency counts from the scheduled send time, so a server that falls
/// behind is charged for the queue it causes.
async fn open_loop(
    t: &Arc<Target>,
    body: &Bytes,
    rate: u32,
    n: usize,
    fails: &Arc<Failures>,
) -> Vec<Duration> {
    let runtime = tokio::runtime::Handle::current();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let interval = Duration::from_secs(1) / rate;
    let (t2, body) = (t.clone(), body.clone());
    let scheduler = std::thread::spawn(move || {
        let start = Instant::now() + Duration::from_millis(5);
        for i in 0..n {
            let at = start + interval * u32::try_from(i).unwrap();
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let (t, body, tx) = (t2.clone(), body.clone(), tx.clone());
            runtime.spawn(async move {
                let r = t.once(&body).await;
                let _ = tx.send((at.elapsed(), r));
            });
        }
    });
    let mut lat = Vec::with_capacity(n);
    while let Some((d, r)) = rx.recv().await {
        if fails.check("open loop", t.name, r).is_some() {
            lat.push(d);
        }
    }
    scheduler.join().unwrap();
    lat
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// "p50 / p99" of `v` in microseconds.
fn p50_p99(v: &mut [Duration]) -> String {
    format!(
        "{:.0} / {:.0}",
        us(percentile(v, 50.0)),
        us(percentile(v, 99.0))
    )
}

/// Gateway minus direct at percentile `p`, in microseconds.
fn added(gateway: &mut [Duration], direct: &mut [Duration], p: f64) -> f64 {
    us(percentile(gateway, p)) - us(percentile(direct, p))
}

enum Verdict {
    Pass,
    Miss,
    Info,
    NotMeasured,
}

struct Row {
    what: String,
    measured: String,
    target: String,
    verdict: Verdict,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
}

impl Report {
    /// A figure with a target: `ok` decides PASS or MISS.
    fn target(&mut self, what: &str, measured: String, target: &str, ok: bool) {
        self.rows.push(Row {
            what: what.to_owned(),
            measured,
            target: target.to_owned(),
            verdict: if ok { Verdict::Pass } else { Verdict::Miss },
        });
    }

    fn info(&mut self, what: &str, measured: String) {
        self.rows.push(Row {
            what: what.to_owned(),
            measured,
            target: String::new(),
            verdict: Verdict::Info,
        });
    }

    fn not_measured(&mut self, what: &str, why: &str, target: &str) {
        self.rows.push(Row {
            what: what.to_owned(),
            measured: why.to_owned(),
            target: target.to_owned(),
            verdict: Verdict::NotMeasured,
        });
    }

    fn print(&self) {
        println!("\nsummary");
        for r in &self.rows {
            let verdict = match r.verdict {
                Verdict::Pass => "PASS",
                Verdict::Miss => "MISS",
                Verdict::Info => "",
                Verdict::NotMeasured => "not measured",
            };
            println!(
                "  {:<46} {:>22}  {:<14} {verdict}",
                r.what, r.measured, r.target
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Phases

/// Both targets, in the order each round visits them.
type Pair = [Arc<Target>; 2];

async fn latency_one_in_flight(targets: &Pair, fails: &Arc<Failures>, report: &mut Report) {
    let body = request(FAST, false);
    for t in targets {
        sequential(t, &body, WARMUP, fails).await;
    }
    let mut lat = [Vec::new(), Vec::new()];
    for _ in 0..LATENCY_ROUNDS {
        for (i, t) in targets.iter().enumerate() {
            lat[i].extend(sequential(t, &body, LATENCY_PER_ROUND, fails).await);
        }
    }
    let [direct, gateway] = &mut lat;
    println!(
        "1. non-streaming, p50 / p99 in us:\n   {:<34} direct {:>13}   gateway {:>13}",
        format!("one in flight ({} each)", direct.len()),
        p50_p99(direct),
        p50_p99(gateway),
    );
    let (p50, p99) = (added(gateway, direct, 50.0), added(gateway, direct, 99.0));
    report.target(
        "added latency p50, 1 in flight",
        format!("{p50:.0} us"),
        &format!("<= {TARGET_ADDED_P50_US:.0} us"),
        p50 <= TARGET_ADDED_P50_US,
    );
    report.target(
        "added latency p99, 1 in flight",
        format!("{p99:.0} us"),
        &format!("<= {TARGET_ADDED_P99_US:.0} us"),
        p99 <= TARGET_ADDED_P99_US,
    );

    let mut open = [Vec::new(), Vec::new()];
    for _ in 0..OPEN_ROUNDS {
        for (i, t) in targets.iter().enumerate() {
            open[i].extend(open_loop(t, &body, OPEN_RATE, OPEN_PER_ROUND, fails).await);
        }
    }
    let [direct, gateway] = &mut open;
    println!(
        "   {:<34} direct {:>13}   gateway {:>13}",
        format!("{OPEN_RATE} req/s, open loop ({} each)", direct.len()),
        p50_p99(direct),
        p50_p99(gateway),
    );
    report.info(
        &format!("added latency p50 / p99 at {OPEN_RATE} req/s"),
        format!(
            "{:.0} / {:.0} us",
            added(gateway, direct, 50.0),
            added(gateway, direct, 99.0)
        ),
    );
}

/// Alternating closed-loop rounds at `INFLIGHT`; returns requests per second of each target.
async fn throughput(
    targets: &Pair,
    body: &Bytes,
    rounds: usize,
    length: Duration,
    fails: &Arc<Failures>,
) -> [f64; 2] {
    let mut done = [0usize; 2];
    let mut time = [Duration::ZERO; 2];
    for _ in 0..rounds {
        for (i, t) in targets.iter().enumerate() {
            let (n, elapsed) = closed_loop(t, body, INFLIGHT, length, fails).await;
            done[i] += n;
            time[i] += elapsed;
        }
    }
    [0, 1].map(|i| done[i] as f64 / time[i].as_secs_f64())
}

async fn throughput_phase(targets: &Pair, fails: &Arc<Failures>, report: &mut Report) {
    let body = request(FAST, false);
    for t in targets {
        closed_loop(t, &body, INFLIGHT, Duration::from_millis(500), fails).await;
    }
    let [direct, gateway] =
        throughput(targets, &body, THROUGHPUT_ROUNDS, THROUGHPUT_ROUND, fails).await;
    let ratio = gateway / direct;
    println!(
        "2. {INFLIGHT} in flight, non-streaming: direct {direct:.0} req/s, gateway {gateway:.0} \
         req/s"
    );
    report.target(
        &format!("throughput gateway / direct, {INFLIGHT} in flight"),
        format!("{ratio:.2}"),
        &format!(">= {TARGET_THROUGHPUT_RATIO}"),
        ratio >= TARGET_THROUGHPUT_RATIO,
    );
}

async fn streaming_phase(targets: &Pair, fails: &Arc<Failures>, report: &mut Report) {
    let mut added_ttft = Vec::new();
    for (answer, model) in [("text", PACED), ("tool call", PACED_TOOL)] {
        let body = request(model, true);
        let mut ttft = [Vec::new(), Vec::new()];
        let mut gaps = [Vec::new(), Vec::new()];
        let mut total = [Vec::new(), Vec::new()];
        for round in 0..=STREAM_ROUNDS {
            for (i, t) in targets.iter().enumerate() {
                for _ in 0..STREAM_PER_ROUND {
                    let r = t.stream(&body, Instant::now()).await;
                    // Round 0 warms up.
                    if let Some(s) = fails.check("streaming", t.name, r)
                        && round > 0
                    {
                        ttft[i].push(s.ttft);
                        gaps[i].extend(s.gaps);
                        total[i].push(s.total);
                    }
                }
            }
        }
        println!(
            "3. streaming a {answer}, 1 in flight, {} chunks {} ms apart ({} streams each), \
             p50 / p99 in us:",
            REPLY.len(),
            PACED_INTERVAL.as_millis(),
            ttft[0].len(),
        );
        for (what, v) in [
            ("time to first piece", &mut ttft),
            ("gap between chunks", &mut gaps),
            ("time to [DONE]", &mut total),
        ] {
            let [d, g] = v;
            println!(
                "   {what:<34} direct {:>13}   gateway {:>13}",
                p50_p99(d),
                p50_p99(g)
            );
        }
        let [dt, gt] = &mut ttft;
        let ttft50 = added(gt, dt, 50.0) / 1000.0;
        let ttft99 = added(gt, dt, 99.0) / 1000.0;
        report.target(
            &format!("added time to first token p99, streaming a {answer}"),
            format!("{ttft99:.2} ms"),
            &format!("<= {TARGET_ADDED_TTFT_P99_MS} ms"),
            ttft99 <= TARGET_ADDED_TTFT_P99_MS,
        );
        let [dg, gg] = &mut gaps;
        report.info(
            &format!("added gap between chunks p50 / p99, {answer}"),
            format!("{:.0} / {:.0} us", added(gg, dg, 50.0), added(gg, dg, 99.0)),
        );
        added_ttft.push((ttft50, ttft99));
    }
    if let [(t50, t99), (c50, c99)] = added_ttft[..] {
        report.info(
            "added time to first token, tool call minus text, p50 / p99",
            format!("{:+.3} / {:+.3} ms", c50 - t50, c99 - t99),
        );
    }
}

/// `CONCURRENT_STREAMS` slow streams at once; returns how many stalled (no complete answer
/// within `STREAM_TIMEOUT`), and a line on the times of the others.
async fn concurrent_streams(t: &Arc<Target>, fails: &Arc<Failures>) -> (usize, String) {
    let body = request(SLOW, true);
    let mut streams = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENT_STREAMS {
        let (t, body) = (t.clone(), body.clone());
        streams.spawn(async move {
            let start = Instant::now();
            match tokio::time::timeout(STREAM_TIMEOUT, t.stream(&body, start)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no [DONE] within {STREAM_TIMEOUT:?}")),
            }
        });
    }
    let (mut stalled, mut ttft, mut total) = (0, Vec::new(), Vec::new());
    while let Some(r) = streams.join_next().await {
        match fails.check("concurrent streams", t.name, r.unwrap()) {
            Some(s) => {
                ttft.push(s.ttft);
                total.push(s.total);
            }
            None => stalled += 1,
        }
    }
    let line = format!(
        "{:<8} {stalled} stalled; first token p50 {:.0} ms, max {:.0} ms; [DONE] p50 {:.0} ms, \
         max {:.0} ms",
        t.name,
        us(percentile(&mut ttft, 50.0)) / 1e3,
        us(percentile(&mut ttft, 100.0)) / 1e3,
        us(percentile(&mut total, 50.0)) / 1e3,
        us(percentile(&mut total, 100.0)) / 1e3,
    );
    (stalled, line)
}

async fn concurrency_phase(targets: &Pair, pid: u32, fails: &Arc<Failures>, report: &mut Report) {
    let before = rss_mib(pid);
    let (_, direct) = concurrent_streams(&targets[0], fails).await;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0.0f64;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    let (stalled, gateway) = concurrent_streams(&targets[1], fails).await;
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mib(pid);
    println!(
        "4. {CONCURRENT_STREAMS} concurrent streams, {} chunks {} ms apart, timeout {} s:\n   \
         {direct}\n   {gateway}\n   server RSS {before:.1} MiB before, {peak:.1} MiB peak, \
         {after:.1} MiB 2 s after",
        REPLY.len(),
        SLOW_INTERVAL.as_millis(),
        STREAM_TIMEOUT.as_secs(),
    );
    report.target(
        &format!("stalled of {CONCURRENT_STREAMS} concurrent streams"),
        stalled.to_string(),
        "0",
        stalled == 0,
    );
    report.info(
        "server RSS before / during / after (MiB)",
        format!("{before:.1} / {peak:.1} / {after:.1}"),
    );
}

async fn recording_phase(
    targets: &Pair,
    server: &Server,
    fails: &Arc<Failures>,
    report: &mut Report,
) {
    const WHAT: &str = "throughput recording on / off";
    let target = format!(">= {TARGET_RECORDING_RATIO}");
    let (session, ws) = login(&server.base).await;
    let gateway = &targets[1];
    let body = request(FAST, false);
    let mut done = [0usize; 2];
    let mut time = [Duration::ZERO; 2];
    for round in 0..=RECORDING_ROUNDS {
        for (i, mode) in ["full", "none"].into_iter().enumerate() {
            match set_retention(&session, &server.base, &ws, mode).await {
                Ok(true) => {}
                Ok(false) => {
                    println!("5. recording on/off: not measured (retention setting not available)");
                    report.not_measured(WHAT, "setting missing", &target);
                    return;
                }
                Err(e) => {
                    fails.add("recording", "gateway", e);
                    report.not_measured(WHAT, "setting refused", &target);
                    return;
                }
            }
            let length = if round == 0 {
                Duration::from_millis(300)
            } else {
                RECORDING_ROUND
            };
            let (n, elapsed) = closed_loop(gateway, &body, INFLIGHT, length, fails).await;
            if round > 0 {
                done[i] += n;
                time[i] += elapsed;
            }
        }
    }
    if let Err(e) = set_retention(&session, &server.base, &ws, "full").await {
        fails.add("recording", "gateway", e);
    }
    let [on, off] = [0, 1].map(|i| done[i] as f64 / time[i].as_secs_f64());
    let ratio = on / off;
    println!("5. gateway, {INFLIGHT} in flight: recording on {on:.0} req/s, off {off:.0} req/s");
    report.target(
        WHAT,
        format!("{ratio:.2}"),
        &target,
        ratio >= TARGET_RECORDING_RATIO,
    );
}

// ---------------------------------------------------------------------------------------------
// Token counting

/// xorshift64*: the same corpus on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

/// Chat-sized messages: questions and answers in English with some code, numbers, lists and
/// the odd accented word, CJK phrase or emoji.
fn chat_corpus() -> Vec<String> {
    const WORDS: &str = "the a prompt model answer please could you explain why this function \
        returns an error when I call it with empty input summarise following text in three bullet \
        points customer wants refund for order because delivery was late and write short email \
        reply translate into French keep tone friendly database query slow index on column \
        user_id JSON API request timeout retry after seconds café naïve München 東京の天気 👍 \
        señor test case should pass fail value is not defined";
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    const CODE: &[&str] = &[
        "```python\ndef add(a, b):\n    return a + b\n```",
        "```rust\nfn main() {\n    println!(\"{}\", 40 + 2);\n}\n```",
        "`SELECT id, email FROM users WHERE created_at > now() - interval '7 days';`",
        "```js\nconst res = await fetch(url, { method: 'POST', body: JSON.stringify(data) });\n```",
        "{\"name\": \"Ann\", \"age\": 42, \"tags\": [\"admin\", \"ops\"]}",
    ];
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    (0..TOKEN_MESSAGES)
        .map(|_| {
            let mut m = String::new();
            for s in 0..1 + r.below(5) {
                if s > 0 {
                    m.push_str(r.pick(&[" ", "\n", "\n- ", "\n\n"]));
                }
                let n = 4 + r.below(16);
                for w in 0..n {
                    if w > 0 {
                        m.push(' ');
                    }
                    m.push_str(r.pick(&words));
                    if r.below(20) == 0 {
                        write!(m, " {}", r.below(100_000)).unwrap();
                    }
                }
                m.push_str(r.pick(&[".", "?", "!", ":", ","]));
                if r.below(8) == 0 {
                    m.push('\n');
                    m.push_str(r.pick(CODE));
                }
            }
            m
        })
        .collect()
}

/// The best of `TOKEN_ROUNDS` passes over `corpus`, and the total count.
fn time_counting(corpus: &[String], count: impl Fn(&str) -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut total = 0;
    for _ in 0..=TOKEN_ROUNDS {
        let start = Instant::now();
        total = corpus.iter().map(|m| count(std::hint::black_box(m))).sum();
        best = best.min(start.elapsed());
    }
    (best, total)
}

fn token_phase(fails: &Failures, report: &mut Report) {
    let corpus = chat_corpus();
    let bytes: usize = corpus.iter().map(String::len).sum();
    let mut ours_time = Duration::ZERO;
    let mut theirs_time = Duration::ZERO;
    let mut tokens_total = 0;
    let mut mismatched = 0;
    for (enc, reference) in [
        (Encoding::O200k, tiktoken_rs::o200k_base_singleton()),
        (Encoding::Cl100k, tiktoken_rs::cl100k_base_singleton()),
    ] {
        for m in &corpus {
            if tokens::count(enc, m) != reference.encode_ordinary(m).len() {
                mismatched += 1;
            }
        }
        let (ours, n) = time_counting(&corpus, |m| tokens::count(enc, m));
        let (theirs, _) = time_counting(&corpus, |m| reference.encode_ordinary(m).len());
        ours_time += ours;
        theirs_time += theirs;
        tokens_total += n;
    }
    if mismatched > 0 {
        fails.add(
            "token counting",
            "llm::tokens",
            format!("{mismatched} messages counted differently from tiktoken-rs"),
        );
    }
    let speedup = theirs_time.as_secs_f64() / ours_time.as_secs_f64();
    println!(
        "6. token counting, {} chat messages ({bytes} bytes, {tokens_total} tokens in o200k and \
         cl100k), best of {TOKEN_ROUNDS}: llm::tokens {:.1} ms, tiktoken-rs {:.1} ms, counts \
         identical: {} (details: cargo bench --bench tokens)",
        corpus.len(),
        ours_time.as_secs_f64() * 1e3,
        theirs_time.as_secs_f64() * 1e3,
        if mismatched == 0 { "yes" } else { "NO" },
    );
    report.target(
        "token counting speed / tiktoken-rs",
        format!("{speedup:.2}x"),
        &format!(">= {TARGET_TOKEN_SPEEDUP}x"),
        speedup >= TARGET_TOKEN_SPEEDUP && mismatched == 0,
    );
}

// ---------------------------------------------------------------------------------------------

async fn run(fails: Arc<Failures>, report: &mut Report) {
    let fake = start_fake().await;
    let (server, key) = start_promptyard(&fake).await;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "promptyard pid {} at {} (log {}), fake upstream at {}; {} cores, load average {}",
        server.pid(),
        server.base,
        server.log.display(),
        fake.base,
        std::thread::available_parallelism().map_or(0, usize::from),
        load.split(' ').take(3).collect::<Vec<_>>().join(" "),
    );
    let targets: Pair = [
        Target::new("direct", &fake.base, None),
        Target::new("gateway", &server.base, Some(&key)),
    ];
    latency_one_in_flight(&targets, &fails, report).await;
    throughput_phase(&targets, &fails, report).await;
    streaming_phase(&targets, &fails, report).await;
    concurrency_phase(&targets, server.pid(), &fails, report).await;
    recording_phase(&targets, &server, &fails, report).await;
    if fails.count.load(Ordering::Relaxed) > 0 {
        println!("server log, last lines:\n{}", server.log_tail());
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    let fails = Arc::new(Failures::default());
    let mut report = Report::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(fails.clone(), &mut report));
    drop(runtime);
    token_phase(&fails, &mut report);
    report.print();
    let count = fails.count.load(Ordering::Relaxed);
    println!("\ntook {:.0} s", started.elapsed().as_secs_f64());
    if count == 0 {
        ExitCode::SUCCESS
    } else {
        println!("{count} functional error(s); the first:");
        for e in fails.first.lock().unwrap().iter() {
            println!("  {e}");
        }
        ExitCode::FAILURE
    }
}
