//! `native-challenger propose`: build L2 blocks from a workload and propose them, honestly or
//! with chosen lies, to a rollup contract (deploying a dev one first if asked).

use super::keys::KeyArgs;
use anyhow::{Context, Result, bail};
use native_challenger::proposer::driver::{
    DEV_L2_USERS, ProposePlan, deploy_rollup, open_proposer_over, run_plan, signing_provider,
};
use native_challenger::proposer::{Fault, ProposerConfig, WorkloadSpec};
use native_challenger::rollup::{GenesisSource, RollupClient};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ProposeArgs {
    /// L1 JSON-RPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// The rollup contract; without it, `--deploy` deploys a dev one.
    #[arg(long, required_unless_present = "deploy")]
    rollup: Option<alloy_primitives::Address>,
    /// Deploy a rollup with dev parameters over the genesis first.
    #[arg(long)]
    deploy: bool,
    /// A geth genesis file for the L2 (default: the dev genesis); it must fund the 16 dev users
    /// the workload signs with.
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Challenge window of a deployed rollup, in L1 blocks.
    #[arg(long, default_value_t = 20)]
    window: u64,
    /// The L2 chain id.
    #[arg(long, default_value_t = 901)]
    chain_id: u64,
    #[command(flatten)]
    key: KeyArgs,
    /// The proposer's L2 state (rocksdb); default: a temporary directory.
    #[arg(long)]
    store: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    batches: u64,
    #[arg(long, default_value_t = 4)]
    blocks: usize,
    /// Transactions per L2 block (mixed: transfers, ERC-20, deployments, storage churn).
    #[arg(long, default_value_t = 24)]
    txs: usize,
    /// The L2's fork schedule: a fork name (Paris … Osaka) or a transition at a timestamp,
    /// `<A>To<B>AtTime<N>`; the same as the dev L1's `--fork` and the daemon's `[chain] fork`.
    #[arg(long, default_value = native_challenger::execute_local::forks::DEFAULT_FORK)]
    fork: String,
    /// L2 block gas limit.
    #[arg(long, default_value_t = native_challenger::rollup::params::DEFAULT_MAX_L2_GAS_LIMIT)]
    l2_gas_limit: u64,
    /// A lie: `BATCH:KIND@BLOCK`, e.g. `3:wrong-root@1` (batch ordinal from 1, block index
    /// from 0). Kinds: wrong-root, wrong-gas, wrong-intermediate, invalid-tx, oversized-block,
    /// and the hostile workloads (a witness-heavy block with a wrong root): hostile-accounts,
    /// hostile-slots, hostile-codes, hostile-deletions, hostile-garbage, hostile-signatures,
    /// hostile-flood, hostile-calldata, hostile-blockhash (deep only past L2 block 256).
    #[arg(long)]
    fault: Vec<String>,
    /// Pause between proposals, in milliseconds.
    #[arg(long, default_value_t = 0)]
    interval_ms: u64,
}

fn parse_faults(specs: &[String]) -> Result<BTreeMap<u64, Fault>> {
    let mut faults = BTreeMap::new();
    for spec in specs {
        let (batch, fault) = spec
            .split_once(':')
            .with_context(|| format!("--fault {spec:?}: expected BATCH:KIND@BLOCK"))?;
        let batch: u64 = batch
            .parse()
            .with_context(|| format!("--fault {spec:?}: batch {batch:?} is not a number"))?;
        let fault: Fault = fault.parse()?;
        if faults.insert(batch, fault).is_some() {
            bail!("--fault: two faults for batch {batch}");
        }
    }
    Ok(faults)
}

pub fn run(args: ProposeArgs) -> Result<()> {
    let plan = ProposePlan {
        batches: args.batches,
        blocks_per_batch: args.blocks,
        workload: WorkloadSpec { txs_per_block: args.txs, ..WorkloadSpec::default() },
        config: ProposerConfig { l2_gas_limit: args.l2_gas_limit, ..ProposerConfig::default() },
        faults: parse_faults(&args.fault)?,
        interval: Duration::from_millis(args.interval_ms),
        fork: args.fork.clone(),
    };
    if let Some(f) = plan.faults.values().find(|f| f.block() >= plan.blocks_per_batch) {
        bail!(
            "--fault {}@{}: a batch has only {} blocks",
            f.name(),
            f.block(),
            plan.blocks_per_batch
        );
    }
    let signer = args.key.signer()?;
    let from = signer.address();
    let provider = signing_provider(&args.rpc, signer)?;
    let temp = tempfile::tempdir().context("creating a temporary store")?;
    let store = args.store.clone().unwrap_or_else(|| temp.path().join("proposer-l2"));
    let genesis = match &args.genesis {
        Some(file) => GenesisSource::File(file.clone()),
        None => GenesisSource::Dev { users: DEV_L2_USERS },
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let client = match args.rollup {
            Some(address) => RollupClient::at(provider, address, from),
            None => {
                let window = args.window;
                let (client, _, _) = deploy_rollup(provider, from, args.chain_id, &genesis, |p| {
                    p.challenge_window = window
                })
                .await?;
                println!(
                    "deployed rollup {} (challenge window {window} L1 blocks)",
                    client.address()
                );
                client
            }
        };
        let bond =
            client.read(&native_challenger::rollup::NativeRollup::PROPOSER_BONDCall {}).await?;
        let mut proposer =
            open_proposer_over(&client, args.chain_id, &genesis, &store, &plan).await?;
        run_plan(&mut proposer, &client, bond, &plan, |r| {
            let lie = match r.lie {
                Some((fault, index)) => {
                    format!("LIE {} at block {}", fault.name(), r.first_block + index as u64)
                }
                None => "honest".to_string(),
            };
            println!(
                "batch {} (L2 blocks {}..={}, {:.2} Mgas) in L1 block {} tx {} ({} gas): {lie}",
                r.batch_id,
                r.first_block,
                r.first_block + r.blocks as u64 - 1,
                r.l2_gas as f64 / 1e6,
                r.l1_block,
                r.tx_hash,
                r.l1_gas
            );
        })
        .await?;
        Ok(())
    })
}
