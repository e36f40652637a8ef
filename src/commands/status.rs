//! `native-challenger status [--config config.toml | --url http://127.0.0.1:9184] [--json]`:
//! asks a running daemon's `/status` and `/healthz` (on `[metrics] listen`) and prints a
//! summary, or `/status`'s JSON as is.

use alloy_primitives::U256;
use alloy_primitives::utils::format_ether;
use anyhow::{Context, Result, bail};
use native_challenger::config::Config;
use native_challenger::daemon::status::Status;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request's whole exchange must fit in this.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The daemon's configuration: its `[metrics] listen` address is asked.
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
    /// The daemon's endpoint instead of the configuration's, e.g. http://127.0.0.1:9184.
    #[arg(long, conflicts_with = "config")]
    url: Option<String>,
    /// Print /status's JSON as the daemon sent it.
    #[arg(long)]
    json: bool,
}

pub fn run(args: StatusArgs) -> Result<()> {
    let base = match &args.url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => base_from_config(&args.config)?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let (code, body) = get(&base, "/status").await?;
        if code != 200 {
            bail!("{base}/status answered {code}: {}", body.trim());
        }
        if args.json {
            print!("{body}");
            if !body.ends_with('\n') {
                println!();
            }
            return Ok(());
        }
        let status: Status = serde_json::from_str(&body)
            .with_context(|| format!("{base}/status did not answer a daemon's status"))?;
        let health = match get(&base, "/healthz").await {
            Ok((200, _)) => "ok".to_string(),
            Ok((code, body)) => format!("UNHEALTHY ({code}): {}", body.trim()),
            Err(err) => format!("unknown: {err:#}"),
        };
        print!("{}", summary(&base, &status, &health, now_unix()));
        Ok(())
    })
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `http://host:port` of the configuration's `[metrics] listen` (a wildcard address is asked
/// on the loopback).
fn base_from_config(path: &std::path::Path) -> Result<String> {
    let config = Config::load(path)?;
    let Some(listen) = &config.metrics.listen else {
        bail!(
            "{}: no [metrics] listen, so the daemon serves no /status; set it, or give --url",
            path.display()
        );
    };
    let mut addr: SocketAddr = listen.parse().context("[metrics] listen")?;
    if addr.port() == 0 {
        bail!(
            "[metrics] listen {listen} lets the daemon choose its port: find it in the daemon's log (\"serving /metrics, /status and /healthz addr=…\") and give --url"
        );
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(format!("http://{addr}"))
}

/// `(host:port, path prefix)` of an `http://` URL.
fn split_url(base: &str) -> Result<(String, String)> {
    let Some(rest) = base.strip_prefix("http://") else {
        bail!("{base}: only http:// URLs are supported (the daemon serves plain HTTP)");
    };
    let (authority, prefix) = match rest.find('/') {
        Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        bail!("{base}: no host");
    }
    let has_port = match authority.rfind(']') {
        Some(bracket) => authority[bracket..].contains(':'),
        None => authority.contains(':'),
    };
    let authority = if has_port { authority.to_string() } else { format!("{authority}:80") };
    Ok((authority, prefix.to_string()))
}

/// `GET base+path`: the status code and the body.
async fn get(base: &str, path: &str) -> Result<(u16, String)> {
    let (authority, prefix) = split_url(base)?;
    let url = format!("{base}{path}");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(authority.as_str()).await.with_context(
            || format!("nothing answers at {authority} (is the daemon running, with [metrics] listen set?)"),
        )?;
        let request = format!(
            "GET {prefix}{path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: native-challenger\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.with_context(|| format!("sending to {url}"))?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.with_context(|| format!("reading {url}"))?;
        parse_response(&raw).with_context(|| format!("{url}: not an HTTP answer"))
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("{url}: no answer within {} s", TIMEOUT.as_secs()))?
}

/// Status code and body of a raw HTTP/1.x response (`Content-Length`, chunked, or up to the
/// end of the connection).
fn parse_response(raw: &[u8]) -> Result<(u16, String)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").context("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut body = &raw[end + 4..];
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("");
    let mut words = status.split_whitespace();
    if !words.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        bail!("status line {status:?}");
    }
    let code: u16 = words.next().and_then(|c| c.parse().ok()).context("no status code")?;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            let length: usize = value.parse().context("Content-Length")?;
            body = body.get(..length).context("body shorter than its Content-Length")?;
        } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    Ok((code, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").context("chunk size")?;
        let size = String::from_utf8_lossy(&body[..line_end]);
        let size = size.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).context("chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(body.get(..size).context("truncated chunk")?);
        body = body.get(size + 2..).unwrap_or(&[]);
    }
}

fn ether(wei: &Option<String>) -> String {
    match wei.as_deref().map(|w| U256::from_str_radix(w, 10)) {
        Some(Ok(wei)) => format!("{} ETH", format_ether(wei)),
        Some(Err(_)) => format!("{} wei", wei.as_deref().unwrap_or("")),
        None => "unknown".into(),
    }
}

fn ago(unix: Option<u64>, now: u64) -> String {
    match unix {
        Some(t) => format!("{} s ago", now.saturating_sub(t)),
        None => "never".into(),
    }
}

fn plural(n: u64, one: &str) -> String {
    if n == 1 { format!("{n} {one}") } else { format!("{n} {one}s") }
}

/// The human summary of a status.
pub fn summary(base: &str, s: &Status, health: &str, now: u64) -> String {
    let mut out = String::new();
    let mut line = |label: &str, text: String| out.push_str(&format!("{label:<12}{text}\n"));
    let who = match s.challenger {
        Some(address) => format!("challenger {address}"),
        None => "no key".into(),
    };
    let mode = if s.mode.is_empty() { "unknown" } else { s.mode.as_str() };
    line("daemon", format!("native-challenger {} at {base}: {mode} mode, {who}", s.version));
    if let Some(rollup) = s.rollup {
        line("rollup", rollup.to_string());
    }
    line("health", health.to_string());
    let head = s.l1_head.map_or("unknown".into(), |h| h.to_string());
    let cursor = s.cursor.map_or("nothing yet".into(), |c| c.to_string());
    let lag = s.lag_blocks.map_or(String::new(), |l| format!(" ({} behind)", plural(l, "block")));
    line(
        "L1",
        format!(
            "head {head}, processed {cursor}{lag}; last poll {}, last success {}",
            ago(s.last_poll_unix, now),
            ago(s.last_success_unix, now)
        ),
    );
    let b = &s.batches;
    line(
        "batches",
        format!(
            "{} valid, {} invalid, {} skipped; {} pending, {} finalized, {} invalidated",
            b.valid, b.invalid, b.skipped, b.pending, b.finalized, b.invalidated
        ),
    );
    if s.challenger.is_some() {
        line("challenges", format!("{} open", s.intents.len()));
        for intent in &s.intents {
            let left = s
                .l1_head
                .map(|h| {
                    format!(", {} left", plural(intent.window_closes.saturating_sub(h), "block"))
                })
                .unwrap_or_default();
            let mut text = format!(
                "batch {} block {}: {} (window closes at L1 block {}{left})",
                intent.batch_id, intent.block_index, intent.stage, intent.window_closes
            );
            if intent.attempts > 0 {
                text.push_str(&format!(", {} failed", plural(intent.attempts.into(), "round")));
            }
            if let Some(reason) = &intent.reason {
                text.push_str(&format!(": {reason}"));
            }
            line("", text);
        }
        line("bond", ether(&s.bond_wei));
        line("balance", ether(&s.balance_wei));
    }
    line("last error", s.last_error.clone().unwrap_or_else(|| "none".into()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use native_challenger::daemon::status::OpenIntent;

    #[test]
    fn urls_split() {
        let split = |u: &str| split_url(u).unwrap();
        assert_eq!(split("http://127.0.0.1:9184"), ("127.0.0.1:9184".into(), "".into()));
        assert_eq!(split("http://host/nc/"), ("host:80".into(), "/nc".into()));
        assert_eq!(split("http://[::1]:9184"), ("[::1]:9184".into(), "".into()));
        assert_eq!(split("http://[::1]"), ("[::1]:80".into(), "".into()));
        assert!(split_url("https://host").is_err());
    }

    #[test]
    fn responses_parse() {
        let raw = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nstaleXX";
        assert_eq!(parse_response(raw).unwrap(), (503, "stale".into()));
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap(), (200, "abcde".into()));
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[test]
    fn summary_reads() {
        let status = Status {
            version: "0.1.0".into(),
            mode: "challenge".into(),
            challenger: Some(alloy_primitives::Address::repeat_byte(0x11)),
            l1_head: Some(100),
            cursor: Some(99),
            lag_blocks: Some(1),
            intents: vec![OpenIntent {
                batch_id: 2,
                block_index: 1,
                stage: "committed".into(),
                window_closes: 116,
                ..Default::default()
            }],
            bond_wei: Some("100000000000000000".into()),
            last_poll_unix: Some(995),
            last_success_unix: Some(995),
            ..Status::default()
        };
        let text = summary("http://127.0.0.1:9184", &status, "ok", 1000);
        assert!(text.contains("challenge mode, challenger 0x1111"), "{text}");
        assert!(
            text.contains("head 100, processed 99 (1 block behind); last poll 5 s ago"),
            "{text}"
        );
        assert!(
            text.contains(
                "batch 2 block 1: committed (window closes at L1 block 116, 16 blocks left)"
            ),
            "{text}"
        );
        assert!(text.contains("bond        0.100000000000000000 ETH"), "{text}");
        assert!(text.contains("balance     unknown"), "{text}");
        assert!(text.contains("last error  none"), "{text}");
    }
}
