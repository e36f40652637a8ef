//! Workloads read from `shared/fixtures/workloads` (state-test format: `env`, `pre`, one
//! `transaction`), each turned into a one-transaction block; and the ERC-20 transfer workload,
//! built on the real ERC-20 bytecode those fixtures ship.
//!
//! The fixtures' transactions mostly set gas limits far above Osaka's per-transaction cap
//! (EIP-7825); they are run under Osaka with that cap lifted.

use super::workloads::{BenchBlock, SENDERS, Workload, address, call, round_robin_blocks};
use crate::execute_local::block::BlockEnvInput;
use crate::execute_local::replay::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateTest {
    env: TestEnv,
    pre: BTreeMap<Address, TestAccount>,
    transaction: TestTx,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestEnv {
    current_coinbase: Address,
    current_gas_limit: U256,
    current_number: U256,
    current_timestamp: U256,
}

#[derive(Debug, Deserialize)]
struct TestAccount {
    balance: U256,
    code: Bytes,
    nonce: U256,
    #[serde(default)]
    storage: BTreeMap<U256, U256>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestTx {
    data: Vec<Bytes>,
    gas_limit: Vec<U256>,
    nonce: U256,
    sender: Address,
    to: Address,
    value: Vec<U256>,
}

/// Loads one fixture workload file.
pub fn load_workload(path: &Path) -> anyhow::Result<Workload> {
    let text = std::fs::read_to_string(path)?;
    let tests: BTreeMap<String, StateTest> = serde_json::from_str(&text)?;
    let (name, test) =
        tests.into_iter().next().ok_or_else(|| anyhow::anyhow!("{}: no test", path.display()))?;
    let pre = test
        .pre
        .into_iter()
        .map(|(addr, a)| {
            let nonce = a.nonce.try_into().unwrap_or(u64::MAX);
            (addr, GenesisAccount { nonce, balance: a.balance, code: a.code, storage: a.storage })
        })
        .collect();
    let tx = &test.transaction;
    let first = |v: &[U256]| v.first().copied().unwrap_or_default();
    let gas_limit: u64 = first(&tx.gas_limit).try_into().unwrap_or(u64::MAX);
    let input = tx.data.first().cloned().unwrap_or_default();
    let nonce = tx.nonce.try_into().unwrap_or(u64::MAX);
    let env = BlockEnvInput {
        number: test.env.current_number.try_into().unwrap_or(1),
        timestamp: test.env.current_timestamp.try_into().unwrap_or(1),
        beneficiary: test.env.current_coinbase,
        prev_randao: B256::ZERO,
        gas_limit: test.env.current_gas_limit.try_into().unwrap_or(u64::MAX).max(gas_limit),
        base_fee: 0,
        parent_hash: B256::ZERO,
        parent_beacon_block_root: Some(B256::ZERO),
        excess_blob_gas: Some(0),
        withdrawals: None,
    };
    let txs = vec![call(tx.sender, nonce, tx.to, first(&tx.value), input, gas_limit)];
    Ok(Workload {
        name,
        fork: "Osaka".into(),
        pre,
        blocks: vec![BenchBlock { env, txs }],
        lift_tx_gas_cap: true,
    })
}

/// The ERC-20 contract of the `erc20_transfer` fixture (OpenZeppelin layout: balances are the
/// mapping at slot 0).
pub fn erc20_code(workloads_dir: &Path) -> anyhow::Result<Bytes> {
    let workload = load_workload(&workloads_dir.join("erc20_transfer.json"))?;
    workload
        .pre
        .into_values()
        .find(|a| !a.code.is_empty())
        .map(|a| a.code)
        .ok_or_else(|| anyhow::anyhow!("erc20_transfer.json holds no contract"))
}

/// Storage slot of `holder`'s balance in a slot-0 balance mapping.
pub fn balance_slot(holder: Address) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(holder.as_slice());
    U256::from_be_bytes(keccak256(preimage).0)
}

/// `blocks` blocks of `per_block` ERC-20 `transfer` calls to fresh holders.
pub fn erc20_transfers(
    code: Bytes,
    blocks: u64,
    per_block: u64,
    background_accounts: u64,
) -> Workload {
    let token = address("erc20", 0);
    let mut pre: BTreeMap<Address, GenesisAccount> = (0..background_accounts)
        .map(|i| {
            (
                address("background", i),
                GenesisAccount { balance: U256::from(1), ..Default::default() },
            )
        })
        .collect();
    let mut storage = BTreeMap::new();
    for i in 0..SENDERS {
        let holder = address("holder", i);
        pre.insert(
            holder,
            GenesisAccount { balance: U256::from(10u64.pow(18)), ..Default::default() },
        );
        storage.insert(balance_slot(holder), U256::from(u64::MAX));
    }
    pre.insert(token, GenesisAccount { nonce: 1, code, storage, ..Default::default() });
    let blocks = round_robin_blocks(blocks, per_block, 100_000, "holder", |from, nonce, fresh| {
        let mut input = vec![0xa9, 0x05, 0x9c, 0xbb];
        input.extend_from_slice(&[0u8; 12]);
        input.extend_from_slice(address("token-recipient", fresh).as_slice());
        input.extend_from_slice(&U256::from(1000).to_be_bytes::<32>());
        call(from, nonce, token, U256::ZERO, input.into(), 100_000)
    });
    Workload {
        name: format!("ERC-20 transfers to fresh holders ({per_block}/block)"),
        fork: "Osaka".into(),
        pre,
        blocks,
        lift_tx_gas_cap: false,
    }
}
