//! The watcher's reorg and consistency logic against the in-memory [`FakeL1`]: reorgs above
//! and below the cursor, past the confirmation depth, removing a batch or its data, an
//! endpoint that answers inconsistently, and local state behind the records.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_reorg_above_the_cursor_is_never_seen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = Builder::new();
    let l1 = FakeL1::with_head(10);
    // Batch 1 lands in block 9, not yet 2 blocks deep: the watcher does not act on it.
    propose(&l1, 9, 1, &builder.batch(1, 1, None));
    let mut w = watcher_with(l1, dir.path(), 2);
    let findings = step_ok(w.step().await);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(w.db().cursor().expect("cursor").map(|c| c.number), Some(8));
    // A reorg from block 9 drops it; L1 goes on to block 12 without it.
    w.source().reorg(9);
    w.source().head.store(12, Ordering::Relaxed);
    builder.rewind_to(0);
    let findings = step_ok(w.step().await);
    assert!(findings.is_empty(), "no reorg below the cursor, no batch: {findings:?}");
    let cursor = w.db().cursor().expect("cursor").expect("a cursor");
    assert_eq!(cursor.number, 10);
    assert_eq!(cursor.hash, w.source().hash(10), "the cursor is on the new chain");
    assert_eq!(w.db().last_batch_id().expect("last"), None);
    assert_eq!(l2_head(&w), 0);
    assert_eq!(w.source().distrusted(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_reorg_below_a_processed_batch_reads_it_again_and_redoes_its_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = Builder::new();
    let l1 = FakeL1::with_head(5);
    propose(&l1, 3, 1, &builder.batch(1, 2, None));
    let mut w = watcher(l1, dir.path());
    let findings = step_ok(w.step().await);
    assert_eq!(checked(&findings), vec![(1, Verdict::Valid)]);
    assert_eq!(l2_head(&w), 2);
    // The reorg replaces blocks 2.. ; on the new chain batch 1 (the same blocks) lies about
    // its second block and lands in block 4, in another transaction.
    w.source().reorg(2);
    builder.rewind_to(0);
    let lying = builder.batch(1, 2, Some(1));
    propose(w.source(), 4, 2, &lying);
    let findings = step_ok(w.step().await);
    let Some(Finding::Reorg { from, to, dropped }) = findings.first() else {
        panic!("the reorg comes first: {findings:?}");
    };
    assert_eq!((*from, dropped.as_slice()), (5, &[1][..]));
    assert!(*to < 2, "rewound below the fork point, to {to}");
    assert_eq!(checked(&findings), vec![(1, Verdict::Invalid { index: 1 })]);
    let lie = findings.iter().find_map(|f| match f {
        Finding::Lie(lie) => Some(lie),
        _ => None,
    });
    let lie = lie.expect("the lie is found on the new chain");
    assert_eq!((lie.batch_id, lie.index, lie.l1_block), (1, 1, 4));
    let record = w.db().batch(1).expect("read").expect("recorded");
    assert_eq!(record.tx_hash, B256::repeat_byte(2));
    assert_eq!(record.l1_block_hash, w.source().hash(4));
    // The L2 state holds the true chain: block 1, not the block whose claim is a lie.
    assert_eq!(l2_head(&w), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_reorg_that_removes_a_batch_drops_its_record_and_rolls_the_l2_state_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = Builder::new();
    let l1 = FakeL1::with_head(4);
    propose(&l1, 2, 1, &builder.batch(1, 1, None));
    propose(&l1, 3, 2, &builder.batch(2, 2, None));
    let mut w = watcher(l1, dir.path());
    let findings = step_ok(w.step().await);
    assert_eq!(checked(&findings), vec![(1, Verdict::Valid), (2, Verdict::Valid)]);
    assert_eq!(l2_head(&w), 3);
    // The reorg takes block 3 and batch 2's logs with it.
    w.source().reorg(3);
    w.source().head.store(6, Ordering::Relaxed);
    let findings = step_ok(w.step().await);
    assert!(
        matches!(findings.as_slice(), [Finding::Reorg { from: 4, dropped, .. }] if dropped == &[2]),
        "{findings:?}"
    );
    assert_eq!(w.db().batch(2).expect("read"), None);
    assert!(w.db().batch(1).expect("read").is_some(), "batch 1 was before the fork");
    assert_eq!(l2_head(&w), 1, "back to batch 1's last block");
    assert_eq!(w.db().cursor().expect("cursor").map(|c| c.number), Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_answer_missing_a_batch_data_log_after_a_reorg_is_read_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = Builder::new();
    let l1 = FakeL1::with_head(4);
    propose(&l1, 2, 1, &builder.batch(1, 1, None));
    let mut w = watcher(l1, dir.path());
    step_ok(w.step().await);
    // The reorg moves batch 1 to block 3; the endpoint's first answer about the new chain
    // leaves the BatchData log out.
    w.source().reorg(2);
    builder.rewind_to(0);
    propose(w.source(), 3, 2, &builder.batch(1, 1, None));
    w.source().hidden_data.store(1, Ordering::Relaxed);
    let err = w.step().await.expect_err("an incomplete answer");
    assert!(
        matches!(err, WatchError::Incomplete(Incomplete::BatchDataMissing { batch: 1, .. })),
        "{err}"
    );
    assert_eq!(err.severity(), Severity::Rewind);
    assert_eq!(w.source().distrusted(), 1);
    assert_eq!(w.db().batch(1).expect("read"), None, "nothing of the new chain committed");
    // The rewind itself was committed: the cursor is at the common ancestor, and the next
    // answer is complete.
    let cursor = w.db().cursor().expect("cursor").expect("a cursor");
    assert!(cursor.number < 2, "{cursor:?}");
    let findings = step_ok(w.step().await);
    assert_eq!(checked(&findings), vec![(1, Verdict::Valid)], "and no second reorg: {findings:?}");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(w.db().batch(1).expect("read").map(|r| r.l1_block), Some(3));
    assert_eq!(l2_head(&w), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_reorg_deeper_than_the_confirmation_depth_rewinds_to_the_common_ancestor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = Builder::new();
    let l1 = FakeL1::with_head(12);
    propose(&l1, 3, 1, &builder.batch(1, 1, None));
    propose(&l1, 6, 2, &builder.batch(2, 1, None));
    let mut w = watcher_with(l1, dir.path(), 2);
    let findings = step_ok(w.step().await);
    assert_eq!(checked(&findings), vec![(1, Verdict::Valid), (2, Verdict::Valid)]);
    assert_eq!(w.db().cursor().expect("cursor").map(|c| c.number), Some(10));
    // Eight blocks replaced with 2 confirmations: batch 2 goes, and comes back as a lie.
    w.source().reorg(5);
    w.source().head.store(14, Ordering::Relaxed);
    builder.rewind_to(1);
    propose(w.source(), 7, 3, &builder.batch(2, 1, Some(0)));
    let findings = step_ok(w.step().await);
    let Some(Finding::Reorg { from, to, dropped }) = findings.first() else {
        panic!("the reorg comes first: {findings:?}");
    };
    assert_eq!((*from, dropped.as_slice()), (10, &[2][..]));
    // Block 3 (batch 1's) is the newest block the watcher stored that L1 still has.
    assert_eq!(*to, 3);
    assert_eq!(checked(&findings), vec![(2, Verdict::Invalid { index: 0 })]);
    let one = w.db().batch(1).expect("read").expect("kept");
    assert_eq!(one.verdict, Verdict::Valid, "batch 1, before the fork, is untouched");
    assert_eq!(l2_head(&w), 1, "the L2 state stops before batch 2's lie");
    assert_eq!(w.db().cursor().expect("cursor").map(|c| c.number), Some(12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_endpoint_that_answers_inconsistently_is_distrusted_and_the_range_read_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = Builder::new();
    let l1 = FakeL1::with_head(5);
    propose(&l1, 3, 1, &builder.batch(1, 1, None));
    // Two answers whose logs are of blocks L1 does not have (an endpoint behind a reorg).
    l1.stale_answers.store(2, Ordering::Relaxed);
    let mut w = watcher(l1, dir.path());
    for attempt in 1..=2 {
        let err = w.step().await.expect_err("an inconsistent answer");
        assert!(
            matches!(err, WatchError::Inconsistent(Inconsistent::BlockChanged { number: 3 })),
            "{err}"
        );
        assert_eq!(err.severity(), Severity::Rewind);
        assert_eq!(w.source().distrusted(), attempt);
        assert_eq!(w.db().cursor().expect("cursor"), None, "nothing committed");
        assert_eq!(w.db().batch(1).expect("read"), None);
    }
    // The next endpoint answers consistently: the batch is read and checked once.
    let findings = step_ok(w.step().await);
    assert_eq!(checked(&findings), vec![(1, Verdict::Valid)]);
    assert_eq!(w.source().distrusted(), 2, "a good answer distrusts nobody");
    assert_eq!(w.db().cursor().expect("cursor").map(|c| c.number), Some(5));
    assert_eq!(l2_head(&w), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_store_behind_the_records_is_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = Builder::new();
    let l1 = FakeL1::with_head(5);
    // Batch 1 claims to start at L2 block 2 (as if block 1 had been lost locally).
    builder.batch(1, 1, None);
    let batch = builder.batch(1, 1, None);
    propose(&l1, 3, 1, &batch);
    let mut w = watcher(l1, dir.path());
    let err = w.step().await.expect_err("the store is behind");
    assert!(
        matches!(
            err,
            WatchError::Inconsistent(Inconsistent::L2Behind {
                batch: 1,
                first_block: 2,
                l2_head: 0
            })
        ),
        "{err}"
    );
    assert_eq!(err.severity(), Severity::Fatal);
    assert_eq!(w.source().distrusted(), 0, "not the endpoint's fault");
}
