//! Challenges per workload on the dev L1: for a typical block and for each hostile class of
//! the proposer ([`Hostile`]), a lie in that block proposed to the rollup contract and
//! convicted by the real daemon, with what the conviction cost and how long it took.
//!
//! Each run: a fresh dev L1 (interval mining), the rollup deployed over the dev genesis with
//! the hostile contracts and 20,000 background accounts (a genesis file, as the demo runs), the
//! daemon started from that configuration, then one two-block batch whose block 1 lies. The
//! figures come from the daemon's own events and from L1: the landed reveal's receipt (L1 gas)
//! and its signed bytes, the trace it carried, the L2 gas the lying block used, and the time
//! from the proposal's inclusion to the commitment being broadcast (the challenge sent) and to
//! the reveal's receipt (the conviction).

use crate::config::Config;
use crate::daemon::{Daemon, Event};
use crate::devnet::{Devnet, DevnetConfig};
use crate::execute_local::meter::TRACE_BUDGET;
use crate::proposer::driver::{
    DEV_L2_USERS, ProposePlan, deploy_rollup, open_proposer_over, propose_next, signing_provider,
};
use crate::proposer::hostile::{Hostile, MAX_CODE_SIZE};
use crate::proposer::{Fault, WorkloadSpec};
use crate::rollup::GenesisSource;
use crate::rollup::genesis::{L2Genesis, dev_users};
use crate::submitter::{Intent, Stage};
use alloy_eips::eip2718::Encodable2718;
use alloy_provider::Provider;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

const CHAIN_ID: u64 = 901;
const BLOCK_TIME: Duration = Duration::from_millis(250);
const WINDOW: u64 = 60;
const BACKGROUND_ACCOUNTS: u64 = 20_000;
/// Empty L2 blocks proposed before the BLOCKHASH class, so that `BLOCKHASH(number - 256)`
/// reaches a real header.
const HISTORY_BLOCKS: usize = 256;
const TX_GAS_CAP: u64 = 1 << 24;
const TX_SIZE_LIMIT: usize = 128 * 1024;
const WAIT: Duration = Duration::from_secs(120);

/// What the lying block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeWorkload {
    /// The mixed workload (transfers, ERC-20 transfers, deployments, storage churn) filling
    /// the block's gas limit, with a wrong post-state root.
    Typical,
    /// A full block ([`crate::proposer::full`]: a 24 KiB deployment and gas burners using its
    /// whole gas limit, five segments at 30M) with a wrong state root in its last cut: the
    /// challenge proves one segment.
    FullBlock,
    /// A hostile class with a wrong post-state root.
    Hostile(Hostile),
}

impl ChallengeWorkload {
    /// The typical block, then every hostile class.
    pub fn all() -> Vec<Self> {
        [Self::Typical, Self::FullBlock]
            .into_iter()
            .chain(Hostile::ALL.into_iter().map(Self::Hostile))
            .collect()
    }

    pub fn name(&self) -> String {
        match self {
            Self::Typical => "typical (mixed workload)".to_string(),
            Self::FullBlock => "full block, lie in a cut (one segment proven)".to_string(),
            Self::Hostile(class) => format!("hostile-{}", class.name()),
        }
    }

    fn fault(&self) -> Fault {
        match self {
            Self::Typical => Fault::WrongPostRoot { block: 1 },
            Self::FullBlock => Fault::WrongCut { block: 1 },
            Self::Hostile(class) => Fault::Hostile { block: 1, class: *class },
        }
    }

    fn history(&self) -> usize {
        match self {
            Self::Hostile(Hostile::Blockhash) => HISTORY_BLOCKS,
            _ => 0,
        }
    }
}

/// One measured challenge.
#[derive(Debug, Clone)]
pub struct ChallengeRow {
    pub workload: ChallengeWorkload,
    /// Gas limit and gas used of the lying block (the chunk the challenge re-executes).
    pub l2_gas_limit: u64,
    pub l2_gas_used: u64,
    pub l2_txs: usize,
    pub trace_bytes: usize,
    /// The signed reveal (`challenge`) transaction.
    pub tx_bytes: usize,
    /// The reveal's receipt, EXECUTE's charge included.
    pub l1_gas: u64,
    /// Proposal inclusion to the challenge self-checked and planned (the commitment is
    /// broadcast next), and to the reveal's receipt.
    pub sent: Duration,
    pub convicted: Duration,
    /// L1 blocks from the proposal to the conviction.
    pub l1_blocks: u64,
}

impl ChallengeRow {
    pub fn fits_gas(&self) -> bool {
        self.l1_gas <= TX_GAS_CAP
    }

    pub fn fits_size(&self) -> bool {
        self.tx_bytes <= TX_SIZE_LIMIT
    }
}

/// The proof-size bound of protocol v2: the budget plus the largest item that can cross it.
pub const TRACE_BOUND: usize = TRACE_BUDGET as usize + MAX_CODE_SIZE + 4;

/// Measures each workload in turn.
pub async fn run(
    workloads: &[ChallengeWorkload],
    mut progress: impl FnMut(&ChallengeRow),
) -> Result<Vec<ChallengeRow>> {
    let files = tempfile::tempdir().context("creating a scratch directory")?;
    let genesis = files.path().join("genesis.json");
    let users: Vec<_> = dev_users(DEV_L2_USERS).iter().map(|u| u.address()).collect();
    let json = L2Genesis::dev_hostile(CHAIN_ID, &users, BACKGROUND_ACCOUNTS).to_geth_json();
    std::fs::write(&genesis, serde_json::to_vec(&json)?).context("writing the genesis file")?;
    let mut rows = Vec::with_capacity(workloads.len());
    for workload in workloads {
        let row = measure(*workload, &genesis).await.with_context(|| workload.name())?;
        progress(&row);
        rows.push(row);
    }
    Ok(rows)
}

async fn measure(workload: ChallengeWorkload, genesis_file: &Path) -> Result<ChallengeRow> {
    let node = Devnet::spawn(DevnetConfig {
        listen: "127.0.0.1:0".parse()?,
        block_time: Some(BLOCK_TIME),
        ..DevnetConfig::default()
    })
    .await?;
    let outcome = measure_on(&node, workload, genesis_file).await;
    node.stop().await;
    outcome
}

async fn measure_on(
    node: &Devnet,
    workload: ChallengeWorkload,
    genesis_file: &Path,
) -> Result<ChallengeRow> {
    let key = |i: usize| PrivateKeySigner::from_bytes(&node.accounts[i].private_key);
    let (proposer_key, challenger_key) = (key(0)?, key(1)?);
    let from = proposer_key.address();
    let provider = signing_provider(&node.http_url, proposer_key)?;
    let genesis = GenesisSource::File(genesis_file.to_path_buf());
    let (client, params, _) =
        deploy_rollup(provider, from, CHAIN_ID, &genesis, |p| p.challenge_window = WINDOW).await?;
    let dir = tempfile::tempdir()?;

    let mut config = daemon_config(&node.http_url, client.address(), dir.path());
    config.genesis.file = Some(genesis_file.to_path_buf());
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let daemon =
        Daemon::build(&config, Some(challenger_key.into()), false).await?.with_events(events_tx);
    let (stop, stop_rx) = watch::channel(false);
    let handle = tokio::spawn(daemon.run(stop_rx));

    let outcome = async {
        let history = workload.history();
        // The history is empty blocks (64 of them are a small proposal); the same proposer
        // then proposes the lie, whose block the hostile class fills.
        let txs_per_block = if history > 0 { 0 } else { 24 };
        let workload_spec = WorkloadSpec { txs_per_block, ..WorkloadSpec::default() };
        let plan = ProposePlan::single(64, workload_spec, params.max_l2_gas_limit);
        let mut proposer =
            open_proposer_over(&client, CHAIN_ID, &genesis, &dir.path().join("proposer"), &plan)
                .await?;
        for _ in 0..history / 64 {
            propose_next(&client, &mut proposer, 64, None).await?;
        }
        let (id, batch, receipt) =
            propose_next(&client, &mut proposer, 2, Some(workload.fault())).await?;
        let included = Instant::now();
        let proposed_in = receipt.block_number.unwrap_or_default();
        let (sent, landed) = watch_conviction(&mut events, id, included).await?;
        let convicted = included.elapsed();
        let Stage::Landed { tx, block, gas_used } = landed.stage.clone() else {
            bail!("not landed: {:?}", landed.stage)
        };
        let reveal = client
            .provider()
            .get_transaction_by_hash(tx)
            .await?
            .with_context(|| format!("the reveal {tx} is unknown to the node"))?;
        let lying = batch.blocks.get(1).context("the batch has two blocks")?;
        let honest = batch.honest.get(1).context("the batch has two checkpoints")?;
        Ok(ChallengeRow {
            workload,
            l2_gas_limit: lying.gas_limit,
            l2_gas_used: honest.gas_used,
            l2_txs: lying.transactions.len(),
            trace_bytes: landed.trace.len(),
            tx_bytes: reveal.inner.inner().encoded_2718().len(),
            l1_gas: gas_used,
            sent,
            convicted,
            l1_blocks: block.saturating_sub(proposed_in),
        })
    }
    .await;
    let _ = stop.send(true);
    let _ = handle.await;
    outcome
}

/// Follows the daemon's events until batch `id` is convicted: the time the daemon reported
/// the challenge self-checked and planned (its commitment is broadcast next), and the landed
/// intent.
async fn watch_conviction(
    events: &mut mpsc::UnboundedReceiver<Event>,
    id: u64,
    included: Instant,
) -> Result<(Duration, Intent)> {
    let deadline = included + WAIT;
    let mut sent = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => bail!("the daemon stopped before convicting batch {id}"),
            Err(_) => bail!("batch {id} was not convicted within {} s", WAIT.as_secs()),
        };
        let Event::Intent(intent) = event else { continue };
        if intent.batch_id != id {
            continue;
        }
        match &intent.stage {
            // The daemon reports the intent once it is self-checked and planned, and starts
            // the commitment's broadcast right then.
            Stage::Planned if sent.is_none() => sent = Some(included.elapsed()),
            Stage::Landed { .. } => {
                let sent = sent.context("landed without being reported planned")?;
                return Ok((sent, intent));
            }
            Stage::Refused { reason } => bail!("the challenge was refused: {reason}"),
            _ => {}
        }
    }
}

fn daemon_config(url: &str, rollup: alloy_primitives::Address, dir: &Path) -> Config {
    let mut config = Config::dev(CHAIN_ID, url, rollup, dir.join("challenger-l2"));
    config.challenger.resubmit_after_secs = 4;
    config
}

pub fn progress_line(r: &ChallengeRow) -> String {
    format!(
        "challenge {}: {} L2 gas, trace {} bytes, challenge {} bytes and {} L1 gas, planned and sent {:.2} s, convicted {:.2} s ({} L1 blocks)",
        r.workload.name(),
        r.l2_gas_used,
        r.trace_bytes,
        r.tx_bytes,
        r.l1_gas,
        r.sent.as_secs_f64(),
        r.convicted.as_secs_f64(),
        r.l1_blocks
    )
}

/// The markdown section.
pub fn section(rows: &[ChallengeRow]) -> String {
    let mut out = format!(
        "\n## Challenges per workload on the dev L1\n\n\
         Measured by `native-challenger bench --only challenges`: for each workload, a fresh dev \
         L1 (one block every {} ms, EXECUTE at its default address and per-block budget), the \
         rollup deployed over the dev genesis with the hostile contracts and {BACKGROUND_ACCOUNTS} \
         background accounts (a genesis file), the real daemon (watcher, submitter, commit and \
         reveal, 1 confirmation), and one two-block batch whose block 1 holds the workload and \
         a wrong post-state root (the full block: a wrong state after its fourth of five \
         segments). The BLOCKHASH class runs after {HISTORY_BLOCKS} empty L2 blocks. \
         L2 gas is what the lying block used of its gas limit; the challenge re-executes one \
         segment of it (at most 7M gas, docs/protocol.md \"Segments\"); L1 gas is the landed reveal's receipt, EXECUTE's charge included; bytes \
         are the signed reveal's. Times run from the proposal's receipt to the daemon's report of \
         the challenge self-checked and planned, after which it broadcasts the commitment at \
         once (\"Challenger latency\" above times the broadcast itself, a few milliseconds \
         later), and to the reveal's receipt (the conviction). The trace \
         bound is the witness budget's {TRACE_BOUND} bytes per segment (docs/protocol.md, \"Witness budget\").\n\n\
         | workload | L2 txs | L2 gas used / limit | trace bytes (margin to the bound) | challenge tx bytes | fits 128 KiB | challenge L1 gas | fits 2^24 | proposal to challenge planned and sent (s) | to conviction (s) | L1 blocks to conviction (window {WINDOW}) |\n\
         |---|---:|---:|---:|---:|---|---:|---|---:|---:|---:|\n",
        BLOCK_TIME.as_millis(),
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} / {} | {} ({}) | {} | {} | {} | {} | {:.2} | {:.2} | {} |",
            r.workload.name(),
            r.l2_txs,
            r.l2_gas_used,
            r.l2_gas_limit,
            r.trace_bytes,
            TRACE_BOUND as i64 - r.trace_bytes as i64,
            r.tx_bytes,
            if r.fits_size() { "yes" } else { "no" },
            r.l1_gas,
            if r.fits_gas() { "yes" } else { "no" },
            r.sent.as_secs_f64(),
            r.convicted.as_secs_f64(),
            r.l1_blocks,
        );
    }
    if let (Some(bytes), Some(gas)) =
        (rows.iter().max_by_key(|r| r.tx_bytes), rows.iter().max_by_key(|r| r.l1_gas))
    {
        let _ = writeln!(
            out,
            "\nThe largest challenge in bytes is {} ({} bytes, {} under 128 KiB); the largest in \
             gas is {} ({} gas, {} under 2^24).",
            bytes.workload.name(),
            bytes.tx_bytes,
            TX_SIZE_LIMIT as i64 - bytes.tx_bytes as i64,
            gas.workload.name(),
            gas.l1_gas,
            TX_GAS_CAP as i64 - gas.l1_gas as i64,
        );
    }
    out
}
