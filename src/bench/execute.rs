//! `native-challenger bench`, EXECUTE section: what the EXECUTE precompile costs for typical
//! L2 blocks.
//!
//! Input: [`ExecuteSizes`] (the blocks' gas limits, the pre-state's size, repetitions) and the
//! ERC-20 fixture code when present. Output: per block kind and gas limit an [`ExecuteRow`],
//! rendered by [`section`]:
//! - verification throughput: [`ExecutePrecompile::answer`] on the block's call data (the code
//!   the precompile runs: ABI decode, trace decode, sender recovery, stateless verification,
//!   verdict), against stateful replay (`execute_on_store`) and raw revm on the same block,
//!   best of `reps` runs each;
//! - L1 cost: the call sent as a real signed transaction to the embedded dev L1, with its
//!   receipt's `gasUsed`, the witness and trace sizes, and whether it fits one transaction.
//!
//! Any answer other than a valid verdict, locally or on the dev L1, fails the run.

mod blocks;
mod l1;
pub mod pricing;
mod report;

pub use blocks::{Kind, L2_CHAIN_ID};
pub use l1::{
    Calldata, L1Cost, L1Outcome, MEMPOOL_TX_BYTES, TX_BASE_GAS, TX_GAS_CAP, expected_l1_gas,
};
pub use report::{progress_line, section};

use super::measure;
use super::workloads::{BenchBlock, Workload};
use crate::execute_local::block::{BlockOutcome, TxRejection};
use crate::execute_local::chunk::{BlockSpec, ChunkStep};
use crate::execute_local::execute::{record_trace, witness_of};
use crate::execute_local::forks::ForkSchedule;
use crate::execute_local::l2::L2Block;
use crate::execute_local::replay::execute_on_store;
use crate::precompile::{
    Answer, DEFAULT_EXECUTE_ADDRESS, ExecuteConfig, ExecuteMeter, ExecutePrecompile,
};
use crate::protocol::{ExecuteCall, Trace};
use alloy_consensus::TxReceipt;
use alloy_primitives::{B256, Bytes};
use anyhow::{Context, Result, bail};
use blocks::L2Chain;
use l1::Challenge;
use std::time::{Duration, Instant};

/// Sizes of the EXECUTE measurements.
#[derive(Debug, Clone, Copy)]
pub struct ExecuteSizes {
    /// L2 block gas limits; every kind is measured at each.
    pub gas_limits: &'static [u64],
    /// Funded accounts in the pre-state nobody touches.
    pub background_accounts: u64,
    /// Occupied slots of the storage contract (and holders of the token).
    pub background_slots: u64,
    /// Timed runs per path; the fastest counts.
    pub reps: u32,
}

impl ExecuteSizes {
    // Up to one segment's gas (protocol v3, docs/protocol.md "Segments"): a block of a larger
    // gas limit runs as several segments, and EXECUTE proves (and is charged for) one.
    pub const FULL: Self = Self {
        gas_limits: &[1_000_000, 2_000_000, 4_000_000, 7_000_000],
        background_accounts: 100_000,
        background_slots: 20_000,
        reps: 3,
    };
    pub const QUICK: Self = Self {
        gas_limits: &[1_000_000, 2_000_000, 7_000_000],
        background_accounts: 500,
        background_slots: 1_000,
        reps: 1,
    };
}

/// Figures for one block.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExecuteRow {
    pub kind: &'static str,
    pub gas_limit: u64,
    /// Transactions in the block as measured.
    pub txs: usize,
    /// Transactions generated to fill the gas limit; more than `txs` when the witness budget
    /// cut the block (protocol v2).
    pub generated_txs: usize,
    pub gas_used: u64,
    /// Nodes + codes + headers (160 bytes each) of the witness.
    pub witness_bytes: usize,
    pub trace_bytes: usize,
    pub call_data_bytes: usize,
    /// The EXECUTE charge (`ExecuteCall::gas_cost`).
    pub charge: u64,
    pub execute: Duration,
    /// Of which: decoding the transactions and recovering their senders (`L2Block::new`).
    pub recovery: Duration,
    pub stateful: Duration,
    pub raw_revm: Duration,
    /// The challenge on the dev L1; `None` until it has been sent.
    pub l1: Option<L1Cost>,
}

/// Measures every kind at every gas limit, then sends every challenge to the dev L1.
/// `progress` sees each row once timed and again once its L1 cost is known.
pub fn run(
    sizes: &ExecuteSizes,
    erc20_code: Option<Bytes>,
    mut progress: impl FnMut(&ExecuteRow),
) -> Result<Vec<ExecuteRow>> {
    let chain = L2Chain::new(sizes, erc20_code).context("building the L2 pre-state")?;
    let kinds = [Kind::Transfers, Kind::Storage, Kind::Erc20, Kind::Mixed]
        .into_iter()
        .filter(|kind| *kind != Kind::Erc20 || chain.has_erc20());
    let mut rows = Vec::new();
    let mut challenges = Vec::new();
    for kind in kinds {
        for &gas_limit in sizes.gas_limits {
            let (row, challenge) = measure_block(&chain, kind, gas_limit, sizes.reps)
                .with_context(|| format!("{} at gas limit {gas_limit}", kind.name()))?;
            progress(&row);
            rows.push(row);
            challenges.push(challenge);
        }
    }
    let costs = l1::send_all(&challenges).context("challenges on the dev L1")?;
    for (row, cost) in rows.iter_mut().zip(costs) {
        if let L1Outcome::Mined { valid: false, .. } = cost.outcome {
            bail!("{} at {}: the dev L1's EXECUTE answered invalid", row.kind, row.gas_limit);
        }
        row.l1 = Some(cost);
        progress(row);
    }
    Ok(rows)
}

/// Builds, records and times one block; returns its row and its EXECUTE call data.
fn measure_block(
    chain: &L2Chain,
    kind: Kind,
    gas_limit: u64,
    reps: u32,
) -> Result<(ExecuteRow, Challenge)> {
    let mut block = chain.block(kind, gas_limit)?;
    let generated_txs = block.txs().len();
    let head = chain.store.head()?.context("the L2 store has no genesis")?;
    // Protocol v3: the witness budget may end the block's first segment before its last
    // transaction (docs/protocol.md, "Segments"). The row measures that segment as a block of
    // its own: the transactions after it are left out (also from the baselines).
    let replayed = execute_on_store(&chain.store, &chain.rules, &block)?;
    if let Some(cut) = replayed.cuts.first() {
        let mut inputs = block.inputs.clone();
        inputs.transactions.truncate(cut.end_tx as usize);
        block = L2Block::new(inputs)?;
    }
    let (mut trace, mut steps) =
        record_trace(&chain.store, &chain.rules, std::slice::from_ref(&block))?;
    // Protocol v2: a block of fresh-state transactions reaches the witness budget long before
    // a large gas limit, and the STF skips every transaction from the one that crosses it. The
    // row measures the block as the budget leaves it: those transactions are left out (also
    // from the baselines), the gas limit (and so the charge) stays.
    if let Some(cut) = steps.first().and_then(|step| budget_cut(&step.outcome)) {
        let mut inputs = block.inputs.clone();
        inputs.transactions.truncate(cut);
        block = L2Block::new(inputs)?;
        (trace, steps) = record_trace(&chain.store, &chain.rules, std::slice::from_ref(&block))?;
    }
    let step = steps.first().context("the trace has no block")?;
    all_succeeded(&step.outcome, block.txs().len())?;
    let call = execute_call(head.state_root, &trace, step)?;
    let data = call.abi_encode();
    let charge = call.gas_cost()?;
    let row = ExecuteRow {
        kind: kind.name(),
        gas_limit,
        txs: block.txs().len(),
        generated_txs,
        gas_used: call.gas_used,
        witness_bytes: witness_of(&trace).byte_size(),
        trace_bytes: call.trace.len(),
        call_data_bytes: data.len(),
        charge,
        execute: best_of(reps, || time_answer(&chain.schedule, &data, charge))?,
        recovery: best_of(reps, || time_recovery(&block))?,
        stateful: best_of(reps, || time_stateful(chain, &block, call.post_state_root))?,
        raw_revm: time_raw_revm(chain, &block, reps)?,
        l1: None,
    };
    Ok((row, Challenge { data, charge }))
}

/// The EXECUTE call proving `step`, the one block of `trace`, from `pre_state_root`.
fn execute_call(pre_state_root: B256, trace: &Trace, step: &ChunkStep) -> Result<ExecuteCall> {
    Ok(ExecuteCall {
        pre_state_root,
        post_state_root: step.post_state_root,
        trace: trace.encode()?.into(),
        gas_used: step.outcome.gas_used,
    })
}

/// Where the witness budget cut the block: the first transaction it skipped, when every
/// skipped transaction was skipped for the budget.
fn budget_cut(outcome: &BlockOutcome) -> Option<usize> {
    let budget = |r: &TxRejection| matches!(r, TxRejection::WitnessBudget { .. });
    let (first, _) = outcome.skipped.first()?;
    outcome.skipped.iter().all(|(_, r)| budget(r)).then_some(*first)
}

/// Generated transactions must all be included and succeed.
fn all_succeeded(outcome: &BlockOutcome, txs: usize) -> Result<()> {
    if let Some((index, reason)) = outcome.skipped.first() {
        bail!("{} of {txs} transactions skipped, first #{index}: {reason}", outcome.skipped.len());
    }
    let failed = outcome.receipts.iter().filter(|r| !r.status()).count();
    if failed > 0 || outcome.receipts.len() != txs {
        bail!("{failed} of {txs} transactions failed ({} receipts)", outcome.receipts.len());
    }
    Ok(())
}

fn best_of(reps: u32, mut timed: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..reps.max(1) {
        best = best.min(timed()?);
    }
    Ok(best)
}

/// Times the precompile's answer to `data` given exactly the charge; it must be "valid".
fn time_answer(schedule: &ForkSchedule, data: &[u8], charge: u64) -> Result<Duration> {
    let config = ExecuteConfig {
        address: DEFAULT_EXECUTE_ADDRESS,
        l2_schedule: schedule.clone(),
        block_gas_limit: u64::MAX,
    };
    let precompile = ExecutePrecompile::new(config, ExecuteMeter::unlimited());
    let started = Instant::now();
    let answer = precompile.answer(data, charge);
    let elapsed = started.elapsed();
    match answer {
        Answer::Verdict { valid: true, gas } if gas == charge => Ok(elapsed),
        other => bail!("EXECUTE answered {other:?}; expected a valid verdict charging {charge}"),
    }
}

/// Times decoding the block's transactions and recovering their senders, as EXECUTE and
/// stateful replay both do first.
fn time_recovery(block: &L2Block) -> Result<Duration> {
    let (elapsed, decoded) = time_decode(block)?;
    if decoded.txs().iter().any(Result::is_err) {
        bail!("a generated transaction does not decode");
    }
    Ok(elapsed)
}

/// Times `L2Block::new` on the block's inputs (decoding, sender recovery), whatever it finds.
fn time_decode(block: &L2Block) -> Result<(Duration, L2Block)> {
    let inputs = block.inputs.clone();
    let started = Instant::now();
    let decoded = L2Block::new(inputs)?;
    Ok((started.elapsed(), decoded))
}

/// Times stateful replay of the block from its inputs (decode, sender recovery, execution
/// reading through the stored tries, post-state root); nothing is written.
fn time_stateful(chain: &L2Chain, block: &L2Block, expected_root: B256) -> Result<Duration> {
    let inputs = block.inputs.clone();
    let started = Instant::now();
    let block = L2Block::new(inputs)?;
    let pending = execute_on_store(&chain.store, &chain.rules, &block)?;
    let elapsed = started.elapsed();
    if pending.post_state_root != expected_root {
        bail!("stateful replay ends at {}, the trace at {expected_root}", pending.post_state_root);
    }
    Ok(elapsed)
}

/// Raw revm over an in-memory copy of the pre-state, senders already recovered.
fn time_raw_revm(chain: &L2Chain, block: &L2Block, reps: u32) -> Result<Duration> {
    let workload = Workload {
        name: "EXECUTE block".into(),
        fork: crate::execute_local::forks::DEFAULT_FORK.into(),
        pre: chain.alloc.clone(),
        blocks: vec![BenchBlock { env: block.env(B256::ZERO), txs: block.txs().to_vec() }],
        lift_tx_gas_cap: false,
    };
    best_of(reps, || measure::baseline(&workload, &chain.rules))
}
