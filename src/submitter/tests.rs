//! The intent state machine against the in-memory L1 ([`super::fake`]): commit, reveal and
//! conviction, restarts from every persisted stage, the contract's refusals, chain faults,
//! reopening after an undone conviction, and concurrent advances.

use super::fake::FakeL1;
use super::{Advancing, Intent, Stage, SubmitPolicy, Submitter};
use crate::protocol::{Checkpoint, CheckpointProof, L2Header};
use crate::rollup::{BatchStatus, NativeRollup, NativeRollupErrors};
use crate::watcher::WatchDb;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use std::collections::HashSet;
use std::sync::Arc;

const WINDOW: u64 = 100;
const COMMIT: [u8; 4] = NativeRollup::commitChallengeCall::SELECTOR;
const REVEAL: [u8; 4] = NativeRollup::challengeCall::SELECTOR;
const CANCEL: [u8; 4] = NativeRollup::cancelCommitmentCall::SELECTOR;
const DEPOSIT: [u8; 4] = NativeRollup::depositChallengerBondCall::SELECTOR;
const WITHDRAW: [u8; 4] = NativeRollup::withdrawCall::SELECTOR;

fn claimed(seed: u8) -> Vec<Checkpoint> {
    (0..2u8)
        .map(|i| Checkpoint {
            input_commitment: B256::repeat_byte(seed.wrapping_add(i)),
            post_state_root: B256::repeat_byte(0x40 + i),
            gas_used: 21_000,
        })
        .collect()
}

/// The header before every test batch.
fn base() -> L2Header {
    L2Header::genesis(B256::repeat_byte(0x0b))
}

/// The batch root of `claimed` on [`base`], as the contract stores it.
fn checkpoints_root(claimed: &[Checkpoint]) -> B256 {
    crate::protocol::checkpoints_root(&base(), claimed, &[])
}

/// An intent to prove block 0 of batch `batch_id` (proposed at block 10) wrong.
fn intent(batch_id: u64, seed: u8) -> Intent {
    let claimed = claimed(seed);
    Intent {
        batch_id,
        block_index: 0,
        leaf_index: 0,
        checkpoints_root: checkpoints_root(&claimed),
        proof: Box::new(CheckpointProof::new(&base(), &claimed, &[], 0).expect("block 0")),
        claimed,
        claimed_cuts: Vec::new(),
        post_state_root: B256::repeat_byte(0x99),
        gas_used: 21_000,
        trace: Bytes::from_static(b"trace"),
        salt: B256::repeat_byte(seed),
        proposed_at: 120,
        window_closes: 10 + WINDOW,
        l1_gas: 500_000,
        attempts: 0,
        retry_at: 0,
        stage: Stage::Planned,
    }
}

struct Setup {
    l1: Arc<FakeL1>,
    db: Arc<WatchDb>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let me = Address::repeat_byte(0xc1);
        let l1 = Arc::new(FakeL1::new(me, checkpoints_root(&claimed(1)), WINDOW));
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(WatchDb::open(&dir.path().join("db")).expect("db"));
        Self { l1, db, _dir: dir }
    }

    /// A submitter over the fake; a new one per call is a restart (same records, same chain).
    fn submitter(&self) -> Submitter {
        let policy = SubmitPolicy { challenge_always: true, ..SubmitPolicy::default() };
        Submitter::new(
            self.l1.clone(),
            self.l1.clone(),
            Address::repeat_byte(0x70),
            self.db.clone(),
            policy,
            WINDOW,
        )
    }

    fn record(&self, intent: &Intent) {
        self.db.put_intent(&intent.key(), intent).expect("put");
    }

    fn stored(&self, intent: &Intent) -> Intent {
        self.db.intent::<Intent>(&intent.key()).expect("read").expect("recorded")
    }

    fn status(&self, batch: usize) -> BatchStatus {
        self.l1.with(|c| c.batches[batch - 1].status)
    }

    /// Advances (mining a block between calls) until final, at most `rounds` calls.
    async fn run(&self, submitter: &Submitter, mut intent: Intent, rounds: usize) -> Intent {
        for _ in 0..rounds {
            if intent.stage.is_final() {
                break;
            }
            intent = submitter.advance(intent).await;
            self.l1.mine();
        }
        intent
    }
}

fn refuse(setup: &Setup, selector: [u8; 4], err: NativeRollupErrors) {
    setup.l1.with(|c| c.refuse.push((selector, err)));
}

#[tokio::test]
async fn commit_then_reveal_in_a_later_block_convicts_the_batch() {
    let s = Setup::new();
    let submitter = s.submitter();
    let planned = intent(1, 1);
    s.record(&planned);

    let committed = submitter.advance(planned.clone()).await;
    let Stage::Committed { block } = committed.stage else {
        panic!("expected Committed, got {:?}", committed.stage);
    };
    assert_eq!(s.stored(&planned).stage, committed.stage, "each stage is persisted");
    assert_eq!(s.l1.mined_calls(DEPOSIT).len(), 1, "the bond was short: one deposit");
    let commits = s.l1.mined_calls(COMMIT);
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].block, block);
    assert!(s.l1.mined_calls(REVEAL).is_empty(), "no reveal in the commitment's block");

    // Same block as the commitment: it waits.
    let again = submitter.advance(committed.clone()).await;
    assert_eq!(again.stage, committed.stage);

    s.l1.mine();
    let landed = submitter.advance(committed).await;
    let reveals = s.l1.mined_calls(REVEAL);
    assert_eq!(reveals.len(), 1);
    assert!(reveals[0].ok);
    assert!(reveals[0].block > block);
    assert_eq!(
        landed.stage,
        Stage::Landed { tx: reveals[0].hash, block: reveals[0].block, gas_used: 50_000 }
    );
    assert_eq!(s.status(1), BatchStatus::Invalidated);
    assert_eq!(s.l1.mined_calls(WITHDRAW).len(), 1, "auto-claim withdraws the reward");
    assert!(s.submitter().open_intents().expect("open").is_empty());
}

/// Brings a fresh intent to `stage_name` the way a run that stopped there would have left it.
async fn left_at(s: &Setup, stage_name: &str) -> Intent {
    let submitter = s.submitter();
    let mut i = intent(1, 1);
    s.record(&i);
    if stage_name == "planned" {
        return i;
    }
    // Bond, then the commitment prepared (and persisted) but never broadcast.
    s.l1.with(|c| c.bond = c.unit);
    let data: Bytes =
        NativeRollup::commitChallengeCall { commitment: i.args().commitment(submitter.address()) }
            .abi_encode()
            .into();
    let tx = super::TxSender::prepare(&*s.l1, Address::ZERO, data, U256::ZERO).await.expect("ok");
    i.stage = Stage::Committing { tx: tx.clone() };
    if stage_name == "committing" {
        s.record(&i);
        return i;
    }
    super::TxSender::broadcast(&*s.l1, &tx).await.expect("sent");
    s.l1.mine();
    let block = s.l1.with(|c| c.head);
    i.stage = Stage::Committed { block };
    if stage_name == "committed" {
        s.record(&i);
        return i;
    }
    s.l1.mine();
    let data: Bytes = i.args().call().abi_encode().into();
    let tx = super::TxSender::prepare(&*s.l1, Address::ZERO, data, U256::ZERO).await.expect("ok");
    i.stage = Stage::Revealing { tx };
    s.record(&i);
    i
}

#[tokio::test]
async fn a_restart_at_every_stage_resumes_and_sends_each_transaction_once() {
    for stage in ["planned", "committing", "committed", "revealing"] {
        let s = Setup::new();
        let recorded = left_at(&s, stage).await;
        // The restart: a new submitter reads the record back.
        let submitter = s.submitter();
        let open = submitter.open_intents().expect("open");
        assert_eq!(open, vec![recorded.clone()], "{stage}: the record is the open intent");
        let done = s.run(&submitter, open[0].clone(), 6).await;
        assert!(matches!(done.stage, Stage::Landed { .. }), "{stage}: {:?}", done.stage);
        assert_eq!(s.l1.mined_calls(COMMIT).len(), 1, "{stage}: one commitment");
        assert_eq!(s.l1.mined_calls(REVEAL).len(), 1, "{stage}: one reveal");
        assert_eq!(s.status(1), BatchStatus::Invalidated, "{stage}");
    }
}

#[tokio::test]
async fn a_commitment_lost_with_its_record_is_found_again_and_revealed() {
    let s = Setup::new();
    let mut committing = left_at(&s, "committed").await;
    // The record still says Planned (the crash came before the Committing record was
    // written, but the transaction was sent by an earlier run): CommitmentExists.
    committing.stage = Stage::Planned;
    s.record(&committing);
    let done = s.run(&s.submitter(), committing, 6).await;
    assert!(matches!(done.stage, Stage::Landed { .. }), "{:?}", done.stage);
    assert_eq!(s.l1.mined_calls(COMMIT).len(), 1);
}

#[tokio::test]
async fn a_commitment_too_recent_waits_and_reveals_in_the_next_block() {
    let s = Setup::new();
    let submitter = s.submitter();
    let committed = left_at(&s, "committed").await;
    s.l1.mine();
    let err = NativeRollupErrors::CommitmentTooRecent(NativeRollup::CommitmentTooRecent {
        commitment: B256::ZERO,
        committedAt: U256::ZERO,
    });
    refuse(&s, REVEAL, err);
    let waited = submitter.advance(committed.clone()).await;
    assert_eq!(waited.stage, committed.stage, "too recent: wait, nothing sent");
    assert_eq!(s.l1.broadcasts_of(REVEAL), 0);
    let landed = s.run(&submitter, waited, 3).await;
    assert!(matches!(landed.stage, Stage::Landed { .. }), "{:?}", landed.stage);
}

#[tokio::test]
async fn an_unknown_commitment_at_reveal_starts_a_new_round_with_a_new_salt() {
    let s = Setup::new();
    let submitter = s.submitter();
    let committed = left_at(&s, "committed").await;
    s.l1.mine();
    // The commitment is gone (a reorg took its block).
    s.l1.with(|c| c.commitments.clear());
    let next = submitter.advance(committed.clone()).await;
    assert_eq!(next.stage, Stage::Planned);
    assert_eq!(next.attempts, 1);
    assert_ne!(next.salt, committed.salt);
    assert_eq!(next.retry_at, s.l1.with(|c| c.head) + 1, "a backoff of one block");
    let landed = s.run(&submitter, next, 8).await;
    assert!(matches!(landed.stage, Stage::Landed { .. }), "{:?}", landed.stage);
    assert_eq!(s.l1.mined_calls(COMMIT).len(), 2, "a second commitment, with the new salt");
}

#[tokio::test]
async fn a_batch_already_convicted_stands_down_before_committing() {
    let s = Setup::new();
    let planned = intent(1, 1);
    s.record(&planned);
    s.l1.with(|c| c.batches[0].status = BatchStatus::Invalidated);
    let done = s.submitter().advance(planned).await;
    assert!(
        matches!(&done.stage, Stage::StoodDown { reason } if reason.contains("no longer pending")),
        "{:?}",
        done.stage
    );
    assert_eq!(s.l1.with(|c| c.broadcasts.len()), 0, "nothing sent");
}

#[tokio::test]
async fn a_conviction_by_someone_else_before_the_reveal_stands_down_and_releases_the_bond() {
    for status in [BatchStatus::Invalidated, BatchStatus::Finalized] {
        let s = Setup::new();
        let committed = left_at(&s, "committed").await;
        s.l1.mine();
        s.l1.with(|c| c.batches[0].status = status);
        let done = s.submitter().advance(committed).await;
        assert!(
            matches!(&done.stage, Stage::StoodDown { reason } if reason.contains("no longer pending")),
            "{status:?}: {:?}",
            done.stage
        );
        assert_eq!(s.l1.mined_calls(CANCEL).len(), 1, "{status:?}: commitment cancelled");
        assert!(s.l1.with(|c| c.commitments.is_empty()), "{status:?}: bond unlocked");
        assert!(s.l1.mined_calls(REVEAL).is_empty(), "{status:?}");
    }
}

#[tokio::test]
async fn a_proposal_gone_in_a_reorg_stands_down_even_with_a_commitment_in_flight() {
    let s = Setup::new();
    let committing = left_at(&s, "committing").await;
    s.l1.with(|c| c.batches.clear());
    let done = s.submitter().advance(committing).await;
    assert!(
        matches!(&done.stage, Stage::StoodDown { reason } if reason.contains("no longer on L1")),
        "{:?}",
        done.stage
    );
    // The prepared commitment was still broadcast: its nonce must not stay a gap.
    assert_eq!(s.l1.broadcasts_of(COMMIT), 1);
}

#[tokio::test]
async fn checkpoints_replaced_by_a_reorg_stand_down_at_the_reveal() {
    let s = Setup::new();
    let committed = left_at(&s, "committed").await;
    s.l1.mine();
    s.l1.with(|c| c.batches[0].checkpoints_root = checkpoints_root(&claimed(7)));
    let done = s.submitter().advance(committed).await;
    assert!(
        matches!(&done.stage, Stage::StoodDown { reason } if reason.contains("another proposal")),
        "{:?}",
        done.stage
    );
    assert_eq!(s.l1.mined_calls(CANCEL).len(), 1);
    assert!(s.l1.mined_calls(REVEAL).is_empty());
}

#[tokio::test]
async fn a_closed_window_refuses_with_the_alarm_or_stands_down_if_the_batch_fell() {
    let s = Setup::new();
    let committed = left_at(&s, "committed").await;
    s.l1.with(|c| c.head = 10 + WINDOW + 1);
    let done = s.submitter().advance(committed).await;
    assert!(
        matches!(&done.stage, Stage::Refused { reason } if reason.contains("window")),
        "{:?}",
        done.stage
    );
    assert!(s.l1.mined_calls(REVEAL).is_empty());

    let s = Setup::new();
    let committed = left_at(&s, "committed").await;
    s.l1.with(|c| {
        c.head = 10 + WINDOW + 1;
        c.batches[0].status = BatchStatus::Invalidated;
    });
    let done = s.submitter().advance(committed).await;
    assert!(
        matches!(&done.stage, Stage::StoodDown { reason } if reason.contains("someone else")),
        "{:?}",
        done.stage
    );
}

#[tokio::test]
async fn a_window_closed_refusal_at_reveal_stands_down() {
    let s = Setup::new();
    let committed = left_at(&s, "committed").await;
    s.l1.mine();
    let err = NativeRollupErrors::ChallengeWindowClosed(NativeRollup::ChallengeWindowClosed {
        batchId: 1,
        closedAfter: U256::from(10 + WINDOW),
    });
    refuse(&s, REVEAL, err);
    let done = s.submitter().advance(committed).await;
    assert!(
        matches!(&done.stage, Stage::StoodDown { reason } if reason.contains("window")),
        "{:?}",
        done.stage
    );
    assert_eq!(s.l1.mined_calls(CANCEL).len(), 1);
}

#[tokio::test]
async fn a_reverted_reveal_is_revealed_again_on_the_same_commitment() {
    let s = Setup::new();
    let submitter = s.submitter();
    let committed = left_at(&s, "committed").await;
    s.l1.mine();
    s.l1.with(|c| c.revert_mined.push(REVEAL));
    // Reverted in its block, the batch still pending: the same commitment is revealed again
    // (within the same advance: a reveal is not a new round).
    let done = submitter.advance(committed.clone()).await;
    assert!(matches!(done.stage, Stage::Landed { .. }), "{:?}", done.stage);
    assert_eq!(done.salt, committed.salt);
    assert_eq!(done.attempts, 0);
    let reveals = s.l1.mined_calls(REVEAL);
    assert_eq!(reveals.iter().map(|r| r.ok).collect::<Vec<_>>(), vec![false, true]);
    assert_eq!(s.l1.mined_calls(COMMIT).len(), 1);
}

#[tokio::test]
async fn a_reverted_commitment_starts_a_new_round() {
    let s = Setup::new();
    let submitter = s.submitter();
    let planned = intent(1, 1);
    s.record(&planned);
    s.l1.with(|c| c.revert_mined.push(COMMIT));
    let after = submitter.advance(planned.clone()).await;
    assert_eq!(after.stage, Stage::Planned);
    assert_eq!(after.attempts, 1);
    assert_ne!(after.salt, planned.salt);
    assert_eq!(s.stored(&planned), after);
}

#[tokio::test]
async fn a_dropped_commitment_is_broadcast_again_and_lands() {
    let s = Setup::new();
    let committing = left_at(&s, "committing").await;
    s.l1.with(|c| c.drop_broadcasts = 1);
    let done = s.submitter().advance(committing).await;
    assert!(matches!(done.stage, Stage::Committed { .. }), "{:?}", done.stage);
    assert_eq!(s.l1.broadcasts_of(COMMIT), 2, "lost once, sent again");
    assert_eq!(s.l1.mined_calls(COMMIT).len(), 1);
}

#[tokio::test]
async fn a_base_fee_above_the_offer_bumps_and_the_new_version_is_persisted_and_mined() {
    let s = Setup::new();
    let committing = left_at(&s, "committing").await;
    let Stage::Committing { tx } = &committing.stage else { unreachable!() };
    let offered = tx.max_fee;
    s.l1.with(|c| c.base_fee = offered + 1);
    let done = s.submitter().advance(committing.clone()).await;
    assert!(matches!(done.stage, Stage::Committed { .. }), "{:?}", done.stage);
    assert_eq!(s.l1.with(|c| c.bumps), 1);
    let commits = s.l1.mined_calls(COMMIT);
    assert_eq!(commits.len(), 1);
    assert!(commits[0].max_fee > offered, "the bumped version was mined");
}

#[tokio::test]
async fn a_conviction_undone_by_a_reorg_is_challenged_again() {
    let s = Setup::new();
    let submitter = s.submitter();
    let planned = intent(1, 1);
    s.record(&planned);
    let landed = s.run(&submitter, planned, 6).await;
    assert!(matches!(landed.stage, Stage::Landed { .. }));
    // Nothing undone yet: nothing reopens.
    assert!(submitter.reopen_undone(&HashSet::new()).await.is_empty());

    s.l1.with(|c| c.batches[0].status = BatchStatus::Pending);
    // Being advanced: left alone.
    let busy = HashSet::from([landed.key()]);
    assert!(submitter.reopen_undone(&busy).await.is_empty());
    let reopened = submitter.reopen_undone(&HashSet::new()).await;
    assert_eq!(reopened.len(), 1);
    assert_eq!(reopened[0].stage, Stage::Planned);
    assert_ne!(reopened[0].salt, landed.salt);
    assert_eq!(s.stored(&landed), reopened[0]);
    let again = s.run(&submitter, reopened[0].clone(), 8).await;
    assert!(matches!(again.stage, Stage::Landed { .. }), "{:?}", again.stage);
    assert_eq!(s.l1.mined_calls(REVEAL).iter().filter(|r| r.ok).count(), 2);
}

#[tokio::test]
async fn a_stuck_receipt_does_not_hold_up_the_conviction_of_another_batch() {
    let s = Setup::new();
    // Batch 2, a second lie.
    s.l1.with(|c| {
        let second = super::fake::FakeBatch {
            status: BatchStatus::Pending,
            checkpoints_root: checkpoints_root(&claimed(2)),
            leaf_count: 2,
            proposed_at: 10,
        };
        c.batches.push(second);
        c.bond = c.unit * U256::from(2);
    });
    let first = intent(1, 1);
    let second = intent(2, 2);
    s.record(&first);
    s.record(&second);
    let submitter = s.submitter();
    // The receipt of the first challenge's commitment is held.
    let held: Bytes = NativeRollup::commitChallengeCall {
        commitment: first.args().commitment(submitter.address()),
    }
    .abi_encode()
    .into();
    s.l1.with(|c| c.held.push(held));

    let mut advancing = Advancing::new(2);
    assert_eq!(advancing.start(&submitter, submitter.open_intents().expect("open")), 2);
    let mut second_done = None;
    for _ in 0..20 {
        while let Some((_, after)) =
            tokio::time::timeout(std::time::Duration::from_millis(20), advancing.next())
                .await
                .ok()
                .flatten()
        {
            assert_eq!(after.batch_id, 2, "only the second finishes while the first is held");
            if matches!(after.stage, Stage::Landed { .. }) {
                second_done = Some(after);
            }
        }
        if second_done.is_some() {
            break;
        }
        s.l1.mine();
        // A poll: the first is still in flight and is not started twice.
        assert!(advancing.busy().contains(&first.key()));
        advancing.start(&submitter, submitter.open_intents().expect("open"));
    }
    assert!(second_done.is_some(), "the second lie was convicted while the first was held");
    assert_eq!(s.status(2), BatchStatus::Invalidated);
    assert_eq!(s.status(1), BatchStatus::Pending);

    // Release: the first is convicted too.
    s.l1.with(|c| c.held.clear());
    let mut first_done = None;
    for _ in 0..20 {
        if let Ok(Some((_, after))) =
            tokio::time::timeout(std::time::Duration::from_millis(20), advancing.next()).await
            && after.stage.is_final()
        {
            first_done = Some(after);
            break;
        }
        s.l1.mine();
        advancing.start(&submitter, submitter.open_intents().expect("open"));
    }
    let first_done = first_done.expect("the first finished after the release");
    assert!(matches!(first_done.stage, Stage::Landed { .. }), "{:?}", first_done.stage);
    assert_eq!(s.status(1), BatchStatus::Invalidated);
    let nonces: Vec<u64> = s.l1.with(|c| c.mined.iter().map(|m| m.nonce).collect());
    assert_eq!(nonces, (0..nonces.len() as u64).collect::<Vec<_>>(), "one nonce sequence");
    advancing.shutdown().await;
}

#[tokio::test]
async fn shutdown_cancels_a_held_advance_and_the_record_resumes() {
    let s = Setup::new();
    let committing = left_at(&s, "committing").await;
    let Stage::Committing { tx } = &committing.stage else { unreachable!() };
    s.l1.with(|c| c.held.push(tx.data.clone()));
    let submitter = s.submitter();
    let mut advancing = Advancing::new(1);
    advancing.start(&submitter, vec![committing.clone()]);
    tokio::task::yield_now().await;
    advancing.shutdown().await;
    assert!(advancing.is_empty() && advancing.busy().is_empty());
    assert_eq!(s.stored(&committing).stage, committing.stage, "the record is intact");
    s.l1.with(|c| c.held.clear());
    let done = s.run(&s.submitter(), s.stored(&committing), 6).await;
    assert!(matches!(done.stage, Stage::Landed { .. }), "{:?}", done.stage);
    assert_eq!(s.l1.mined_calls(COMMIT).len(), 1);
}

/// The automatic withdrawal waits while a transaction of ours is unmined: after a restart
/// between sending a withdrawal and recording the landing, a second one would be mined behind
/// the first and revert. Once nothing of ours is pending, it withdraws.
#[tokio::test]
async fn auto_claim_waits_while_a_transaction_of_ours_is_pending() {
    let s = Setup::new();
    let submitter = s.submitter();
    let data: Bytes = NativeRollup::withdrawCall {}.abi_encode().into();
    let rollup = Address::repeat_byte(0x70);
    s.l1.with(|c| c.credits = U256::from(1));
    let pending = super::TxSender::prepare(&*s.l1, rollup, data, U256::ZERO).await.expect("ok");
    super::TxSender::broadcast(&*s.l1, &pending).await.expect("sent");

    submitter.claim().await;
    assert_eq!(s.l1.broadcasts_of(WITHDRAW), 1, "claim sent nothing behind the pending one");
    s.l1.mine();
    assert_eq!(s.l1.mined_calls(WITHDRAW).len(), 1);

    // A later reward, and nothing of ours pending.
    s.l1.with(|c| c.credits = U256::from(1));
    submitter.claim().await;
    assert_eq!(s.l1.broadcasts_of(WITHDRAW), 2, "nothing pending: claim withdraws");
    let mined = s.l1.mined_calls(WITHDRAW);
    assert_eq!(mined.len(), 2);
    assert!(mined.iter().all(|m| m.ok), "neither withdrawal reverted");
}
