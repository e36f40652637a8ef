//! The watcher against an in-memory L1, in milliseconds: the completeness rules (an answer
//! that leaves a batch out is never committed, the endpoint is distrusted, the range is read
//! again) and the reorg rules (the cursor and the records rewind to the common ancestor, the
//! L2 state rolls back with them, and what the new chain holds is read and judged again).

use super::*;
use crate::execute_local::forks::{Network, network};
use crate::execute_local::l2::L2Block;
use crate::execute_local::replay::execute_on_store;
use crate::protocol::{BlockInputs, L2Header};
use crate::rollup::NativeRollup::{BatchData, BatchProposed};
use crate::rollup::{L2Genesis, to_sol};
use alloy_primitives::{LogData, keccak256};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const ROLLUP: Address = Address::repeat_byte(0x77);
const CHAIN_ID: u64 = 901;
const GENESIS_TIMESTAMP: u64 = 1_000;

/// An L1 whose blocks, logs and `batchCount` the test sets. Block `n` on fork `f` has its
/// own hash; a reorg moves every block from some height on to a new fork. `batchCount` is
/// the number of `BatchProposed` logs up to the block asked, unless the test overrides it.
#[derive(Default)]
struct FakeL1 {
    head: AtomicU64,
    /// The fork of each block that has been reorged (absent: fork 0).
    forks: Mutex<BTreeMap<u64, u8>>,
    logs: Mutex<Vec<Log>>,
    batch_count: Option<u64>,
    /// `logs` answers left to give with hashes of blocks L1 no longer has (an endpoint
    /// behind a reorg, or lying).
    stale_answers: AtomicU32,
    /// `logs` answers left to give without their `BatchData` logs.
    hidden_data: AtomicU32,
    distrusted: AtomicU32,
}

impl FakeL1 {
    fn with_head(head: u64) -> Self {
        let l1 = Self::default();
        l1.head.store(head, Ordering::Relaxed);
        l1
    }

    fn fork(&self, number: u64) -> u8 {
        self.forks.lock().expect("forks").get(&number).copied().unwrap_or(0)
    }

    fn hash(&self, number: u64) -> B256 {
        fork_hash(number, self.fork(number))
    }

    fn block_ref(&self, number: u64) -> BlockRef {
        BlockRef {
            number,
            hash: self.hash(number),
            parent_hash: number.checked_sub(1).map_or(B256::ZERO, |p| self.hash(p)),
            timestamp: 1_000 + number,
        }
    }

    /// Adds a log of transaction `tx` in block `number` of the current chain.
    fn push(&self, number: u64, tx: u8, data: LogData) {
        let log = log_at(number, self.hash(number), tx, data);
        self.logs.lock().expect("logs").push(log);
    }

    /// Replaces every block from `from` on with a block of a new fork, and drops their logs.
    fn reorg(&self, from: u64) {
        let head = self.head.load(Ordering::Relaxed);
        {
            let mut forks = self.forks.lock().expect("forks");
            for number in from..=head {
                *forks.entry(number).or_insert(0) += 1;
            }
        }
        self.logs.lock().expect("logs").retain(|l| l.block_number.is_some_and(|n| n < from));
    }

    fn distrusted(&self) -> u32 {
        self.distrusted.load(Ordering::Relaxed)
    }
}

fn fork_hash(number: u64, fork: u8) -> B256 {
    keccak256([&number.to_be_bytes()[..], &[fork]].concat())
}

/// Takes one of `counter`'s remaining uses, if any is left.
fn take(counter: &AtomicU32) -> bool {
    counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
}

impl L1Source for FakeL1 {
    async fn head(&self, _finalized: bool) -> Result<BlockRef, SourceError> {
        Ok(self.block_ref(self.head.load(Ordering::Relaxed)))
    }
    async fn block(&self, number: u64) -> Result<Option<BlockRef>, SourceError> {
        Ok((number <= self.head.load(Ordering::Relaxed)).then(|| self.block_ref(number)))
    }
    async fn logs(&self, _: Address, from: u64, to: u64) -> Result<Vec<Log>, SourceError> {
        let logs = self.logs.lock().map_err(|_| SourceError::NoEndpoint)?;
        let (stale, hide) = (take(&self.stale_answers), take(&self.hidden_data));
        Ok(logs
            .iter()
            .filter(|l| l.block_number.is_some_and(|n| (from..=to).contains(&n)))
            .filter(|l| !(hide && l.topics().first() == Some(&BatchData::SIGNATURE_HASH)))
            .cloned()
            .map(|mut l| {
                if stale {
                    l.block_hash = Some(B256::repeat_byte(0xee));
                }
                l
            })
            .collect())
    }
    async fn tx_input(&self, _: B256) -> Result<Option<Bytes>, SourceError> {
        Ok(None)
    }
    async fn batch_count(&self, _: Address, block: u64) -> Result<u64, SourceError> {
        if let Some(count) = self.batch_count {
            return Ok(count);
        }
        let logs = self.logs.lock().map_err(|_| SourceError::NoEndpoint)?;
        Ok(logs
            .iter()
            .filter(|l| l.block_number.is_some_and(|n| n <= block))
            .filter(|l| l.topics().first() == Some(&BatchProposed::SIGNATURE_HASH))
            .count() as u64)
    }
    fn distrust_current(&self) {
        self.distrusted.fetch_add(1, Ordering::Relaxed);
    }
}

fn log_at(number: u64, hash: B256, tx: u8, data: LogData) -> Log {
    Log {
        inner: alloy_primitives::Log { address: ROLLUP, data },
        block_hash: Some(hash),
        block_number: Some(number),
        block_timestamp: None,
        transaction_hash: Some(B256::repeat_byte(tx)),
        transaction_index: Some(0),
        log_index: Some(0),
        removed: false,
    }
}

/// A log in block `number` of fork 0.
fn log(number: u64, tx: u8, data: LogData) -> Log {
    log_at(number, fork_hash(number, 0), tx, data)
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
        leafCount: 1,
        checkpointsRoot: B256::ZERO,
    }
    .encode_log_data()
}

fn rules() -> ChainRules {
    let Network::Supported(schedule) = network(crate::execute_local::forks::DEFAULT_FORK) else {
        panic!("the default fork is supported");
    };
    ChainRules::new(CHAIN_ID, schedule)
}

fn genesis() -> L2Genesis {
    L2Genesis::dev(CHAIN_ID, GENESIS_TIMESTAMP, &[])
}

fn watcher_with(l1: FakeL1, dir: &std::path::Path, confirmations: u64) -> Watcher<FakeL1> {
    let db = Arc::new(WatchDb::open(&dir.join("db")).expect("db"));
    let store = StateStore::open(&dir.join("l2")).expect("store");
    genesis().init_store(&store).expect("genesis");
    let config = WatchConfig {
        rollup: ROLLUP,
        confirmations,
        finalized: false,
        start_block: 0,
        max_range: 100,
    };
    Watcher::new(l1, config, db, Arc::new(store), rules())
}

fn watcher(l1: FakeL1, dir: &std::path::Path) -> Watcher<FakeL1> {
    watcher_with(l1, dir, 0)
}

/// Builds the batches the tests propose: empty L2 blocks executed on a store of its own at
/// the same genesis, with their honest checkpoints.
struct Builder {
    store: StateStore,
    _dir: tempfile::TempDir,
}

/// A batch as proposed: its two logs.
struct Proposal {
    proposed: LogData,
    data: LogData,
}

impl Builder {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(&dir.path().join("l2")).expect("store");
        genesis().init_store(&store).expect("genesis");
        Self { store, _dir: dir }
    }

    /// The next `count` empty blocks on the builder's head; the claim of block `lie_at` (an
    /// index in the batch) has a wrong state root. The builder keeps the honest blocks.
    fn batch(&self, id: u64, count: usize, lie_at: Option<usize>) -> Proposal {
        let head = self.store.head().expect("head").expect("initialised");
        let base = crate::execute_local::l2::stored_header(&self.store, head.number)
            .expect("read")
            .expect("stored");
        let mut blocks = Vec::new();
        let mut claimed = Vec::new();
        for i in 0..count as u64 {
            let number = head.number + 1 + i;
            let inputs = BlockInputs {
                number,
                timestamp: GENESIS_TIMESTAMP + 12 * number,
                fee_recipient: Address::repeat_byte(0xfe),
                prev_randao: B256::with_last_byte(number as u8),
                gas_limit: 30_000_000,
                base_fee: 1_000_000_000,
                l1_anchor: B256::ZERO,
                transactions: Vec::new(),
            };
            let block = L2Block::new(inputs.clone()).expect("block");
            let pending = execute_on_store(&self.store, &rules(), &block).expect("execute");
            let mut checkpoint = Checkpoint {
                input_commitment: block.input_commitment,
                post_state_root: pending.post_state_root,
                gas_used: pending.outcome.gas_used,
            };
            pending.commit(&self.store).expect("commit");
            if lie_at == Some(i as usize) {
                checkpoint.post_state_root = B256::repeat_byte(0x11);
            }
            blocks.push(Bytes::from(inputs.encode().expect("encode")));
            claimed.push(to_sol(&checkpoint));
        }
        let checkpoints: Vec<Checkpoint> =
            claimed.iter().map(|c| crate::rollup::from_sol(c).expect("u64 gas")).collect();
        let last = crate::protocol::batch_tree::batch_headers(&base, &checkpoints)
            .last()
            .map_or(B256::ZERO, L2Header::block_hash);
        let proposed = BatchProposed {
            batchId: id,
            parent: id - 1,
            proposer: Address::ZERO,
            firstBlock: head.number + 1,
            blockCount: count as u64,
            lastBlockHash: last,
            lastStateRoot: claimed.last().map_or(B256::ZERO, |c| c.postStateRoot),
            checkpointsRoot: crate::protocol::checkpoints_root(&base, &checkpoints, &[]),
            leafCount: count as u64,
        }
        .encode_log_data();
        let data = BatchData { batchId: id, blocks, checkpoints: claimed, cuts: Vec::new() }
            .encode_log_data();
        Proposal { proposed, data }
    }

    /// Forgets the blocks after L2 block `number` (the proposer's view after an L1 reorg).
    fn rewind_to(&self, number: u64) {
        self.store.rollback_to(number).expect("rollback");
    }
}

/// Puts `proposal` on L1 in block `number`, transaction `tx` (both logs, as the contract emits).
fn propose(l1: &FakeL1, number: u64, tx: u8, proposal: &Proposal) {
    l1.push(number, tx, proposal.data.clone());
    l1.push(number, tx, proposal.proposed.clone());
}

fn step_ok(result: Result<(Vec<Finding>, Option<u64>, BlockRef), WatchError>) -> Vec<Finding> {
    match result {
        Ok((findings, _, _)) => findings,
        Err(err) => panic!("step failed: {err}"),
    }
}

fn checked(findings: &[Finding]) -> Vec<(u64, Verdict)> {
    findings
        .iter()
        .filter_map(|f| match f {
            Finding::Checked(r) => Some((r.id, r.verdict.clone())),
            _ => None,
        })
        .collect()
}

fn l2_head(w: &Watcher<FakeL1>) -> u64 {
    w.store.head().expect("head").expect("initialised").number
}

fn incomplete(result: Result<(Vec<Finding>, Option<u64>, BlockRef), WatchError>) -> Incomplete {
    match result {
        Err(WatchError::Incomplete(reason)) => reason,
        other => panic!("expected an incomplete answer, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn fewer_batches_in_the_logs_than_on_l1_are_never_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1 { batch_count: Some(1), ..FakeL1::with_head(5) };
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(
        matches!(reason, Incomplete::CountMismatch { block: 5, on_l1: 1, seen: 0 }),
        "{reason}"
    );
    assert_eq!(w.db().cursor().expect("cursor"), None, "the range is read again");
    assert_eq!(w.source().distrusted(), 1);
    // Again at the next poll: still not committed, still distrusted.
    incomplete(w.step().await);
    assert_eq!(w.source().distrusted(), 2);
    assert_eq!(w.db().cursor().expect("cursor"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_batch_id_after_a_gap_is_an_incomplete_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1 { batch_count: Some(2), ..FakeL1::with_head(5) };
    l1.logs.lock().expect("logs").push(log(3, 2, proposed(2)));
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(matches!(reason, Incomplete::IdGap { id: 2, last: 0 }), "{reason}");
    assert_eq!(w.db().last_batch_id().expect("last"), None, "nothing recorded");
    assert_eq!(w.db().cursor().expect("cursor"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_proposal_without_its_batch_data_is_an_incomplete_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1::with_head(5);
    l1.logs.lock().expect("logs").push(log(3, 1, proposed(1)));
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(matches!(reason, Incomplete::BatchDataMissing { batch: 1, .. }), "{reason}");
    assert_eq!(w.db().batch(1).expect("read"), None);
    assert_eq!(w.db().cursor().expect("cursor"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn batch_data_that_disagrees_with_its_event_is_an_incomplete_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1::with_head(5);
    // Two blocks in the data, one in the event: an endpoint answering with another batch's data.
    let data = BatchData {
        batchId: 1,
        blocks: vec![Bytes::new(), Bytes::new()],
        checkpoints: vec![Default::default(), Default::default()],
        cuts: Vec::new(),
    };
    {
        let mut logs = l1.logs.lock().expect("logs");
        logs.push(log(3, 1, data.encode_log_data()));
        logs.push(log(3, 1, proposed(1)));
    }
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(
        matches!(
            reason,
            Incomplete::BatchDataMismatch { batch: 1, blocks: 2, checkpoints: 2, proposed: 1 }
        ),
        "{reason}"
    );
    assert_eq!(w.db().cursor().expect("cursor"), None);
}

/// A `BatchData` whose checkpoints differ from what the contract received (one gas figure
/// changed by the endpoint that answers) does not give `BatchProposed`'s root: an incomplete
/// answer, nothing replayed, nothing committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn checkpoints_that_do_not_give_the_events_root_are_an_incomplete_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = Builder::new();
    let l1 = FakeL1::with_head(5);
    let mut proposal = builder.batch(1, 3, None);
    let mut data = BatchData::decode_log_data(&proposal.data).expect("BatchData");
    data.checkpoints[1].gasUsed += alloy_primitives::U256::from(1);
    proposal.data = data.encode_log_data();
    propose(&l1, 3, 1, &proposal);
    let mut w = watcher(l1, dir.path());
    let reason = incomplete(w.step().await);
    assert!(matches!(reason, Incomplete::CheckpointsRoot { batch: 1 }), "{reason}");
    assert_eq!(w.db().cursor().expect("cursor"), None);
    assert_eq!(w.db().batch(1).expect("read"), None, "no record of the batch");
    assert_eq!(l2_head(&w), 0, "nothing replayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_complete_empty_range_moves_the_cursor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = FakeL1::with_head(5);
    let mut w = watcher(l1, dir.path());
    let (findings, processed, _) = w.step().await.expect("step");
    assert!(findings.is_empty());
    assert_eq!(processed, Some(5));
    assert_eq!(w.db().cursor().expect("cursor").map(|c| c.number), Some(5));
    assert_eq!(w.source().distrusted(), 0);
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

mod reorg;
