//! A fault-injecting JSON-RPC HTTP proxy for integration tests.
//!
//! [`RpcProxy::start`] listens on a free loopback port and forwards every JSON-RPC POST to an
//! upstream `http://host:port[/path]`, one connection per request (`Connection: close`).
//! A shared [`Faults`] plan, changeable while the proxy runs, makes it close connections
//! without answering, answer HTTP 503, rate-limit (HTTP 429 with a JSON-RPC error body), delay
//! answers, or refuse `eth_getLogs` block ranges larger than a limit with a JSON-RPC error
//! (-32005), as hosted providers do. It counts requests per method. Plain tokio: a minimal
//! HTTP/1.1 parser (Content-Length bodies) both ways.
//!
//! A lying or hostile endpoint is made of three per-method extensions, applied after the
//! faults above to single (non-batch) JSON-RPC calls that are forwarded:
//! - [`RpcProxy::set_result`]: answer the method with a fixed `result` (a spiked
//!   `eth_gasPrice`), never asking upstream;
//! - [`RpcProxy::set_hook`]: an async hook sees the request before it is forwarded and may
//!   act first (a front-runner reading `eth_sendRawTransaction`) or answer it itself;
//! - [`RpcProxy::set_filter`]: rewrites the `result` of upstream's answer (logs removed from
//!   `eth_getLogs`); [`RpcProxy::rewritten`] counts the answers it changed.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the requests it receives, first match wins: drop, 503, 429,
/// refuse; then, unless dropped, it waits `delay` before answering.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Close the connection without answering for this many requests.
    pub drop_next: u32,
    /// Answer HTTP 503 to this many requests.
    pub fail_next: u32,
    /// Answer HTTP 429 with a JSON-RPC error body (-32005) to this many requests.
    pub rate_limit_next: u32,
    /// Wait this long before answering each request.
    pub delay: Duration,
    /// Refuse `eth_getLogs` with numeric bounds spanning more blocks than this.
    pub max_log_range: Option<u64>,
}

/// What a [`RequestHook`] returns: `Some(result)` answers the call with that JSON-RPC
/// `result` instead of forwarding it; `None` forwards it.
pub type HookFuture = Pin<Box<dyn Future<Output = Option<Value>> + Send>>;
/// Runs before a call of its method is forwarded, with the whole request object.
pub type RequestHook = Arc<dyn Fn(Value) -> HookFuture + Send + Sync>;
/// Rewrites the `result` of upstream's answer to a call (the request is the first argument);
/// returns whether it changed anything.
pub type ResultFilter = Arc<dyn Fn(&Value, &mut Value) -> bool + Send + Sync>;

#[derive(Default)]
struct State {
    faults: Faults,
    /// Requests received (including faulted ones), by JSON-RPC method.
    counts: HashMap<String, u64>,
    /// `eth_getLogs` requests refused for their range.
    refused: u64,
    /// Fixed results, by method.
    results: HashMap<String, Value>,
    hooks: HashMap<String, RequestHook>,
    filters: HashMap<String, ResultFilter>,
    /// Answers a filter changed, by method.
    rewritten: HashMap<String, u64>,
}

/// A running proxy; it stops when dropped.
pub struct RpcProxy {
    /// `http://127.0.0.1:<port>`: point the client here.
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl RpcProxy {
    pub async fn start(upstream_url: &str) -> RpcProxy {
        let upstream = Upstream::parse(upstream_url).expect("upstream must be http://host:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone(), upstream.clone()));
            }
        });
        RpcProxy { url, state, task }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the whole fault plan.
    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
    }
    pub fn faults(&self) -> Faults {
        self.state().faults.clone()
    }
    pub fn fail_next(&self, n: u32) {
        self.state().faults.fail_next = n;
    }
    pub fn rate_limit_next(&self, n: u32) {
        self.state().faults.rate_limit_next = n;
    }
    pub fn drop_next(&self, n: u32) {
        self.state().faults.drop_next = n;
    }
    pub fn set_delay(&self, delay: Duration) {
        self.state().faults.delay = delay;
    }
    pub fn set_max_log_range(&self, limit: Option<u64>) {
        self.state().faults.max_log_range = limit;
    }

    /// Requests received for `method` so far, faulted or not.
    pub fn count(&self, method: &str) -> u64 {
        self.state().counts.get(method).copied().unwrap_or(0)
    }
    /// Requests received for any method.
    pub fn total(&self) -> u64 {
        self.state().counts.values().sum()
    }
    /// `eth_getLogs` requests refused for their block range.
    pub fn refused(&self) -> u64 {
        self.state().refused
    }
    pub fn reset_counts(&self) {
        let mut state = self.state();
        state.counts.clear();
        state.refused = 0;
    }

    /// Answers every call of `method` with `result` (`None`: forward again).
    pub fn set_result(&self, method: &str, result: Option<Value>) {
        let mut state = self.state();
        match result {
            Some(result) => state.results.insert(method.to_string(), result),
            None => state.results.remove(method),
        };
    }

    /// Runs `hook` before each call of `method` is forwarded (`None` removes it).
    pub fn set_hook(&self, method: &str, hook: Option<RequestHook>) {
        let mut state = self.state();
        match hook {
            Some(hook) => state.hooks.insert(method.to_string(), hook),
            None => state.hooks.remove(method),
        };
    }

    /// Rewrites upstream's answers to `method` with `filter` (`None` removes it).
    pub fn set_filter(&self, method: &str, filter: Option<ResultFilter>) {
        let mut state = self.state();
        match filter {
            Some(filter) => state.filters.insert(method.to_string(), filter),
            None => state.filters.remove(method),
        };
    }

    /// Answers to `method` that its filter changed.
    pub fn rewritten(&self, method: &str) -> u64 {
        self.state().rewritten.get(method).copied().unwrap_or(0)
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, Clone)]
struct Upstream {
    authority: String,
    path: String,
}

impl Upstream {
    fn parse(url: &str) -> Option<Upstream> {
        let rest = url.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        (!authority.is_empty()).then(|| Upstream { authority: authority.into(), path: path.into() })
    }
}

/// What to do with one request, decided under the lock.
enum Answer {
    Drop,
    Forward,
    Reply(u16, Vec<u8>),
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>, upstream: Upstream) {
    let Some((_, body)) = read_message(&mut stream).await else {
        let _ = respond(&mut stream, 400, "text/plain", b"bad request").await;
        return;
    };
    let request: Option<Value> = serde_json::from_slice(&body).ok();
    let id = request.as_ref().and_then(|r| r.get("id").cloned()).unwrap_or(Value::Null);
    let rpc_error = |message: &str| {
        let error =
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32005, "message": message}});
        error.to_string().into_bytes()
    };
    let (answer, delay) = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let calls = match &request {
            Some(Value::Array(calls)) => calls.iter().collect(),
            Some(call) => vec![call],
            None => vec![],
        };
        for call in calls {
            let method = call.get("method").and_then(Value::as_str).unwrap_or("<invalid>");
            *state.counts.entry(method.to_string()).or_default() += 1;
        }
        let faults = &mut state.faults;
        let span = request.as_ref().and_then(log_range);
        let answer = if faults.drop_next > 0 {
            faults.drop_next -= 1;
            Answer::Drop
        } else if faults.fail_next > 0 {
            faults.fail_next -= 1;
            Answer::Reply(503, b"service unavailable".to_vec())
        } else if faults.rate_limit_next > 0 {
            faults.rate_limit_next -= 1;
            Answer::Reply(429, rpc_error("request rate exceeded"))
        } else if faults.max_log_range.zip(span).is_some_and(|(limit, span)| span > limit) {
            state.refused += 1;
            Answer::Reply(200, rpc_error("query returned more than 10000 results"))
        } else {
            Answer::Forward
        };
        (answer, state.faults.delay)
    };
    if let Answer::Drop = answer {
        return; // dropping the stream closes the connection unanswered
    }
    tokio::time::sleep(delay).await;
    let (status, answer) = match answer {
        Answer::Reply(status, answer) => (status, answer),
        _ => match extend(&state, request.as_ref(), &upstream, &body).await {
            Some(answered) => answered,
            None => forward(&upstream, &body).await.unwrap_or((502, b"upstream failed".into())),
        },
    };
    let kind = if answer.starts_with(b"{") || answer.starts_with(b"[") {
        "application/json"
    } else {
        "text/plain"
    };
    let _ = respond(&mut stream, status, kind, &answer).await;
}

/// The extensions for a single call to be forwarded: a fixed result, then the hook, then
/// forwarding through the filter. `None`: no extension applies (forward unchanged).
async fn extend(
    state: &Arc<Mutex<State>>,
    request: Option<&Value>,
    upstream: &Upstream,
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let request = request.filter(|r| r.is_object())?;
    let method = request.get("method").and_then(Value::as_str)?.to_string();
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let reply = |result: Value| {
        let answer = json!({"jsonrpc": "2.0", "id": id, "result": result});
        (200, answer.to_string().into_bytes())
    };
    let (fixed, hook, filter) = {
        let state = state.lock().unwrap_or_else(|e| e.into_inner());
        (
            state.results.get(&method).cloned(),
            state.hooks.get(&method).cloned(),
            state.filters.get(&method).cloned(),
        )
    };
    if let Some(result) = fixed {
        return Some(reply(result));
    }
    if let Some(hook) = hook
        && let Some(result) = hook(request.clone()).await
    {
        return Some(reply(result));
    }
    let filter = filter?;
    let (status, answer) =
        forward(upstream, body).await.unwrap_or((502, b"upstream failed".into()));
    let Ok(mut parsed) = serde_json::from_slice::<Value>(&answer) else {
        return Some((status, answer));
    };
    let changed = match parsed.get_mut("result") {
        Some(result) => filter(request, result),
        None => false,
    };
    if !changed {
        return Some((status, answer));
    }
    *state.lock().unwrap_or_else(|e| e.into_inner()).rewritten.entry(method).or_default() += 1;
    Some((status, parsed.to_string().into_bytes()))
}

/// `toBlock - fromBlock + 1` of a single `eth_getLogs` call with numeric (or `earliest`) bounds.
fn log_range(request: &Value) -> Option<u64> {
    if request.get("method")?.as_str()? != "eth_getLogs" {
        return None;
    }
    let filter = request.get("params")?.get(0)?;
    let bound = |key: &str| match filter.get(key)?.as_str()? {
        "earliest" => Some(0),
        hex => u64::from_str_radix(hex.strip_prefix("0x")?, 16).ok(),
    };
    let (from, to) = (bound("fromBlock")?, bound("toBlock")?);
    Some(to.saturating_sub(from).saturating_add(1))
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    kind: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

/// POSTs `body` upstream on a fresh connection: (status, body), or `None` on any failure.
async fn forward(upstream: &Upstream, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(&upstream.authority).await.ok()?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        upstream.path,
        upstream.authority,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    let (status_line, answer) = read_message(&mut stream).await?;
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    Some((status, answer))
}

const MAX_HEAD: usize = 64 << 10;
const MAX_BODY: usize = 64 << 20;

/// Reads one HTTP/1.1 message: (start line, body). The body is `Content-Length` bytes or
/// (no length: a response) everything until the peer closes; chunked bodies are refused.
async fn read_message<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD || read_some(stream, &mut buf).await? == 0 {
            return None;
        }
    };
    let head = std::str::from_utf8(&buf[..end]).ok()?.to_string();
    let mut rest = buf.split_off(end + 4);
    let mut lines = head.split("\r\n");
    let start = lines.next()?.to_string();
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().ok().filter(|n| *n <= MAX_BODY)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    if chunked {
        return None; // not needed by the clients and servers under test
    }
    match length {
        Some(n) => {
            while rest.len() < n {
                if read_some(stream, &mut rest).await? == 0 {
                    return None;
                }
            }
            rest.truncate(n);
        }
        None if start.starts_with("HTTP/") => while read_some(stream, &mut rest).await? > 0 {},
        None => rest.clear(), // a request without a body
    }
    Some((start, rest))
}

async fn read_some<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Option<usize> {
    if buf.len() > MAX_BODY {
        return None;
    }
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await.ok()?;
    buf.extend_from_slice(&chunk[..n]);
    Some(n)
}
