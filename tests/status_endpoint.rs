//! `/status`, `/healthz` and `/metrics` of a real daemon on the dev L1 (`[metrics] listen` on
//! port 0, the bound address from `Daemon::endpoint`), through a conviction, and the `status`
//! command against it (summary, `--json`, `--config`, and nothing listening).
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::e2e::{E2e, Running, dev_key, landed};
use native_challenger::daemon::metrics_names as names;
use native_challenger::daemon::{Daemon, Event};
use native_challenger::proposer::Fault;
use native_challenger::submitter::TxKey;
use native_challenger::watcher::Finding;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

const BLOCK_TIME: Duration = Duration::from_millis(250);
const WAIT: Duration = Duration::from_secs(90);

/// `(status code, body)` of `GET path`.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    let code = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("status line");
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body)
}

async fn status(addr: SocketAddr) -> Value {
    let (code, body) = get(addr, "/status").await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("status JSON")
}

/// Polls `/status` until `done` holds.
async fn status_until(addr: SocketAddr, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let json = status(addr).await;
        if done(&json) {
            return json;
        }
        assert!(Instant::now() < deadline, "no status with {what} within {WAIT:?}: {json:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of an unlabelled series in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Runs `native-challenger status ARGS`: exit success, stdout, stderr.
async fn status_command(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_native-challenger"))
            .arg("status")
            .args(&args)
            .output()
            .expect("run the binary");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_endpoint_follows_a_conviction() {
    let mut e = E2e::new(40, BLOCK_TIME).await;
    let mut config = e.config("c", None);
    config.metrics.listen = Some("127.0.0.1:0".into());
    std::fs::create_dir_all(config.store.path.parent().unwrap()).expect("dir");
    let key = TxKey::from(dev_key(1, &e.node));
    let challenger = dev_key(1, &e.node).address();
    let (tx, events) = mpsc::unbounded_channel();
    let daemon = Daemon::build(&config, Some(key), false).await.expect("daemon").with_events(tx);
    let addr = daemon.endpoint().expect("the endpoint is served");
    assert_ne!(addr.port(), 0, "the bound port is reported");
    assert_eq!(daemon.status().snapshot().listen, Some(addr.to_string()));
    let (stop, rx) = watch::channel(false);
    let handle = tokio::spawn(daemon.run(rx));
    let mut running = Running { stop, handle, events, seen: Vec::new() };

    // Before anything is proposed: healthy, following L1, nothing counted.
    let json = status_until(addr, "a first poll and balance", |j| {
        j["last_success_unix"].is_u64() && j["balance_wei"].is_string()
    })
    .await;
    assert_eq!(get(addr, "/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(json["mode"], "challenge");
    let lower = |v: &Value| v.as_str().map(str::to_lowercase);
    assert_eq!(lower(&json["challenger"]), Some(format!("{challenger:?}").to_lowercase()));
    assert_eq!(lower(&json["rollup"]), Some(format!("{:?}", e.client.address()).to_lowercase()));
    assert_eq!(json["batches"]["valid"], 0);
    assert_eq!(json["intents"], Value::Array(Vec::new()));
    assert_eq!(json["last_error"], Value::Null);

    e.propose(None).await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    let (top_id, _) = e.propose(None).await;
    let event = running.wait_for(WAIT, "a landed challenge", |ev| landed(ev).is_some()).await;
    assert_eq!(landed(&event).expect("landed").batch_id, lie_id);
    running
        .saw_or_wait(WAIT, "the invalidation of the batch on top", |ev| {
            matches!(ev, Event::Finding(Finding::Invalidated { batch_id, .. }) if *batch_id == top_id)
        })
        .await;

    let json = status_until(addr, "the conviction counted", |j| {
        // The watcher's side and the submitter's (a bond deposited) are updated apart.
        // The intents are reported when their advance ends, the bond at the next poll.
        j["batches"]["invalidated"] == 2
            && j["bond_wei"].as_str().is_some_and(|b| b != "0")
            && j["intents"] == Value::Array(Vec::new())
    })
    .await;
    let b = &json["batches"];
    assert_eq!(
        (&b["valid"], &b["invalid"], &b["skipped"]),
        (&1.into(), &1.into(), &1.into()),
        "{json:#}"
    );
    assert_eq!(b["pending"].as_u64().unwrap() + b["finalized"].as_u64().unwrap(), 1, "{json:#}");
    let (head, cursor) = (json["l1_head"].as_u64().unwrap(), json["cursor"].as_u64().unwrap());
    assert!(cursor <= head && json["lag_blocks"] == head - cursor, "{json:#}");
    assert_eq!(json["intents"], Value::Array(Vec::new()), "the challenge is finished");
    let bond: u128 = json["bond_wei"].as_str().expect("bond").parse().expect("decimal wei");
    assert!(bond >= 100_000_000_000_000_000, "the bond deposited for the commitment: {json:#}");
    assert!(json["last_poll_unix"].as_u64().is_some());

    let (code, metrics) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains(&format!("# HELP {} ", names::SUBMITTER_CHALLENGES_LANDED)));
    assert_eq!(sample(&metrics, names::SUBMITTER_CHALLENGES_LANDED), Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, names::WATCHER_BATCHES_INVALID), Some(1.0), "{metrics}");
    assert!(sample(&metrics, names::SUBMITTER_BOND_WEI).is_some_and(|b| b > 0.0), "{metrics}");
    assert_eq!(get(addr, "/nothing").await.0, 404);

    // The command: a summary, the JSON, and the address from a configuration.
    let url = format!("http://{addr}");
    let (ok, out, err) = status_command(vec!["--url".into(), url.clone()]).await;
    assert!(ok, "{err}");
    assert!(out.contains("challenge mode, challenger"), "{out}");
    assert!(out.contains("health      ok"), "{out}");
    assert!(out.contains("1 valid, 1 invalid, 1 skipped"), "{out}");
    assert!(out.contains("0 open"), "{out}");
    let (ok, out, err) = status_command(vec!["--url".into(), url.clone(), "--json".into()]).await;
    assert!(ok, "{err}");
    let json: Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(json["batches"]["invalid"], 1);
    let file = e.dir.path().join("config.toml");
    let toml = format!(
        "[chain]\nchain_id = 901\n[store]\npath = \"{}\"\n[metrics]\nlisten = \"{addr}\"\n",
        e.dir.path().join("unused").display()
    );
    std::fs::write(&file, toml).expect("config");
    let (ok, out, err) = status_command(vec!["--config".into(), file.display().to_string()]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&format!("at {url}")), "{out}");

    running.shutdown().await;
    let (ok, _, err) = status_command(vec!["--url".into(), url]).await;
    assert!(!ok, "nothing listens after the shutdown");
    assert!(err.contains("nothing answers at 127.0.0.1:"), "{err}");
}
