//! Measuring one workload: the raw-revm baseline and the three paths of `execute_local`, in
//! the same process, one after the other.
//!
//! - baseline: revm alone over an in-memory `CacheDB`, no state root, no persistence;
//! - stateful: [`execute_on_store`] + commit (rocksdb, incremental root, one batch per block);
//! - record: [`record_witness`] of each block from the stored pre-state;
//! - stateless: [`verify_chunk`] of each block from its witness alone.
//!
//! Only the work itself is timed: building the genesis state and the baseline's database is
//! not.

use super::workloads::{BenchBlock, Workload};
use crate::execute_local::block::evm_env;
use crate::execute_local::chain::ChainRules;
use crate::execute_local::chunk::{BlockSpec, Sealed};
use crate::execute_local::forks::{Network, network};
use crate::execute_local::replay::{GenesisState, execute_on_store};
use crate::execute_local::stateless::{HeaderFormat, HeaderLink, verify_chunk};
use crate::execute_local::store::StateStore;
use crate::execute_local::witness::{Witness, record_witness};
use alloy_consensus::TxReceipt;
use alloy_evm::FromRecoveredTx;
use alloy_primitives::{B256, keccak256};
use anyhow::{Context as _, Result, bail};
use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    bytecode::Bytecode,
    context::TxEnv,
    database::{CacheDB, EmptyDB},
    state::AccountInfo,
};
use std::time::{Duration, Instant};

/// Figures for one workload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    pub name: String,
    pub blocks: usize,
    pub txs: usize,
    pub gas: u64,
    pub baseline: Duration,
    pub stateful: Duration,
    pub record: Duration,
    pub stateless: Duration,
    pub witness_bytes: usize,
    pub witness_nodes: usize,
    pub reverted: usize,
}

/// The header format of benchmark blocks (see `BenchBlock::seal`).
struct BenchHeaders;

impl HeaderFormat for BenchHeaders {
    fn link(bytes: &[u8]) -> Result<HeaderLink, String> {
        if bytes.len() != 80 {
            return Err(format!("{} bytes", bytes.len()));
        }
        let number = u64::from_be_bytes(bytes[32..40].try_into().map_err(|_| "number")?);
        Ok(HeaderLink {
            number,
            parent_hash: B256::from_slice(&bytes[..32]),
            hash: keccak256(bytes),
            state_root: B256::from_slice(&bytes[40..72]),
        })
    }
}

pub(crate) fn rules(workload: &Workload) -> Result<ChainRules> {
    let Network::Supported(schedule) = network(&workload.fork) else {
        bail!("fork {} unsupported", workload.fork)
    };
    let mut rules =
        ChainRules::new(super::workloads::BENCH_CHAIN_ID, schedule).without_trace_budget();
    if workload.lift_tx_gas_cap {
        rules.tx_gas_limit_cap = Some(u64::MAX);
    }
    Ok(rules)
}

/// Runs every measurement on `workload`, keeping the store under `scratch`.
pub fn measure(workload: &Workload, scratch: &std::path::Path) -> Result<Figures> {
    let rules = rules(workload)?;
    let baseline = baseline(workload, &rules)?;
    let _ = std::fs::remove_dir_all(scratch);
    let store = StateStore::open(scratch)?;
    let genesis = GenesisState::build(&workload.pre).context("genesis")?;
    let first = workload.blocks.first().map_or(1, |b| b.env.number);
    let header = genesis_header(first - 1, genesis.state_root);
    let genesis_seal = Sealed { hash: keccak256(&header), header };
    genesis.write(&store, first - 1, &genesis_seal)?;
    let mut figures = Figures {
        name: workload.name.clone(),
        blocks: workload.blocks.len(),
        txs: workload.blocks.iter().map(|b| b.txs.len()).sum(),
        gas: 0,
        baseline,
        stateful: Duration::ZERO,
        record: Duration::ZERO,
        stateless: Duration::ZERO,
        witness_bytes: 0,
        witness_nodes: 0,
        reverted: 0,
    };
    let mut proofs: Vec<(B256, B256, Witness)> = Vec::new();
    for block in &workload.blocks {
        let head = store.head()?.context("head")?;
        let started = Instant::now();
        let (witness, _) = record_witness(&store, &rules, std::slice::from_ref(block))?;
        figures.record += started.elapsed();
        figures.witness_bytes += witness.byte_size();
        figures.witness_nodes += witness.nodes.len();
        let started = Instant::now();
        let pending = execute_on_store(&store, &rules, block)?;
        let gas = pending.outcome.gas_used;
        let reverted = pending.outcome.receipts.iter().filter(|r| !r.status()).count();
        pending.commit(&store)?;
        figures.stateful += started.elapsed();
        figures.gas += gas;
        figures.reverted += reverted;
        proofs.push((head.state_root, head.hash, witness));
    }
    for (block, (pre_root, parent, witness)) in workload.blocks.iter().zip(&proofs) {
        let started = Instant::now();
        verify_chunk::<_, BenchHeaders>(
            &rules,
            *pre_root,
            *parent,
            std::slice::from_ref(block),
            witness,
        )?;
        figures.stateless += started.elapsed();
    }
    drop(store);
    let _ = std::fs::remove_dir_all(scratch);
    Ok(figures)
}

fn genesis_header(number: u64, root: B256) -> alloy_primitives::Bytes {
    let mut header = vec![0u8; 32];
    header.extend_from_slice(&number.to_be_bytes());
    header.extend_from_slice(root.as_slice());
    header.extend_from_slice(&0u64.to_be_bytes());
    header.into()
}

/// Raw revm: in-memory database, no state root, no persistence.
pub(crate) fn baseline(workload: &Workload, rules: &ChainRules) -> Result<Duration> {
    baseline_with_gas(workload, rules).map(|(time, _)| time)
}

/// [`baseline`], with the gas the timed pass used.
pub(crate) fn baseline_with_gas(
    workload: &Workload,
    rules: &ChainRules,
) -> Result<(Duration, u64)> {
    let mut db = CacheDB::new(EmptyDB::default());
    for (address, account) in &workload.pre {
        let code = Bytecode::new_raw(account.code.clone());
        let info = AccountInfo::new(account.balance, account.nonce, code.hash_slow(), code);
        db.insert_account_info(*address, info);
        for (slot, value) in &account.storage {
            db.insert_account_storage(*address, *slot, *value).context("baseline storage")?;
        }
    }
    // One untimed pass on a copy first, so one-time initialisation (the KZG trusted setup,
    // precompile tables) is not charged to the baseline.
    let mut warm = db.clone();
    for block in &workload.blocks {
        run_baseline_block(&mut warm, rules, block, workload.lift_tx_gas_cap)?;
    }
    let started = Instant::now();
    let mut gas = 0;
    for block in &workload.blocks {
        gas += run_baseline_block(&mut db, rules, block, workload.lift_tx_gas_cap)?;
    }
    Ok((started.elapsed(), gas))
}

fn run_baseline_block(
    db: &mut CacheDB<EmptyDB>,
    rules: &ChainRules,
    block: &BenchBlock,
    workload_allows_failure: bool,
) -> Result<u64> {
    let env = evm_env(rules, &block.env(B256::ZERO));
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(env.cfg_env)
        .with_block(env.block_env)
        .build_mainnet();
    let mut gas = 0;
    for tx in block.txs() {
        let Ok(tx) = tx else { bail!("benchmark transaction not prepared") };
        let tx_env = TxEnv::from_recovered_tx(tx.inner(), tx.signer());
        let result =
            evm.transact_commit(tx_env).map_err(|err| anyhow::anyhow!("baseline: {err:?}"))?;
        if !result.is_success() && !workload_allows_failure {
            bail!("baseline: a generated transaction did not succeed: {result:?}");
        }
        gas += result.tx_gas_used();
    }
    Ok(gas)
}
