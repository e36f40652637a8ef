//! EXECUTE end to end on the dev L1: signed L1 transactions (sent with alloy's provider over
//! JSON-RPC) call the precompile with traces `execute_local` recorded for real L2 blocks.
//! Valid traces are confirmed, tampered ones fail or answer "no", the gas charged is the
//! documented formula, and the per-block EXECUTE budget defers the excess.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use common::TestChain;
use native_challenger::devnet::{Devnet, DevnetConfig};
use native_challenger::execute_local::execute::record_trace;
use native_challenger::precompile::DEFAULT_EXECUTE_ADDRESS;
use native_challenger::protocol::{ExecuteCall, Trace};
use serde_json::Value;

/// L2 block gas limit of the challenged blocks: EXECUTE charges it, and a call must fit the
/// 2^24 per-transaction cap.
const L2_GAS_LIMIT: u64 = 2_000_000;

/// Runtime of a probe contract: forwards its call data to 0x0101 with all gas, then logs
/// `[first return word, success flag, return data size]` (LOG0 of 96 bytes).
///   CALLDATACOPY(0, 0, CALLDATASIZE)
///   CALL(GAS, 0x0101, 0, 0, CALLDATASIZE, 0, 32)
///   MSTORE(0x20, success) MSTORE(0x40, RETURNDATASIZE) LOG0(0, 0x60) STOP
const PROBE_RUNTIME: &[u8] = &[
    0x36, 0x5f, 0x5f, 0x37, 0x60, 0x20, 0x5f, 0x36, 0x5f, 0x5f, 0x61, 0x01, 0x01, 0x5a, 0xf1, 0x60,
    0x20, 0x52, 0x3d, 0x60, 0x40, 0x52, 0x60, 0x60, 0x5f, 0xa0, 0x00,
];

fn probe_initcode() -> Bytes {
    let mut init = vec![0x60, PROBE_RUNTIME.len() as u8, 0x80, 0x60, 0x09, 0x5f, 0x39, 0x5f, 0xf3];
    init.extend_from_slice(PROBE_RUNTIME);
    init.into()
}

/// An L2 chain with one applied block and a recorded trace of the next: the valid call.
struct Challenge {
    chain: TestChain,
    trace: Trace,
    call: ExecuteCall,
}

fn challenge() -> Challenge {
    let mut chain = TestChain::new();
    let fresh = |i: u8| Address::repeat_byte(0x40 + i);
    let txs1 = vec![
        chain.transfer(0, fresh(1), 1_000),
        chain.deploy_writer(1),
        chain.write_slots(2, 10, 4, 9),
    ];
    let b1 = chain.block_with_gas_limit(1, txs1, L2_GAS_LIMIT);
    chain.apply(&b1);
    let txs2 = vec![
        chain.transfer(0, fresh(2), 7),
        chain.write_slots(3, 0, 5, 0),
        chain.write_slots(2, 20, 3, 1),
        chain.transfer(1, fresh(3), 9),
    ];
    let b2 = chain.block_with_gas_limit(2, txs2, L2_GAS_LIMIT);
    let parent = chain.head();
    let (trace, steps) = record_trace(&chain.store, &chain.rules, &[b2]).expect("trace");
    let call = ExecuteCall {
        pre_state_root: parent.state_root,
        post_state_root: steps[0].post_state_root,
        trace: trace.encode().expect("encode").into(),
        gas_used: steps[0].outcome.gas_used,
    };
    Challenge { chain, trace, call }
}

fn with_trace(call: &ExecuteCall, trace: &Trace) -> ExecuteCall {
    ExecuteCall { trace: trace.encode().expect("encode").into(), ..call.clone() }
}

/// The documented charge, computed here from the trace's own fields.
fn documented_charge(trace: &Trace, trace_len: usize) -> u64 {
    100_000
        + trace
            .blocks
            .iter()
            .map(|b| b.gas_limit + 5_000 * b.transactions.len() as u64)
            .sum::<u64>()
        + 4 * trace_len as u64
}

/// Gas of a transaction calling the precompile directly (Prague/Osaka calldata floor).
fn direct_call_gas(data: &[u8], charge: u64) -> (u64, u64) {
    let zeros = data.iter().filter(|b| **b == 0).count() as u64;
    let nonzeros = data.len() as u64 - zeros;
    let standard = 21_000 + 4 * zeros + 16 * nonzeros + charge;
    let floor = 21_000 + 10 * (zeros + 4 * nonzeros);
    (standard, floor)
}

async fn node(config: DevnetConfig) -> Devnet {
    Devnet::spawn(DevnetConfig { listen: "127.0.0.1:0".parse().unwrap(), ..config })
        .await
        .expect("dev L1 starts")
}

fn signer(node: &Devnet, index: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&node.accounts[index].private_key).expect("dev key")
}

fn provider(node: &Devnet, index: usize) -> impl Provider + Clone + use<> {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer(node, index)))
        .connect_http(node.http_url.parse().expect("url"))
}

async fn deploy_probe(p: &impl Provider) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(probe_initcode());
    let receipt = p
        .send_transaction(tx)
        .await
        .expect("send")
        .with_timeout(Some(std::time::Duration::from_secs(30)))
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status(), "probe deployment failed");
    receipt.contract_address.expect("created")
}

/// Sends `call` through the probe; returns (success flag, first return word, return size).
async fn probe(p: &impl Provider, probe: Address, call: &ExecuteCall) -> (bool, B256, u64) {
    let tx = TransactionRequest::default()
        .with_to(probe)
        .with_input(Bytes::from(call.abi_encode()))
        .with_gas_limit(16_000_000);
    let receipt = p
        .send_transaction(tx)
        .await
        .expect("send")
        .with_timeout(Some(std::time::Duration::from_secs(30)))
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status(), "the probe itself never fails");
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1, "the probe logs once");
    let data = logs[0].data().data.clone();
    assert_eq!(data.len(), 96);
    let success = U256::from_be_slice(&data[32..64]);
    let size = U256::from_be_slice(&data[64..96]);
    (success == U256::from(1), B256::from_slice(&data[..32]), size.to::<u64>())
}

/// `eth_call` straight to the precompile: Ok(return data) or Err((code, message, data)).
async fn eth_call(p: &impl Provider, call: &ExecuteCall) -> Result<Bytes, (i64, String, String)> {
    let request = TransactionRequest::default()
        .with_to(DEFAULT_EXECUTE_ADDRESS)
        .with_input(Bytes::from(call.abi_encode()))
        .with_gas_limit(16_000_000);
    let result: Result<Bytes, _> = p.raw_request("eth_call".into(), (request, "latest")).await;
    result.map_err(|err| {
        let payload = err.as_error_resp().expect("a JSON-RPC error");
        let data = payload.data.as_ref().map(|d| d.get().to_string()).unwrap_or_default();
        (payload.code, payload.message.to_string(), data)
    })
}

fn revert_text(data: &str) -> String {
    let hex: String = serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let bytes = alloy_primitives::hex::decode(hex).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_trace_is_confirmed_and_tampered_traces_are_not() {
    let Challenge { chain: _chain, trace, call } = challenge();
    let node = node(DevnetConfig::default()).await;
    let p = provider(&node, 0);
    let probe_addr = deploy_probe(&p).await;

    // The valid transition: success, verdict 1, in a mined transaction and in eth_call.
    let (ok, word, size) = probe(&p, probe_addr, &call).await;
    assert!(ok && size == 32 && word == B256::with_last_byte(1), "valid call: {ok} {word} {size}");
    assert_eq!(
        eth_call(&p, &call).await.expect("valid call"),
        Bytes::from(B256::with_last_byte(1).to_vec())
    );

    // A wrong post root and a wrong gas_used: sound witness, the answer is "no".
    for wrong in [
        ExecuteCall { post_state_root: B256::repeat_byte(0x77), ..call.clone() },
        ExecuteCall { gas_used: call.gas_used + 1, ..call.clone() },
    ] {
        let (ok, word, size) = probe(&p, probe_addr, &wrong).await;
        assert!(ok && size == 32 && word == B256::ZERO, "wrong claim: {ok} {word} {size}");
    }

    // Broken witnesses and foreign inputs: the call fails (never a verdict), with a reason.
    let mut changed = trace.clone();
    let mut node_bytes = changed.witness.nodes[0].to_vec();
    let last = node_bytes.len() - 1;
    node_bytes[last] ^= 1;
    changed.witness.nodes[0] = node_bytes.into();
    let mut dropped = trace.clone();
    dropped.witness.nodes.remove(dropped.witness.nodes.len() / 2);
    let foreign_chain = {
        let mut other = TestChain::with_background(30);
        let txs = vec![other.transfer(3, Address::repeat_byte(0x99), 1)];
        let b1 = other.block_with_gas_limit(1, vec![], L2_GAS_LIMIT);
        other.apply(&b1);
        other.block_with_gas_limit(2, txs, L2_GAS_LIMIT)
    };
    let mut foreign = trace.clone();
    foreign.blocks[0] = foreign_chain.inputs.clone();
    for (name, tampered) in
        [("changed node", changed), ("dropped node", dropped), ("foreign block", foreign)]
    {
        let bad = with_trace(&call, &tampered);
        let (ok, _, _) = probe(&p, probe_addr, &bad).await;
        assert!(!ok, "{name}: the EXECUTE call must fail");
        let (code, message, data) = eth_call(&p, &bad).await.expect_err(name);
        assert_eq!(code, 3, "{name}: {message}");
        assert!(revert_text(&data).starts_with("EXECUTE: "), "{name}: {}", revert_text(&data));
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gas_charged_is_the_documented_formula() {
    let Challenge { trace, call, .. } = challenge();
    let node = node(DevnetConfig::default()).await;
    let p = provider(&node, 0);
    let data = call.abi_encode();
    let charge = documented_charge(&trace, call.trace.len());
    let (standard, floor) = direct_call_gas(&data, charge);
    assert!(standard > floor, "the charge dominates the calldata floor here");

    let direct = |gas: u64| {
        TransactionRequest::default()
            .with_to(DEFAULT_EXECUTE_ADDRESS)
            .with_input(Bytes::from(data.clone()))
            .with_gas_limit(gas)
    };
    let receipt: TransactionReceipt =
        p.send_transaction(direct(standard)).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "exactly the charge suffices");
    assert_eq!(receipt.gas_used, standard, "gas used = intrinsic + documented charge");

    let receipt: TransactionReceipt =
        p.send_transaction(direct(standard - 1)).await.unwrap().get_receipt().await.unwrap();
    assert!(!receipt.status(), "one gas short of the charge is out of gas");
    assert_eq!(receipt.gas_used, standard - 1);

    // eth_estimateGas finds the same figure.
    let estimate = p.estimate_gas(direct(16_000_000)).await.expect("estimate");
    assert_eq!(estimate, standard);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_block_execute_budget_defers_the_excess() {
    let Challenge { trace, call, .. } = challenge();
    let data = call.abi_encode();
    let charge = documented_charge(&trace, call.trace.len());
    let (standard, _) = direct_call_gas(&data, charge);
    let node = node(DevnetConfig {
        automine: false,
        execute_block_gas_limit: charge + charge / 2,
        ..DevnetConfig::default()
    })
    .await;
    let p = provider(&node, 0);
    let direct = TransactionRequest::default()
        .with_to(DEFAULT_EXECUTE_ADDRESS)
        .with_input(Bytes::from(data.clone()))
        .with_gas_limit(standard)
        .with_max_fee_per_gas(10_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000);
    let first = p.send_transaction(direct.clone().with_nonce(0)).await.unwrap();
    let second = p.send_transaction(direct.clone().with_nonce(1)).await.unwrap();
    let transfer = TransactionRequest::default()
        .with_to(Address::repeat_byte(0x33))
        .with_value(U256::from(5))
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(10_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000);
    let p1 = provider(&node, 1);
    let other = p1.send_transaction(transfer).await.unwrap();

    let _: String = p.raw_request("evm_mine".into(), ()).await.unwrap();
    let block1 = p.get_block_by_number(1.into()).await.unwrap().expect("block 1");
    let hashes: Vec<B256> = block1.transactions.hashes().collect();
    assert!(hashes.contains(first.tx_hash()), "the first EXECUTE fits");
    assert!(!hashes.contains(second.tx_hash()), "the second would exceed the budget and waits");
    assert!(hashes.contains(other.tx_hash()), "transactions without EXECUTE are not held up");

    let _: String = p.raw_request("evm_mine".into(), ()).await.unwrap();
    let block2 = p.get_block_by_number(2.into()).await.unwrap().expect("block 2");
    assert_eq!(block2.transactions.hashes().collect::<Vec<_>>(), vec![*second.tx_hash()]);
    for pending in [first, second] {
        let receipt = p.get_transaction_receipt(*pending.tx_hash()).await.unwrap().expect("mined");
        assert!(receipt.status());
    }
    node.stop().await;

    // A call larger than the whole budget can never fit: it is included and fails alone.
    let node = node_with_budget(charge - 1).await;
    let p = provider(&node, 0);
    let receipt = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(DEFAULT_EXECUTE_ADDRESS)
                .with_input(Bytes::from(data))
                .with_gas_limit(standard),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!receipt.status(), "over-budget call fails");
    assert_eq!(receipt.gas_used, standard, "and pays its charge");
    node.stop().await;
}

async fn node_with_budget(limit: u64) -> Devnet {
    node(DevnetConfig { execute_block_gas_limit: limit, ..DevnetConfig::default() }).await
}
