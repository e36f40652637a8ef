//! Attacks on the rollup contract, on the dev L1: challenges that must fail (honest batch,
//! bad witness, copied reveal, after the window, twice, re-entering), commitment squatting,
//! batches that must be refused, proposals whose calldata hides the batch (a contract, an
//! EIP-7702-delegated EOA: the `BatchData` log still carries it), and the attacks of L2BEAT's
//! native-rollups tests that apply here (stale timestamp, root race, self-targeting).
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_consensus::Transaction as _;
use alloy_network::TransactionBuilder;
use alloy_primitives::{B256, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall;
use common::red_team::{
    RawSender, WAIT, assert_logs_carry, batch_logs, deploy_decoy, other_blocks,
};
use common::rollup::{RollupEnv, fee, provider};
use native_challenger::proposer::{Fault, L1Anchor, PlannedBatch, ProposerError};
use native_challenger::protocol::{
    BlockInputs, CheckpointProof, MAX_BLOCK_INPUT_BYTES, MAX_TXS_PER_BLOCK, Trace,
};
use native_challenger::rollup::bindings::{DecoyProposer, ReentrantChallenger};
use native_challenger::rollup::client::send_and_wait;
use native_challenger::rollup::{
    BatchStatus, ChallengeArgs, NativeRollup, NativeRollupErrors, RollupError, from_sol,
};

fn status(batch: &NativeRollup::Batch) -> BatchStatus {
    BatchStatus::from_u8(batch.status).expect("known status")
}

fn refused(result: Result<impl std::fmt::Debug, RollupError>) -> NativeRollupErrors {
    match result {
        Err(RollupError::Contract(e)) => e,
        other => panic!("expected a contract error, got {other:?}"),
    }
}

fn refused_proposal<T: std::fmt::Debug>(result: Result<T, ProposerError>) -> NativeRollupErrors {
    match result {
        Err(ProposerError::Rollup(RollupError::Contract(e))) => e,
        other => panic!("expected a contract error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_of_an_honest_batch_fails() {
    let mut env = RollupEnv::new(10).await;
    let (id, batch, none) = env.propose(2, None).await;
    assert!(none.is_none());
    // Forge a "proof" from a lying copy of the same blocks: same trace, a different claim.
    let mut lying = batch.clone();
    (lying.claimed, lying.claimed_cuts) =
        Fault::WrongPostRoot { block: 1 }.claim(&batch.honest, &batch.honest_cuts, B256::ZERO);
    let mut twin = env.replica_from_genesis();
    let proof = twin.follow(&lying, id).expect("differs from the lying copy");
    let challenger = env.challenger.clone();
    // A failed reveal leaves its commitment open, locking one bond each: bond for all.
    challenger
        .deposit_challenger_bond(env.params.challenger_bond * U256::from(5))
        .await
        .expect("bond");
    // The lying copy's block 1 is not in the real batch: its path leads elsewhere.
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &proof).await),
        NativeRollupErrors::CheckpointNotInBatch(_)
    ));
    // Located in the real batch, the "proof" restates the proposer's own claim.
    let echo = ChallengeArgs {
        proof: CheckpointProof::new(
            &twin.header(0),
            &batch.claimed,
            &batch.claimed_cuts,
            proof.proof.index,
        )
        .expect("block 1's leaf"),
        salt: B256::repeat_byte(2),
        ..proof.clone()
    };
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &echo).await),
        NativeRollupErrors::ClaimNotDisputed(_)
    ));
    // A different root for an honest block: EXECUTE answers "no", nothing is convicted.
    let wrong =
        ChallengeArgs { post_state_root: B256::repeat_byte(7), salt: B256::repeat_byte(1), ..echo };
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &wrong).await),
        NativeRollupErrors::TransitionNotProven(_)
    ));
    assert_eq!(status(&env.proposer_l1.batch(id).await.unwrap()), BatchStatus::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_witness_fails_and_leaves_the_batch_intact() {
    let mut env = RollupEnv::new(40).await;
    let (id, _, proof) = env.propose(2, Some(Fault::WrongPostRoot { block: 0 })).await;
    let proof = proof.expect("lie found");
    let challenger = env.challenger.clone();
    // A failed reveal leaves its commitment open, locking one bond each: bond for all.
    challenger
        .deposit_challenger_bond(env.params.challenger_bond * U256::from(9))
        .await
        .expect("bond");
    let trace = Trace::decode(&proof.trace).expect("trace");
    let tampered = |edit: &dyn Fn(&mut Trace), salt: u8| {
        let mut t = trace.clone();
        edit(&mut t);
        ChallengeArgs {
            trace: t.encode().expect("encode").into(),
            salt: B256::repeat_byte(salt),
            ..proof.clone()
        }
    };
    let dropped = tampered(
        &|t| {
            t.witness.nodes.pop();
        },
        1,
    );
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &dropped).await),
        NativeRollupErrors::TransitionNotProven(_)
    ));
    let foreign = tampered(&|t| t.blocks[0].timestamp += 1, 2);
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &foreign).await),
        NativeRollupErrors::TraceInputsMismatch(_)
    ));
    let other_chain = tampered(&|t| t.chain_id += 1, 3);
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &other_chain).await),
        NativeRollupErrors::TraceWrongChain(_)
    ));
    let mut raw = proof.trace.to_vec();
    raw[9] ^= 1; // the trace's parent hash: another L2 block than the proven one's parent
    let other_parent =
        ChallengeArgs { trace: raw.into(), salt: B256::repeat_byte(4), ..proof.clone() };
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &other_parent).await),
        NativeRollupErrors::TraceWrongParent(_)
    ));
    // The trace must run the segment the leaf before the claim ends at.
    let other_segment = tampered(&|t| t.segment.start_tx += 1, 8);
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &other_segment).await),
        NativeRollupErrors::TraceWrongSegment(_)
    ));
    // The pre-state comes from the parent header, which must be the one the block names.
    let mut other_pre = ChallengeArgs { salt: B256::repeat_byte(5), ..proof.clone() };
    other_pre.proof.prev.state_root = B256::repeat_byte(0xee);
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &other_pre).await),
        NativeRollupErrors::WrongParentHeader(_)
    ));
    // A path one level too long, or pointing at another index, is not in the batch.
    let mut longer = ChallengeArgs { salt: B256::repeat_byte(6), ..proof.clone() };
    longer.proof.path.push(B256::ZERO);
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &longer).await),
        NativeRollupErrors::CheckpointNotInBatch(_)
    ));
    let mut moved = ChallengeArgs { salt: B256::repeat_byte(7), ..proof.clone() };
    moved.proof.index += 1;
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &moved).await),
        NativeRollupErrors::CheckpointNotInBatch(_)
    ));
    let c = &env.proposer_l1;
    assert_eq!(
        status(&c.batch(id).await.unwrap()),
        BatchStatus::Pending,
        "failed challenges change nothing"
    );
    assert_eq!(c.total_burned().await.unwrap(), U256::ZERO);
    env.commit_and_challenge(&challenger, &proof).await.expect("the sound proof still convicts");
    assert_eq!(status(&c.batch(id).await.unwrap()), BatchStatus::Invalidated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_challenge_from_another_address_fails() {
    let mut env = RollupEnv::new(10).await;
    let (id, _, proof) = env.propose(1, Some(Fault::WrongGasUsed { block: 0 })).await;
    let proof = proof.expect("lie found");
    let (challenger, copier) = (env.challenger.clone(), env.copier.clone());
    env.bond(&challenger).await;
    env.bond(&copier).await;
    challenger.commit(proof.commitment(challenger.from())).await.expect("commit");
    env.mine(1).await;
    // The copier replays the reveal it saw: no commitment of its own matches.
    assert!(matches!(
        refused(copier.challenge(&proof).await),
        NativeRollupErrors::UnknownCommitment(_)
    ));
    // Nor can it reuse the challenger's commitment, nor commit without a bond.
    let unbonded = env.client(4);
    assert!(matches!(
        refused(unbonded.commit(proof.commitment(unbonded.from())).await),
        NativeRollupErrors::InsufficientChallengerBond(_)
    ));
    challenger.challenge(&proof).await.expect("the committer's reveal convicts");
    let reward = env.proposer_l1.credits(challenger.from()).await.unwrap();
    assert!(reward > U256::ZERO);
    assert_eq!(env.proposer_l1.credits(copier.from()).await.unwrap(), U256::ZERO);
    assert_eq!(status(&env.proposer_l1.batch(id).await.unwrap()), BatchStatus::Invalidated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_after_the_window_fails() {
    let mut env = RollupEnv::new(3).await;
    let (id, _, proof) = env.propose(1, Some(Fault::WrongPostRoot { block: 0 })).await;
    let proof = proof.expect("lie found");
    let challenger = env.challenger.clone();
    env.bond(&challenger).await;
    challenger.commit(proof.commitment(challenger.from())).await.expect("commit");
    env.mine(3).await;
    assert!(matches!(
        refused(challenger.challenge(&proof).await),
        NativeRollupErrors::ChallengeWindowClosed(_)
    ));
    // Too late: the lie finalizes. This is why the challenger must act inside the window.
    env.proposer_l1.finalize(id).await.expect("finalize");
    assert_eq!(status(&env.proposer_l1.batch(id).await.unwrap()), BatchStatus::Finalized);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_convicted_at_most_once_and_payouts_cannot_be_reentered() {
    let mut env = RollupEnv::new(10).await;
    let (id, _, proof) = env.propose(1, Some(Fault::WrongPostRoot { block: 0 })).await;
    let proof = proof.expect("lie found");
    let rollup = env.proposer_l1.address();

    // The challenger is a contract that re-enters `withdraw` when paid.
    let (p4, a4) = provider(&env.node, 4);
    let deploy = TransactionRequest::default()
        .with_from(a4)
        .with_deploy_code(ReentrantChallenger::BYTECODE.clone());
    let attacker = send_and_wait(&p4, deploy, std::time::Duration::from_secs(30))
        .await
        .expect("deploy")
        .contract_address
        .expect("address");
    let exec = |data: Vec<u8>, value: U256| {
        let call = ReentrantChallenger::execCall { to: rollup, data: data.into() };
        TransactionRequest::default()
            .with_from(a4)
            .with_to(attacker)
            .with_input(call.abi_encode())
            .with_value(value)
    };
    let wait = std::time::Duration::from_secs(30);
    let bond = env.params.challenger_bond;
    send_and_wait(&p4, exec(NativeRollup::depositChallengerBondCall {}.abi_encode(), bond), wait)
        .await
        .expect("bond");
    let commit = NativeRollup::commitChallengeCall { commitment: proof.commitment(attacker) };
    send_and_wait(&p4, exec(commit.abi_encode(), U256::ZERO), wait).await.expect("commit");
    env.mine(1).await;
    let reveal = proof.call();
    send_and_wait(&p4, exec(reveal.abi_encode(), U256::ZERO), wait).await.expect("convicts");
    assert_eq!(status(&env.proposer_l1.batch(id).await.unwrap()), BatchStatus::Invalidated);

    // A second, independent conviction of the same batch is refused.
    let challenger = env.challenger.clone();
    env.bond(&challenger).await;
    assert!(matches!(
        refused(env.commit_and_challenge(&challenger, &proof).await),
        NativeRollupErrors::BatchNotPending(_)
    ));

    // Withdraw with the reentry armed: paid once, the reentry fails.
    let reward = env.proposer_l1.credits(attacker).await.unwrap();
    let arm = ReentrantChallenger::armCall {
        to: rollup,
        data: NativeRollup::withdrawCall {}.abi_encode().into(),
    };
    let tx =
        TransactionRequest::default().with_from(a4).with_to(attacker).with_input(arm.abi_encode());
    send_and_wait(&p4, tx, wait).await.expect("arm");
    send_and_wait(&p4, exec(NativeRollup::withdrawCall {}.abi_encode(), U256::ZERO), wait)
        .await
        .expect("withdraw");
    let read = |call: Vec<u8>| {
        let p4 = p4.clone();
        async move {
            let out = p4
                .call(TransactionRequest::default().with_to(attacker).with_input(call))
                .await
                .expect("call");
            U256::from_be_slice(&out)
        }
    };
    assert_eq!(read(ReentrantChallenger::reentryAttemptsCall {}.abi_encode()).await, U256::from(1));
    assert_eq!(read(ReentrantChallenger::reentrySucceededCall {}.abi_encode()).await, U256::ZERO);
    assert_eq!(env.balance(attacker).await, reward, "paid exactly once");
    assert_eq!(env.proposer_l1.credits(attacker).await.unwrap(), U256::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_out_of_rule_batches_are_refused() {
    let mut env = RollupEnv::new(10).await;
    let anchor = env.anchor().await;
    let batch = env.proposer.build_batch(0, anchor, 2, None).expect("build");
    let c = env.proposer_l1.clone();
    let bond = env.params.proposer_bond;
    let good = batch.call().expect("call");

    let mut truncated = good.clone();
    truncated.blocks[1] =
        Bytes::copy_from_slice(&truncated.blocks[1][..truncated.blocks[1].len() - 1]);
    assert!(matches!(
        refused(c.propose(&truncated, bond).await),
        NativeRollupErrors::MalformedBlockInputs(_)
    ));
    let mut swapped = good.clone();
    swapped.blocks.swap(0, 1);
    swapped.checkpoints.swap(0, 1);
    assert!(matches!(
        refused(c.propose(&swapped, bond).await),
        NativeRollupErrors::WrongBlockNumber(_)
    ));
    let mut uncommitted = good.clone();
    uncommitted.checkpoints[0].inputCommitment = B256::repeat_byte(1);
    assert!(matches!(
        refused(c.propose(&uncommitted, bond).await),
        NativeRollupErrors::InputCommitmentMismatch(_)
    ));
    let mut over = good.clone();
    over.checkpoints[1].gasUsed = U256::from(u64::MAX);
    assert!(matches!(
        refused(c.propose(&over, bond).await),
        NativeRollupErrors::GasUsedAboveLimit(_)
    ));
    assert!(matches!(
        refused(c.propose(&good, bond - U256::from(1)).await),
        NativeRollupErrors::WrongBond(_)
    ));
    let orphan = NativeRollup::proposeCall { parent: 5, ..good.clone() };
    assert!(matches!(refused(c.propose(&orphan, bond).await), NativeRollupErrors::ParentNotTip(_)));
    let future_anchor =
        NativeRollup::proposeCall { anchorBlock: anchor.number + 100, ..good.clone() };
    assert!(matches!(
        refused(c.propose(&future_anchor, bond).await),
        NativeRollupErrors::StaleAnchor(_)
    ));
    let empty = NativeRollup::proposeCall { blocks: vec![], checkpoints: vec![], ..good.clone() };
    assert!(matches!(refused(c.propose(&empty, bond).await), NativeRollupErrors::BadBatchSize(_)));

    // Protocol v2's caps: a block's trace must stay under the proof-size bound even if none
    // of its transactions runs, and EXECUTE's per-transaction charge must fit one L1 tx.
    let with_txs = |transactions: Vec<Bytes>| {
        let mut inputs = BlockInputs::decode(&good.blocks[1]).expect("inputs");
        inputs.transactions = transactions;
        let mut call = good.clone();
        call.blocks[1] = inputs.encode().expect("encode").into();
        call
    };
    let bloated = with_txs(vec![Bytes::from(vec![0x01; MAX_BLOCK_INPUT_BYTES])]);
    match refused(c.propose(&bloated, bond).await) {
        NativeRollupErrors::BlockInputsTooLarge(e) => {
            assert_eq!(e.index, U256::from(1));
            assert_eq!(e.max, U256::from(MAX_BLOCK_INPUT_BYTES));
        }
        other => panic!("bloated block: {other:?}"),
    }
    let crowded = with_txs(vec![Bytes::new(); MAX_TXS_PER_BLOCK as usize + 1]);
    match refused(c.propose(&crowded, bond).await) {
        NativeRollupErrors::TooManyTransactions(e) => {
            assert_eq!(e.count, U256::from(MAX_TXS_PER_BLOCK + 1));
        }
        other => panic!("crowded block: {other:?}"),
    }

    let (id, _) = c.propose(&good, bond).await.expect("the well-formed batch is accepted");
    assert_eq!(id, 1);
}

/// Any caller may propose, a contract too: the batch is read from the `BatchData` log, not from
/// the transaction's calldata (here `forward`'s), and the bond goes back to the contract.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_may_propose_and_the_log_carries_its_batch() {
    let mut env = RollupEnv::new(2).await;
    let rollup = env.proposer_l1.address();
    let bond = env.params.proposer_bond;
    let decoy = deploy_decoy(&env.node, 4).await;
    let anchor = env.anchor().await;
    let batch = env.proposer.build_batch(0, anchor, 2, None).expect("build");
    let real = batch.call().expect("call");
    let (p4, a4) = provider(&env.node, 4);
    let forward = |data: Vec<u8>, value: U256| {
        let call = DecoyProposer::forwardCall { target: rollup, data: data.into() };
        TransactionRequest::default()
            .with_from(a4)
            .with_to(decoy)
            .with_input(call.abi_encode())
            .with_value(value)
    };
    let receipt = send_and_wait(&p4, forward(real.abi_encode(), bond), WAIT)
        .await
        .expect("a contract may propose");
    let (data, proposed) = batch_logs(&receipt, rollup);
    assert_logs_carry(&data, &proposed, &real, env.proposer.store());
    assert_eq!(proposed.proposer, decoy);
    let stored = env.proposer_l1.batch(proposed.batchId).await.unwrap();
    assert_eq!((stored.proposer, stored.checkpointsRoot), (decoy, proposed.checkpointsRoot));
    assert!(env.replica.follow(&logged(&batch, &data), proposed.batchId).is_none());
    env.assert_balanced(&[a4, decoy]).await;

    // After the window the bond is credited to the contract, which withdraws it.
    env.mine(3).await;
    env.proposer_l1.finalize(proposed.batchId).await.expect("finalize");
    assert_eq!(env.proposer_l1.credits(decoy).await.unwrap(), bond);
    env.assert_balanced(&[a4, decoy]).await;
    send_and_wait(&p4, forward(NativeRollup::withdrawCall {}.abi_encode(), U256::ZERO), WAIT)
        .await
        .expect("withdraw");
    assert_eq!(env.balance(decoy).await, bond);
    env.assert_balanced(&[a4, decoy]).await;
    assert_eq!(env.balance(rollup).await, U256::ZERO);
}

/// EIP-7702: an EOA delegated to `DecoyProposer` sends itself a well-formed `propose` of other
/// blocks, and its code makes the staged, real `propose` instead. At the rollup `msg.sender ==
/// tx.origin` (the EOA check this replaced would have passed) and the transaction's calldata
/// shows the decoy batch; the `BatchData` log shows the real one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_7702_delegated_proposer_cannot_hide_its_batch_behind_decoy_calldata() {
    let mut env = RollupEnv::new(10).await;
    let rollup = env.proposer_l1.address();
    let bond = env.params.proposer_bond;
    let decoy = deploy_decoy(&env.node, 4).await;
    let eoa = RawSender::new(&env.node, 5).await;
    let anchor = env.anchor().await;
    let batch = env.proposer.build_batch(0, anchor, 2, None).expect("build");
    let real = batch.call().expect("call");
    let fake = other_blocks(&real);
    assert_ne!(fake.blocks, real.blocks);
    // The decoy calldata is a batch the rollup would accept on its own.
    let alone = TransactionRequest::default()
        .with_from(eoa.address())
        .with_to(rollup)
        .with_input(fake.abi_encode())
        .with_value(bond);
    eoa.provider.call(alone).await.expect("the decoy calldata is a well-formed proposal");

    let stage = DecoyProposer::stageCall { target: rollup, data: real.abi_encode().into() };
    eoa.delegate_and_call(decoy, stage.abi_encode().into(), U256::ZERO).await.expect("stage");
    let receipt = eoa
        .delegate_and_call(decoy, fake.abi_encode().into(), bond)
        .await
        .expect("a delegated EOA may propose");

    // What a reader of the transaction sees: type 4, to the EOA itself, proposing the decoy.
    let tx = eoa
        .provider
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .expect("transaction")
        .expect("mined");
    assert!(tx.inner.is_eip7702());
    assert_eq!(tx.to(), Some(eoa.address()));
    assert_eq!(NativeRollup::proposeCall::abi_decode(tx.input()).expect("a propose"), fake);

    // What the rollup received, and logged: the real batch.
    let (data, proposed) = batch_logs(&receipt, rollup);
    assert_logs_carry(&data, &proposed, &real, env.proposer.store());
    assert_ne!(data.blocks, fake.blocks);
    assert_eq!(proposed.proposer, eoa.address());
    let stored = env.proposer_l1.batch(proposed.batchId).await.unwrap();
    assert_eq!(stored.checkpointsRoot, proposed.checkpointsRoot);
    assert_eq!(status(&stored), BatchStatus::Pending);
    assert!(
        env.replica.follow(&logged(&batch, &data), proposed.batchId).is_none(),
        "the logged batch replays to its checkpoints"
    );
    env.assert_balanced(&[eoa.address()]).await;
}

/// `batch` with the blocks and checkpoints of its `BatchData` log, decoded.
fn logged(batch: &PlannedBatch, data: &NativeRollup::BatchData) -> PlannedBatch {
    let blocks: Vec<BlockInputs> =
        data.blocks.iter().map(|b| BlockInputs::decode(b).expect("logged block")).collect();
    let claimed: Vec<_> =
        data.checkpoints.iter().map(|c| from_sol(c).expect("logged checkpoint")).collect();
    PlannedBatch { blocks, honest: claimed.clone(), claimed, ..batch.clone() }
}

/// Commitment squatting: an attacker copies the honest challenger's commitment from the mempool
/// and commits it first. Commitments are per challenger, so the honest commit still succeeds
/// and convicts, and the squatted copy is worthless to the attacker (its reveal hashes to its
/// own address) until it cancels it and gets its bond back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_squatted_commitment_blocks_nobody() {
    let mut env = RollupEnv::new(10).await;
    let (id, _, proof) = env.propose(1, Some(Fault::WrongPostRoot { block: 0 })).await;
    let proof = proof.expect("lie found");
    let (honest, attacker) = (env.challenger.clone(), env.copier.clone());
    let c = env.proposer_l1.clone();
    let bond = env.params.challenger_bond;
    env.bond(&honest).await;
    attacker.deposit_challenger_bond(bond * U256::from(2)).await.expect("bond");
    let h = proof.commitment(honest.from());

    let squat = attacker.commit(h).await.expect("anyone bonded may commit any hash");
    assert!(matches!(refused(attacker.commit(h).await), NativeRollupErrors::CommitmentExists(_)));
    let commit = honest.commit(h).await.expect("the squatted hash does not block the honest one");
    assert_eq!(c.commitment_block(attacker.from(), h).await.unwrap(), squat.block_number.unwrap());
    assert_eq!(c.commitment_block(honest.from(), h).await.unwrap(), commit.block_number.unwrap());
    assert_ne!(squat.block_number, commit.block_number);
    env.mine(1).await;

    // The attacker's reveal of the copied challenge: its address makes another hash.
    assert!(matches!(
        refused(attacker.challenge(&proof).await),
        NativeRollupErrors::UnknownCommitment(_)
    ));
    honest.challenge(&proof).await.expect("the honest reveal convicts");
    assert_eq!(status(&c.batch(id).await.unwrap()), BatchStatus::Invalidated);
    let reward = env.params.proposer_bond * U256::from(env.params.reward_bps) / U256::from(10_000);
    assert_eq!(c.credits(honest.from()).await.unwrap(), reward);
    assert_eq!(c.credits(attacker.from()).await.unwrap(), U256::ZERO);
    assert_eq!(c.commitment_block(honest.from(), h).await.unwrap(), 0, "revealed: closed");
    assert_eq!(c.commitment_block(attacker.from(), h).await.unwrap(), squat.block_number.unwrap());
    let everyone = [c.from(), honest.from(), attacker.from()];
    env.assert_balanced(&everyone).await;

    // The squat locks one of the attacker's bonds until it cancels it.
    assert!(matches!(
        refused(attacker.withdraw_challenger_bond(bond * U256::from(2)).await),
        NativeRollupErrors::InsufficientChallengerBond(_)
    ));
    assert!(matches!(
        refused(honest.cancel_commitment(h).await),
        NativeRollupErrors::UnknownCommitment(_)
    ));
    attacker.cancel_commitment(h).await.expect("the attacker cancels its own");
    assert_eq!(c.commitment_block(attacker.from(), h).await.unwrap(), 0);
    assert!(matches!(
        refused(attacker.cancel_commitment(h).await),
        NativeRollupErrors::UnknownCommitment(_)
    ));
    attacker.withdraw_challenger_bond(bond * U256::from(2)).await.expect("bond unlocked");
    honest.withdraw_challenger_bond(bond).await.expect("honest bond unlocked");
    assert_eq!(c.challenger_bond(attacker.from()).await.unwrap(), U256::ZERO);
    env.assert_balanced(&everyone).await;
}

/// L2BEAT StaleTimestamp: L2 time may not lag L1 time by more than the allowed lag, nor run
/// ahead of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_future_l2_timestamps_are_refused() {
    let mut env = RollupEnv::new(10).await;
    let old = env.anchor().await;
    let (p0, _) = provider(&env.node, 0);
    let lag = env.params.max_timestamp_lag;
    let _: serde_json::Value =
        p0.raw_request("evm_increaseTime".into(), (U256::from(lag + 60),)).await.expect("time");
    env.mine(2).await; // the anchor is the latest block's parent: after the jump too
    let now = env.anchor().await;
    let stale = L1Anchor { timestamp: old.timestamp, ..now };
    let batch = env.proposer.build_batch(0, stale, 1, None).expect("build");
    assert!(matches!(
        refused_proposal(
            env.proposer.propose(&env.proposer_l1, &batch, env.params.proposer_bond).await
        ),
        NativeRollupErrors::TimestampTooOld(_)
    ));

    env.proposer.rewind_to(0, env.genesis.timestamp).expect("rewind");
    let future = L1Anchor { timestamp: now.timestamp + 3_600, ..now };
    let batch = env.proposer.build_batch(0, future, 1, None).expect("build");
    assert!(matches!(
        refused_proposal(
            env.proposer.propose(&env.proposer_l1, &batch, env.params.proposer_bond).await
        ),
        NativeRollupErrors::TimestampInFuture(_)
    ));
}

/// L2BEAT RootRace, as it applies here: a challenge prepared against a batch that an earlier
/// conviction has already invalidated fails cleanly, its bond is not lost, and its commitment
/// cannot be replayed against the batch that replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_racing_an_earlier_conviction_fails_without_loss() {
    let mut env = RollupEnv::new(10).await;
    let (_, _, first) = env.propose(1, Some(Fault::WrongPostRoot { block: 0 })).await;
    let (second_id, _, second) = env.propose(1, Some(Fault::WrongGasUsed { block: 0 })).await;
    let (first, second) = (first.expect("lie 1"), second.expect("lie 2"));
    let (a, b) = (env.challenger.clone(), env.copier.clone());
    env.bond(&a).await;
    env.bond(&b).await;
    b.commit(second.commitment(b.from())).await.expect("commit");
    env.mine(1).await;
    env.commit_and_challenge(&a, &first).await.expect("the earlier lie is convicted first");
    assert!(matches!(refused(b.challenge(&second).await), NativeRollupErrors::BatchNotPending(_)));
    assert_eq!(status(&env.proposer_l1.batch(second_id).await.unwrap()), BatchStatus::Invalidated);
    // b's bond stays locked by its open commitment until it cancels it, then comes back whole.
    assert!(matches!(
        refused(b.withdraw_challenger_bond(env.params.challenger_bond).await),
        NativeRollupErrors::InsufficientChallengerBond(_)
    ));
    let cancel = NativeRollup::cancelCommitmentCall { commitment: second.commitment(b.from()) };
    b.send(&cancel, U256::ZERO).await.expect("cancel");
    b.withdraw_challenger_bond(env.params.challenger_bond).await.expect("unbond");
    // The replacement batch gets a new id; the old reveal does not apply to it.
    env.proposer.rewind_to(0, env.genesis.timestamp).expect("rewind");
    env.replica.store.rollback_to(0).expect("rewind replica");
    let (new_id, _, _) = env.propose(1, None).await;
    assert_ne!(new_id, second_id);
    let replay = ChallengeArgs { batch_id: new_id, ..second };
    env.bond(&b).await;
    assert!(matches!(
        refused(env.commit_and_challenge(&b, &replay).await),
        NativeRollupErrors::CheckpointNotInBatch(_)
    ));
}

/// L2BEAT SelfTarget, as it applies here: a proposer that challenges its own lie (to recover
/// its bond before someone else does) loses the burned share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposer_convicting_itself_loses_the_burned_share() {
    let mut env = RollupEnv::new(10).await;
    let me = env.proposer_l1.clone();
    let start = env.balance(me.from()).await;
    let anchor = env.anchor().await;
    let batch = env
        .proposer
        .build_batch(0, anchor, 1, Some(Fault::WrongPostRoot { block: 0 }))
        .expect("build");
    let (id, propose) =
        me.propose(&batch.call().expect("call"), env.params.proposer_bond).await.expect("propose");
    let proof = env.replica.follow(&batch, id).expect("lie found");
    let bond = me.deposit_challenger_bond(env.params.challenger_bond).await.expect("bond");
    let commit = me.commit(proof.commitment(me.from())).await.expect("commit");
    env.mine(1).await;
    let reveal = me.challenge(&proof).await.expect("convicts itself");
    let withdraw = me.withdraw().await.expect("withdraw");
    let unbond = me.withdraw_challenger_bond(env.params.challenger_bond).await.expect("unbond");
    let fees: U256 =
        [&propose, &bond, &commit, &reveal, &withdraw, &unbond].iter().map(|r| fee(r)).sum();
    let end = env.balance(me.from()).await;
    let burned = env.proposer_l1.total_burned().await.unwrap();
    assert!(burned > U256::ZERO);
    assert_eq!(end + fees + burned, start, "the self-challenge costs exactly the burned share");
}
