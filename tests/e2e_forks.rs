//! Fork activations on the dev L1 with the real daemon (docs/protocol.md, "State transition
//! function"): every L2 block runs under the fork its own timestamp selects on the L1's
//! schedule, in local replay and in EXECUTE alike, so an activation inside a batch splits it
//! between two forks, and an L1 upgrade during a challenge window cannot change the correct
//! answer for a batch proposed before it.
//!
//! The L1 runs Prague, then Osaka from `ACTIVATION`, far in its future; the tests move its
//! clock there with `evm_setNextBlockTimestamp`. The L2 workload calls the P256VERIFY
//! precompile, which exists from Osaka on (EIP-7951): the same transaction uses 6,900 more
//! gas on the far side of the activation. Each lying proposer is honest but runs the wrong
//! schedule, so its lie is the other fork's answer.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::BlockNumberOrTag;
use common::e2e::{CHAIN_ID, E2e, Running, landed};
use native_challenger::devnet::DevnetConfig;
use native_challenger::execute_local::chain::ChainRules;
use native_challenger::execute_local::execute::verify_trace;
use native_challenger::execute_local::forks::{Network, network};
use native_challenger::proposer::driver::{
    DEV_L2_USERS, ProposePlan, latest_anchor, open_proposer_over, propose_next, sync_with_tip,
};
use native_challenger::proposer::{L1Anchor, PlannedBatch, WorkloadSpec};
use native_challenger::protocol::Trace;
use native_challenger::rollup::GenesisSource;
use native_challenger::submitter::{Intent, Stage};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BLOCK_TIME: Duration = Duration::from_millis(250);
const WINDOW: u64 = 60;
const WAIT: Duration = Duration::from_secs(90);
const CHALLENGER: usize = 1;
/// Seconds from the L1's genesis to the Osaka activation: out of reach of its own clock
/// during a test (4 blocks a second, a second apart).
const AHEAD: u64 = 1_000_000;

struct Forks {
    e: E2e,
    /// The L1's (and so the L2's) schedule, `PragueToOsakaAtTime<ACTIVATION>`.
    schedule: String,
    activation: u64,
}

fn rules(fork: &str) -> ChainRules {
    match network(fork) {
        Network::Supported(schedule) => ChainRules::new(CHAIN_ID, schedule),
        Network::Skipped { reason } => panic!("fork {fork}: {reason}"),
    }
}

impl Forks {
    async fn new() -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
        let activation = now + AHEAD;
        let schedule = format!("PragueToOsakaAtTime{activation}");
        let devnet = DevnetConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            block_time: Some(BLOCK_TIME),
            genesis_timestamp: Some(now),
            fork: schedule.clone(),
            ..DevnetConfig::default()
        };
        let e = E2e::with_devnet(WINDOW, devnet).await;
        Self { e, schedule, activation }
    }

    /// The proposer's store and schedule replaced by a proposer that runs `fork` over a
    /// workload of P256VERIFY calls only.
    async fn lying_proposer(&mut self, fork: &str) {
        let workload = WorkloadSpec {
            txs_per_block: 2,
            transfers: 0,
            erc20: 0,
            deploys: 0,
            storage: 0,
            p256: 1,
            seed: 7,
        };
        let mut plan = ProposePlan::single(4, workload, self.e.params.max_l2_gas_limit);
        plan.fork = fork.to_string();
        let store = self.e.dir.path().join(format!("proposer-{fork}"));
        let genesis = GenesisSource::Dev { users: DEV_L2_USERS };
        self.e.proposer = open_proposer_over(&self.e.client, CHAIN_ID, &genesis, &store, &plan)
            .await
            .expect("proposer");
    }

    /// The daemon with the L1's schedule as its `[chain] fork`.
    async fn daemon(&self) -> Running {
        let mut config = self.e.config("challenger", None);
        config.chain.fork = self.schedule.clone();
        self.e.start_at_depth(&config, CHALLENGER).await
    }

    /// Moves the L1's clock to `timestamp` and returns the block mined there, once it has a
    /// successor.
    async fn jump_to(&self, timestamp: u64) -> L1Anchor {
        let provider = self.e.client.provider();
        let _: serde_json::Value = provider
            .raw_request("evm_setNextBlockTimestamp".into(), (U256::from(timestamp),))
            .await
            .expect("set the next timestamp");
        let from = provider.get_block_number().await.expect("head");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut number = from;
        loop {
            assert!(Instant::now() < deadline, "no L1 block at {timestamp}");
            let Some(block) = provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .await
                .expect("block")
            else {
                tokio::time::sleep(BLOCK_TIME / 2).await;
                continue;
            };
            if block.header.timestamp >= timestamp {
                assert_eq!(block.header.timestamp, timestamp, "the jump lands exactly");
                // An anchor must be an ancestor of the block that proposes (and of the one
                // gas estimation runs on).
                while provider.get_block_number().await.expect("head") <= number {
                    assert!(Instant::now() < deadline, "no L1 block after {number}");
                    tokio::time::sleep(BLOCK_TIME / 2).await;
                }
                return L1Anchor {
                    number: block.header.number,
                    hash: block.header.hash,
                    timestamp: block.header.timestamp,
                };
            }
            number += 1;
        }
    }

    /// Waits for the conviction of batch `id` and returns the landed intent, its trace and
    /// the timestamp of the L1 block it landed in.
    async fn convicted(&self, daemon: &mut Running, id: u64) -> (Intent, Trace, u64) {
        let event = daemon
            .wait_for(WAIT, &format!("the conviction of batch {id}"), |ev| {
                landed(ev).is_some_and(|i| i.batch_id == id)
            })
            .await;
        let intent = landed(&event).expect("landed").clone();
        let Stage::Landed { block, .. } = intent.stage.clone() else {
            panic!("not landed: {:?}", intent.stage)
        };
        let stored = self.e.client.batch(id).await.expect("batch");
        assert_eq!(stored.status, 3, "the lying batch is invalidated on L1");
        assert!(block <= stored.proposedAt + WINDOW, "convicted within the window");
        let at = self
            .e
            .client
            .provider()
            .get_block_by_number(BlockNumberOrTag::Number(block))
            .await
            .expect("block")
            .expect("the challenge's block")
            .header
            .timestamp;
        let trace = Trace::decode(&intent.trace).expect("the landed trace decodes");
        (intent, trace, at)
    }
}

/// The post-state root and gas the traced block has under `fork` alone.
fn under(fork: &str, pre_state_root: B256, trace: &Trace) -> (B256, u64) {
    let steps = verify_trace(&rules(fork), pre_state_root, trace).expect("the trace verifies");
    let step = steps.last().expect("one block");
    (step.post_state_root, step.outcome.gas_used)
}

/// The pre-state of block `index` of `batch`.
fn pre_state(batch: &PlannedBatch, index: usize, genesis_root: B256) -> B256 {
    match index {
        0 => genesis_root,
        i => batch.honest[i - 1].post_state_root,
    }
}

/// A batch of four blocks one second apart, the activation at its third: a proposer that
/// ignores the activation (Prague throughout) agrees with the chain on blocks 0 and 1 and
/// lies from block 2, the first Osaka block. The daemon convicts block 2, so it ran 0 and 1
/// under Prague and 2 under Osaka, and EXECUTE confirmed Osaka's answer for block 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_across_an_activation_runs_each_block_under_its_own_fork() {
    let mut f = Forks::new().await;
    f.lying_proposer("Prague").await;
    let mut daemon = f.daemon().await;
    let genesis_root = f.e.client.batch(0).await.expect("genesis").lastStateRoot;

    // The anchor one second after the activation: the batch is stamped T-2, T-1, T, T+1.
    let anchor = f.jump_to(f.activation + 1).await;
    sync_with_tip(&f.e.client, &mut f.e.proposer).await.expect("sync");
    let parent = f.e.client.tip().await.expect("tip");
    let batch = f.e.proposer.build_batch(parent, anchor, 4, None).expect("build");
    let stamps: Vec<u64> = batch.blocks.iter().map(|b| b.timestamp).collect();
    let t = f.activation;
    assert_eq!(stamps, [t - 2, t - 1, t, t + 1], "the batch straddles the activation");
    let bond = f.e.params.proposer_bond;
    let (id, _) = f.e.proposer.propose(&f.e.client, &batch, bond).await.expect("propose");

    let (intent, trace, _) = f.convicted(&mut daemon, id).await;
    assert_eq!(intent.block_index, 2, "blocks 0 and 1 are Prague's on both sides");
    assert_eq!(trace.blocks[0].timestamp, t, "the proof is of the first Osaka block");
    let pre = pre_state(&batch, 2, genesis_root);
    // The conviction is Osaka's answer, and the lie was Prague's: the fork made the difference.
    let (root, gas) = under("Osaka", pre, &trace);
    assert_eq!((intent.post_state_root, intent.gas_used), (root, gas));
    let (lie_root, lie_gas) = under("Prague", pre, &trace);
    assert_eq!((lie_root, lie_gas), (batch.claimed[2].post_state_root, batch.claimed[2].gas_used));
    assert!(gas > lie_gas, "P256VERIFY charges its 6,900 gas under Osaka only");
    println!(
        "fork activation inside batch {id} (L2 timestamps {stamps:?}, Osaka from {t}): block 2 \
         convicted with Osaka's answer ({gas} gas; the lie, Prague's, {lie_gas})"
    );
    daemon.shutdown().await;
}

/// A batch stamped before the activation, by a proposer that applies Osaka early, and
/// challenged only once the L1 runs Osaka: EXECUTE, on an Osaka L1, judges the block under
/// Prague, the fork of its own timestamp, and convicts the early upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_upgrade_inside_the_window_does_not_change_the_answer() {
    let mut f = Forks::new().await;
    f.lying_proposer("Osaka").await;
    let genesis_root = f.e.client.batch(0).await.expect("genesis").lastStateRoot;
    let (id, batch, _) =
        propose_next(&f.e.client, &mut f.e.proposer, 2, None).await.expect("propose");
    assert!(batch.blocks.iter().all(|b| b.timestamp < f.activation), "stamped under Prague");
    let anchor = latest_anchor(f.e.client.provider()).await.expect("anchor");
    assert!(anchor.timestamp < f.activation, "proposed while the L1 ran Prague");

    // The L1 upgrades before anyone challenges; the daemon starts after it.
    f.jump_to(f.activation).await;
    let mut daemon = f.daemon().await;
    let (intent, trace, landed_at) = f.convicted(&mut daemon, id).await;
    assert!(landed_at >= f.activation, "the challenge landed on an Osaka L1");
    assert_eq!(intent.block_index, 0);
    let pre = pre_state(&batch, 0, genesis_root);
    let (root, gas) = under("Prague", pre, &trace);
    assert_eq!((intent.post_state_root, intent.gas_used), (root, gas));
    let (lie_root, lie_gas) = under("Osaka", pre, &trace);
    assert_eq!((lie_root, lie_gas), (batch.claimed[0].post_state_root, batch.claimed[0].gas_used));
    assert!(gas < lie_gas && root != lie_root, "the fork changes the answer");
    println!(
        "batch {id} stamped before the activation, convicted on an Osaka L1 (block timestamp \
         {landed_at} >= {}) with Prague's answer ({gas} gas; the lie, Osaka's, {lie_gas})",
        f.activation
    );
    daemon.shutdown().await;
}
