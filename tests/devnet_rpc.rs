//! The dev L1 as an Ethereum node, driven through alloy's provider over HTTP and WebSocket:
//! receipts, logs and filters, historical state, subscriptions, snapshot/revert, reorgs,
//! persistence across restarts, and the JSON-RPC errors clients parse.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256, b256};
use alloy_provider::{Provider, ProviderBuilder, WsConnect};
use alloy_rpc_types_eth::{Filter, Log, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use futures::StreamExt;
use native_challenger::devnet::{Devnet, DevnetConfig};
use std::time::Duration;

const TOPIC: B256 = b256!("0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");

/// Runtime of an emitter: SSTORE(0, calldata word 0) and LOG2(calldata, TOPIC, caller).
fn emitter_initcode() -> Bytes {
    let mut runtime = vec![0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x35, 0x5f, 0x55, 0x33, 0x7f];
    runtime.extend_from_slice(TOPIC.as_slice());
    runtime.extend_from_slice(&[0x36, 0x5f, 0xa2, 0x00]);
    let mut init = vec![0x60, runtime.len() as u8, 0x80, 0x60, 0x09, 0x5f, 0x39, 0x5f, 0xf3];
    init.extend_from_slice(&runtime);
    init.into()
}

async fn node(config: DevnetConfig) -> Devnet {
    Devnet::spawn(DevnetConfig { listen: "127.0.0.1:0".parse().unwrap(), ..config })
        .await
        .expect("dev L1 starts")
}

fn provider(node: &Devnet, index: usize) -> impl Provider + Clone + use<> {
    let signer = PrivateKeySigner::from_bytes(&node.accounts[index].private_key).unwrap();
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(node.http_url.parse().unwrap())
}

async fn deploy(p: &impl Provider) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(emitter_initcode());
    let receipt = p
        .send_transaction(tx)
        .await
        .unwrap()
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    receipt.contract_address.unwrap()
}

async fn emit(p: &impl Provider, to: Address, word: u64) -> B256 {
    let data = Bytes::from(U256::from(word).to_be_bytes::<32>().to_vec());
    let tx = TransactionRequest::default().with_to(to).with_input(data);
    let receipt = p
        .send_transaction(tx)
        .await
        .unwrap()
        .with_timeout(Some(Duration::from_secs(30)))
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    receipt.transaction_hash
}

/// The JSON-RPC error of a raw call: (code, message).
async fn rpc_error(
    p: &impl Provider,
    method: &'static str,
    params: serde_json::Value,
) -> (i64, String) {
    let result: Result<serde_json::Value, _> = p.raw_request(method.into(), params).await;
    let err = result.expect_err(method);
    let payload =
        err.as_error_resp().unwrap_or_else(|| panic!("{method}: not an RPC error: {err}"));
    (payload.code, payload.message.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_logs_filters_and_historical_state() {
    let node = node(DevnetConfig::default()).await;
    let (p0, p1) = (provider(&node, 0), provider(&node, 1));
    let emitter = deploy(&p0).await;
    let a = emit(&p0, emitter, 1).await;
    let b = emit(&p1, emitter, 2).await;
    let c = emit(&p0, emitter, 3).await;
    assert_eq!(p0.get_block_number().await.unwrap(), 4, "automine: one block per transaction");

    let receipt = p0.get_transaction_receipt(b).await.unwrap().unwrap();
    assert_eq!(receipt.block_number, Some(3));
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].topics(), &[TOPIC, node.accounts[1].address.into_word()]);
    assert_eq!(logs[0].transaction_hash, Some(b));
    assert_eq!(logs[0].block_hash, receipt.block_hash);

    let by_address = p0.get_logs(&Filter::new().address(emitter).from_block(0)).await.unwrap();
    assert_eq!(
        by_address.iter().map(|l| l.transaction_hash.unwrap()).collect::<Vec<_>>(),
        vec![a, b, c]
    );
    let by_sender = Filter::new()
        .from_block(0)
        .event_signature(TOPIC)
        .topic1(node.accounts[0].address.into_word());
    assert_eq!(p0.get_logs(&by_sender).await.unwrap().len(), 2);
    let in_range = p0.get_logs(&Filter::new().from_block(3).to_block(4)).await.unwrap();
    assert_eq!(
        in_range.iter().map(|l| l.transaction_hash.unwrap()).collect::<Vec<_>>(),
        vec![b, c]
    );
    let at_hash =
        p0.get_logs(&Filter::new().at_block_hash(receipt.block_hash.unwrap())).await.unwrap();
    assert_eq!(at_hash.len(), 1);

    // State at older blocks comes from the undo records.
    assert_eq!(p0.get_storage_at(emitter, U256::ZERO).await.unwrap(), U256::from(3));
    assert_eq!(
        p0.get_storage_at(emitter, U256::ZERO).block_id(3.into()).await.unwrap(),
        U256::from(2)
    );
    assert_eq!(
        p0.get_storage_at(emitter, U256::ZERO).block_id(1.into()).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(p0.get_code_at(emitter).block_id(0.into()).await.unwrap(), Bytes::new());
    let nonce_then =
        p0.get_transaction_count(node.accounts[0].address).block_id(1.into()).await.unwrap();
    assert_eq!(nonce_then, 1);
    let genesis_balance =
        p0.get_balance(node.accounts[0].address).block_id(0.into()).await.unwrap();
    assert_eq!(genesis_balance, node_balance());
    assert!(p0.get_balance(node.accounts[0].address).await.unwrap() < genesis_balance);

    // The header chain links up and the base fee follows EIP-1559 (blocks below target fall).
    let mut parent = p0.get_block_by_number(0.into()).await.unwrap().unwrap();
    for n in 1..=4u64 {
        let block = p0.get_block_by_number(n.into()).await.unwrap().unwrap();
        assert_eq!(block.header.parent_hash, parent.header.hash);
        if n == 1 {
            // As anvil: block 1 keeps the configured base fee.
            assert_eq!(block.header.base_fee_per_gas, parent.header.base_fee_per_gas);
        } else {
            assert!(block.header.base_fee_per_gas < parent.header.base_fee_per_gas);
        }
        parent = block;
    }
    node.stop().await;
}

fn node_balance() -> U256 {
    DevnetConfig::default().balance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorgs_and_reverts_reach_subscribers() {
    let node = node(DevnetConfig::default()).await;
    let p0 = provider(&node, 0);
    let ws = ProviderBuilder::new().connect_ws(WsConnect::new(node.ws_url.clone())).await.unwrap();
    let emitter = deploy(&p0).await;
    let mut logs = ws.subscribe_logs(&Filter::new().address(emitter)).await.unwrap().into_stream();
    let mut heads = ws.subscribe_blocks().await.unwrap().into_stream();

    let first = emit(&p0, emitter, 10).await;
    let second = emit(&p0, emitter, 11).await;
    let seen: Vec<Log> = next_n(&mut logs, 2).await;
    assert_eq!(
        seen.iter().map(|l| (l.transaction_hash.unwrap(), l.removed)).collect::<Vec<_>>(),
        vec![(first, false), (second, false)]
    );
    let headers = next_n(&mut heads, 2).await;
    assert_eq!(headers.iter().map(|h| h.number).collect::<Vec<_>>(), vec![2, 3]);
    let old_hash = headers[1].hash;

    // Replace the last two blocks, dropping the first emit: its log is removed, the second
    // one (same sender, next nonce) no longer fits and is dropped too.
    let report: serde_json::Value = p0
        .raw_request("devnet_reorg".into(), (serde_json::json!({"depth": 2, "drop": [first]}),))
        .await
        .unwrap();
    assert_eq!(report["droppedTxs"].as_array().unwrap().len(), 2, "{report}");
    let removed = next_n(&mut logs, 2).await;
    assert!(removed.iter().all(|l| l.removed), "reorged-out logs arrive with removed = true");
    let new_heads = next_n(&mut heads, 2).await;
    assert_eq!(new_heads.iter().map(|h| h.number).collect::<Vec<_>>(), vec![2, 3]);
    assert_ne!(new_heads[1].hash, old_hash);
    assert!(p0.get_transaction_receipt(first).await.unwrap().is_none());
    assert_eq!(p0.get_storage_at(emitter, U256::ZERO).await.unwrap(), U256::ZERO);

    // Snapshot, change, revert. (A fresh client: alloy's wallet caches nonces, and the reorg
    // dropped two of this account's transactions.)
    let p0 = provider(&node, 0);
    let snapshot: U256 = p0.raw_request("evm_snapshot".into(), ()).await.unwrap();
    let balance = p0.get_balance(node.accounts[0].address).await.unwrap();
    let tx = emit(&p0, emitter, 12).await;
    assert!(p0.raw_request::<_, bool>("evm_revert".into(), (snapshot,)).await.unwrap());
    assert!(p0.get_transaction_receipt(tx).await.unwrap().is_none());
    assert_eq!(p0.get_balance(node.accounts[0].address).await.unwrap(), balance);
    assert_eq!(p0.get_block_number().await.unwrap(), 3);
    assert!(!p0.raw_request::<_, bool>("evm_revert".into(), (snapshot,)).await.unwrap(), "used up");
    node.stop().await;
}

async fn next_n<T>(stream: &mut (impl futures::Stream<Item = T> + Unpin), n: usize) -> Vec<T> {
    let mut out = Vec::new();
    while out.len() < n {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("notification within 10 s")
            .expect("stream open");
        out.push(item);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = DevnetConfig {
        data_dir: Some(dir.path().to_path_buf()),
        genesis_timestamp: Some(1_800_000_000),
        ..DevnetConfig::default()
    };
    let first = node(config.clone()).await;
    let p = provider(&first, 0);
    let emitter = deploy(&p).await;
    let tx = emit(&p, emitter, 5).await;
    let head = p.get_block_by_number(2.into()).await.unwrap().unwrap();
    first.stop().await;

    let second = node(config.clone()).await;
    let p = provider(&second, 0);
    assert_eq!(p.get_block_number().await.unwrap(), 2);
    let reloaded = p.get_block_by_number(2.into()).await.unwrap().unwrap();
    assert_eq!(reloaded.header.hash, head.header.hash);
    let receipt = p.get_transaction_receipt(tx).await.unwrap().expect("receipt kept");
    assert_eq!(receipt.inner.logs().len(), 1);
    assert_eq!(p.get_storage_at(emitter, U256::ZERO).await.unwrap(), U256::from(5));
    emit(&p, emitter, 6).await;
    assert_eq!(p.get_block_number().await.unwrap(), 3);
    second.stop().await;

    // Another genesis in the same directory is refused, not mixed in.
    let other = DevnetConfig { balance: U256::from(1), ..config };
    let err = Devnet::spawn(DevnetConfig { listen: "127.0.0.1:0".parse().unwrap(), ..other })
        .await
        .expect_err("a different chain");
    assert!(err.to_string().contains("different"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transactions_get_the_errors_clients_parse() {
    let node = node(DevnetConfig::default()).await;
    let p = provider(&node, 0);
    let emitter = deploy(&p).await;
    let signer = PrivateKeySigner::from_bytes(&node.accounts[0].private_key).unwrap();
    let wallet = EthereumWallet::from(signer);
    let sign = |tx: TransactionRequest| {
        let wallet = wallet.clone();
        async move {
            let envelope = <TransactionRequest as alloy_network::NetworkTransactionBuilder<
                alloy_network::Ethereum,
            >>::build(tx, &wallet)
            .await
            .expect("signs");
            Bytes::from(alloy_eips::eip2718::Encodable2718::encoded_2718(&envelope))
        }
    };
    let base = TransactionRequest::default()
        .with_to(Address::repeat_byte(0x42))
        .with_value(U256::from(1))
        .with_chain_id(31337)
        .with_nonce(1)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(10_000_000_000)
        .with_max_priority_fee_per_gas(1);

    let cases: Vec<(&str, TransactionRequest, &str)> = vec![
        ("stale nonce", base.clone().with_nonce(0), "nonce too low"),
        ("wrong chain", base.clone().with_chain_id(1), "invalid chain id"),
        ("intrinsic gas", base.clone().with_gas_limit(20_000), "intrinsic gas too low"),
        (
            "fee cap",
            base.clone().with_max_fee_per_gas(1),
            "max fee per gas less than block base fee",
        ),
        ("funds", base.clone().with_value(U256::MAX / U256::from(2)), "insufficient funds"),
        ("block gas", base.clone().with_gas_limit(31_000_000), "exceeds block gas limit"),
    ];
    for (name, tx, expected) in cases {
        let raw = sign(tx).await;
        let (code, message) =
            rpc_error(&p, "eth_sendRawTransaction", serde_json::json!([raw])).await;
        let expected_code =
            if ["intrinsic gas", "block gas"].contains(&name) { -32000 } else { -32003 };
        assert_eq!(code, expected_code, "{name}: {message}");
        assert!(message.contains(expected), "{name}: {message}");
    }
    let (code, _) = rpc_error(&p, "eth_sendRawTransaction", serde_json::json!(["0x1234"])).await;
    assert_eq!(code, -32602);
    let (code, _) = rpc_error(&p, "eth_noSuchMethod", serde_json::json!([])).await;
    assert_eq!(code, -32601);
    let (code, _) = rpc_error(&p, "eth_getBalance", serde_json::json!(["0x12", "latest"])).await;
    assert_eq!(code, -32602);
    // Nothing was lost: the chain still works and the pool is empty.
    emit(&p, emitter, 1).await;
    let info: serde_json::Value = p.raw_request("devnet_info".into(), ()).await.unwrap();
    assert_eq!(info["pool"], 0);
    node.stop().await;
}
