//! The rollup contract on the dev L1, driven by the proposer: honest batches finalize, every
//! fault mode is convicted and pays, and bonds and rewards balance to the wei.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{B256, U256};
use alloy_sol_types::{SolCall, SolEvent};
use common::rollup::{RollupEnv, fee};
use native_challenger::proposer::{Fault, WorkloadSpec};
use native_challenger::protocol::CheckpointProof;
use native_challenger::rollup::{
    BatchStatus, ChallengeArgs, NativeRollup, NativeRollupErrors, RollupError,
};
use std::path::Path;
use std::process::Command;

fn status(batch: &native_challenger::rollup::NativeRollup::Batch) -> BatchStatus {
    BatchStatus::from_u8(batch.status).expect("known status")
}

#[test]
fn committed_artifacts_match_the_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    assert!(
        root.join("node_modules/solc").is_dir(),
        "contracts/node_modules is missing: run `npm install --prefix contracts` (as .ci/run does)"
    );
    let out = Command::new("node")
        .arg("build.mjs")
        .arg("--check")
        .current_dir(&root)
        .output()
        .expect("node runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("up to date"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_batches_finalize_in_order_and_bonds_return() {
    let mut env = RollupEnv::new(4).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, batch, proof) = env.propose(2, None).await;
        assert!(proof.is_none(), "an honest batch has nothing to prove");
        assert_eq!(batch.claimed, batch.honest);
        ids.push(id);
    }
    assert_eq!(ids, vec![1, 2, 3]);
    let c = &env.proposer_l1;
    assert_eq!(c.tip().await.unwrap(), 3);
    let stored = c.batch(3).await.unwrap();
    assert_eq!(stored.lastStateRoot, env.replica.root(), "the chain's tip root is the replica's");
    assert_eq!(status(&stored), BatchStatus::Pending);

    match c.finalize(1).await {
        Err(RollupError::Contract(NativeRollupErrors::ChallengeWindowOpen(_))) => {}
        other => panic!("finalizing inside the window: {other:?}"),
    }
    env.mine(5).await;
    match c.finalize(2).await {
        Err(RollupError::Contract(NativeRollupErrors::NotNextToFinalize(e))) => {
            assert_eq!(e.lastFinalized, 0)
        }
        other => panic!("finalizing out of order: {other:?}"),
    }
    for id in &ids {
        c.finalize(*id).await.expect("finalize");
        assert_eq!(status(&c.batch(*id).await.unwrap()), BatchStatus::Finalized);
    }
    assert_eq!(c.last_finalized().await.unwrap(), 3);
    let proposer = c.from();
    assert_eq!(c.credits(proposer).await.unwrap(), env.params.proposer_bond * U256::from(3));
    env.assert_balanced(&[proposer]).await;

    let before = env.balance(proposer).await;
    let receipt = c.withdraw().await.expect("withdraw");
    let after = env.balance(proposer).await;
    assert_eq!(after + fee(&receipt), before + env.params.proposer_bond * U256::from(3));
    assert_eq!(env.balance(c.address()).await, U256::ZERO, "nothing left behind");
    match c.withdraw().await {
        Err(RollupError::Contract(NativeRollupErrors::NothingToWithdraw(_))) => {}
        other => panic!("second withdrawal: {other:?}"),
    }
}

/// An honest batch, then one with `fault`; the challenger proves the lie and is paid.
async fn convicts(fault: Fault, blocks: usize) {
    let mut env = RollupEnv::new(10).await;
    let (honest_id, _, none) = env.propose(2, None).await;
    assert!(none.is_none());
    let (id, batch, proof) = env.propose(blocks, Some(fault)).await;
    let proof = proof.expect("the replica finds the lie");
    let lied = &batch.blocks[fault.block()];
    assert_eq!(proof.proof.claimed.number, lied.number, "first divergent block is the lie");
    assert_eq!(batch.first_lie(), Some(fault.block()));
    let challenger = env.challenger.clone();
    env.bond(&challenger).await;
    let start = env.balance(challenger.from()).await;

    let commit = challenger.commit(proof.commitment(challenger.from())).await.expect("commit");
    env.mine(1).await;
    let receipt = challenger.challenge(&proof).await.expect("the proof convicts");
    assert!(receipt.gas_used < 1 << 24, "a challenge fits one transaction: {}", receipt.gas_used);

    let c = &env.proposer_l1;
    assert_eq!(status(&c.batch(id).await.unwrap()), BatchStatus::Invalidated);
    assert_eq!(status(&c.batch(honest_id).await.unwrap()), BatchStatus::Pending);
    assert_eq!(c.tip().await.unwrap(), honest_id, "the chain goes back to the last good batch");
    let bond = env.params.proposer_bond;
    let reward = bond * U256::from(env.params.reward_bps) / U256::from(10_000);
    assert_eq!(c.credits(challenger.from()).await.unwrap(), reward);
    assert_eq!(c.total_burned().await.unwrap(), bond - reward);
    env.assert_balanced(&[c.from(), challenger.from()]).await;

    let withdraw = challenger.withdraw().await.expect("withdraw reward");
    let out =
        challenger.withdraw_challenger_bond(env.params.challenger_bond).await.expect("unbond");
    let end = env.balance(challenger.from()).await;
    let fees = fee(&commit) + fee(&receipt) + fee(&withdraw) + fee(&out);
    // start was measured after bonding: the bond comes back, the reward is the gain.
    assert_eq!(end + fees, start + reward + env.params.challenger_bond, "to the wei");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_post_root_is_convicted() {
    convicts(Fault::WrongPostRoot { block: 1 }, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_gas_used_is_convicted() {
    convicts(Fault::WrongGasUsed { block: 0 }, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_intermediate_checkpoint_with_a_correct_final_one_is_convicted() {
    convicts(Fault::WrongIntermediate { block: 0 }, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_transactions_claimed_as_voiding_the_block_are_convicted() {
    convicts(Fault::InvalidTx { block: 1 }, 2).await;
}

/// The batch tree: a lie in block 12, the last of a 13-block batch (levels of 13 and 7 nodes,
/// so its path holds two zero pads), is located by its header, its parent's header and a
/// 4-word path, and convicted; the challenge's calldata outside the trace is the same for a
/// lie in a one-block batch plus those 4 words, not 12 more checkpoints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_deep_in_a_long_batch_is_located_by_its_path() {
    let mut env =
        RollupEnv::with(10, WorkloadSpec { txs_per_block: 2, ..WorkloadSpec::default() }).await;
    let (short_id, _, short) = env.propose(1, Some(Fault::WrongGasUsed { block: 0 })).await;
    let short = short.expect("lie found");
    assert!(short.proof.path.is_empty(), "one block is its own root");
    let challenger = env.challenger.clone();
    env.bond(&challenger).await;
    env.commit_and_challenge(&challenger, &short).await.expect("convicts the short batch");
    env.proposer.rewind_to(0, env.genesis.timestamp).expect("rewind");
    env.replica.store.rollback_to(0).expect("replica rewinds");

    let (id, batch, proof) = env.propose(13, Some(Fault::WrongPostRoot { block: 12 })).await;
    let proof = proof.expect("lie found");
    assert_ne!(id, short_id);
    assert_eq!(proof.proof.claimed.number, batch.blocks[12].number);
    assert!(!proof.proof.claimed.cut, "the lie is block 12's own checkpoint");
    assert_eq!(proof.proof.path.len(), 4, "⌈log2 13⌉ levels");
    assert_eq!(&proof.proof.path[..2], &[B256::ZERO, B256::ZERO], "the odd levels' pads");
    assert_eq!(proof.proof.claimed.state_root, batch.claimed[12].post_state_root);
    assert_eq!(proof.proof.prev.state_root, batch.honest[11].post_state_root);
    let outside_trace = |args: &ChallengeArgs| args.call().abi_encode().len() - args.trace.len();
    let padding = |args: &ChallengeArgs| (32 - args.trace.len() % 32) % 32;
    assert_eq!(
        outside_trace(&proof) - padding(&proof),
        outside_trace(&short) - padding(&short) + 2 * 4 * 32,
        "the batch's length costs the challenge its two paths, nothing more"
    );
    // Block 11's position with block 12's header is not in the batch.
    let moved_proof = CheckpointProof { index: proof.proof.index - 1, ..proof.proof.clone() };
    let moved = ChallengeArgs { proof: moved_proof, salt: B256::repeat_byte(3), ..proof.clone() };
    env.bond(&challenger).await;
    match env.commit_and_challenge(&challenger, &moved).await {
        Err(RollupError::Contract(NativeRollupErrors::CheckpointNotInBatch(_))) => {}
        other => panic!("a moved proof must be refused: {other:?}"),
    }
    env.bond(&challenger).await;
    env.commit_and_challenge(&challenger, &proof).await.expect("convicts block 12");
    let c = &env.proposer_l1;
    assert_eq!(status(&c.batch(id).await.unwrap()), BatchStatus::Invalidated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_lie_takes_the_honest_batches_on_top_with_it() {
    let mut env = RollupEnv::new(10).await;
    let (lie_id, _, proof) = env.propose(2, Some(Fault::WrongPostRoot { block: 0 })).await;
    let proof = proof.expect("lie found");
    let mut on_top = Vec::new();
    for _ in 0..2 {
        let (id, _, later) = env.propose(2, None).await;
        assert!(later.is_none(), "the batches on top are honest transitions");
        on_top.push(id);
    }
    let challenger = env.challenger.clone();
    env.bond(&challenger).await;
    env.commit_and_challenge(&challenger, &proof).await.expect("convicts");
    let c = env.proposer_l1.clone();
    for id in std::iter::once(lie_id).chain(on_top.iter().copied()) {
        assert_eq!(status(&c.batch(id).await.unwrap()), BatchStatus::Invalidated, "batch {id}");
    }
    assert_eq!(c.tip().await.unwrap(), 0);
    // The batches on top were not proven wrong: their bonds go back to their proposer.
    assert_eq!(c.credits(c.from()).await.unwrap(), env.params.proposer_bond * U256::from(2));
    env.assert_balanced(&[c.from(), challenger.from()]).await;

    // The proposer rewinds to genesis and carries on honestly from the new tip.
    env.proposer.rewind_to(0, env.genesis.timestamp).expect("rewind");
    env.replica.store.rollback_to(0).expect("replica rewinds");
    let (id, _, none) = env.propose(2, None).await;
    assert!(none.is_none());
    assert_eq!(c.batch(id).await.unwrap().parent, 0);
    env.mine(11).await;
    c.finalize(id).await.expect("the honest replacement finalizes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_over_the_gas_limit_cap_is_refused_at_proposal() {
    let mut env = RollupEnv::new(10).await;
    let anchor = env.anchor().await;
    let batch = env
        .proposer
        .build_batch(0, anchor, 2, Some(Fault::OversizedBlock { block: 1 }))
        .expect("build");
    match env.proposer.propose(&env.proposer_l1, &batch, env.params.proposer_bond).await {
        Err(native_challenger::proposer::ProposerError::Rollup(RollupError::Contract(
            NativeRollupErrors::GasLimitOutOfRange(e),
        ))) => {
            assert_eq!(e.index, U256::from(1));
            assert_eq!(e.max, env.params.max_l2_gas_limit);
        }
        other => panic!("oversized block: {other:?}"),
    }
    assert_eq!(env.proposer_l1.tip().await.unwrap(), 0);
}

/// The L1 gas of proposing and of challenging, measured on the dev L1 (docs/protocol.md
/// quotes these figures). Checks what the figures must satisfy, not how fast anything ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l1_gas_of_proposals_and_challenges() {
    let mut env = RollupEnv::new(10).await;
    let challenger = env.challenger.clone();
    env.bond(&challenger).await;
    for blocks in [1usize, 8] {
        let parent = env.proposer_l1.tip().await.unwrap();
        let anchor = env.anchor().await;
        let batch = env
            .proposer
            .build_batch(parent, anchor, blocks, Some(Fault::WrongPostRoot { block: blocks - 1 }))
            .unwrap();
        let call = batch.call().unwrap();
        let input = alloy_sol_types::SolCall::abi_encode(&call);
        let calldata = input.len();
        // EIP-7623: a transaction pays at least 21,000 + 10 gas per calldata token (a zero byte
        // is one token, a non-zero byte four).
        let tokens: u64 = input.iter().map(|b| if *b == 0 { 1 } else { 4 }).sum();
        let floor = 21_000 + 10 * tokens;
        let txs: usize = batch.blocks.iter().map(|b| b.transactions.len()).sum();
        let (id, receipt) =
            env.proposer.propose(&env.proposer_l1, &batch, env.params.proposer_bond).await.unwrap();
        let log = receipt
            .inner
            .logs()
            .iter()
            .find(|log| log.topic0() == Some(&NativeRollup::BatchData::SIGNATURE_HASH))
            .expect("BatchData log");
        let log_bytes = log.data().data.len();
        let proof = env.replica.follow(&batch, id).expect("lie found");
        let commit = challenger.commit(proof.commitment(challenger.from())).await.unwrap();
        env.mine(1).await;
        let reveal = challenger.challenge(&proof).await.unwrap();
        let charge = native_challenger::protocol::execute_gas_cost(&proof.trace).unwrap();
        println!(
            "propose {blocks} blocks ({txs} L2 txs, {calldata} calldata bytes, BatchData log of \
             {log_bytes} bytes, EIP-7623 floor {floor}): {} gas; commit: {} gas; \
             challenge of block {} (trace {} bytes, EXECUTE charge {charge}): {} gas",
            receipt.gas_used,
            commit.gas_used,
            proof.proof.index,
            proof.trace.len(),
            reveal.gas_used
        );
        assert!(reveal.gas_used > charge + 21_000, "the challenge pays the EXECUTE charge");
        assert!(reveal.gas_used < 1 << 24);
        assert!(
            receipt.gas_used > 21_000 + 16 * 120 * blocks as u64 / 4,
            "propose pays its calldata"
        );
        assert!(receipt.gas_used >= floor, "no transaction pays less than the floor");
        assert!(
            receipt.gas_used > 21_000 + 8 * log_bytes as u64,
            "propose pays its log (8 gas per byte of log data)"
        );
        // The call's arrays, ABI-encoded the same way: the selector and the two leading words
        // (parent, anchorBlock) are not in the log.
        assert_eq!(log_bytes, calldata - 4 - 64, "the log carries the blocks and checkpoints");
        // Continue from the convicted batch's parent.
        let tip = env.proposer_l1.tip().await.unwrap();
        let last = env.proposer_l1.batch(tip).await.unwrap();
        let number = last.firstBlock + last.blockCount - 1;
        env.proposer.rewind_to(number, last.lastTimestamp).unwrap();
        env.replica.store.rollback_to(number).unwrap();
    }
}
