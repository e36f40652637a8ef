//! Hostile blocks on the dev L1 with the real daemon: the proposer fills a block with a
//! workload built to make its proof as large as possible (`Fault::Hostile`, one test per class
//! of `proposer::hostile::Hostile`) and claims a wrong post-state root for it. Protocol v2's
//! witness budget keeps that block's proof within one L1 transaction, so the lie is convicted
//! within its window. Each test prints the challenge's L1 gas, transaction bytes and trace
//! bytes, and their margins to 2^24 gas and 128 KiB (`--nocapture`). The L2 runs over the
//! dev genesis with the hostile contracts and 20,000 background accounts, from a file. Two
//! more lies sit in blocks at the extreme base fees, 0 and u64::MAX, over the dev genesis.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_eips::eip2718::Encodable2718;
use alloy_provider::Provider;
use common::e2e::{CHAIN_ID, E2e, landed};
use native_challenger::devnet::DevnetConfig;
use native_challenger::execute_local::block::TxRejection;
use native_challenger::execute_local::execute::verify_trace;
use native_challenger::execute_local::meter::TRACE_BUDGET;
use native_challenger::proposer::driver::{
    DEV_L2_USERS, ProposePlan, open_proposer_over, propose_next,
};
use native_challenger::proposer::hostile::{Hostile, MAX_CODE_SIZE};
use native_challenger::proposer::{Fault, WorkloadSpec};
use native_challenger::protocol::Trace;
use native_challenger::rollup::GenesisSource;
use native_challenger::rollup::genesis::{L2Genesis, dev_users};
use std::time::Duration;

const BLOCK_TIME: Duration = Duration::from_millis(250);
const WINDOW: u64 = 60;
const WAIT: Duration = Duration::from_secs(90);
const CHALLENGER: usize = 1;
const TX_GAS_CAP: u64 = 1 << 24;
const TX_SIZE_LIMIT: usize = 128 * 1024;

/// The dev genesis with the hostile workloads' contracts and 20,000 background accounts, as
/// a genesis file (what the demo runs over).
fn hostile_genesis(dir: &std::path::Path) -> std::path::PathBuf {
    let users: Vec<_> = dev_users(DEV_L2_USERS).iter().map(|u| u.address()).collect();
    let genesis = L2Genesis::dev_hostile(CHAIN_ID, &users, 20_000);
    let path = dir.join("genesis.json");
    std::fs::write(&path, serde_json::to_vec(&genesis.to_geth_json()).expect("json"))
        .expect("write");
    path
}

/// Empty L2 blocks proposed (in honest batches of 64) before the hostile batch, so that
/// `BLOCKHASH(number - 256)` reaches a real header.
const HISTORY: usize = 256;

async fn convicted_despite(class: Hostile, must_cut: bool) {
    convicted_after(class, must_cut, 0).await;
}

/// The lie of [`convicted_despite`], proposed after `history` empty L2 blocks; returns the
/// landed trace.
async fn convicted_after(class: Hostile, must_cut: bool, history: usize) -> Trace {
    let files = tempfile::tempdir().expect("tempdir");
    let path = hostile_genesis(files.path());
    let devnet = DevnetConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        block_time: Some(BLOCK_TIME),
        ..DevnetConfig::default()
    };
    let mut e = E2e::with_genesis(WINDOW, devnet, &GenesisSource::File(path.clone())).await;
    let mut config = e.config("challenger", None);
    config.genesis.file = Some(path.clone());
    let mut daemon = e.start_at_depth(&config, CHALLENGER).await;

    if history > 0 {
        // A proposer whose blocks hold no transactions of their own: 64 empty blocks are a
        // small proposal.
        let plan = ProposePlan::single(
            64,
            WorkloadSpec { txs_per_block: 0, ..WorkloadSpec::default() },
            e.params.max_l2_gas_limit,
        );
        let store = e.dir.path().join("history-proposer");
        let genesis = GenesisSource::File(path.clone());
        e.proposer = open_proposer_over(&e.client, CHAIN_ID, &genesis, &store, &plan)
            .await
            .expect("proposer");
        for _ in 0..history / 64 {
            propose_next(&e.client, &mut e.proposer, 64, None).await.expect("history");
        }
    }
    let (id, batch) = e.propose(Some(Fault::Hostile { block: 1, class })).await;
    let event = daemon
        .wait_for(WAIT, &format!("the conviction of the {class} lie"), |ev| {
            landed(ev).is_some_and(|i| i.batch_id == id)
        })
        .await;
    let intent = landed(&event).expect("landed").clone();
    assert_eq!(intent.block_index, 1, "the hostile block is the first wrong one");
    assert_eq!(intent.post_state_root, batch.honest[1].post_state_root);
    let stored = e.client.batch(id).await.expect("batch");
    assert_eq!(stored.status, 3, "the lying batch is invalidated on L1");

    // What the proof cost, and what the STF did with the hostile transaction.
    let native_challenger::submitter::Stage::Landed { tx, block, gas_used } = intent.stage.clone()
    else {
        panic!("not landed: {:?}", intent.stage)
    };
    assert!(block <= stored.proposedAt + WINDOW, "convicted within the window");
    let sent = e.client.provider().get_transaction_by_hash(tx).await.expect("tx").expect("known");
    let bytes = sent.inner.inner().encoded_2718().len();
    let trace_len = intent.trace.len();
    let bound = TRACE_BUDGET as usize + MAX_CODE_SIZE + 4;
    assert!(trace_len <= bound, "trace {trace_len} over the bound {bound}");
    assert!(gas_used < TX_GAS_CAP && bytes < TX_SIZE_LIMIT, "{gas_used} gas, {bytes} bytes");
    let trace = Trace::decode(&intent.trace).expect("the landed trace decodes");
    let rules = e.proposer.rules().clone();
    // The lie is the block's own checkpoint: the proof is of the block's last segment, from
    // the state its last cut holds (the block's pre-state when it has none).
    let cuts = &batch.honest_cuts[1];
    assert_eq!(cuts, &batch.claimed_cuts[1], "the cuts are honest");
    let pre = cuts.last().map_or(batch.honest[0].post_state_root, |c| c.state_root);
    assert_eq!(usize::from(trace.segment.index), cuts.len(), "the block's last segment");
    let steps = verify_trace(&rules, pre, &trace).expect("trace verifies");
    let skipped = &steps[0].outcome.skipped;
    // The budget either refused a transaction in the proven segment or ended an earlier
    // segment (a hostile block's transactions take at most one segment's gas in all, so only
    // the budget can cut it).
    let cut = !cuts.is_empty()
        || skipped.iter().any(|(_, r)| matches!(r, TxRejection::WitnessBudget { .. }));
    if must_cut {
        assert!(cut, "the {class} sweep must be cut by the witness budget: {skipped:?}");
    }
    println!(
        "hostile {class}: batch {id} convicted {} L1 blocks after its proposal (window {WINDOW}); \
         challenge {gas_used} L1 gas ({} under 2^24), {bytes} transaction bytes ({} under 128 KiB), \
         trace {trace_len} bytes ({} under the bound), {} segments; the hostile transactions {}",
        block - stored.proposedAt,
        TX_GAS_CAP - gas_used,
        TX_SIZE_LIMIT - bytes,
        bound - trace_len,
        cuts.len() + 1,
        if cut { "cut by the witness budget" } else { "ran within the budget" },
    );
    daemon.shutdown().await;
    trace
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_cold_account_sweep_is_convicted() {
    convicted_despite(Hostile::Accounts, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_cold_slot_sweep_is_convicted() {
    convicted_despite(Hostile::Slots, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_large_code_sweep_is_convicted() {
    convicted_despite(Hostile::Codes, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_block_of_deletions_is_convicted() {
    convicted_despite(Hostile::Deletions, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_block_of_garbage_is_convicted() {
    convicted_despite(Hostile::Garbage, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_block_of_invalid_signatures_is_convicted() {
    convicted_despite(Hostile::Signatures, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_flood_at_proposes_caps_is_convicted() {
    convicted_despite(Hostile::Flood, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_block_of_floor_priced_calldata_is_convicted() {
    convicted_despite(Hostile::Calldata, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_behind_a_blockhash_256_blocks_deep_is_convicted() {
    let trace = convicted_after(Hostile::Blockhash, false, HISTORY).await;
    assert_eq!(trace.witness.headers.len(), 256, "the 256 ancestors BLOCKHASH asked for");
}

/// The base fee is the proposer's choice, any u64 (docs/protocol.md, "State transition
/// function"): the proposer asks `base_fee` wei per gas in every block and lies about block 1's
/// post-state root; the daemon convicts it within the window. Returns the lying block's honest
/// gas used.
async fn convicted_at_base_fee(base_fee: u64) -> u64 {
    let mut e = E2e::new(WINDOW, BLOCK_TIME).await;
    let config = e.config("challenger", None);
    let mut daemon = e.start_at_depth(&config, CHALLENGER).await;
    let mut plan = common::e2e::plan(e.params.max_l2_gas_limit);
    plan.config.base_fee = base_fee;
    let store = e.dir.path().join("fee-proposer");
    let genesis = GenesisSource::Dev { users: DEV_L2_USERS };
    e.proposer =
        open_proposer_over(&e.client, CHAIN_ID, &genesis, &store, &plan).await.expect("proposer");
    let (id, batch) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    assert!(batch.blocks.iter().all(|b| b.base_fee == base_fee && !b.transactions.is_empty()));
    let event = daemon
        .wait_for(WAIT, &format!("the conviction of the lie at base fee {base_fee}"), |ev| {
            landed(ev).is_some_and(|i| i.batch_id == id)
        })
        .await;
    let intent = landed(&event).expect("landed").clone();
    assert_eq!(intent.block_index, 1);
    assert_eq!(intent.post_state_root, batch.honest[1].post_state_root);
    let stored = e.client.batch(id).await.expect("batch");
    assert_eq!(stored.status, 3, "the lying batch is invalidated on L1");
    daemon.shutdown().await;
    batch.honest[1].gas_used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_at_the_highest_base_fee_is_convicted() {
    // No transaction offers u64::MAX wei per gas: the block skips them all and uses no gas.
    assert_eq!(convicted_at_base_fee(u64::MAX).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_at_a_zero_base_fee_is_convicted() {
    // Every transaction offers enough: the block runs them, for the 1-wei tip alone.
    assert!(convicted_at_base_fee(0).await > 0);
}
