//! `RpcSource` against the dev L1 through a fault-injecting proxy: reads survive 503 bursts,
//! dropped connections and timeouts, fail over between endpoints (and stay on the one that
//! works), split refused `eth_getLogs` ranges without losing or duplicating logs, retry and
//! fail over a refusal that cannot be split (a rate limit), and give up with
//! `SourceError::Unavailable` after exactly the configured number of attempts.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/rpc_proxy.rs"]
mod rpc_proxy;

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::{Filter, Log, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use native_challenger::devnet::{Devnet, DevnetConfig};
use native_challenger::watcher::source::{L1Source, RetryPolicy, RpcSource, SourceError};
use rpc_proxy::RpcProxy;
use std::time::Duration;

fn policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 5,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
        max_log_range: 1_000,
    }
}

async fn node() -> Devnet {
    Devnet::spawn(DevnetConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..Default::default()
    })
    .await
    .expect("dev L1 starts")
}

async fn source(urls: &[&str], policy: RetryPolicy) -> RpcSource {
    let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
    RpcSource::connect(&urls, policy).await.expect("connect")
}

/// A URL nothing listens on: a port bound, then released.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

fn wallet(node: &Devnet, index: usize) -> impl Provider + Clone + use<> {
    let signer = PrivateKeySigner::from_bytes(&node.accounts[index].private_key).expect("key");
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(node.http_url.parse().expect("url"))
}

/// Runtime: CALLDATACOPY(0, 0, CALLDATASIZE); LOG1(0, CALLDATASIZE, CALLER); STOP.
const LOGGER_RUNTIME: &[u8] = &[0x36, 0x5f, 0x5f, 0x37, 0x33, 0x36, 0x5f, 0xa1, 0x00];

/// Initcode returning [`LOGGER_RUNTIME`]: CODECOPY(0, 9, len); RETURN(0, len).
fn logger_initcode() -> Bytes {
    let mut init = vec![0x60, LOGGER_RUNTIME.len() as u8, 0x80, 0x60, 0x09, 0x5f, 0x39, 0x5f, 0xf3];
    init.extend_from_slice(LOGGER_RUNTIME);
    init.into()
}

/// Sends a transaction and waits for it to be mined: (hash, contract created if any).
async fn send(p: &impl Provider, tx: TransactionRequest) -> (B256, Option<Address>) {
    let receipt = p
        .send_transaction(tx)
        .await
        .expect("send")
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status(), "transaction succeeds");
    (receipt.transaction_hash, receipt.contract_address)
}

async fn deploy_logger(p: &impl Provider) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(logger_initcode());
    send(p, tx).await.1.expect("contract address")
}

async fn call(p: &impl Provider, to: Address, data: Vec<u8>) -> B256 {
    send(p, TransactionRequest::default().with_to(to).with_input(Bytes::from(data))).await.0
}

fn unavailable(result: Result<impl std::fmt::Debug, SourceError>) -> (u32, usize, String) {
    match result {
        Err(SourceError::Unavailable { attempts, endpoints, last }) => (attempts, endpoints, last),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_a_burst_of_503s_shorter_than_the_attempts() {
    let node = node().await;
    let proxy = RpcProxy::start(&node.http_url).await;
    let direct = source(&[&node.http_url], policy()).await;
    let src = source(&[&proxy.url], policy()).await;
    let expected = direct.head(false).await.expect("direct head");

    proxy.fail_next(4);
    assert_eq!(src.head(false).await.expect("head after four 503s"), expected);
    assert_eq!(proxy.count("eth_getBlockByNumber"), 5, "four failures, then the answer");
    assert_eq!(proxy.faults().fail_next, 0);

    // A burst as long as the attempts is not survived, and every attempt reached the proxy.
    proxy.reset_counts();
    proxy.fail_next(5);
    let (attempts, endpoints, last) = unavailable(src.block(0).await);
    assert_eq!((attempts, endpoints), (5, 1));
    assert!(last.contains("503"), "last error names the status: {last}");
    assert_eq!(proxy.count("eth_getBlockByNumber"), 5);

    // The endpoint recovered: the same source reads again.
    let genesis = src.block(0).await.expect("block 0").expect("genesis exists");
    assert_eq!(Some(genesis), direct.block(0).await.expect("direct block 0"));
    assert_eq!(genesis.number, 0);
    assert_eq!(src.block(1_000_000).await.expect("future block"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried() {
    let node = node().await;
    let p = wallet(&node, 0);
    let logger = deploy_logger(&p).await;
    let hash = call(&p, logger, vec![0xab; 40]).await;
    let proxy = RpcProxy::start(&node.http_url).await;
    let src = source(&[&proxy.url], policy()).await;

    proxy.drop_next(3);
    let input = src.tx_input(hash).await.expect("tx_input after dropped connections");
    assert_eq!(input, Some(Bytes::from(vec![0xab; 40])));
    assert_eq!(proxy.count("eth_getTransactionByHash"), 4, "three dropped, one answered");

    proxy.drop_next(5);
    let (attempts, _, _) = unavailable(src.tx_input(hash).await);
    assert_eq!(attempts, 5);
    assert_eq!(proxy.count("eth_getTransactionByHash"), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_past_a_dead_endpoint_and_stays_on_the_live_one() {
    let node = node().await;
    let proxy = RpcProxy::start(&node.http_url).await;
    let dead = dead_url().await;
    let src = source(&[&dead, &proxy.url], policy()).await;
    let direct = source(&[&node.http_url], policy()).await;

    assert_eq!(
        src.head(false).await.expect("head via the second endpoint"),
        direct.head(false).await.expect("direct head")
    );
    assert_eq!(proxy.total(), 1);
    // The next reads start at the endpoint that worked: one request each, none failed.
    assert!(src.block(0).await.expect("block 0").is_some());
    assert_eq!(src.tx_input(B256::repeat_byte(0x42)).await.expect("unknown tx"), None);
    assert_eq!(proxy.total(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_between_failing_endpoints_in_both_directions() {
    let node = node().await;
    let (a, b) = (RpcProxy::start(&node.http_url).await, RpcProxy::start(&node.http_url).await);
    let src = source(&[&a.url, &b.url], policy()).await;

    a.fail_next(u32::MAX);
    let head = src.head(false).await.expect("head via b");
    assert_eq!((a.total(), b.total()), (1, 1));
    assert!(src.block(head.number).await.expect("block via b").is_some());
    assert_eq!((a.total(), b.total()), (1, 2), "b, which worked, is asked first");

    // Now b fails and a has recovered: reads move back to a.
    a.fail_next(0);
    b.fail_next(u32::MAX);
    assert_eq!(src.block(head.number).await.expect("block via a"), Some(head));
    assert_eq!((a.total(), b.total()), (2, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_failing_is_unavailable_after_the_configured_attempts() {
    let node = node().await;
    let (a, b) = (RpcProxy::start(&node.http_url).await, RpcProxy::start(&node.http_url).await);
    a.fail_next(u32::MAX);
    b.drop_next(u32::MAX);
    let src = source(&[&a.url, &b.url], policy()).await;

    let (attempts, endpoints, last) = unavailable(src.head(false).await);
    assert_eq!((attempts, endpoints), (5, 2));
    // Attempts alternate a, b, a, b, a.
    assert_eq!((a.total(), b.total()), (3, 2));
    assert!(last.starts_with(&a.url), "the last attempt was a's: {last}");

    // A log read failing at the transport is not mistaken for a range refusal: no splitting.
    let (attempts, ..) = unavailable(src.logs(Address::ZERO, 0, 100).await);
    assert_eq!(attempts, 5);
    assert_eq!(a.count("eth_getLogs") + b.count("eth_getLogs"), 5);

    // Dead ports everywhere: the same.
    let dead = source(&[&dead_url().await, &dead_url().await], policy()).await;
    let (attempts, endpoints, _) = unavailable(dead.tx_input(B256::ZERO).await);
    assert_eq!((attempts, endpoints), (5, 2));

    let few = RetryPolicy { attempts: 2, ..policy() };
    let src = source(&[&a.url], few).await;
    a.reset_counts();
    let (attempts, endpoints, _) = unavailable(src.block(0).await);
    assert_eq!((attempts, endpoints, a.total()), (2, 1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_requests_are_retried_elsewhere() {
    let node = node().await;
    let (slow, fast) =
        (RpcProxy::start(&node.http_url).await, RpcProxy::start(&node.http_url).await);
    slow.set_delay(Duration::from_secs(3));
    let quick = RetryPolicy { attempts: 2, timeout: Duration::from_millis(200), ..policy() };

    let only_slow = source(&[&slow.url], quick).await;
    let (attempts, _, last) = unavailable(only_slow.head(false).await);
    assert_eq!(attempts, 2);
    assert!(last.contains("timed out"), "{last}");

    let both = source(&[&slow.url, &fast.url], quick).await;
    assert!(both.block(0).await.expect("block via the fast endpoint").is_some());
    assert_eq!(fast.total(), 1);

    slow.set_delay(Duration::ZERO);
    assert!(only_slow.block(0).await.expect("no longer slow").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_log_ranges_are_split_without_losing_or_repeating_logs() {
    let node = node().await;
    let (p0, p1) = (wallet(&node, 0), wallet(&node, 1));
    let logger = deploy_logger(&p0).await;
    let other = deploy_logger(&p0).await;
    let mut sent = Vec::new();
    for i in 0u8..20 {
        let p = if i % 3 == 0 { &p1 } else { &p0 };
        sent.push(call(p, logger, vec![i; 1 + i as usize]).await);
        if i % 4 == 0 {
            call(&p0, other, vec![0xff]).await; // a log of another address in between
        }
    }
    let direct = source(&[&node.http_url], policy()).await;
    let head = direct.head(false).await.expect("head").number;
    assert!(head >= 27, "one block per transaction: {head}");

    let expected = direct.logs(logger, 0, head).await.expect("direct logs");
    let raw: Vec<Log> = wallet(&node, 0)
        .get_logs(&Filter::new().address(logger).from_block(0).to_block(head))
        .await
        .expect("raw eth_getLogs");
    assert_eq!(expected, raw, "one unrefused query is a plain eth_getLogs");
    let hashes: Vec<B256> = expected.iter().map(|l| l.transaction_hash.expect("hash")).collect();
    assert_eq!(hashes, sent, "every call's log, in chain order");
    for (i, log) in expected.iter().enumerate() {
        assert_eq!(log.address(), logger);
        assert_eq!(log.data().data, Bytes::from(vec![i as u8; 1 + i]));
    }

    let proxy = RpcProxy::start(&node.http_url).await;
    proxy.set_max_log_range(Some(3));
    let src = source(&[&proxy.url], policy()).await;
    assert_eq!(src.logs(logger, 0, head).await.expect("split logs"), expected);
    let calls = proxy.count("eth_getLogs");
    assert!(proxy.refused() >= 3, "refused {} ranges", proxy.refused());
    assert!(calls >= (head + 1).div_ceil(3) + proxy.refused(), "{calls} eth_getLogs calls");

    // A sub-range, with a refusal and transport faults mixed in.
    proxy.fail_next(2);
    let part = src.logs(logger, 5, 17).await.expect("part");
    let in_part: Vec<&Log> =
        expected.iter().filter(|l| (5..=17).contains(&l.block_number.expect("number"))).collect();
    assert_eq!(part.iter().collect::<Vec<_>>(), in_part);

    // The policy's own window: ceil(blocks / 4) queries, the same logs.
    let windowed = RetryPolicy { max_log_range: 4, ..policy() };
    let plain = RpcProxy::start(&node.http_url).await;
    let src4 = source(&[&plain.url], windowed).await;
    assert_eq!(src4.logs(logger, 0, head).await.expect("windowed logs"), expected);
    assert_eq!(plain.count("eth_getLogs"), (head + 1).div_ceil(4));
    assert_eq!(plain.refused(), 0);
    // An empty range asks nothing.
    assert_eq!(src4.logs(logger, 9, 8).await.expect("empty range"), vec![]);
    assert_eq!(plain.count("eth_getLogs"), (head + 1).div_ceil(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_refused_down_to_one_block_is_retried_then_unavailable() {
    let node = node().await;
    let proxy = RpcProxy::start(&node.http_url).await;
    proxy.set_max_log_range(Some(0));
    let src = source(&[&proxy.url], policy()).await;
    let (attempts, endpoints, last) = unavailable(src.logs(Address::ZERO, 0, 7).await);
    assert_eq!((attempts, endpoints), (5, 1));
    assert!(last.contains("-32005"), "{last}");
    // 0..=7, 0..=3, 0..=1 refused and halved; 0..=0 cannot be halved: asked five times.
    assert_eq!((proxy.count("eth_getLogs"), proxy.refused()), (8, 8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tx_input_returns_the_calldata_or_none() {
    let node = node().await;
    let p = wallet(&node, 2);
    let logger = deploy_logger(&p).await;
    let data: Vec<u8> = (0..=255u8).chain(0..7).collect();
    let hash = call(&p, logger, data.clone()).await;
    let deploy =
        send(&p, TransactionRequest::default().with_deploy_code(logger_initcode())).await.0;

    let proxy = RpcProxy::start(&node.http_url).await;
    let src = source(&[&dead_url().await, &proxy.url], policy()).await;
    // dead, 503, dead, answer: four attempts of five.
    proxy.fail_next(1);
    assert_eq!(src.tx_input(hash).await.expect("tx_input"), Some(Bytes::from(data)));
    assert_eq!(src.tx_input(deploy).await.expect("deploy input"), Some(logger_initcode()));
    assert_eq!(src.tx_input(B256::repeat_byte(0x99)).await.expect("unknown"), None);
    assert_eq!(
        proxy.count("eth_getTransactionByHash"),
        4,
        "after failover, the proxy is asked first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_endpoint_is_failed_over_for_logs_as_for_other_reads() {
    let node = node().await;
    let p = wallet(&node, 3);
    let logger = deploy_logger(&p).await;
    for i in 0u8..6 {
        call(&p, logger, vec![i]).await;
    }
    let direct = source(&[&node.http_url], policy()).await;
    let head = direct.head(false).await.expect("head").number;
    let expected = direct.logs(logger, 0, head).await.expect("direct logs");
    assert_eq!((head, expected.len()), (7, 6));

    // HTTP 429 with a JSON-RPC error body (as hosted providers rate-limit): not a verdict on
    // the request, so the read backs off and moves to the healthy endpoint.
    let (limited, healthy) =
        (RpcProxy::start(&node.http_url).await, RpcProxy::start(&node.http_url).await);
    limited.rate_limit_next(u32::MAX);
    let src = source(&[&limited.url, &healthy.url], policy()).await;
    assert_eq!(src.logs(logger, 0, head).await.expect("logs via the healthy endpoint"), expected);
    assert!(healthy.count("eth_getLogs") >= 1);
    let src = source(&[&limited.url, &healthy.url], policy()).await;
    assert_eq!(src.head(false).await.expect("head via the healthy endpoint").number, head);

    // A rate limit that lifts: 0..=7, 0..=3, 0..=1 refused and halved, then 0..=0 limited
    // thrice before it lifts; the same logs from the one endpoint.
    let single = RpcProxy::start(&node.http_url).await;
    single.rate_limit_next(6);
    let src = source(&[&single.url], policy()).await;
    assert_eq!(src.logs(logger, 0, head).await.expect("logs once the limit lifts"), expected);
    // 3 refused + 4 on 0..=0, then the range doubles again after each answer: 1..=2, 3..=6,
    // 7..=7.
    assert_eq!(single.count("eth_getLogs"), 10);
}
