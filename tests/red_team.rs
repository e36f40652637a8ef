//! The red team: a hostile proposer (and its helpers) tries to keep a lie alive by blocking,
//! hiding or outwaiting an honest challenge. Each test runs the real daemon on its own dev L1
//! (250 ms blocks) with the real contracts, mounts one attack (tests/common/attacker.rs), and
//! asserts on-chain facts: the lying batch is invalidated (status 3) within its window, by a
//! `ProposerConvicted` of the honest challenger proving the honest post-state root of the first
//! wrong block, and the attacker's own transactions did what the attack needed (and failed
//! where they must). Each prints the challenge's L1 gas and bytes (`--nocapture`).
//!
//! Attacks, and what stops them:
//! 0. A lie in the last block of the longest batch the contract accepts, to make the challenge
//!    carry the whole batch: a challenge locates its block by two headers and a Merkle path of
//!    ⌈log2 n⌉ words (the batch tree), whatever the batch's length.
//! 1. Front-running the commitment: the attacker copies the honest `commitChallenge(h)` from
//!    the challenger's RPC endpoint and gets the same `h` committed first, then copies the
//!    reveal. Commitments are keyed by (challenger, hash): the copy neither blocks the honest
//!    commitment nor lets the copier reveal (its copy of `challenge` reverts: no commitment is
//!    bound to its address).
//! 2. A lie proposed through an EIP-7702-delegated EOA whose calldata shows an honest
//!    `propose`: the watcher reads the batch from the contract's `BatchData` log, never from
//!    the transaction's calldata.
//! 3. A lie proposed through a contract (`DecoyProposer.forward`): the same log.
//! 4. A deep reorg that removes the proposal and the commitment, and a different lie
//!    re-proposed under the same batch id: intents are keyed by batch id AND checkpoints
//!    root, so the new lie gets its own intent and the old one stands down.
//! 5. A lying endpoint that drops the lie's logs from `eth_getLogs`: the watcher checks every
//!    id up to the contract's `batchCount()`, refuses the incomplete answer (not committed),
//!    distrusts the endpoint and reads the range again (from the next endpoint, or from the
//!    same once its answers are whole). An endpoint that rewrites the lie's `BatchData` to
//!    carry honest checkpoints is caught the same way: they do not give the event's
//!    `checkpointsRoot` and `lastBlockHash`.
//! 6. A gas-price spike that makes the challenge unprofitable: the intent waits (nothing is
//!    sent) and is re-evaluated every poll until the window closes; a watchtower challenges
//!    at any price.
//! 7. Stuffed blocks (gas, and the per-block EXECUTE budget) for fewer blocks than the
//!    window: the challenger's transactions wait in the pool and are re-broadcast and
//!    fee-bumped; the window absorbs the delay.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_consensus::Transaction as _;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{Filter, TransactionReceipt, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent};
use common::attacker::{
    Attacker, BURNER, GWEI, STUFF_GAS, budget_burning_call, front_runner, hide_batch_logs,
    launder_batch_data, reorg_dropping, stuff_blocks,
};
use common::e2e::{BLOCKS, CHAIN_ID, E2e, Running, dev_key, landed};
use common::red_team::{RawSender, assert_logs_carry, batch_logs, deploy_decoy, root_of};
use common::rpc_proxy::RpcProxy;
use native_challenger::config::Mode;
use native_challenger::daemon::Event;
use native_challenger::devnet::DevnetConfig;
use native_challenger::proposer::driver::{
    DEV_L2_USERS, latest_anchor, open_proposer_over, propose_next, sync_with_tip,
};
use native_challenger::proposer::{Fault, PlannedBatch};
use native_challenger::protocol::batch_tree::leaf_index;
use native_challenger::rollup::bindings::DecoyProposer;
use native_challenger::rollup::client::send_and_wait;
use native_challenger::rollup::{GenesisSource, NativeRollup};
use native_challenger::submitter::{Intent, Stage};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const BLOCK_TIME: Duration = Duration::from_millis(250);
const WAIT: Duration = Duration::from_secs(60);
/// The honest challenger's dev account.
const CHALLENGER: usize = 1;

fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The honest challenger's daemon, started once the rollup is at the watcher's depth.
async fn start(e: &E2e, config: &native_challenger::config::Config) -> Running {
    e.start_at_depth(config, CHALLENGER).await
}

fn challenger(e: &E2e) -> Address {
    dev_key(CHALLENGER, &e.node).address()
}

/// Waits for the challenge of batch `id` (the proposal with these checkpoints) to land.
async fn landed_for(daemon: &mut Running, id: u64, claimed: B256) -> Intent {
    let event = daemon
        .wait_for(WAIT, &format!("the conviction of batch {id}"), |ev| {
            landed(ev).is_some_and(|i| i.batch_id == id && i.checkpoints_root == claimed)
        })
        .await;
    landed(&event).expect("landed").clone()
}

fn is_stage(ev: &Event, id: u64, pick: impl Fn(&Stage) -> bool) -> bool {
    matches!(ev, Event::Intent(i) if i.batch_id == id && pick(&i.stage))
}

/// The lie of `batch` (batch `id`) was convicted within its window by the honest challenger,
/// proving the honest post-state root of its first wrong block: checked on L1 (status, the
/// `ProposerConvicted` log of the landed transaction) and in the intent. Prints the
/// challenge's L1 gas and bytes; returns the landed transaction's receipt.
async fn assert_convicted(
    e: &E2e,
    attack: &str,
    id: u64,
    batch: &PlannedBatch,
    intent: &Intent,
) -> TransactionReceipt {
    let index = batch.first_lie().expect("the batch lies");
    // The block's first wrong leaf: a cut, or the block's own checkpoint.
    let (honest_cuts, claimed_cuts) = (&batch.honest_cuts[index], &batch.claimed_cuts[index]);
    let segment = (0..claimed_cuts.len())
        .find(|&k| honest_cuts.get(k) != claimed_cuts.get(k))
        .unwrap_or(claimed_cuts.len());
    let honest_root = match honest_cuts.get(segment) {
        Some(cut) => cut.state_root,
        None => batch.honest[index].post_state_root,
    };
    let leaf = leaf_index(&batch.claimed_cuts, index, segment);
    assert_eq!(intent.batch_id, id);
    assert_eq!(intent.block_index as usize, index, "the first wrong block is proven");
    assert_eq!(intent.leaf_index as usize, leaf, "at its first wrong leaf");
    assert_eq!(intent.post_state_root, honest_root, "with its honest post-state root");
    assert_eq!(intent.checkpoints_root, root_of(e.proposer.store(), batch), "of this proposal");
    let Stage::Landed { tx, block, gas_used } = intent.stage.clone() else {
        panic!("not landed: {:?}", intent.stage)
    };
    let stored = e.client.batch(id).await.expect("batch");
    assert_eq!(stored.status, 3, "batch {id} is invalidated on L1");
    assert_eq!(stored.checkpointsRoot, intent.checkpoints_root, "the proposal convicted");
    let closes = stored.proposedAt + e.params.challenge_window;
    assert!(block <= closes, "landed at L1 block {block}, after the window closed at {closes}");
    let provider = e.client.provider();
    let receipt = provider.get_transaction_receipt(tx).await.expect("receipt").expect("mined");
    assert!(receipt.status(), "the landed challenge succeeded on L1");
    assert_eq!(receipt.gas_used, gas_used);
    let convicted = receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == e.client.address())
        .find_map(|log| NativeRollup::ProposerConvicted::decode_log_data(log.data()).ok())
        .expect("a ProposerConvicted log");
    assert_eq!(convicted.batchId, id);
    assert_eq!(convicted.leafIndex, U256::from(leaf));
    assert_eq!(convicted.challenger, challenger(e), "convicted by the honest challenger");
    assert_eq!(convicted.correctStateRoot, honest_root);
    let sent = provider.get_transaction_by_hash(tx).await.expect("tx").expect("known");
    let bytes = sent.inner.inner().encoded_2718().len();
    println!(
        "{attack}: batch {id} convicted at L1 block {block}, {} blocks after its proposal \
         (window {}): challenge {gas_used} L1 gas, {bytes} transaction bytes ({} calldata, \
         trace {} bytes)",
        block - stored.proposedAt,
        e.params.challenge_window,
        sent.input().len(),
        intent.trace.len(),
    );
    receipt
}

/// A lying batch built on the contract's tip by the proposer, not sent: the proposer's store
/// and timestamps advance as if it were (as `propose_next` leaves them).
async fn build_lie(e: &mut E2e, fault: Fault) -> PlannedBatch {
    sync_with_tip(&e.client, &mut e.proposer).await.expect("sync");
    let parent = e.client.tip().await.expect("tip");
    let anchor = latest_anchor(e.client.provider()).await.expect("anchor");
    e.proposer.build_batch(parent, anchor, BLOCKS, Some(fault)).expect("build")
}

/// (block, index in block) of a mined transaction.
fn position(receipt: &TransactionReceipt) -> (u64, u64) {
    (receipt.block_number.expect("mined"), receipt.transaction_index.expect("mined"))
}

// ------------------------------------------------------------------ 0. a long batch

/// A lie inside a full-size block (protocol v3, docs/protocol.md "Segments"): block 1 of the
/// batch uses its whole 30M gas (a 24 KiB deployment and gas burners), far more than one L1
/// transaction could re-execute, and the proposer claims a wrong state after its fourth
/// segment while the block's own checkpoint is right. The daemon finds the wrong cut, proves
/// that one segment from the cut before it, and convicts within the window; the challenge is
/// charged one segment's 7M gas, not the block's 30M.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_inside_a_full_block_is_convicted_by_one_segment() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    assert_eq!(e.params.max_l2_gas_limit, 30_000_000, "real-size blocks by default");
    let config = e.config("c", None);
    let mut daemon = start(&e, &config).await;
    let (id, batch) = e.propose(Some(Fault::WrongCut { block: 1 })).await;
    let cuts = &batch.honest_cuts[1];
    assert_eq!(cuts.len(), 4, "the full block runs as five segments");
    assert_eq!(batch.claimed[1], batch.honest[1], "the block's own checkpoint is right");
    assert_ne!(batch.claimed_cuts[1][3], cuts[3], "its last cut is the lie");
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    assert!(intent.proof.claimed.cut && intent.proof.prev.cut, "a cut proven from a cut");
    let trace = native_challenger::protocol::Trace::decode(&intent.trace).expect("trace");
    assert_eq!(trace.segment.index, 3, "the fourth segment");
    assert_eq!(trace.segment.start_tx, cuts[2].end_tx);
    assert_eq!(trace.segment.gas_before, cuts[2].gas_used);
    assert_eq!(trace.segment.end_tx, cuts[3].end_tx);
    let charge = native_challenger::protocol::execute_gas_cost(&intent.trace).expect("charge");
    let txs = batch.blocks[1].transactions.len() as u64;
    assert_eq!(charge, 100_000 + 7_000_000 + 5_000 * txs + 4 * intent.trace.len() as u64);
    let receipt = assert_convicted(&e, "inside a full block", id, &batch, &intent).await;
    assert!(receipt.gas_used < 1 << 24, "{} gas", receipt.gas_used);
}

/// A lie in the last block of a batch as long as the contract allows (64 blocks), where the
/// old challenge had to carry all 64 checkpoints back: the daemon locates the block by its
/// header, its parent's header and a 6-word path to the batch's `checkpointsRoot`, and the
/// challenge's calldata outside the trace is those 17 head words and the path alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_the_last_block_of_a_full_batch_is_convicted() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let config = e.config("c", None);
    let mut daemon = start(&e, &config).await;
    let full = usize::try_from(e.params.max_blocks_per_batch).expect("small");
    let mut plan = common::e2e::plan(e.params.max_l2_gas_limit);
    plan.workload.txs_per_block = 1; // 64 blocks in one proposal under the dev L1's size limit
    let store = e.dir.path().join("long-proposer");
    let genesis = GenesisSource::Dev { users: DEV_L2_USERS };
    e.proposer =
        open_proposer_over(&e.client, CHAIN_ID, &genesis, &store, &plan).await.expect("proposer");
    let fault = Fault::WrongPostRoot { block: full - 1 };
    let (id, batch, _) =
        propose_next(&e.client, &mut e.proposer, full, Some(fault)).await.expect("propose");
    assert_eq!(batch.blocks.len(), 64);
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    assert_eq!(intent.proof.path.len(), 6, "⌈log2 64⌉ siblings");
    assert_eq!(intent.proof.prev_path.len(), 6, "and as many for the leaf before it");
    let receipt = assert_convicted(&e, "last block of 64", id, &batch, &intent).await;
    let sent = e
        .client
        .provider()
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .expect("tx")
        .expect("known");
    let padded_trace = intent.trace.len().div_ceil(32) * 32;
    assert_eq!(
        sent.input().len(),
        4 + 24 * 32 + 2 * (32 + 6 * 32) + (32 + padded_trace),
        "selector, head (two 8-word leaves inline), two paths and the trace: no checkpoints"
    );
}

// ------------------------------------------------------------------ 1. front-running

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_run_commitment_does_not_block_the_challenge() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let rollup = e.client.address();
    let attacker = Attacker::new(&e.node, 2).await;
    attacker.deposit_challenger_bond(rollup, e.params.challenger_bond).await;
    // The challenger's endpoint shows the attacker every transaction before the node sees it.
    let proxy = RpcProxy::start(&e.node.http_url).await;
    let (hook, runs) = front_runner(attacker.clone(), rollup);
    proxy.set_hook("eth_sendRawTransaction", Some(hook));
    let config = e.config("c", Some(&proxy.url));
    let mut daemon = start(&e, &config).await;
    e.propose(None).await;
    let (id, batch) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    let reveal = assert_convicted(&e, "front-run", id, &batch, &intent).await;

    let runs = runs.lock().unwrap().clone();
    assert!(!runs.commits.is_empty(), "the attacker saw and copied the commitment");
    assert!(!runs.reveals.is_empty(), "and the reveal");
    let provider = e.client.provider();
    for (honest, copy) in &runs.commits {
        let h = NativeRollup::commitChallengeCall::abi_decode(&honest.input)
            .expect("commit")
            .commitment;
        let copied = attacker.receipt(*copy, WAIT).await;
        assert!(copied.status(), "the attacker's copy of commitChallenge({h}) was mined");
        let at = e.client.commitment_block(attacker.address(), h).await.expect("commitments");
        assert_ne!(at, 0, "commitments(attacker, h) was recorded");
        assert_eq!(at, copied.block_number.unwrap());
        // The honest commitment of the same hash, mined after the copy.
        let filter = Filter::new()
            .address(rollup)
            .event_signature(NativeRollup::ChallengeCommitted::SIGNATURE_HASH)
            .topic1(h)
            .topic2(challenger(&e).into_word())
            .from_block(0);
        let honest_log = provider.get_logs(&filter).await.expect("logs");
        let log = honest_log.first().expect("the honest commitment of the same hash was mined");
        let mined = (log.block_number.unwrap(), log.transaction_index.unwrap());
        assert!(
            position(&copied) < mined,
            "the copy {copy} went first: {:?} vs {mined:?}",
            position(&copied)
        );
        println!(
            "front-run: commitment {h}: the attacker's copy at (block, index) {:?}, the honest one at {mined:?}",
            position(&copied)
        );
    }
    for (_, copy) in &runs.reveals {
        let copied = attacker.receipt(*copy, WAIT).await;
        assert!(!copied.status(), "the attacker's copy of the reveal {copy} reverted");
        assert!(
            position(&copied) < position(&reveal),
            "the copied reveal ran before the honest one (so it failed for lack of a commitment \
             of its own, not because the batch had already fallen)"
        );
        println!(
            "front-run: the copied reveal reverted at {:?} ({} gas), the honest one landed at {:?}",
            position(&copied),
            copied.gas_used,
            position(&reveal)
        );
    }
    assert_eq!(e.client.credits(attacker.address()).await.unwrap(), U256::ZERO, "no reward");
}

// ------------------------------------------------------------------ 2-3. hidden proposers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_proposed_through_a_7702_delegated_account_is_convicted() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let rollup = e.client.address();
    let bond = e.params.proposer_bond;
    let config = e.config("c", None);
    let mut daemon = start(&e, &config).await;
    e.propose(None).await;
    let decoy = deploy_decoy(&e.node, 4).await;
    let eoa = RawSender::new(&e.node, 3).await;
    let batch = build_lie(&mut e, Fault::WrongPostRoot { block: 1 }).await;
    let lie = batch.call().expect("call");
    // The transaction's calldata: the same blocks with their HONEST checkpoints.
    let cover =
        PlannedBatch { claimed: batch.honest.clone(), ..batch.clone() }.call().expect("call");
    let stage = DecoyProposer::stageCall { target: rollup, data: lie.abi_encode().into() };
    eoa.delegate_and_call(decoy, stage.abi_encode().into(), U256::ZERO).await.expect("stage");
    let receipt =
        eoa.delegate_and_call(decoy, cover.abi_encode().into(), bond).await.expect("propose");
    let tx = e
        .client
        .provider()
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(tx.inner.is_eip7702());
    assert_eq!(NativeRollup::proposeCall::abi_decode(tx.input()).expect("a propose"), cover);
    let (data, proposed) = batch_logs(&receipt, rollup);
    assert_logs_carry(&data, &proposed, &lie, e.proposer.store());
    assert_eq!(proposed.proposer, eoa.address());
    let id = proposed.batchId;
    // The proposer's state advanced with the lie: its next batch extends it.
    let (top, _) = e.propose(None).await;
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    assert_convicted(&e, "7702 decoy", id, &batch, &intent).await;
    assert_eq!(e.status(top).await, 3, "the batch built on the lie fell with it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_proposed_through_a_contract_is_convicted() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let rollup = e.client.address();
    let bond = e.params.proposer_bond;
    let config = e.config("c", None);
    let mut daemon = start(&e, &config).await;
    e.propose(None).await;
    let decoy = deploy_decoy(&e.node, 4).await;
    let batch = build_lie(&mut e, Fault::WrongGasUsed { block: 0 }).await;
    let lie = batch.call().expect("call");
    let (provider, from) = common::rollup::provider(&e.node, 3);
    let forward = DecoyProposer::forwardCall { target: rollup, data: lie.abi_encode().into() };
    let request = TransactionRequest::default()
        .from(from)
        .to(decoy)
        .input(forward.abi_encode().into())
        .value(bond);
    let receipt = send_and_wait(&provider, request, WAIT).await.expect("forward");
    let (data, proposed) = batch_logs(&receipt, rollup);
    assert_logs_carry(&data, &proposed, &lie, e.proposer.store());
    assert_eq!(proposed.proposer, decoy, "a contract proposed");
    let id = proposed.batchId;
    let (top, _) = e.propose(None).await;
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    assert_convicted(&e, "contract proposer", id, &batch, &intent).await;
    assert_eq!(e.status(top).await, 3, "the batch built on the lie fell with it");
}

// ------------------------------------------------------------------ 4. reorg and re-proposal

/// Lie A is proposed as batch N and the daemon commits to its challenge; a reorg deeper than
/// the watcher's confirmations removes the proposal and the commitment, and lie B (another
/// fault, in another block) is proposed under the same id N. The daemon is taken to have
/// committed when its `ChallengeCommitted` is on L1: the intent events only come out when a
/// step has to wait, and with few confirmations one step can run from the commit to the reveal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_lie_reproposed_at_the_same_id_after_a_deep_reorg_is_convicted() {
    logs();
    let mut e = E2e::new(100, BLOCK_TIME).await;
    let mut config = e.config("c", None);
    let depth = 2;
    config.l1.as_mut().unwrap().confirmations = depth;
    // The commitment waits 6 blocks for its confirmations: time to reorg it away before the
    // reveal goes out.
    config.challenger.confirmations = 6;
    let mut daemon = start(&e, &config).await;
    e.propose(None).await;
    let (id, a) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    let a_hash = root_of(e.proposer.store(), &a);
    let provider = e.client.provider().clone();
    let proposed_at = e.client.batch(id).await.unwrap().proposedAt;
    let at_block =
        Filter::new().address(e.client.address()).from_block(proposed_at).to_block(proposed_at);
    let proposal = provider.get_logs(&at_block).await.unwrap()[0].transaction_hash.unwrap();
    // The daemon commits to the challenge of lie A.
    let commits = Filter::new()
        .address(e.client.address())
        .event_signature(NativeRollup::ChallengeCommitted::SIGNATURE_HASH)
        .topic2(challenger(&e).into_word())
        .from_block(proposed_at);
    let deadline = Instant::now() + WAIT;
    let commit = loop {
        if let Some(log) = provider.get_logs(&commits).await.unwrap().first() {
            break log.clone();
        }
        assert!(Instant::now() < deadline, "no commitment to lie A");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let reorged = reorg_dropping(
        &provider,
        proposed_at,
        &[proposal, commit.transaction_hash.unwrap()],
        proposal,
    )
    .await;
    assert!(reorged > depth, "the reorg ({reorged} blocks) is deeper than the watcher's {depth}");
    assert_eq!(e.client.read(&NativeRollup::batchCountCall {}).await.unwrap(), id - 1, "A is gone");
    println!(
        "reorg: {reorged} blocks replaced, from L1 block {proposed_at} (proposal and commitment dropped)"
    );

    let (again, b) = e.propose(Some(Fault::WrongGasUsed { block: 0 })).await;
    assert_eq!(again, id, "lie B takes the same batch id");
    let b_hash = root_of(e.proposer.store(), &b);
    assert_ne!(a_hash, b_hash);
    let intent = landed_for(&mut daemon, id, b_hash).await;
    let stood_down = |ev: &Event| matches!(ev, Event::Intent(i) if i.checkpoints_root == a_hash && matches!(i.stage, Stage::StoodDown { .. }));
    if !daemon.seen.iter().any(stood_down) {
        daemon.wait_for(WAIT, "lie A's intent standing down", stood_down).await;
    }
    let seen = daemon.shutdown().await;
    let a_stages: Vec<_> = seen
        .iter()
        .filter_map(|ev| match ev {
            Event::Intent(i) if i.checkpoints_root == a_hash => Some(i.stage.clone()),
            _ => None,
        })
        .collect();
    assert!(!a_stages.iter().any(|s| matches!(s, Stage::Landed { .. })), "{a_stages:?}");
    println!("reorg: lie A's intent: {:?}", a_stages.last());
    let open = NativeRollup::openCommitmentsCall::new((challenger(&e),));
    assert_eq!(e.client.read(&open).await.unwrap(), U256::ZERO, "no commitment left locked");
    assert_convicted(&e, "reorg + re-proposal", id, &b, &intent).await;
}

// ------------------------------------------------------------------ 5. lying endpoints

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_logs_from_a_lying_endpoint_do_not_hide_a_lie() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let liar = RpcProxy::start(&e.node.http_url).await;
    let honest = RpcProxy::start(&e.node.http_url).await;
    // Batch 2 is the lie: the liar never shows its logs.
    let (filter, truncated) = hide_batch_logs(2, None);
    liar.set_filter("eth_getLogs", Some(filter));
    let mut config = e.config("c", Some(&liar.url));
    config.l1.as_mut().unwrap().rpc.push(honest.url.clone());
    let mut daemon = start(&e, &config).await;
    e.propose(None).await;
    let (id, batch) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    assert_eq!(id, 2);
    e.propose(None).await;
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    let truncated = truncated.load(Ordering::SeqCst);
    assert!(truncated >= 1, "the liar served a truncated answer");
    assert_eq!(liar.rewritten("eth_getLogs"), truncated);
    assert!(honest.count("eth_getLogs") > 0, "the range was read again from the other endpoint");
    println!(
        "lying endpoint: {truncated} truncated answer(s); {} eth_getLogs on the liar, {} on the honest node",
        liar.count("eth_getLogs"),
        honest.count("eth_getLogs")
    );
    assert_convicted(&e, "truncated logs (two endpoints)", id, &batch, &intent).await;
}

/// An endpoint that rewrites the lie's `BatchData` log to carry the honest checkpoints (the
/// same blocks, so a watcher trusting the log replays them, finds every checkpoint its own and
/// lets the lie finalize). The contract's `checkpointsRoot` and `lastBlockHash` in
/// `BatchProposed` are of the checkpoints it received: the laundered ones do not give them, so
/// the answer is refused, the endpoint distrusted, and the lie read from the other endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn laundered_checkpoints_from_a_lying_endpoint_do_not_hide_a_lie() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let liar = RpcProxy::start(&e.node.http_url).await;
    let honest = RpcProxy::start(&e.node.http_url).await;
    let mut config = e.config("c", Some(&liar.url));
    config.l1.as_mut().unwrap().rpc.push(honest.url.clone());
    let mut daemon = start(&e, &config).await;
    e.propose(None).await;
    let batch = build_lie(&mut e, Fault::WrongPostRoot { block: 1 }).await;
    let lie = batch.call().expect("call");
    let clean =
        PlannedBatch { claimed: batch.honest.clone(), ..batch.clone() }.call().expect("call");
    let laundered = NativeRollup::BatchData {
        batchId: 2,
        blocks: lie.blocks,
        checkpoints: clean.checkpoints,
        cuts: clean.cuts,
    };
    let (filter, rewritten) = launder_batch_data(laundered);
    liar.set_filter("eth_getLogs", Some(filter));
    let (id, _) =
        e.proposer.propose(&e.client, &batch, e.params.proposer_bond).await.expect("propose");
    assert_eq!(id, 2);
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    let rewritten = rewritten.load(Ordering::SeqCst);
    assert!(rewritten >= 1, "the liar served the laundered log");
    assert!(honest.count("eth_getLogs") > 0, "the range was read again from the other endpoint");
    println!(
        "laundering endpoint: {rewritten} rewritten answer(s); {} eth_getLogs on the liar, {} on the honest node",
        liar.count("eth_getLogs"),
        honest.count("eth_getLogs")
    );
    assert_convicted(&e, "laundered checkpoints (two endpoints)", id, &batch, &intent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_logs_from_the_only_endpoint_delay_but_do_not_hide_a_lie() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let liar = RpcProxy::start(&e.node.http_url).await;
    const K: u64 = 3;
    let (filter, truncated) = hide_batch_logs(2, Some(K));
    liar.set_filter("eth_getLogs", Some(filter));
    let config = e.config("c", Some(&liar.url));
    let mut daemon = start(&e, &config).await;
    e.propose(None).await;
    let (id, batch) = e.propose(Some(Fault::WrongGasUsed { block: 1 })).await;
    assert_eq!(id, 2);
    e.propose(None).await;
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    assert_eq!(truncated.load(Ordering::SeqCst), K, "the first {K} answers hid the lie");
    println!("lying endpoint: the only endpoint truncated its first {K} answers holding the lie");
    assert_convicted(&e, "truncated logs (one endpoint)", id, &batch, &intent).await;
}

// ------------------------------------------------------------------ 6. gas spike

/// 100,000 gwei: a ~1.5M-gas challenge then costs ~150 ETH, against a 0.5 ETH reward.
const SPIKE: u128 = 100_000 * GWEI;

fn spike(proxy: &RpcProxy, on: bool) {
    let value = on.then(|| serde_json::json!(format!("{SPIKE:#x}")));
    proxy.set_result("eth_gasPrice", value);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gas_spike_makes_the_challenge_wait_not_give_up() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let proxy = RpcProxy::start(&e.node.http_url).await;
    spike(&proxy, true);
    let mut config = e.config("c", Some(&proxy.url));
    config.challenger.mode = Mode::Challenge;
    config.challenger.challenge_always = false;
    let mut daemon = start(&e, &config).await;
    let (id, batch) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    let event = daemon
        .wait_for(WAIT, "the challenge waiting", |ev| {
            is_stage(ev, id, |s| matches!(s, Stage::Waiting { .. }))
        })
        .await;
    let Event::Intent(Intent { stage: Stage::Waiting { reason }, .. }) = event else {
        unreachable!()
    };
    assert!(reason.contains("expected value"), "{reason}");
    let asked = proxy.count("eth_gasPrice");
    // Three seconds (12 blocks) of spike: re-evaluated at every poll, nothing sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    daemon.drain();
    let sent = daemon
        .seen
        .iter()
        .any(|ev| is_stage(ev, id, |s| !matches!(s, Stage::Planned | Stage::Waiting { .. })));
    assert!(!sent, "the challenge moved during the spike: {:#?}", daemon.seen);
    assert_eq!(e.nonce(challenger(&e)).await, 0, "the challenger sent nothing during the spike");
    assert_eq!(e.status(id).await, 1, "the lie is still pending");
    let evaluations = proxy.count("eth_gasPrice") - asked;
    assert!(evaluations >= 5, "re-evaluated every poll ({evaluations} price reads in 3 s)");
    println!("gas spike: waited 3 s ({evaluations} re-evaluations): {reason}");
    spike(&proxy, false);
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    assert_convicted(&e, "gas spike (challenge mode)", id, &batch, &intent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watchtower_challenges_through_a_gas_spike() {
    logs();
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let proxy = RpcProxy::start(&e.node.http_url).await;
    spike(&proxy, true);
    let mut config = e.config("c", Some(&proxy.url));
    config.challenger.mode = Mode::Watchtower;
    let mut daemon = start(&e, &config).await;
    let (id, batch) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    let seen = daemon.shutdown().await;
    let waited = seen.iter().any(|ev| is_stage(ev, id, |s| matches!(s, Stage::Waiting { .. })));
    assert!(!waited, "a watchtower does not wait for fees: {seen:#?}");
    assert_convicted(&e, "gas spike (watchtower)", id, &batch, &intent).await;
}

// ------------------------------------------------------------------ 7. stuffed blocks

/// Blocks of one mined transaction list, by hash.
async fn receipts(attacker: &Attacker, hashes: &[B256]) -> Vec<TransactionReceipt> {
    let mut out = Vec::new();
    for hash in hashes {
        out.push(attacker.receipt(*hash, WAIT).await);
    }
    out
}

/// The challenger's commit transaction for batch `id`'s challenge (its `ChallengeCommitted`).
async fn honest_commit(e: &E2e, from: u64) -> TransactionReceipt {
    let filter = Filter::new()
        .address(e.client.address())
        .event_signature(NativeRollup::ChallengeCommitted::SIGNATURE_HASH)
        .topic2(challenger(e).into_word())
        .from_block(from);
    let logs = e.client.provider().get_logs(&filter).await.expect("logs");
    let log = logs.last().expect("a commitment");
    let hash = log.transaction_hash.unwrap();
    e.client.provider().get_transaction_receipt(hash).await.unwrap().expect("mined")
}

/// The challenger's challenger-bond deposit mined from L1 block `from` on.
async fn honest_deposit(e: &E2e, from: u64) -> TransactionReceipt {
    let filter = Filter::new()
        .address(e.client.address())
        .event_signature(NativeRollup::ChallengerBondDeposited::SIGNATURE_HASH)
        .topic1(challenger(e).into_word())
        .from_block(from);
    let logs = e.client.provider().get_logs(&filter).await.expect("logs");
    let hash = logs.first().expect("a deposit").transaction_hash.unwrap();
    e.client.provider().get_transaction_receipt(hash).await.unwrap().expect("mined")
}

/// Fee bumps of +15% from the dev L1's suggested 1 gwei tip to `tip`.
fn bumps(tip: u128) -> u32 {
    let mut t = GWEI;
    let mut n = 0;
    while t < tip {
        t += (t * 15).div_ceil(100);
        n += 1;
    }
    n
}

async fn describe(e: &E2e, what: &str, receipt: &TransactionReceipt) {
    let provider = e.client.provider();
    let tx = provider.get_transaction_by_hash(receipt.transaction_hash).await.unwrap().unwrap();
    let tip = tx.max_priority_fee_per_gas().unwrap_or(0);
    println!(
        "  {what} at L1 block {}: max fee {:.2} gwei, tip {:.2} gwei ({} fee bump(s)), paid {:.2} gwei/gas",
        receipt.block_number.unwrap(),
        tx.max_fee_per_gas() as f64 / 1e9,
        tip as f64 / 1e9,
        bumps(tip),
        receipt.effective_gas_price as f64 / 1e9,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuffed_blocks_delay_but_do_not_stop_the_challenge() {
    logs();
    const STUFFED: u64 = 20;
    let mut e = E2e::new(80, BLOCK_TIME).await;
    let attacker = Attacker::new(&e.node, 2).await;
    let burner = attacker.deploy(BURNER).await;
    let config = e.config("c", None);
    let mut daemon = start(&e, &config).await;
    let (id, batch) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    // From the proposal on: 4 x 7.5M gas per 30M block at a 50 gwei tip, for STUFFED blocks.
    let hashes = stuff_blocks(&attacker, burner, STUFFED, 4, 500 * GWEI, 50 * GWEI).await;
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    let reveal = assert_convicted(&e, "stuffed blocks", id, &batch, &intent).await;

    let stuffing = receipts(&attacker, &hashes).await;
    let first = stuffing.iter().filter_map(|r| r.block_number).min().unwrap();
    let last = stuffing.iter().filter_map(|r| r.block_number).max().unwrap();
    let provider = e.client.provider();
    for number in first..=last {
        let block = provider.get_block_by_number(number.into()).await.unwrap().unwrap();
        assert_eq!(block.header.gas_used, 4 * STUFF_GAS, "L1 block {number} was full");
    }
    assert!(last - first + 1 >= STUFFED, "{STUFFED} blocks stuffed ({first}..={last})");
    let commit = honest_commit(&e, first).await;
    assert!(commit.block_number.unwrap() > last, "the commitment had to wait for the stuffing");
    let base = |n: u64| async move {
        let b = provider.get_block_by_number(n.into()).await.unwrap().unwrap();
        b.header.base_fee_per_gas.unwrap_or(0) as f64 / 1e9
    };
    println!(
        "stuffed blocks: L1 blocks {first}..={last} full (base fee {:.2} -> {:.2} gwei); the \
         challenge landed {} block(s) after the stuffing ended",
        base(first).await,
        base(last + 1).await,
        reveal.block_number.unwrap() - last,
    );
    let deposit = honest_deposit(&e, 0).await;
    assert!(deposit.block_number.unwrap() > last, "the bond deposit had to wait too");
    describe(&e, "bond deposit", &deposit).await;
    describe(&e, "commit", &commit).await;
    describe(&e, "reveal", &reveal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_execute_budget_delays_but_does_not_stop_the_challenge() {
    logs();
    const STUFFED: u64 = 20;
    // An EXECUTE budget of 16M gas per block, below the 30M block gas limit: it can be spent
    // while blocks still have room (as on an L1 whose blocks are larger than the budget).
    const BUDGET: u64 = 16_000_000;
    let devnet = DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        block_time: Some(BLOCK_TIME),
        execute_block_gas_limit: BUDGET,
        ..DevnetConfig::default()
    };
    let mut e = E2e::with_devnet(80, devnet).await;
    let attacker = Attacker::new(&e.node, 2).await;
    let execute = native_challenger::precompile::DEFAULT_EXECUTE_ADDRESS;
    // Charges 100,000 + 15,500,000 + 4 x trace bytes of the budget, proves nothing.
    let burn = budget_burning_call(CHAIN_ID, 15_500_000);
    let charge =
        native_challenger::protocol::ExecuteCall::abi_decode(&burn).unwrap().gas_cost().unwrap();
    assert!(charge > BUDGET - 1_000_000 && charge < BUDGET, "charge {charge}");
    let config = e.config("c", None);
    let mut daemon = start(&e, &config).await;
    let (id, batch) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    // One budget-burning call per block (two do not fit the block's gas) at a 50 gwei tip.
    let nonce = attacker.pending_nonce().await;
    let mut hashes = Vec::new();
    for n in nonce..nonce + STUFFED {
        let (hash, raw) = attacker.sign(
            n,
            TxKind::Call(execute),
            burn.clone(),
            U256::ZERO,
            16_000_000,
            500 * GWEI,
            50 * GWEI,
        );
        let _ = attacker.provider.send_raw_transaction(&raw).await.expect("accepted");
        hashes.push(hash);
    }
    let intent = landed_for(&mut daemon, id, root_of(e.proposer.store(), &batch)).await;
    daemon.shutdown().await;
    let reveal = assert_convicted(&e, "spent EXECUTE budget", id, &batch, &intent).await;

    let burns = receipts(&attacker, &hashes).await;
    let blocks: Vec<u64> = burns.iter().map(|r| r.block_number.unwrap()).collect();
    let (first, last) = (blocks[0], *blocks.last().unwrap());
    assert!(burns.iter().all(|r| !r.status()), "each burn reverted after charging");
    assert!(burns.iter().all(|r| r.gas_used > charge), "and paid its charge");
    assert!(
        blocks.windows(2).all(|w| w[1] == w[0] + 1),
        "one burn per block, consecutive: {blocks:?}"
    );
    let landed_at = reveal.block_number.unwrap();
    assert!(landed_at > last, "the reveal waited for the budget ({landed_at} vs {first}..={last})");
    let commit = honest_commit(&e, first).await;
    println!(
        "spent EXECUTE budget: L1 blocks {first}..={last} each spent {charge} of {BUDGET}; the \
         challenge landed {} block(s) after the last one (commitment at block {})",
        landed_at - last,
        commit.block_number.unwrap(),
    );
    describe(&e, "commit", &commit).await;
    describe(&e, "reveal", &reveal).await;
}
