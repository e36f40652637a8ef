//! The red team's attacker: a dev account that signs its own transactions and talks to the
//! node directly, and the attacks it mounts against an honest challenger (tests/red_team.rs):
//! a front-runner behind the challenger's RPC endpoint, a log-truncating endpoint, an endpoint
//! that launders a lie's checkpoints in its `BatchData` log, block
//! stuffers (gas, and the per-block EXECUTE budget), and a reorg that drops chosen
//! transactions.

use super::rpc_proxy::{HookFuture, RequestHook, ResultFilter};
use alloy_consensus::{SignableTransaction, Transaction as _, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{BlockNumberOrTag, TransactionReceipt, TransactionRequest};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent};
use native_challenger::devnet::Devnet;
use native_challenger::rollup::NativeRollup;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const GWEI: u128 = 1_000_000_000;
const WAIT: Duration = Duration::from_secs(30);

/// A dev account sending raw, self-signed EIP-1559 transactions straight to the node (never
/// through the challenger's endpoint). Nonces are the node's pending count, taken one send at
/// a time.
pub struct Attacker {
    pub signer: PrivateKeySigner,
    pub provider: DynProvider,
    pub chain_id: u64,
    sending: tokio::sync::Mutex<()>,
}

impl Attacker {
    /// Dev account `index` of `node`.
    pub async fn new(node: &Devnet, index: usize) -> Arc<Self> {
        let signer =
            PrivateKeySigner::from_bytes(&node.accounts[index].private_key).expect("dev key");
        let provider =
            ProviderBuilder::new().connect_http(node.http_url.parse().expect("url")).erased();
        let chain_id = provider.get_chain_id().await.expect("chain id");
        Arc::new(Self { signer, provider, chain_id, sending: tokio::sync::Mutex::new(()) })
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The latest block's base fee.
    pub async fn base_fee(&self) -> u128 {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .expect("latest block")
            .expect("a latest block");
        u128::from(block.header.base_fee_per_gas.unwrap_or(1_000_000_000))
    }

    /// The next nonce, counting this account's pooled transactions.
    pub async fn pending_nonce(&self) -> u64 {
        self.provider.get_transaction_count(self.address()).pending().await.expect("nonce")
    }

    /// A signed EIP-1559 transaction: (hash, raw bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        &self,
        nonce: u64,
        to: TxKind,
        input: Bytes,
        value: U256,
        gas: u64,
        max_fee: u128,
        tip: u128,
    ) -> (B256, Bytes) {
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to,
            value,
            access_list: Default::default(),
            input,
        };
        let signature = self.signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        (*envelope.tx_hash(), envelope.encoded_2718().into())
    }

    /// Sends a call with a fixed gas limit and fees (no estimate: a call that will revert is
    /// sent all the same) and returns its hash without waiting.
    pub async fn send(
        &self,
        to: TxKind,
        input: Bytes,
        value: U256,
        gas: u64,
        max_fee: u128,
        tip: u128,
    ) -> B256 {
        let _one_at_a_time = self.sending.lock().await;
        let nonce = self.pending_nonce().await;
        let (hash, raw) = self.sign(nonce, to, input, value, gas, max_fee, tip);
        let _ = self
            .provider
            .send_raw_transaction(&raw)
            .await
            .expect("the node takes the attacker's tx");
        hash
    }

    /// Estimates, sends at ordinary fees and waits for a successful receipt.
    pub async fn call(&self, to: TxKind, input: Bytes, value: U256) -> TransactionReceipt {
        let mut request =
            TransactionRequest::default().with_from(self.address()).with_input(input.clone());
        request.to = Some(to);
        request.value = Some(value);
        let estimate = self.provider.estimate_gas(request).await.expect("estimate");
        let gas = estimate + estimate / 5;
        let base = self.base_fee().await;
        let hash = self.send(to, input, value, gas, base * 2 + GWEI, GWEI).await;
        let receipt = self.receipt(hash, WAIT).await;
        assert!(receipt.status(), "the attacker's setup transaction {hash} failed");
        receipt
    }

    /// Waits until the node knows `hash` (pooled or mined).
    pub async fn wait_known(&self, hash: B256, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.provider.get_transaction_by_hash(hash).await.expect("lookup").is_none() {
            assert!(Instant::now() < deadline, "the node never took {hash}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the receipt of `hash`, whatever its status.
    pub async fn receipt(&self, hash: B256, timeout: Duration) -> TransactionReceipt {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.provider.get_transaction_receipt(hash).await.expect("receipt") {
                return r;
            }
            assert!(Instant::now() < deadline, "{hash} not mined within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Deposits `wei` of challenger bond at `rollup`.
    pub async fn deposit_challenger_bond(&self, rollup: Address, wei: U256) {
        let data = NativeRollup::depositChallengerBondCall {}.abi_encode().into();
        self.call(TxKind::Call(rollup), data, wei).await;
    }

    /// Deploys `runtime` with a minimal constructor; returns its address.
    pub async fn deploy(&self, runtime: &[u8]) -> Address {
        let len = u8::try_from(runtime.len()).expect("a short runtime");
        let mut init = vec![0x60, len, 0x80, 0x60, 0x09, 0x5f, 0x39, 0x5f, 0xf3];
        init.extend_from_slice(runtime);
        let receipt = self.call(TxKind::Create, init.into(), U256::ZERO).await;
        receipt.contract_address.expect("a deployed address")
    }
}

// ---------------------------------------------------------------- the front-runner

/// A raw transaction as a hook sees it in `eth_sendRawTransaction`.
#[derive(Debug, Clone)]
pub struct SeenTx {
    pub hash: B256,
    pub to: Option<Address>,
    pub input: Bytes,
    pub gas: u64,
    pub max_fee: u128,
    pub tip: u128,
}

/// Decodes the `eth_sendRawTransaction` request's raw transaction.
pub fn seen_tx(request: &Value) -> Option<SeenTx> {
    let hex = request.get("params")?.get(0)?.as_str()?;
    let raw = alloy_primitives::hex::decode(hex).ok()?;
    let tx = TxEnvelope::decode_2718(&mut raw.as_slice()).ok()?;
    Some(SeenTx {
        hash: *tx.tx_hash(),
        to: tx.to(),
        input: tx.input().clone(),
        gas: tx.gas_limit(),
        max_fee: tx.max_fee_per_gas(),
        tip: tx.max_priority_fee_per_gas().unwrap_or(tx.max_fee_per_gas()),
    })
}

/// What the front-runner did.
#[derive(Debug, Default, Clone)]
pub struct FrontRuns {
    /// (the honest transaction, the attacker's copy) of each `commitChallenge` copied.
    pub commits: Vec<(SeenTx, B256)>,
    /// The same for each `challenge` (reveal) copied.
    pub reveals: Vec<(SeenTx, B256)>,
    /// Inputs already copied (the challenger re-broadcasts the same transaction every poll).
    copied: HashSet<Bytes>,
}

/// A hook for the challenger's `eth_sendRawTransaction`: each new `commitChallenge` or
/// `challenge` call to `rollup` is copied by `attacker` with a higher tip (same input, same
/// gas, no estimate), sent straight to the node, and the honest transaction is forwarded only
/// once the node holds the copy: the copy is first in the pool and first in the block.
pub fn front_runner(
    attacker: Arc<Attacker>,
    rollup: Address,
) -> (RequestHook, Arc<Mutex<FrontRuns>>) {
    let log = Arc::new(Mutex::new(FrontRuns::default()));
    let shared = log.clone();
    let hook: RequestHook = Arc::new(move |request: Value| -> HookFuture {
        let attacker = attacker.clone();
        let log = shared.clone();
        Box::pin(async move {
            let tx = seen_tx(&request)?;
            if tx.to != Some(rollup) || tx.input.len() < 4 {
                return None;
            }
            let selector: [u8; 4] = tx.input[..4].try_into().ok()?;
            let is_commit = selector == NativeRollup::commitChallengeCall::SELECTOR;
            let is_reveal = selector == NativeRollup::challengeCall::SELECTOR;
            if !(is_commit || is_reveal) {
                return None;
            }
            if !log.lock().unwrap().copied.insert(tx.input.clone()) {
                return None; // a re-broadcast of what was already copied
            }
            let tip = tx.tip * 2 + GWEI;
            let max_fee = tx.max_fee + tip;
            let copy = attacker
                .send(TxKind::Call(rollup), tx.input.clone(), U256::ZERO, tx.gas, max_fee, tip)
                .await;
            attacker.wait_known(copy, WAIT).await;
            let mut log = log.lock().unwrap();
            if is_commit { &mut log.commits } else { &mut log.reveals }.push((tx, copy));
            None
        })
    });
    (hook, log)
}

// ---------------------------------------------------------------- the lying endpoint

/// A filter for `eth_getLogs` answers removing batch `batch_id`'s `BatchProposed` and
/// `BatchData` logs, from the first `limit` answers that hold them (`None`: from all).
/// The returned counter is the number of answers truncated.
pub fn hide_batch_logs(batch_id: u64, limit: Option<u64>) -> (ResultFilter, Arc<AtomicU64>) {
    let truncated = Arc::new(AtomicU64::new(0));
    let count = truncated.clone();
    let id_topic = B256::from(U256::from(batch_id));
    let hidden =
        [NativeRollup::BatchProposed::SIGNATURE_HASH, NativeRollup::BatchData::SIGNATURE_HASH];
    let filter: ResultFilter = Arc::new(move |_request: &Value, result: &mut Value| {
        if limit.is_some_and(|limit| count.load(Ordering::SeqCst) >= limit) {
            return false;
        }
        let Some(logs) = result.as_array_mut() else { return false };
        let before = logs.len();
        logs.retain(|log| {
            let topic = |i: usize| log.get("topics")?.get(i)?.as_str()?.parse::<B256>().ok();
            !(topic(0).is_some_and(|t| hidden.contains(&t)) && topic(1) == Some(id_topic))
        });
        let changed = logs.len() != before;
        if changed {
            count.fetch_add(1, Ordering::SeqCst);
        }
        changed
    });
    (filter, truncated)
}

/// A filter for `eth_getLogs` answers that launders batch `data.batchId`: its `BatchData`
/// log's data is replaced by `data`'s (the same blocks with other checkpoints, e.g. the honest
/// ones of a lie), so a watcher that trusted the log would replay no lie. The returned counter
/// is the number of answers rewritten.
pub fn launder_batch_data(data: NativeRollup::BatchData) -> (ResultFilter, Arc<AtomicU64>) {
    let rewritten = Arc::new(AtomicU64::new(0));
    let count = rewritten.clone();
    let id_topic = B256::from(U256::from(data.batchId));
    let laundered = format!("0x{}", hex::encode(data.encode_log_data().data));
    let filter: ResultFilter = Arc::new(move |_request: &Value, result: &mut Value| {
        let Some(logs) = result.as_array_mut() else { return false };
        let mut changed = false;
        for log in logs.iter_mut() {
            let topic = |i: usize| log.get("topics")?.get(i)?.as_str()?.parse::<B256>().ok();
            if topic(0) == Some(NativeRollup::BatchData::SIGNATURE_HASH)
                && topic(1) == Some(id_topic)
            {
                log["data"] = Value::String(laundered.clone());
                changed = true;
            }
        }
        if changed {
            count.fetch_add(1, Ordering::SeqCst);
        }
        changed
    });
    (filter, rewritten)
}

// ---------------------------------------------------------------- block stuffing

/// Runtime code that loops until its gas runs out: `JUMPDEST PUSH0 JUMP`.
pub const BURNER: &[u8] = &[0x5b, 0x5f, 0x56];

/// Gas of each stuffing transaction: four fill a 30M-gas block exactly (the builder then has
/// no room even for a 21,000-gas transfer), each under the EIP-7825 cap of 2^24.
pub const STUFF_GAS: u64 = 7_500_000;

/// Signs `blocks × per_block` calls to `burner` of `STUFF_GAS` each at `tip` (fee cap
/// `max_fee`), with consecutive nonces, and sends them all at once: the builder, which orders
/// by tip, fills `blocks` blocks with them. Returns their hashes.
pub async fn stuff_blocks(
    attacker: &Attacker,
    burner: Address,
    blocks: u64,
    per_block: u64,
    max_fee: u128,
    tip: u128,
) -> Vec<B256> {
    let _one_at_a_time = attacker.sending.lock().await;
    let first = attacker.pending_nonce().await;
    let mut hashes = Vec::new();
    for nonce in first..first + blocks * per_block {
        let (hash, raw) = attacker.sign(
            nonce,
            TxKind::Call(burner),
            Bytes::new(),
            U256::ZERO,
            STUFF_GAS,
            max_fee,
            tip,
        );
        let _ = attacker.provider.send_raw_transaction(&raw).await.expect("stuffing tx accepted");
        hashes.push(hash);
    }
    hashes
}

/// An EXECUTE call whose trace framing names empty blocks whose gas limits add up to
/// `l2_gas_limit`, each at most `SEGMENT_GAS` (so the precompile charges `100,000 +
/// l2_gas_limit + 4 × trace bytes` before any work), and whose witness is empty (no headers: a
/// decode error, so it reverts after charging). It proves nothing and spends the L1 block's
/// EXECUTE budget.
pub fn budget_burning_call(l2_chain_id: u64, l2_gas_limit: u64) -> Bytes {
    use native_challenger::protocol::SEGMENT_GAS;
    // EXECUTE charges each block of a trace at most one segment's gas: as many empty blocks as
    // it takes to be charged `l2_gas_limit` in all.
    let block = |gas_limit: u64| {
        let mut inputs = Vec::with_capacity(120);
        inputs.extend_from_slice(&1u64.to_be_bytes()); // number
        inputs.extend_from_slice(&0u64.to_be_bytes()); // timestamp
        inputs.extend_from_slice(&[0u8; 20]); // fee recipient
        inputs.extend_from_slice(&[0u8; 32]); // prev_randao
        inputs.extend_from_slice(&gas_limit.to_be_bytes());
        inputs.extend_from_slice(&1u64.to_be_bytes()); // base fee
        inputs.extend_from_slice(&[0u8; 32]); // l1 anchor
        inputs.extend_from_slice(&0u32.to_be_bytes()); // no transactions
        inputs
    };
    let mut blocks = Vec::new();
    let mut left = l2_gas_limit;
    while left > 0 {
        let gas = left.min(SEGMENT_GAS);
        blocks.push(block(gas));
        left -= gas;
    }
    let mut trace = vec![2u8];
    trace.extend_from_slice(&l2_chain_id.to_be_bytes());
    trace.extend_from_slice(&[0u8; 32]); // parent hash
    trace.extend_from_slice(&[0u8; 18]); // segment 0 from transaction 0, end 0
    trace.extend_from_slice(&(blocks.len() as u16).to_be_bytes());
    for inputs in &blocks {
        trace.extend_from_slice(&(inputs.len() as u32).to_be_bytes());
        trace.extend_from_slice(inputs);
    }
    trace.extend_from_slice(&0u32.to_be_bytes()); // nodes
    trace.extend_from_slice(&0u32.to_be_bytes()); // codes
    trace.extend_from_slice(&0u16.to_be_bytes()); // headers: none, a decode error
    let call = native_challenger::protocol::ExecuteCall {
        pre_state_root: B256::ZERO,
        post_state_root: B256::ZERO,
        trace: trace.into(),
        gas_used: 0,
    };
    call.abi_encode().into()
}

// ---------------------------------------------------------------- reorgs

/// Replaces L1 from block `from` to the head with blocks holding the same transactions
/// except `drop` (the dev L1's `devnet_reorg`), repeated until `must_go` has no receipt (the
/// dev L1 may mine between reading the head and the reorg). Returns the depth.
pub async fn reorg_dropping(
    provider: &DynProvider,
    from: u64,
    drop: &[B256],
    must_go: B256,
) -> u64 {
    for _ in 0..5 {
        let head = provider.get_block_number().await.expect("head");
        let depth = head - from + 1;
        let _: Value = provider
            .raw_request(
                "devnet_reorg".into(),
                (serde_json::json!({"depth": depth, "drop": drop}),),
            )
            .await
            .expect("reorg");
        if provider.get_transaction_receipt(must_go).await.expect("receipt").is_none() {
            return depth;
        }
    }
    panic!("{must_go} survived five reorgs from block {from}");
}
