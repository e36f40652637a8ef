//! The daemon's HTTP endpoint on `[metrics] listen`: `/metrics` (Prometheus text, rendered
//! from the global recorder), `/status` (JSON, [`super::status::Status`]) and `/healthz`
//! (`200 ok`, or `503` with the reason). A small HTTP/1.1 server of our own: `GET` and `HEAD`,
//! one request per connection (`Connection: close`), at most [`MAX_CONNECTIONS`] at a time.
//! The metrics themselves are defined in [`super::metrics_names`].

use super::metrics_names;
use super::status::{Health, StatusHandle};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 32;
/// The largest request head read.
const MAX_REQUEST: usize = 8 * 1024;
/// A connection's whole exchange must fit in this.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

static RECORDER: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("installing the metrics recorder: {0}")]
    Recorder(#[from] metrics_exporter_prometheus::BuildError),
    #[error("starting the metrics endpoint on {addr}: {error}")]
    Bind { addr: SocketAddr, error: std::io::Error },
}

/// The process's Prometheus recorder, installed globally at the first call (with every
/// metric described); later calls return the same handle.
pub fn recorder() -> Result<PrometheusHandle, EndpointError> {
    let mut slot = RECORDER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(handle) = slot.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new().install_recorder()?;
    metrics_names::describe();
    *slot = Some(handle.clone());
    Ok(handle)
}

/// Installs the recorder and checks that `listen` can be bound. The endpoint itself is
/// served by the daemon ([`super::Daemon::build`], from `[metrics] listen`).
pub fn install(listen: SocketAddr) -> Result<(), EndpointError> {
    recorder()?;
    std::net::TcpListener::bind(listen)
        .map(drop)
        .map_err(|error| EndpointError::Bind { addr: listen, error })
}

/// A response: status code, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    fn text(code: u16, body: impl Into<String>) -> Self {
        Self { code, content_type: "text/plain; charset=utf-8", body: body.into() }
    }

    fn reason(&self) -> &'static str {
        match self.code {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.code,
            self.reason(),
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// What the endpoint serves.
#[derive(Debug, Clone)]
pub struct Routes {
    pub status: StatusHandle,
    /// `/metrics` is 404 without a recorder.
    pub metrics: Option<PrometheusHandle>,
}

impl Routes {
    /// The answer to `method target` (the query string is ignored).
    pub fn respond(&self, method: &str, target: &str) -> Response {
        if method != "GET" && method != "HEAD" {
            return Response::text(405, "only GET and HEAD\n");
        }
        let path = target.split(['?', '#']).next().unwrap_or("");
        match path {
            "/metrics" => match &self.metrics {
                Some(handle) => {
                    handle.run_upkeep();
                    Response {
                        code: 200,
                        content_type: "text/plain; version=0.0.4; charset=utf-8",
                        body: handle.render(),
                    }
                }
                None => Response::text(404, "no metrics recorder\n"),
            },
            "/status" => match serde_json::to_string_pretty(&self.status.snapshot()) {
                Ok(mut json) => {
                    json.push('\n');
                    Response { code: 200, content_type: "application/json", body: json }
                }
                Err(e) => Response::text(500, format!("{e}\n")),
            },
            "/healthz" => match self.status.health() {
                Health::Ok => Response::text(200, "ok\n"),
                Health::Stale(reason) | Health::Failing(reason) => {
                    Response::text(503, format!("{reason}\n"))
                }
            },
            _ => Response::text(404, "not found: try /metrics, /status or /healthz\n"),
        }
    }
}

/// The running endpoint; dropping it stops the server.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// Binds `listen` (port 0: any free port) and serves `/metrics`, `/status` and
    /// `/healthz` from a task of its own.
    pub async fn start(
        listen: SocketAddr,
        status: StatusHandle,
        metrics: Option<PrometheusHandle>,
    ) -> Result<Self, EndpointError> {
        let bind = |error| EndpointError::Bind { addr: listen, error };
        let listener = TcpListener::bind(listen).await.map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let routes = Arc::new(Routes { status, metrics });
        let task = tokio::spawn(serve(listener, routes));
        Ok(Self { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, routes: Arc<Routes>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(target: "native_challenger::daemon", %err, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            continue; // too many connections: this one is closed
        };
        let routes = routes.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, exchange(stream, &routes)).await;
            drop(permit);
        });
    }
}

/// Reads one request head, answers it, closes.
async fn exchange(mut stream: TcpStream, routes: &Routes) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let response = loop {
        if let Some(end) = find_end(&head) {
            head.truncate(end);
            break None;
        }
        if head.len() > MAX_REQUEST {
            break Some(Response::text(431, "request head too large\n"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if head.is_empty() {
                return Ok(());
            }
            break None; // a client that half-closed after its request line
        }
        head.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target, version) = (words.next(), words.next(), words.next());
    let head_only = method == Some("HEAD");
    let response = match (response, method, target, version) {
        (Some(response), ..) => response,
        (None, Some(method), Some(target), Some(v)) if v.starts_with("HTTP/1.") => {
            routes.respond(method, target)
        }
        _ => Response::text(400, "bad request\n"),
    };
    stream.write_all(&response.encode(head_only)).await?;
    stream.shutdown().await
}

/// The end of the request head (`\r\n\r\n`, or `\n\n` from lax clients).
fn find_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::metrics_names as names;
    use crate::daemon::status::Status;
    use std::time::Instant;

    /// `(status code, body)` of a raw HTTP request.
    async fn get(addr: SocketAddr, request: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut out = String::new();
        stream.read_to_string(&mut out).await.expect("read");
        let code = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status");
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (code, body)
    }

    fn request(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
    }

    #[tokio::test]
    async fn endpoint_serves_healthz_status_and_metrics() {
        let recorder = recorder().expect("recorder");
        metrics::counter!(names::WATCHER_REORGS).increment(1);
        let poll = Duration::from_millis(100);
        let status = StatusHandle::new("challenge", poll);
        status.update(|s| {
            s.l1_head = Some(120);
            s.cursor = Some(118);
            s.lag_blocks = Some(2);
            s.batches.valid = 3;
            s.batches.pending = 3;
            s.challenger = Some(alloy_primitives::Address::repeat_byte(7));
            s.intents = vec![super::super::status::OpenIntent {
                batch_id: 2,
                block_index: 1,
                stage: "committed".into(),
                window_closes: 140,
                ..Default::default()
            }];
        });
        status.record_poll(Instant::now(), Ok(()));
        let listen = "127.0.0.1:0".parse().unwrap();
        let endpoint =
            Endpoint::start(listen, status.clone(), Some(recorder)).await.expect("endpoint");
        let addr = endpoint.addr();
        assert_ne!(addr.port(), 0);

        assert_eq!(get(addr, &request("/healthz")).await, (200, "ok\n".into()));

        let (code, body) = get(addr, &request("/status")).await;
        assert_eq!(code, 200);
        let json: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
        assert_eq!(json["l1_head"], 120);
        assert_eq!(json["cursor"], 118);
        assert_eq!(json["lag_blocks"], 2);
        assert_eq!(json["batches"]["valid"], 3);
        assert_eq!(json["mode"], "challenge");
        assert_eq!(json["intents"][0]["stage"], "committed");
        assert_eq!(json["intents"][0]["window_closes"], 140);
        assert_eq!(json["last_error"], serde_json::Value::Null);
        let parsed: Status = serde_json::from_str(&body).expect("Status");
        assert_eq!(parsed, status.snapshot());

        let (code, body) = get(addr, &request("/metrics?x=1")).await;
        assert_eq!(code, 200);
        assert!(body.contains(&format!("# TYPE {} counter", names::WATCHER_REORGS)), "{body}");
        let help = format!("# HELP {} L1 reorgs the watcher rewound", names::WATCHER_REORGS);
        assert!(body.contains(&help), "described at install: {body}");
        assert!(body.contains(&format!("{} ", names::WATCHER_REORGS)), "{body}");

        assert_eq!(get(addr, &request("/")).await.0, 404);
        assert_eq!(get(addr, &request("/metrics/x")).await.0, 404);
        assert_eq!(get(addr, "POST /status HTTP/1.1\r\n\r\n").await.0, 405);
        assert_eq!(get(addr, "nonsense\r\n\r\n").await.0, 400);
        let (code, body) = get(addr, "HEAD /healthz HTTP/1.1\r\n\r\n").await;
        assert_eq!((code, body.as_str()), (200, ""));

        // No successful poll for longer than max(30 s, 10 polls): 503 with the reason.
        let long_ago = Instant::now().checked_sub(Duration::from_secs(95)).expect("uptime");
        status.record_poll(long_ago, Ok(()));
        status.record_poll(Instant::now(), Err("L1 unavailable after 8 attempts".into()));
        let (code, body) = get(addr, &request("/healthz")).await;
        assert_eq!(code, 503);
        assert!(
            body.starts_with("stale: last successful poll 95 s ago: L1 unavailable after 8"),
            "{body}"
        );
        let (_, body) = get(addr, &request("/status")).await;
        let json: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
        assert_eq!(json["last_error"], "L1 unavailable after 8 attempts");

        drop(endpoint);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(TcpStream::connect(addr).await.is_err(), "the endpoint stops when dropped");
    }

    #[tokio::test]
    async fn a_taken_port_is_a_clear_error() {
        let status = StatusHandle::new("challenge", Duration::from_secs(1));
        let first = Endpoint::start("127.0.0.1:0".parse().unwrap(), status.clone(), None)
            .await
            .expect("endpoint");
        let err = Endpoint::start(first.addr(), status, None).await.expect_err("taken");
        assert!(matches!(&err, EndpointError::Bind { addr, .. } if *addr == first.addr()));
        let err = err.to_string();
        assert!(err.starts_with("starting the metrics endpoint on 127.0.0.1:"), "{err}");
        assert!(err.contains("in use"), "{err}");
        assert!(install(first.addr()).is_err());
    }
}
