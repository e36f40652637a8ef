//! The watcher's completeness rules against an in-memory L1: an answer that leaves a batch
//! out is never committed, the endpoint is distrusted, and the range is read again.

use super::*;
use crate::execute_local::forks::{Network, network};
use crate::rollup::NativeRollup::{BatchData, BatchProposed};
use alloy_primitives::LogData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

const ROLLUP: Address = Address::repeat_byte(0x77);

/// An L1 of `head + 1` blocks whose logs and `batchCount` the test sets.
#[derive(Default)]
struct FakeL1 {
    head: u64,
    logs: Mutex<Vec<Log>>,
    batch_count: u64,
    distrusted: AtomicU32,
}

fn block_ref(number: u64) -> BlockRef {
    BlockRef {
        number,
        hash: B256::with_last_byte(number as u8 + 1),
        parent_hash: B256::with_last_byte(number as u8),
        timestamp: 1_000 + number,
    }
}

impl L1Source for FakeL1 {
    async fn head(&self, _finalized: bool) -> Result<BlockRef, SourceError> {
        Ok(block_ref(self.head))
    }
    async fn block(&self, number: u64) -> Result<Option<BlockRef>, SourceError> {
        Ok((number <= self.head).then(|| block_ref(number)))
    }
    async fn logs(&self, _: Address, from: u64, to: u64) -> Result<Vec<Log>, SourceError> {
        let logs = self.logs.lock().map_err(|_| SourceError::NoEndpoint)?;
        Ok(logs
            .iter()
            .filter(|l| l.block_number.is_some_and(|n| (from..=to).contains(&n)))
            .cloned()
            .collect())
    }
    async fn tx_input(&self, _: B256) -> Result<Option<Bytes>, SourceError> {
        Ok(None)
    }
    async fn batch_count(&self, _: Address, _: u64) -> Result<u64, SourceError> {
        Ok(self.batch_count)
    }
    fn distrust_current(&self) {
        self.distrusted.fetch_add(1, Ordering::Relaxed);
    }
}

fn log(number: u64, tx: u8, data: LogData) -> Log {
    Log {
        inner: alloy_primitives::Log { address: ROLLUP, data },
        block_hash: Some(block_ref(number).hash),
        block_number: Some(number),
        block_timestamp: None,
        transaction_hash: Some(B256::repeat_byte(tx)),
        transaction_index: Some(0),
        log_index: Some(0),
        removed: false,
    }
}

/// A `BatchProposed` of an empty-looking one-block batch `id` (never replayed in these tests).
fn proposed(id: u64) -> LogData {
    BatchProposed {
        batchId: id,
        parent: id - 1,
        proposer: Address::ZERO,
        firstBlock: id,
        blockCount: 1,
        lastBlockHash: B256::ZERO,
        lastStateRoot: B256::ZERO,
        checkpointsHash: B256::ZERO,
    }
    .encode_log_data()
}

fn watcher(l1: FakeL1, dir: &std::path::Path) -> Watcher<FakeL1> {
    let Network::Supported(schedule) = network(crate::execute_local::forks::DEFAULT_FORK) else {
        panic!("the default fork is supported");
    };
    let db = Arc::new(WatchDb::open(&dir.join("db")).expect("db"));
    let store = Arc::new(StateStore::open(&dir.join("l2")).expect("store"));
    let config = WatchConfig {
        rollup: ROLLUP,
        confirmations: 0,
        finalized: false,
        start_block: 0,
        max_range: 100,
    };
    Watcher::new(l1, config, db, store, ChainRules::new(901, schedule))
}

fn incomplete(result: Result<(Vec<Finding>, Option<u64>, BlockRef), WatchError>) -> String {
    match result {
        Err(WatchError::Incomplete(reason)) => reason,
        other => panic!("expected an incomplete answer, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn fewer_batches_in_the_logs_than_on_l1_are_never_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1 { head: 5, batch_count: 1, ..FakeL1::default() };
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(reason.contains("holds 1 batches at L1 block 5, the logs showed 0"), "{reason}");
    assert_eq!(w.db().cursor().expect("cursor"), None, "the range is read again");
    assert_eq!(w.source().distrusted.load(Ordering::Relaxed), 1);
    // Again at the next poll: still not committed, still distrusted.
    incomplete(w.step().await);
    assert_eq!(w.source().distrusted.load(Ordering::Relaxed), 2);
    assert_eq!(w.db().cursor().expect("cursor"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_batch_id_after_a_gap_is_an_incomplete_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1 { head: 5, batch_count: 2, ..FakeL1::default() };
    l1.logs.lock().expect("logs").push(log(3, 2, proposed(2)));
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(reason.contains("batch 2 proposed, but the last batch seen is 0"), "{reason}");
    assert_eq!(w.db().last_batch_id().expect("last"), None, "nothing recorded");
    assert_eq!(w.db().cursor().expect("cursor"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_proposal_without_its_batch_data_is_an_incomplete_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1 { head: 5, batch_count: 1, ..FakeL1::default() };
    l1.logs.lock().expect("logs").push(log(3, 1, proposed(1)));
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(reason.contains("without its BatchData log"), "{reason}");
    assert_eq!(w.db().batch(1).expect("read"), None);
    assert_eq!(w.db().cursor().expect("cursor"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn batch_data_that_disagrees_with_its_event_is_an_incomplete_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1 { head: 5, batch_count: 1, ..FakeL1::default() };
    // Two blocks in the data, one in the event: an endpoint answering with another batch's data.
    let data = BatchData {
        batchId: 1,
        blocks: vec![Bytes::new(), Bytes::new()],
        checkpoints: vec![Default::default(), Default::default()],
    };
    {
        let mut logs = l1.logs.lock().expect("logs");
        logs.push(log(3, 1, data.encode_log_data()));
        logs.push(log(3, 1, proposed(1)));
    }
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(reason.contains("BatchData holds 2 blocks and 2 checkpoints"), "{reason}");
    assert_eq!(w.db().cursor().expect("cursor"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_complete_empty_range_moves_the_cursor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1 { head: 5, batch_count: 0, ..FakeL1::default() };
    let mut w = watcher(l1, dir.path());
    let (findings, processed, _) = w.step().await.expect("step");
    assert!(findings.is_empty());
    assert_eq!(processed, Some(5));
    assert_eq!(w.db().cursor().expect("cursor").map(|c| c.number), Some(5));
    assert_eq!(w.source().distrusted.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn only_batches_that_cannot_fall_with_a_lie_raise_the_unverifiable_alarm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = watcher(FakeL1::default(), dir.path());
    let skipped = |id, parent| BatchRecord {
        parent,
        verdict: Verdict::Skipped { reason: "test".into() },
        ..BatchRecord::test(id)
    };
    let records = [
        BatchRecord::test(1),
        BatchRecord { verdict: Verdict::Invalid { index: 0 }, ..BatchRecord::test(2) },
        skipped(3, 2), // built on the lie of batch 2
        skipped(4, 3), // and on top of that
        skipped(5, 1), // could not be checked itself (say, blocks that do not decode)
        skipped(6, 5),
    ];
    w.db().commit(&records, &[], None).expect("commit");
    let alarm = |parent| w.parent_problem(parent).expect("read").map(|(_, alarm)| alarm);
    assert_eq!(alarm(1), None, "built on a valid batch: replayed");
    assert_eq!(alarm(2), Some(false), "built on a lie: falls with it");
    assert_eq!(alarm(3), Some(false));
    assert_eq!(alarm(4), Some(false));
    assert_eq!(alarm(5), Some(true), "built on a batch nobody here could check");
    assert_eq!(alarm(6), Some(true));
    assert_eq!(alarm(9), Some(true), "built on a batch never seen");
}
