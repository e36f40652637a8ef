//! Challenger latency: seconds from a wrong proposal's L1 inclusion to the challenge being
//! sent, for batches of about 1, 10 and 30 million L2 gas whose LAST block lies (the worst
//! case: every block is replayed before the lie is found).
//!
//! Runs the real pieces against the embedded dev L1 over JSON-RPC: the proposer proposes the
//! batch; then the watcher (a fresh one, from L1 block 0) finds it through the contract's
//! events, decodes its calldata and replays it; the submitter self-checks and plans the
//! challenge; the commitment transaction is signed and broadcast. Baseline in the same run:
//! replaying the same blocks into a fresh store with `execute_on_store` alone.

use crate::daemon::open_l2_store;
use crate::execute_local::l2::L2Block;
use crate::execute_local::replay::execute_on_store;
use crate::proposer::driver::{
    ProposePlan, deploy_dev_rollup, open_proposer, propose_next, signing_provider,
};
use crate::proposer::{Fault, WorkloadSpec};
use crate::rollup::NativeRollup;
use crate::submitter::{SubmitPolicy, Submitter, TxManager, TxPolicy};
use crate::watcher::{Finding, RetryPolicy, RpcSource, WatchConfig, WatchDb, Watcher};
use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHAIN_ID: u64 = 901;

/// One measured batch.
#[derive(Debug, Clone)]
pub struct LatencyRow {
    pub blocks: usize,
    pub txs: usize,
    pub l2_gas: u64,
    /// Baseline: `execute_on_store` of the same blocks.
    pub baseline: Duration,
    /// Inclusion -> the watcher reports the lie (events, calldata, replay, trace).
    pub found: Duration,
    /// -> self-check (stateless verification) and budget plan done.
    pub planned: Duration,
    /// -> the commitment transaction broadcast: the challenge is sent.
    pub sent: Duration,
}

/// Measures each batch size (in 1M-gas blocks).
pub async fn run(
    block_counts: &[usize],
    mut progress: impl FnMut(&LatencyRow),
) -> Result<Vec<LatencyRow>> {
    let mut rows = Vec::new();
    for &blocks in block_counts {
        let row = measure(blocks).await.with_context(|| format!("{blocks}-block batch"))?;
        progress(&row);
        rows.push(row);
    }
    Ok(rows)
}

async fn measure(blocks: usize) -> Result<LatencyRow> {
    let node = crate::devnet::Devnet::spawn(crate::devnet::DevnetConfig {
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    })
    .await?;
    let key = |i: usize| PrivateKeySigner::from_bytes(&node.accounts[i].private_key);
    let (proposer_key, challenger_key) = (key(0)?, key(1)?);
    let from = proposer_key.address();
    let provider = signing_provider(&node.http_url, proposer_key)?;
    let (client, params, _) =
        deploy_dev_rollup(provider, from, CHAIN_ID, |p| p.challenge_window = 1_000).await?;
    let dir = tempfile::tempdir()?;
    let workload = WorkloadSpec {
        txs_per_block: 200,
        transfers: 8,
        erc20: 4,
        deploys: 0,
        storage: 2,
        p256: 0,
        seed: 9,
    };
    let plan = ProposePlan::single(blocks, workload, params.max_l2_gas_limit);
    let mut proposer =
        open_proposer(&client, CHAIN_ID, &dir.path().join("proposer"), &plan).await?;
    // A first one-block batch deploys the workload's token (its first ERC-20 pick becomes a
    // deployment), so the measured batch trades it.
    let (_, warm, _) = propose_next(&client, &mut proposer, 1, None).await?;
    let (_, batch, _) = propose_next(
        &client,
        &mut proposer,
        blocks,
        Some(Fault::WrongPostRoot { block: blocks - 1 }),
    )
    .await?;
    let included = Instant::now();

    let reader = crate::proposer::driver::signing_provider(&node.http_url, key(2)?)?;
    let store = open_l2_store(
        &reader,
        client.address(),
        CHAIN_ID,
        crate::proposer::driver::DEV_L2_USERS,
        &dir.path().join("l2"),
    )
    .await?;
    let db = Arc::new(WatchDb::open(&dir.path().join("challenger"))?);
    let source =
        RpcSource::connect(std::slice::from_ref(&node.http_url), RetryPolicy::default()).await?;
    let config = WatchConfig {
        rollup: client.address(),
        confirmations: 0,
        finalized: false,
        start_block: 0,
        max_range: 10_000,
    };
    let rules = crate::execute_local::chain::ChainRules::new(
        CHAIN_ID,
        crate::daemon::rules(&default_config())?.spec().clone(),
    );
    let mut watcher = Watcher::new(source, config, db.clone(), Arc::new(store), rules.clone());
    let lie = loop {
        let (findings, _, _) = watcher.step().await?;
        if let Some(lie) = findings.into_iter().find_map(|f| match f {
            Finding::Lie(lie) => Some(lie),
            _ => None,
        }) {
            break lie;
        }
        if included.elapsed() > Duration::from_secs(300) {
            bail!("the watcher did not find the lie");
        }
    };
    let found = included.elapsed();
    let chain_id = node.chain_id;
    let tx = TxManager::new(reader.clone(), challenger_key, chain_id, TxPolicy::default());
    let window = client.read(&NativeRollup::CHALLENGE_WINDOWCall {}).await?;
    let submitter = Submitter::over_rpc(
        tx.clone(),
        client.address(),
        db,
        SubmitPolicy { challenge_always: true, ..SubmitPolicy::default() },
        window,
    );
    let intent = submitter.take(&rules, &lie, 0).await;
    let planned = included.elapsed();
    if !matches!(intent.stage, crate::submitter::Stage::Planned) {
        bail!("the challenge was not planned: {:?}", intent.stage);
    }
    let bond = client.read(&NativeRollup::CHALLENGER_BONDCall {}).await?;
    tx.send(
        client.address(),
        NativeRollup::depositChallengerBondCall {}.abi_encode().into(),
        bond,
        |_| {},
    )
    .await?;
    let bonded = included.elapsed();
    let commitment = intent.args().commitment(tx.address());
    let sent_tx = tx
        .prepare(
            client.address(),
            NativeRollup::commitChallengeCall { commitment }.abi_encode().into(),
            U256::ZERO,
        )
        .await?;
    tx.broadcast(&sent_tx).await?;
    // The bond deposit is a one-time setup a running challenger has already done: not counted.
    let sent = included.elapsed() - (bonded - planned);

    let baseline = baseline(&dir, &client, &warm, &batch, &rules).await?;
    node.stop().await;
    Ok(LatencyRow {
        blocks,
        txs: batch.blocks.iter().map(|b| b.transactions.len()).sum(),
        l2_gas: batch.honest.iter().map(|c| c.gas_used).sum(),
        baseline,
        found,
        planned,
        sent,
    })
}

fn default_config() -> crate::config::Config {
    crate::config::Config {
        chain: crate::config::ChainConfig {
            chain_id: CHAIN_ID,
            fork: crate::execute_local::forks::DEFAULT_FORK.into(),
        },
        store: crate::config::StoreConfig { path: std::path::PathBuf::new() },
        l1: None,
        genesis: Default::default(),
        challenger: Default::default(),
        metrics: Default::default(),
        log: Default::default(),
        start: Default::default(),
    }
}

/// Replays the batch's blocks on a fresh store at the same pre-state (after the warm-up).
async fn baseline(
    dir: &tempfile::TempDir,
    client: &crate::rollup::RollupClient,
    warm: &crate::proposer::PlannedBatch,
    batch: &crate::proposer::PlannedBatch,
    rules: &crate::execute_local::chain::ChainRules,
) -> Result<Duration> {
    let reader = client.provider().clone();
    let path = dir.path().join("baseline");
    let store = open_l2_store(
        &reader,
        client.address(),
        CHAIN_ID,
        crate::proposer::driver::DEV_L2_USERS,
        &path,
    )
    .await?;
    for inputs in &warm.blocks {
        execute_on_store(&store, rules, &L2Block::new(inputs.clone())?)?.commit(&store)?;
    }
    let started = Instant::now();
    for inputs in &batch.blocks {
        execute_on_store(&store, rules, &L2Block::new(inputs.clone())?)?.commit(&store)?;
    }
    Ok(started.elapsed())
}

pub fn progress_line(r: &LatencyRow) -> String {
    format!(
        "latency: {} blocks, {:.1} L2 Mgas: found {:.2} s, planned {:.2} s, sent {:.2} s (replay baseline {:.2} s)",
        r.blocks,
        r.l2_gas as f64 / 1e6,
        r.found.as_secs_f64(),
        r.planned.as_secs_f64(),
        r.sent.as_secs_f64(),
        r.baseline.as_secs_f64()
    )
}

/// The markdown section.
pub fn section(rows: &[LatencyRow]) -> String {
    let mut out = String::from(
        "\n## Challenger latency: wrong proposal to challenge sent\n\n\
         Measured by `native-challenger bench` against the embedded dev L1 over JSON-RPC. One batch of \
         blocks with a 1M gas limit (the rollup's `MAX_L2_GAS_LIMIT`), each filled with transfers, \
         ERC-20 transfers and storage churn until the transactions' gas limits reach it (they use \
         about 65% of it), whose LAST block lies, so the whole batch is replayed before the lie is found. The clock \
         starts when the proposal's receipt is in (L1 inclusion) and stops when the commitment \
         transaction, the first of the two challenge transactions, is broadcast. In between, a fresh \
         watcher reads the contract's events from L1 block 0, decodes the batch from its `BatchData` \
         log (checked against `BatchProposed` and `batchCount`), replays every block into rocksdb, records the lie's trace; the submitter runs the \
         self-check (the stateless verifier EXECUTE runs) and the budget plan; the commitment is \
         signed and sent. Confirmation depth 0: each confirmation required adds one L1 slot (12 s on \
         mainnet). The reveal can follow one L1 block after the commitment is mined, by the contract's \
         rule. Baseline, same run: replaying the same blocks with `execute_on_store` alone.\n\n\
         | blocks | L2 txs | L2 Mgas | lie found (s) | self-checked and planned (s) | challenge sent (s) | replay baseline (s) | under one 12 s slot |\n\
         |---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            r.blocks,
            r.txs,
            r.l2_gas as f64 / 1e6,
            r.found.as_secs_f64(),
            r.planned.as_secs_f64(),
            r.sent.as_secs_f64(),
            r.baseline.as_secs_f64(),
            if r.sent.as_secs_f64() < 12.0 { "yes" } else { "no" }
        );
    }
    out
}
