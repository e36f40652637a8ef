//! Runs the proposer against an L1 endpoint, as `native-challenger propose` and the demo do.
//!
//! Input: the endpoint, the rollup contract (or parameters to deploy one), a signing key and
//! what to propose (batches, blocks, workload, the faults to commit). Output: one
//! [`BatchReport`] per proposal. Before proposing anything it checks that the contract's
//! genesis (batch 0) is the local L2 genesis, so it never proposes on top of another chain.

use super::{Fault, L1Anchor, Proposer, ProposerConfig, ProposerError, Workload, WorkloadSpec};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::forks::DEFAULT_FORK;
use crate::execute_local::forks::{Network, network};
use crate::execute_local::store::StateStore;
use crate::rollup::{GenesisSource, L2Genesis, RollupClient, RollupError, RollupParams, dev_users};
use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::BlockNumberOrTag;
use alloy_signer_local::PrivateKeySigner;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Number of dev L2 users the dev genesis funds.
pub const DEV_L2_USERS: usize = 16;

/// What to propose.
#[derive(Debug, Clone)]
pub struct ProposePlan {
    pub batches: u64,
    pub blocks_per_batch: usize,
    pub workload: WorkloadSpec,
    pub config: ProposerConfig,
    /// Faults by batch ordinal (1 = the first batch this run proposes).
    pub faults: BTreeMap<u64, Fault>,
    /// Pause between proposals.
    pub interval: Duration,
    /// The L2's fork schedule: a fork name, or `<A>To<B>AtTime<N>` (the daemon's `[chain]
    /// fork`, the dev L1's `--fork`).
    pub fork: String,
}

impl ProposePlan {
    /// One batch of `blocks_per_batch` blocks of `workload` at `l2_gas_limit`, no fault, no
    /// pause: the plan of callers that propose batch by batch themselves (`propose_next`).
    pub fn single(blocks_per_batch: usize, workload: WorkloadSpec, l2_gas_limit: u64) -> Self {
        Self {
            batches: 1,
            blocks_per_batch,
            workload,
            config: ProposerConfig { l2_gas_limit, ..ProposerConfig::default() },
            faults: BTreeMap::new(),
            interval: Duration::ZERO,
            fork: DEFAULT_FORK.to_string(),
        }
    }
}

/// One proposal as it landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    pub batch_id: u64,
    pub l1_block: u64,
    pub tx_hash: B256,
    pub first_block: u64,
    pub blocks: usize,
    pub l2_gas: u64,
    pub l1_gas: u64,
    /// The fault committed, and the index of its first wrong checkpoint (`None` for an
    /// honest batch; a refused batch never gets a report).
    pub lie: Option<(Fault, usize)>,
}

/// A provider that signs with `signer`. Nonces are asked of the node for every transaction
/// (alloy's default cache would keep counting past transactions an L1 reorg dropped, and send
/// nonce gaps that stall every later proposal).
pub fn signing_provider(url: &str, signer: PrivateKeySigner) -> Result<DynProvider, RollupError> {
    let url = url.parse().map_err(|err| RollupError::Rpc(format!("endpoint {url:?}: {err}")))?;
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url)
        .erased())
}

/// The parent of the latest L1 block as an anchor. Not the latest itself: nodes estimate gas
/// and simulate calls in the latest block's context, where `blockhash(latest)` is unknown, so a
/// proposal anchored to the latest block would be refused before it is sent.
pub async fn latest_anchor(provider: &DynProvider) -> Result<L1Anchor, RollupError> {
    let latest = provider.get_block_number().await?;
    let number = latest.saturating_sub(1);
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(number))
        .await?
        .ok_or_else(|| RollupError::Unexpected(format!("the node has no block {number}")))?;
    Ok(L1Anchor {
        number: block.header.number,
        hash: block.header.hash,
        timestamp: block.header.timestamp,
    })
}

/// Deploys a rollup with dev parameters over the dev genesis (`DEV_L2_USERS` users).
pub async fn deploy_dev_rollup(
    provider: DynProvider,
    from: Address,
    chain_id: u64,
    configure: impl FnOnce(&mut RollupParams),
) -> Result<(RollupClient, RollupParams, L2Genesis), ProposerError> {
    let genesis = GenesisSource::Dev { users: DEV_L2_USERS };
    deploy_rollup(provider, from, chain_id, &genesis, configure).await
}

/// Deploys a rollup with dev parameters over `genesis`, timestamped with the latest L1 block
/// unless the genesis file fixes a timestamp.
pub async fn deploy_rollup(
    provider: DynProvider,
    from: Address,
    chain_id: u64,
    genesis: &GenesisSource,
    configure: impl FnOnce(&mut RollupParams),
) -> Result<(RollupClient, RollupParams, L2Genesis), ProposerError> {
    let anchor = latest_anchor(&provider).await?;
    let genesis = genesis.for_deploy(chain_id, anchor.timestamp).map_err(ProposerError::Genesis)?;
    let (_, header) = genesis.build().map_err(|e| ProposerError::Genesis(e.to_string()))?;
    let mut params = RollupParams::dev(chain_id, header.state_root, genesis.timestamp);
    configure(&mut params);
    let (client, _) = RollupClient::deploy(provider, from, &params).await?;
    Ok((client, params, genesis))
}

/// Opens the proposer's store at `path`, initialised at the dev genesis the contract was
/// deployed with (read back from its batch 0), and checks that they agree.
pub async fn open_proposer(
    client: &RollupClient,
    chain_id: u64,
    store_path: &Path,
    plan: &ProposePlan,
) -> Result<Proposer, ProposerError> {
    let genesis = GenesisSource::Dev { users: DEV_L2_USERS };
    open_proposer_over(client, chain_id, &genesis, store_path, plan).await
}

/// [`open_proposer`] over `genesis`. The workload signs with the `DEV_L2_USERS` dev users,
/// so the genesis must fund each of them.
pub async fn open_proposer_over(
    client: &RollupClient,
    chain_id: u64,
    genesis: &GenesisSource,
    store_path: &Path,
    plan: &ProposePlan,
) -> Result<Proposer, ProposerError> {
    let schedule = match network(&plan.fork) {
        Network::Supported(schedule) => schedule,
        Network::Skipped { reason } => {
            return Err(ProposerError::Fork { fork: plan.fork.clone(), reason });
        }
    };
    let genesis_batch = client.batch(0).await?;
    let genesis = genesis
        .matching(chain_id, genesis_batch.lastTimestamp, genesis_batch.lastStateRoot)
        .map_err(ProposerError::Genesis)?;
    let users = dev_users(DEV_L2_USERS);
    let unfunded = users
        .iter()
        .map(|u| u.address())
        .find(|address| genesis.alloc.get(address).is_none_or(|account| account.balance.is_zero()));
    if let Some(address) = unfunded {
        return Err(ProposerError::Genesis(format!(
            "the workload's dev user {address} has no balance at genesis (the workload signs with the first {DEV_L2_USERS} dev users)"
        )));
    }
    let store = StateStore::open(store_path)?;
    genesis.init_store(&store).map_err(|e| ProposerError::Genesis(e.to_string()))?;
    let rules = ChainRules::new(chain_id, schedule);
    // Twice the base fee, and at least the workload's 1-wei tip (a transaction whose tip is
    // above its max fee is invalid, so a zero base fee would otherwise void the workload).
    let max_fee = (u128::from(plan.config.base_fee) * 2).max(1);
    let workload = Workload::new(chain_id, users, plan.workload, max_fee);
    Proposer::new(store, rules, workload, plan.config.clone(), genesis.timestamp)
}

/// Proposes `plan.batches` batches on the contract's tip, calling `on_batch` after each.
pub async fn run_plan(
    proposer: &mut Proposer,
    client: &RollupClient,
    bond: alloy_primitives::U256,
    plan: &ProposePlan,
    mut on_batch: impl FnMut(&BatchReport),
) -> Result<Vec<BatchReport>, ProposerError> {
    let mut reports = Vec::new();
    for ordinal in 1..=plan.batches {
        let parent = client.tip().await?;
        let anchor = latest_anchor(client.provider()).await?;
        let fault = plan.faults.get(&ordinal).copied();
        let batch = proposer.build_batch(parent, anchor, plan.blocks_per_batch, fault)?;
        let (batch_id, receipt) = proposer.propose(client, &batch, bond).await?;
        let report = BatchReport {
            batch_id,
            l1_block: receipt.block_number.unwrap_or_default(),
            tx_hash: receipt.transaction_hash,
            first_block: batch.blocks.first().map_or(0, |b| b.number),
            blocks: batch.blocks.len(),
            l2_gas: batch.honest.iter().map(|c| c.gas_used).sum(),
            l1_gas: receipt.gas_used,
            lie: fault.zip(batch.first_lie()),
        };
        on_batch(&report);
        reports.push(report);
        if ordinal < plan.batches && !plan.interval.is_zero() {
            tokio::time::sleep(plan.interval).await;
        }
    }
    Ok(reports)
}

/// Takes the proposer back to the contract's tip when batches of its were invalidated;
/// returns the L2 block it rewound to, if it did.
pub async fn sync_with_tip(
    client: &RollupClient,
    proposer: &mut Proposer,
) -> Result<Option<u64>, ProposerError> {
    let tip = client.batch(client.tip().await?).await?;
    let last = tip.firstBlock + tip.blockCount - 1;
    let head = proposer.store().head()?.map_or(0, |h| h.number);
    if head <= last {
        return Ok(None);
    }
    proposer.rewind_to(last, tip.lastTimestamp)?;
    Ok(Some(last))
}

/// Syncs with the tip, then builds and proposes one batch of `blocks` blocks (with `fault`).
pub async fn propose_next(
    client: &RollupClient,
    proposer: &mut Proposer,
    blocks: usize,
    fault: Option<Fault>,
) -> Result<(u64, super::PlannedBatch, alloy_rpc_types_eth::TransactionReceipt), ProposerError> {
    sync_with_tip(client, proposer).await?;
    let parent = client.tip().await?;
    let anchor = latest_anchor(client.provider()).await?;
    let batch = proposer.build_batch(parent, anchor, blocks, fault)?;
    let bond = client.read(&crate::rollup::NativeRollup::PROPOSER_BONDCall {}).await?;
    let (id, receipt) = proposer.propose(client, &batch, bond).await?;
    Ok((id, batch, receipt))
}
