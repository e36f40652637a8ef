//! The submitter's concurrency and failover end to end on the dev L1 with the real daemon: a
//! challenge whose receipt an endpoint holds does not stop the conviction of another lie (and
//! lands once released), and broadcasts fail over to the next `[l1] rpc` endpoint when the
//! first does not answer.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::B256;
use alloy_sol_types::SolCall;
use common::e2e::{E2e, Running, landed};
use common::rpc_proxy::{HookFuture, RequestHook, RpcProxy};
use native_challenger::proposer::Fault;
use native_challenger::rollup::NativeRollup;
use native_challenger::submitter::{Intent, Stage};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

const BLOCK_TIME: Duration = Duration::from_millis(250);
const WAIT: Duration = Duration::from_secs(120);

async fn landed_for(daemon: &mut Running, id: u64) -> Intent {
    let event = daemon
        .saw_or_wait(WAIT, &format!("the conviction of batch {id}"), |ev| {
            landed(ev).is_some_and(|i| i.batch_id == id)
        })
        .await;
    landed(&event).expect("landed").clone()
}

/// The hash of a raw transaction that calls `challenge` (a reveal).
fn reveal_tx(request: &Value) -> Option<B256> {
    let hex = request.get("params")?.get(0)?.as_str()?;
    let raw = alloy_primitives::hex::decode(hex).ok()?;
    let tx = TxEnvelope::decode_2718(&mut raw.as_slice()).ok()?;
    let input = alloy_consensus::Transaction::input(&tx);
    input.starts_with(&NativeRollup::challengeCall::SELECTOR).then(|| *tx.tx_hash())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_convicts_while_a_confirmation_of_another_challenge_is_stuck() {
    let mut e = E2e::new(160, BLOCK_TIME).await;
    let proxy = RpcProxy::start(&e.node.http_url).await;
    // Batches chain on the tip, so a second lie is proposed once the first is convicted: the
    // first reveal is mined, but its receipt is held until released, and the intent that
    // sent it waits for it.
    let held: Arc<Mutex<Option<B256>>> = Arc::default();
    let (release, released) = watch::channel(false);
    let record = held.clone();
    let send_hook: RequestHook = Arc::new(move |request: Value| -> HookFuture {
        let record = record.clone();
        Box::pin(async move {
            if let Some(hash) = reveal_tx(&request) {
                record.lock().unwrap().get_or_insert(hash);
            }
            None
        })
    });
    let holding = held.clone();
    let receipt_hook: RequestHook = Arc::new(move |request: Value| -> HookFuture {
        let holding = holding.clone();
        let mut released = released.clone();
        Box::pin(async move {
            let asked = request.get("params")?.get(0)?.as_str()?.parse::<B256>().ok()?;
            if Some(asked) == *holding.lock().unwrap() {
                let _ = released.wait_for(|r| *r).await;
            }
            None
        })
    });
    proxy.set_hook("eth_sendRawTransaction", Some(send_hook));
    proxy.set_hook("eth_getTransactionReceipt", Some(receipt_hook));
    let config = e.config("c", Some(&proxy.url));
    let mut daemon = e.start(&config, Some(1)).await;

    let (first, _) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while held.lock().unwrap().is_none() || e.status(first).await != 3 {
        assert!(tokio::time::Instant::now() < deadline, "the first reveal was never mined");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (second, _) = e.propose(Some(Fault::WrongGasUsed { block: 1 })).await;
    assert_ne!(second, first);
    let convicted = landed_for(&mut daemon, second).await;
    assert_eq!(convicted.batch_id, second);
    assert_eq!(e.status(second).await, 3, "the second lie is invalidated");
    assert!(
        !daemon.seen.iter().any(|ev| landed(ev).is_some_and(|i| i.batch_id == first)),
        "the first challenge has not landed: its confirmation is still held"
    );

    release.send(true).expect("release");
    let first_landed = landed_for(&mut daemon, first).await;
    daemon.shutdown().await;
    assert_eq!(first_landed.batch_id, first);
    let Stage::Landed { tx, .. } = first_landed.stage else { unreachable!() };
    assert_eq!(Some(tx), *held.lock().unwrap(), "it landed with the reveal that was held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_fail_over_to_the_next_endpoint_when_the_first_does_not_answer() {
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let silent = RpcProxy::start(&e.node.http_url).await;
    let backup = RpcProxy::start(&e.node.http_url).await;
    // The first endpoint reads fine but never answers a broadcast.
    let never: RequestHook = Arc::new(|_request: Value| -> HookFuture {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            None
        })
    });
    silent.set_hook("eth_sendRawTransaction", Some(never));
    let mut config = e.config("c", Some(&silent.url));
    config.l1.as_mut().expect("[l1]").rpc.push(backup.url.clone());
    config.challenger.send_timeout_secs = 1;
    let mut daemon = e.start(&config, Some(1)).await;
    e.propose(None).await;
    let (id, _) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    let intent = landed_for(&mut daemon, id).await;
    daemon.shutdown().await;
    assert_eq!(intent.batch_id, id);
    assert_eq!(e.status(id).await, 3, "the lie is invalidated");
    assert!(silent.count("eth_sendRawTransaction") > 0, "the first endpoint was tried");
    assert!(backup.count("eth_sendRawTransaction") > 0, "and the broadcast failed over");
}
