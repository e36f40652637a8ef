//! Benchmark workloads: the real-contract fixtures in `shared/fixtures/workloads`, and
//! generated blocks (ETH transfers to fresh accounts, ERC-20 transfers, storage writes and
//! deletes) over a pre-state of many accounts so that trie paths have realistic depth.
//!
//! Transactions carry their sender (`Recovered::new_unchecked`) and a placeholder signature:
//! signature recovery is not what is compared here, and the raw-revm baseline does not do it
//! either.

use crate::execute_local::block::{BlockEnvInput, BlockOutcome, InvalidTxPolicy, PreparedTx};
use crate::execute_local::chunk::{BlockSpec, Sealed};
use crate::execute_local::replay::GenesisAccount;
use alloy_consensus::{Signed, TxEnvelope, TxLegacy, transaction::Recovered};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256};
use std::collections::BTreeMap;

/// Chain id of generated transactions.
pub const BENCH_CHAIN_ID: u64 = 1;

/// One block of a workload.
#[derive(Debug, Clone)]
pub struct BenchBlock {
    pub env: BlockEnvInput,
    pub txs: Vec<PreparedTx>,
}

impl BlockSpec for BenchBlock {
    fn number(&self) -> u64 {
        self.env.number
    }

    fn env(&self, parent_hash: B256) -> BlockEnvInput {
        BlockEnvInput { parent_hash, ..self.env.clone() }
    }

    fn txs(&self) -> &[PreparedTx] {
        &self.txs
    }

    fn policy(&self) -> InvalidTxPolicy {
        InvalidTxPolicy::RejectBlock
    }

    /// Never asked: the workloads run under Ethereum's rules, without a trace budget.
    fn encoded_len(&self) -> usize {
        0
    }

    fn seal(&self, parent_hash: B256, post_state_root: B256, outcome: &BlockOutcome) -> Sealed {
        let mut header = Vec::with_capacity(104);
        header.extend_from_slice(parent_hash.as_slice());
        header.extend_from_slice(&self.env.number.to_be_bytes());
        header.extend_from_slice(post_state_root.as_slice());
        header.extend_from_slice(&outcome.gas_used.to_be_bytes());
        Sealed { hash: keccak256(&header), header: header.into() }
    }
}

/// A named pre-state and blocks.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub fork: String,
    pub pre: BTreeMap<Address, GenesisAccount>,
    pub blocks: Vec<BenchBlock>,
    /// Lift the per-transaction gas cap (fixture workloads are single huge transactions).
    pub lift_tx_gas_cap: bool,
}

/// A call with a known sender and a placeholder signature.
pub fn call(
    sender: Address,
    nonce: u64,
    to: Address,
    value: U256,
    input: Bytes,
    gas_limit: u64,
) -> PreparedTx {
    let tx = TxLegacy {
        chain_id: Some(BENCH_CHAIN_ID),
        nonce,
        gas_price: 0,
        gas_limit,
        to: TxKind::Call(to),
        value,
        input,
    };
    let signature = Signature::new(U256::from(1), U256::from(1), false);
    Ok(Recovered::new_unchecked(TxEnvelope::Legacy(Signed::new_unhashed(tx, signature)), sender))
}

/// A deterministic address from a label and an index.
pub fn address(label: &str, index: u64) -> Address {
    let mut seed = label.as_bytes().to_vec();
    seed.extend_from_slice(&index.to_be_bytes());
    Address::from_slice(&keccak256(seed)[12..])
}

/// The environment of generated block `number`.
pub fn bench_env(number: u64, gas_limit: u64) -> BlockEnvInput {
    BlockEnvInput {
        number,
        timestamp: 1_700_000_000 + number * 12,
        beneficiary: address("coinbase", 0),
        prev_randao: keccak256(number.to_be_bytes()),
        gas_limit,
        base_fee: 0,
        parent_hash: B256::ZERO,
        parent_beacon_block_root: Some(B256::ZERO),
        excess_blob_gas: Some(0),
        withdrawals: None,
    }
}

fn funded(balance: u64) -> GenesisAccount {
    GenesisAccount {
        balance: U256::from(balance) * U256::from(10u64.pow(18)),
        ..Default::default()
    }
}

/// `accounts` funded accounts nobody touches: depth for the account trie.
fn background(accounts: u64) -> BTreeMap<Address, GenesisAccount> {
    (0..accounts).map(|i| (address("background", i), funded(1))).collect()
}

/// Senders taking turns in generated blocks.
pub const SENDERS: u64 = 16;

/// `blocks` blocks of `per_block` transactions from [`SENDERS`] senders labelled
/// `sender_label` in turn; `make(sender, nonce, fresh_index)` builds each transaction, where
/// `fresh_index` is unique across the workload.
pub fn round_robin_blocks(
    blocks: u64,
    per_block: u64,
    gas_per_tx: u64,
    sender_label: &str,
    mut make: impl FnMut(Address, u64, u64) -> PreparedTx,
) -> Vec<BenchBlock> {
    let mut nonces = vec![0u64; SENDERS as usize];
    (1..=blocks)
        .map(|number| {
            let txs = (0..per_block)
                .map(|i| {
                    let s = (i % SENDERS) as usize;
                    nonces[s] += 1;
                    make(address(sender_label, s as u64), nonces[s] - 1, number * per_block + i)
                })
                .collect();
            BenchBlock { env: bench_env(number, per_block * gas_per_tx + 1_000_000), txs }
        })
        .collect()
}

/// `blocks` blocks of `per_block` ETH transfers, each to a fresh account.
pub fn transfers(blocks: u64, per_block: u64, background_accounts: u64) -> Workload {
    let mut pre = background(background_accounts);
    pre.extend((0..SENDERS).map(|i| (address("sender", i), funded(1_000_000))));
    let blocks = round_robin_blocks(blocks, per_block, 21_000, "sender", |from, nonce, fresh| {
        call(from, nonce, address("recipient", fresh), U256::from(1), Bytes::new(), 21_000)
    });
    Workload {
        name: format!("ETH transfers to fresh accounts ({per_block}/block)"),
        fork: "Osaka".into(),
        pre,
        blocks,
        lift_tx_gas_cap: false,
    }
}

pub use crate::rollup::genesis::STORAGE_WRITER;

/// Storage churn: each block writes `slots` fresh slots and deletes the previous block's.
pub fn storage_churn(blocks: u64, slots: u64, background_accounts: u64) -> Workload {
    let contract = address("storage-writer", 0);
    let sender = address("sender", 0);
    let mut pre = background(background_accounts);
    pre.insert(sender, funded(1_000_000));
    pre.insert(
        contract,
        GenesisAccount { code: Bytes::from_static(STORAGE_WRITER), ..Default::default() },
    );
    let words = |a: u64, b: u64, c: u64| -> Bytes {
        [a, b, c]
            .iter()
            .flat_map(|w| U256::from(*w).to_be_bytes::<32>())
            .collect::<Vec<u8>>()
            .into()
    };
    let gas = slots * 23_000 + 100_000;
    let blocks = (1..=blocks)
        .map(|number| {
            let mut txs = vec![call(
                sender,
                2 * (number - 1),
                contract,
                U256::ZERO,
                words(number * slots, slots, number),
                gas,
            )];
            let previous = (number - 1) * slots;
            txs.push(call(
                sender,
                2 * number - 1,
                contract,
                U256::ZERO,
                words(previous, slots, 0),
                gas,
            ));
            BenchBlock { env: bench_env(number, 2 * gas + 1_000_000), txs }
        })
        .collect();
    Workload {
        name: format!("storage writes + deletes ({slots} slots/block)"),
        fork: "Osaka".into(),
        pre,
        blocks,
        lift_tx_gas_cap: false,
    }
}
