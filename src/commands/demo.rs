//! `native-challenger demo`: the embedded default. A dev L1 with EXECUTE, the rollup contract,
//! a proposer that lies once at a random block of a random batch among honest ones, and the
//! challenger daemon catching it. Exits 0 when the lie is convicted and the honest batches
//! finalize.

use super::keys::dev_signer;
use anyhow::{Context, Result, bail};
use native_challenger::config::Config;
use native_challenger::daemon::{Daemon, Event};
use native_challenger::devnet::{Devnet, DevnetConfig};
use native_challenger::proposer::driver::{
    DEV_L2_USERS, ProposePlan, deploy_rollup, open_proposer_over, propose_next, signing_provider,
    sync_with_tip,
};
use native_challenger::proposer::hostile::Hostile;
use native_challenger::proposer::{Fault, Proposer, WorkloadSpec};
use native_challenger::protocol::Trace;
use native_challenger::rollup::genesis::{L2Genesis, dev_users};
use native_challenger::rollup::{GenesisSource, RollupClient};
use native_challenger::submitter::Stage;
use native_challenger::watcher::Finding;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

const CHAIN_ID: u64 = 901;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Batches proposed before the conviction (one of them lies).
    #[arg(long, default_value_t = 5)]
    batches: u64,
    #[arg(long, default_value_t = 3)]
    blocks: usize,
    /// Seed of the random lie (default: random).
    #[arg(long)]
    seed: Option<u64>,
    /// The lie to tell instead of a random one, as `<kind>@<block index>` (e.g. `wrong-cut@1`:
    /// a full-size block of several segments, lying in its last cut); the seed still picks
    /// the batch.
    #[arg(long)]
    lie: Option<Fault>,
    /// Dev L1 block time in milliseconds.
    #[arg(long, default_value_t = 500)]
    block_time_ms: u64,
    /// Challenge window in L1 blocks.
    #[arg(long, default_value_t = 16)]
    window: u64,
    /// A geth genesis file for the L2 (default: the dev genesis); it must fund the 16 dev users
    /// the workload signs with.
    #[arg(long)]
    genesis: Option<std::path::PathBuf>,
}

pub fn run(args: DemoArgs) -> Result<()> {
    if args.batches < 3 || args.blocks == 0 {
        bail!("the demo needs at least 3 batches of at least 1 block");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(demo(args))
}

/// Picks the lie: a batch strictly between the first and the last, a block, a kind.
fn pick_lie(args: &DemoArgs, seed: u64) -> (u64, Fault) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let batch = rng.random_range(2..args.batches);
    let block = rng.random_range(0..args.blocks);
    // Hostile blocks (protocol v2's witness budget keeps their proofs within one L1
    // transaction): a lie inside one is convicted like any other.
    let mut kinds = vec![
        Fault::WrongPostRoot { block },
        Fault::WrongGasUsed { block },
        Fault::InvalidTx { block },
        Fault::Hostile { block, class: Hostile::Codes },
        Fault::Hostile { block, class: Hostile::Garbage },
        Fault::WrongCut { block },
    ];
    if args.blocks >= 2 {
        kinds.push(Fault::WrongIntermediate { block: block.min(args.blocks - 2) });
    }
    let kind = kinds[rng.random_range(0..kinds.len())];
    (batch, args.lie.unwrap_or(kind))
}

async fn demo(args: DemoArgs) -> Result<()> {
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    let (lie_ordinal, fault) = pick_lie(&args, seed);
    println!(
        "native-challenger demo (seed {seed}): {} batches of {} L2 blocks; batch #{lie_ordinal} will lie ({} at block index {})",
        args.batches,
        args.blocks,
        fault.name(),
        fault.block()
    );
    let node = Devnet::spawn(DevnetConfig {
        listen: "127.0.0.1:0".parse()?,
        block_time: Some(Duration::from_millis(args.block_time_ms)),
        ..DevnetConfig::default()
    })
    .await?;
    println!("dev L1 with EXECUTE at {} (block time {} ms)", node.http_url, args.block_time_ms);
    let proposer_key = dev_signer(0)?;
    let challenger_key = dev_signer(1)?;
    let from = proposer_key.address();
    let provider = signing_provider(&node.http_url, proposer_key)?;
    // Without --genesis: the dev genesis with the hostile workloads' contracts and 10,000
    // background accounts, as a file, so a hostile lie has something to sweep.
    let dir = tempfile::tempdir()?;
    let genesis_file = match &args.genesis {
        Some(file) => file.clone(),
        None => {
            let users: Vec<_> = dev_users(DEV_L2_USERS).iter().map(|u| u.address()).collect();
            let genesis = L2Genesis::dev_hostile(CHAIN_ID, &users, 10_000);
            let path = dir.path().join("genesis.json");
            std::fs::write(&path, serde_json::to_vec(&genesis.to_geth_json())?)
                .context("writing the demo's genesis file")?;
            path
        }
    };
    let genesis = GenesisSource::File(genesis_file.clone());
    let (client, params, _) =
        deploy_rollup(provider, from, CHAIN_ID, &genesis, |p| p.challenge_window = args.window)
            .await?;
    println!(
        "rollup contract {} (window {} L1 blocks, proposer bond {} wei, reward {}%)",
        client.address(),
        params.challenge_window,
        params.proposer_bond,
        params.reward_bps / 100
    );

    let mut config = daemon_config(&node.http_url, client.address(), dir.path());
    config.genesis.file = Some(genesis_file);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let daemon =
        Daemon::build(&config, Some(challenger_key.into()), false).await?.with_events(events_tx);
    println!(
        "challenger {} watching",
        daemon.challenger().map(|a| a.to_string()).unwrap_or_default()
    );
    let (stop, stop_rx) = watch::channel(false);
    let handle = tokio::spawn(daemon.run(stop_rx));

    let workload = WorkloadSpec { txs_per_block: 12, seed, ..WorkloadSpec::default() };
    let plan = ProposePlan::single(args.blocks, workload, params.max_l2_gas_limit);
    let mut proposer =
        open_proposer_over(&client, CHAIN_ID, &genesis, &dir.path().join("proposer"), &plan)
            .await?;
    let outcome =
        drive(&args, &client, &mut proposer, &plan, lie_ordinal, fault, &mut events).await;
    let _ = stop.send(true);
    let _ = handle.await;
    node.stop().await;
    outcome
}

fn daemon_config(url: &str, rollup: alloy_primitives::Address, dir: &std::path::Path) -> Config {
    let mut config = Config::dev(CHAIN_ID, url, rollup, dir.join("challenger-l2"));
    if let Some(l1) = config.l1.as_mut() {
        l1.poll_interval_ms = 200;
    }
    config.challenger.resubmit_after_secs = 6;
    config
}

/// What the demo saw of the conviction.
#[derive(Default)]
struct Seen {
    /// Batch, block index, segment, witness bytes, trace bytes.
    lie: Option<(u64, usize, u16, usize, usize)>,
    landed: Option<(u64, u64)>,
    wrong_finalized: bool,
}

fn absorb(events: &mut mpsc::UnboundedReceiver<Event>, seen: &mut Seen) {
    while let Ok(event) = events.try_recv() {
        match event {
            Event::Finding(Finding::Lie(lie)) => {
                let (witness, trace) = Trace::decode(&lie.trace).map_or((0, 0), |t| {
                    let w = t.witness.nodes.iter().map(|n| n.len()).sum::<usize>()
                        + t.witness.codes.iter().map(|c| c.len()).sum::<usize>()
                        + t.witness.headers.len() * 160;
                    (w, lie.trace.len())
                });
                seen.lie = Some((lie.batch_id, lie.index, lie.segment, witness, trace));
            }
            Event::Finding(Finding::Finalized { wrong: true, .. }) => seen.wrong_finalized = true,
            Event::Intent(intent) => {
                if let Stage::Landed { block, gas_used, .. } = intent.stage {
                    seen.landed = Some((block, gas_used));
                }
            }
            _ => {}
        }
    }
}

async fn propose_one(
    client: &RollupClient,
    proposer: &mut Proposer,
    plan: &ProposePlan,
    fault: Option<Fault>,
) -> Result<(u64, u64)> {
    if let Some(last) = sync_with_tip(client, proposer).await? {
        println!("  proposer rewinds to L2 block {last} (its later batches were invalidated)");
    }
    let (id, batch, receipt) = propose_next(client, proposer, plan.blocks_per_batch, fault).await?;
    let first = batch.blocks.first().map_or(0, |b| b.number);
    let what = match batch.first_lie() {
        Some(i) => {
            format!("LIE ({}) at L2 block {}", fault.map_or("", |f| f.name()), first + i as u64)
        }
        None => "honest".into(),
    };
    println!(
        "  proposed batch {id}: L2 blocks {first}..={}, L1 block {}, {} gas: {what}",
        first + batch.blocks.len() as u64 - 1,
        receipt.block_number.unwrap_or_default(),
        receipt.gas_used
    );
    Ok((id, first))
}

async fn drive(
    args: &DemoArgs,
    client: &RollupClient,
    proposer: &mut Proposer,
    plan: &ProposePlan,
    lie_ordinal: u64,
    fault: Fault,
    events: &mut mpsc::UnboundedReceiver<Event>,
) -> Result<()> {
    let mut seen = Seen::default();
    let mut lie_sent = None;
    for ordinal in 1..=args.batches {
        let lie = (ordinal == lie_ordinal).then_some(fault);
        let (id, _) = propose_one(client, proposer, plan, lie).await?;
        if lie.is_some() {
            lie_sent = Some((id, Instant::now()));
        }
        absorb(events, &mut seen);
    }
    let (lie_id, sent_at) = lie_sent.context("the lie was not proposed")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.landed.is_none() {
        if Instant::now() > deadline {
            bail!("the challenger did not convict batch {lie_id} within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        absorb(events, &mut seen);
    }
    let seconds = sent_at.elapsed().as_secs_f64();
    let (batch, index, segment, witness, trace) = seen.lie.context("a conviction without a lie")?;
    let (l1_block, l1_gas) = seen.landed.unwrap_or_default();
    println!(
        "CONVICTED batch {batch}: first wrong checkpoint at block index {index}, segment {segment} (chunk: that one segment), witness {witness} bytes (trace {trace}), challenge {l1_gas} L1 gas in L1 block {l1_block}, {seconds:.1} s from proposal to conviction"
    );
    // The proposer re-proposes the honest work the conviction invalidated.
    let replaced = args.batches - lie_ordinal + 1;
    for _ in 0..replaced {
        propose_one(client, proposer, plan, None).await?;
    }
    finalize_all(client, events, &mut seen).await?;
    if seen.wrong_finalized {
        bail!("a batch the challenger did not find valid finalized");
    }
    println!("demo: the lie was convicted and every honest batch finalized");
    Ok(())
}

/// Finalizes every pending batch in order as its window passes.
async fn finalize_all(
    client: &RollupClient,
    events: &mut mpsc::UnboundedReceiver<Event>,
    seen: &mut Seen,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        absorb(events, seen);
        let (tip, last) = (client.tip().await?, client.last_finalized().await?);
        if last == tip {
            println!("  finalized up to batch {last}");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("batches did not finalize within 180 s (last final {last}, tip {tip})");
        }
        let next = next_on_chain(client, tip, last).await?;
        match client.finalize(next).await {
            Ok(_) => println!("  finalized batch {next}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The batch right after `last` on the live chain ending at `tip`.
async fn next_on_chain(client: &RollupClient, tip: u64, last: u64) -> Result<u64> {
    let mut id = tip;
    loop {
        let parent = client.batch(id).await?.parent;
        if parent == last {
            return Ok(id);
        }
        id = parent;
    }
}
