//! The remote signer (`[challenger] remote_signer`): `eth_signTransaction` answered by the dev
//! L1 and by anvil gives exactly the transaction a local key signs; answers that are not the
//! transaction asked for, or not signed by the configured address, are refused with the
//! reason; and the daemon convicts a lie with its key held by the dev L1, not by itself.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/anvil.rs"]
mod anvil;
mod common;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use common::e2e::{E2e, landed};
use jsonrpsee::server::{RpcModule, Server};
use native_challenger::daemon::Event;
use native_challenger::devnet::{Devnet, DevnetConfig};
use native_challenger::proposer::Fault;
use native_challenger::submitter::TxKey;
use native_challenger::submitter::remote::RemoteSigner;
use native_challenger::watcher::Finding;
use std::time::Duration;

fn tx(chain_id: u64, nonce: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 90_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(7u64),
        access_list: Default::default(),
        input: Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
    }
}

fn signed_locally(key: &PrivateKeySigner, tx: TxEip1559) -> TxEnvelope {
    let signature = key.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(signature))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_l1_signs_exactly_what_a_local_key_signs() {
    let node = Devnet::spawn(DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..DevnetConfig::default()
    })
    .await
    .expect("dev L1");
    let account = &node.accounts[1];
    let remote = RemoteSigner::new(&node.http_url, account.address).expect("signer");
    remote.check().await.expect("the node holds the account");
    let unsigned = tx(node.chain_id, 5);
    let got = remote.sign(&unsigned).await.expect("signed");
    let key = PrivateKeySigner::from_bytes(&account.private_key).unwrap();
    // ECDSA over secp256k1 here is deterministic (RFC 6979): the same bytes.
    assert_eq!(got, signed_locally(&key, unsigned.clone()));

    let stranger = RemoteSigner::new(&node.http_url, Address::repeat_byte(9)).expect("signer");
    let err = stranger.check().await.expect_err("not held");
    assert!(err.contains("does not hold"), "{err}");
    let err = stranger.sign(&unsigned).await.expect_err("no key");
    assert!(err.contains("no key for"), "{err}");
    let err = remote.sign(&tx(node.chain_id + 1, 0)).await.expect_err("other chain");
    assert!(err.contains("chain id"), "{err}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_signs_exactly_what_a_local_key_signs() {
    let anvil = anvil::Anvil::start().await;
    let key = anvil::dev_key(0);
    let remote = RemoteSigner::new(&anvil.url, key.address()).expect("signer");
    remote.check().await.expect("anvil holds its dev account");
    let unsigned = tx(anvil.chain_id, 3);
    let got = remote.sign(&unsigned).await.expect("anvil signs");
    assert_eq!(got, signed_locally(&key, unsigned));
}

/// A JSON-RPC server whose `eth_signTransaction` always answers `answer`.
async fn lying_signer(answer: serde_json::Value) -> (String, jsonrpsee::server::ServerHandle) {
    let server = Server::builder().build("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", server.local_addr().expect("addr"));
    let mut module = RpcModule::new(answer);
    module
        .register_method("eth_signTransaction", |_, answer, _| {
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(answer.clone())
        })
        .expect("register");
    (url, server.start(module))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_are_not_the_transaction_asked_for_are_refused() {
    use alloy_eips::eip2718::Encodable2718;
    let ours = PrivateKeySigner::from_bytes(&B256::repeat_byte(1)).unwrap();
    let other = PrivateKeySigner::from_bytes(&B256::repeat_byte(2)).unwrap();
    let asked = tx(901, 4);
    let hex = |envelope: TxEnvelope| {
        serde_json::Value::String(format!("0x{}", hex::encode(envelope.encoded_2718())))
    };
    let cases = [
        (hex(signed_locally(&other, asked.clone())), "signed as"),
        (hex(signed_locally(&ours, tx(901, 5))), "different transaction: nonce"),
        (hex(signed_locally(&ours, TxEip1559 { value: U256::MAX, ..asked.clone() })), "value"),
        (
            hex(signed_locally(
                &ours,
                TxEip1559 { to: TxKind::Call(Address::ZERO), ..asked.clone() },
            )),
            "recipient",
        ),
        (serde_json::json!("0x02zz"), "not hex"),
        (serde_json::json!("0x0201"), "does not decode"),
        (serde_json::json!({"tx": {}}), "without `raw`"),
        (serde_json::json!(17), "answered 17"),
    ];
    for (answer, reason) in cases {
        let (url, handle) = lying_signer(answer.clone()).await;
        let remote = RemoteSigner::new(&url, ours.address()).expect("signer");
        let err = remote.sign(&asked).await.expect_err("refused");
        assert!(err.contains(reason), "answer {answer}: {err}");
        handle.stop().ok();
    }
    // The geth/Clef shape, `{raw, tx}`, of the right transaction is accepted.
    let right = signed_locally(&ours, asked.clone());
    let raw = format!("0x{}", hex::encode(right.encoded_2718()));
    let (url, handle) = lying_signer(serde_json::json!({ "raw": raw, "tx": {} })).await;
    let remote = RemoteSigner::new(&url, ours.address()).expect("signer");
    assert_eq!(remote.sign(&asked).await.expect("accepted"), right);
    handle.stop().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_convicts_with_its_key_held_by_a_remote_signer() {
    let mut e = E2e::new(40, Duration::from_millis(250)).await;
    let challenger = common::e2e::dev_key(1, &e.node).address();
    let mut config = e.config("remote", None);
    config.challenger.remote_signer = Some(e.node.http_url.clone());
    config.challenger.remote_signer_address = Some(challenger);
    let key = RemoteSigner::new(&e.node.http_url, challenger).expect("signer");
    let mut daemon = e.start_with(&config, Some(TxKey::Remote(key))).await;
    e.propose(None).await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    let event = daemon
        .wait_for(Duration::from_secs(90), "a landed challenge", |ev| landed(ev).is_some())
        .await;
    assert_eq!(landed(&event).expect("landed").batch_id, lie_id);
    daemon
        .saw_or_wait(Duration::from_secs(90), "the invalidation", |ev| {
            matches!(ev, Event::Finding(Finding::Invalidated { batch_id, .. }) if *batch_id == lie_id)
        })
        .await;
    daemon.shutdown().await;
    assert_eq!(e.status(lie_id).await, 3, "the lie is invalidated");
}
