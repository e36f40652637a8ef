//! The watcher: follows L1, finds the rollup's proposals through its events, decodes each
//! batch from the `BatchData` log of its proposing transaction and replays it with
//! `execute_local` into the L2 store, recording every local checkpoint.
//!
//! Input: an [`L1Source`], the rollup's address, the L2 store at the rollup's genesis, and the
//! challenger's database. Output: [`Finding`]s per step (batches checked, the first lie with
//! the trace that proves it, invalidations, finalizations, reorgs). Invariants:
//! - it acts only on L1 blocks at the configured confirmation depth (or finalized);
//! - a reorg is detected by block hash: the L1 cursor and the batch records rewind to the
//!   common ancestor and the L2 state rolls back with them;
//! - the L2 store holds the true state of the live chain: blocks of valid batches, plus the
//!   blocks before the first lie of a pending wrong batch; batches built on a wrong batch are
//!   not replayed; an invalidation rolls the state back to the last good batch;
//! - processing is idempotent, so a crash anywhere re-processes from the cursor safely;
//! - completeness: every batch id from 1 to the contract's `batchCount` at the cursor has a
//!   record; a range whose answer skips an id (a lying or truncating endpoint) is never
//!   committed: it raises an alarm, the endpoint is distrusted and the range read again;
//! - every error says what to do about it ([`Classify`]): an answer that is incomplete or
//!   inconsistent is distrusted and read again like that (severity rewind).

pub mod db;
mod replay;
pub mod source;

pub use db::{BatchRecord, BatchState, Cursor, Verdict, WatchDb};
pub use replay::read_batch_blocks;
pub use source::{BlockRef, L1Source, RetryPolicy, RpcSource, SourceError};

use crate::daemon::metrics_names as metric;
use crate::execute_local::chain::ChainRules;
use crate::execute_local::execute::TraceBuildError;
use crate::execute_local::replay::ReplayError;
use crate::execute_local::store::{StateStore, StoreError};
use crate::protocol::{Checkpoint, Cut, L2Header, ProtocolError};
use crate::rollup::NativeRollup;
use crate::severity::{Classify, Severity};
use alloy_primitives::{Address, B256, Bytes};
use alloy_rpc_types_eth::Log;
use alloy_sol_types::SolEvent;
use std::collections::HashMap;
use std::sync::Arc;

/// The `BatchData` logs of a range, by proposing transaction and batch id.
type BatchDataByTx = HashMap<(B256, u64), NativeRollup::BatchData>;

/// Collects the `BatchData` logs of `logs`; one that does not decode is an incomplete answer
/// (the contract emits it from arguments it has already checked).
fn batch_data(logs: &[Log]) -> Result<BatchDataByTx, WatchError> {
    let mut out = HashMap::new();
    for log in logs {
        if log.data().topics().first() != Some(&NativeRollup::BatchData::SIGNATURE_HASH) {
            continue;
        }
        let event = NativeRollup::BatchData::decode_log_data(log.data())
            .map_err(|reason| Incomplete::BatchDataUndecodable { reason })?;
        let tx = log
            .transaction_hash
            .ok_or(Inconsistent::LogField { event: "BatchData", field: "transaction hash" })?;
        out.insert((tx, event.batchId), event);
    }
    Ok(out)
}

/// Where and how to follow L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    pub rollup: Address,
    /// Act on blocks this many blocks behind the head (ignored with `finalized`).
    pub confirmations: u64,
    /// Act only on the node's finalized blocks.
    pub finalized: bool,
    /// First L1 block to read (the contract's deployment block or earlier).
    pub start_block: u64,
    /// Most L1 blocks read per step.
    pub max_range: u64,
}

/// Errors that stop a step; nothing half-done is kept, so the step can be tried again. What
/// to do about each is its [`Severity`](crate::severity::Severity) ([`Classify`]).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("L1 is inconsistent: {0}")]
    Inconsistent(#[from] Inconsistent),
    #[error("replaying batch {batch} at L2 block {block}: {fault}")]
    Replay { batch: u64, block: u64, fault: ReplayFault },
    /// The endpoint's answer leaves something out that L1 itself says exists (a batch id
    /// skipped, a `BatchProposed` without its `BatchData`): the step is not committed, the
    /// endpoint is distrusted, and the range is read again.
    #[error("incomplete L1 answer: {0}")]
    Incomplete(#[from] Incomplete),
}

/// An answer that contradicts itself or L1 (or, [`Inconsistent::L2Behind`], local state
/// that contradicts the records).
#[derive(Debug, thiserror::Error)]
pub enum Inconsistent {
    #[error("a log without its block")]
    LogWithoutBlock,
    #[error("a {event} log without its {field}")]
    LogField { event: &'static str, field: &'static str },
    #[error("a {event} log does not decode: {reason}")]
    Undecodable { event: &'static str, reason: alloy_sol_types::Error },
    #[error("block {number} is missing")]
    BlockMissing { number: u64 },
    #[error("block {number} changed while reading its logs")]
    BlockChanged { number: u64 },
    #[error("batch {batch} starts at L2 block {first_block} but the L2 state is at {l2_head}")]
    L2Behind { batch: u64, first_block: u64, l2_head: u64 },
}

/// What an incomplete answer left out (see [`WatchError::Incomplete`]).
#[derive(Debug, thiserror::Error)]
pub enum Incomplete {
    #[error("the rollup holds {on_l1} batches at L1 block {block}, the logs showed {seen}")]
    CountMismatch { block: u64, on_l1: u64, seen: u64 },
    #[error("batch {id} proposed, but the last batch seen is {last}")]
    IdGap { id: u64, last: u64 },
    #[error("batch {batch}: BatchProposed in transaction {tx} without its BatchData log")]
    BatchDataMissing { batch: u64, tx: B256 },
    #[error(
        "batch {batch}: BatchData holds {blocks} blocks and {checkpoints} checkpoints, BatchProposed says {proposed}"
    )]
    BatchDataMismatch { batch: u64, blocks: usize, checkpoints: usize, proposed: u64 },
    #[error(
        "batch {batch}: the BatchData checkpoints, chained from the batch's parent block, do not give BatchProposed's root and last block hash"
    )]
    CheckpointsRoot { batch: u64 },
    #[error("a BatchData log does not decode: {reason}")]
    BatchDataUndecodable { reason: alloy_sol_types::Error },
}

/// Why replaying a block failed (see [`WatchError::Replay`]).
#[derive(Debug, thiserror::Error)]
pub enum ReplayFault {
    #[error("block inputs: {0}")]
    Block(ProtocolError),
    #[error(transparent)]
    Execute(ReplayError),
    #[error("recording the trace: {0}")]
    Trace(TraceBuildError),
    #[error("encoding the trace: {0}")]
    Encode(ProtocolError),
    #[error("committing the block: {0}")]
    Commit(StoreError),
}

/// The first wrong checkpoint of a batch, with what proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lie {
    pub batch_id: u64,
    /// The block holding the first wrong leaf (its index in the batch), and the segment of
    /// that block the leaf ends: a cut's, or the block's last for its header.
    pub index: usize,
    pub segment: u16,
    pub claimed: Vec<Checkpoint>,
    pub claimed_cuts: Vec<Vec<Cut>>,
    /// The segment's true end: state root and the block's gas up to there (with the block's
    /// input commitment).
    pub local: Checkpoint,
    /// The header of the L2 block before the batch (the challenge's proof is built from it,
    /// `claimed` and `claimed_cuts`).
    pub base: L2Header,
    /// The encoded trace of the segment, recorded from the state before the block.
    pub trace: Bytes,
    pub l1_block: u64,
    pub l1_timestamp: u64,
}

/// What a step found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Checked(BatchRecord),
    Lie(Lie),
    Invalidated {
        batch_id: u64,
        convicted: u64,
    },
    Convicted {
        batch_id: u64,
        challenger: Address,
    },
    /// A batch finalized; `wrong` when the watcher had not found it valid: an alarm.
    Finalized {
        batch_id: u64,
        wrong: bool,
    },
    Reorg {
        from: u64,
        to: u64,
        dropped: Vec<u64>,
    },
}

/// The watcher. See the module documentation.
#[derive(Debug)]
pub struct Watcher<S> {
    source: S,
    config: WatchConfig,
    db: Arc<WatchDb>,
    store: Arc<StateStore>,
    rules: ChainRules,
}

impl<S: L1Source> Watcher<S> {
    pub fn new(
        source: S,
        config: WatchConfig,
        db: Arc<WatchDb>,
        store: Arc<StateStore>,
        rules: ChainRules,
    ) -> Self {
        Self { source, config, db, store, rules }
    }

    pub fn db(&self) -> &Arc<WatchDb> {
        &self.db
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    /// The first L1 block the watcher reads.
    pub fn start_block(&self) -> u64 {
        self.config.start_block
    }

    /// Reads the next range of confirmed L1 blocks and acts on the rollup's events in it.
    /// Returns the findings and the L1 block the watcher has now processed. On an error of
    /// severity [`Severity::Rewind`] nothing of the range is committed and the endpoint is
    /// distrusted: the next step checks the cursor against L1 (rewinding on a reorg) and
    /// reads the range again from the next endpoint.
    pub async fn step(&mut self) -> Result<(Vec<Finding>, Option<u64>, BlockRef), WatchError> {
        let head = self.source.head(self.config.finalized).await?;
        let target = if self.config.finalized {
            head.number
        } else {
            head.number.saturating_sub(self.config.confirmations)
        };
        let mut findings = Vec::new();
        if let Some(cursor) = self.db.cursor()?
            && let Some(reorg) = self.check_reorg(cursor).await?
        {
            findings.push(reorg);
        }
        let cursor = self.db.cursor()?;
        let from = cursor.map_or(self.config.start_block, |c| c.number + 1);
        if from > target {
            return Ok((findings, cursor.map(|c| c.number), head));
        }
        let to = target.min(from.saturating_add(self.config.max_range.max(1) - 1));
        if let Err(err) = self.read_range(from, to, &mut findings).await {
            if err.severity() == Severity::Rewind {
                self.distrust(&err, from, to);
            }
            return Err(err);
        }
        metrics::gauge!(metric::WATCHER_L1_PROCESSED_BLOCK).set(to as f64);
        metrics::gauge!(metric::WATCHER_L1_HEAD_LAG_BLOCKS)
            .set(head.number.saturating_sub(to) as f64);
        Ok((findings, Some(to), head))
    }

    /// After an answer about `from..=to` that cannot be trusted: the alarm (incomplete) or a
    /// warning (inconsistent), and the next read goes to the next endpoint.
    fn distrust(&self, err: &WatchError, from: u64, to: u64) {
        if let WatchError::Incomplete(reason) = err {
            tracing::error!(target: "native_challenger::watcher", from, to, %reason, "ALARM: L1 answer incomplete; distrusting the endpoint and reading the range again");
            metrics::counter!(metric::WATCHER_INCOMPLETE_ANSWERS).increment(1);
        } else {
            tracing::warn!(target: "native_challenger::watcher", from, to, %err, "L1 answer inconsistent; distrusting the endpoint and reading the range again");
        }
        self.source.distrust_current();
    }

    /// Reads and acts on L1 blocks `from..=to`, checks that every batch L1 holds at `to` was
    /// seen, and moves the cursor to `to`.
    async fn read_range(
        &mut self,
        from: u64,
        to: u64,
        findings: &mut Vec<Finding>,
    ) -> Result<(), WatchError> {
        let logs = self.source.logs(self.config.rollup, from, to).await?;
        let end = self.source.block(to).await?.ok_or(Inconsistent::BlockMissing { number: to })?;
        let hashes = self.check_log_blocks(&logs).await?;
        let data = batch_data(&logs)?;
        for log in &logs {
            self.handle(log, &data, findings).await?;
        }
        self.check_complete(to).await?;
        let mut all = hashes;
        all.push((to, end.hash));
        self.db.commit(&[], &all, Some(Cursor { number: to, hash: end.hash }))?;
        Ok(())
    }

    /// Every batch id from 1 to the contract's `batchCount` at block `to` must have been seen.
    async fn check_complete(&self, to: u64) -> Result<(), WatchError> {
        let count = self.source.batch_count(self.config.rollup, to).await?;
        let seen = self.db.last_batch_id()?.unwrap_or(0);
        if count != seen {
            return Err(Incomplete::CountMismatch { block: to, on_l1: count, seen }.into());
        }
        Ok(())
    }

    /// A batch id never seen must be the next one: ids count up from 1 without gaps.
    fn check_next_id(&self, id: u64) -> Result<(), WatchError> {
        if self.db.batch(id)?.is_some() {
            return Ok(());
        }
        let last = self.db.last_batch_id()?.unwrap_or(0);
        if id != last + 1 {
            return Err(Incomplete::IdGap { id, last }.into());
        }
        Ok(())
    }

    /// Each log's block must still be canonical (a reorg between reads is caught here).
    async fn check_log_blocks(&self, logs: &[Log]) -> Result<Vec<(u64, B256)>, WatchError> {
        let mut seen: Vec<(u64, B256)> = Vec::new();
        for log in logs {
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                return Err(Inconsistent::LogWithoutBlock.into());
            };
            if seen.iter().any(|(n, _)| *n == number) {
                continue;
            }
            let now = self.source.block(number).await?.map(|b| b.hash);
            if now != Some(hash) {
                return Err(Inconsistent::BlockChanged { number }.into());
            }
            seen.push((number, hash));
        }
        Ok(seen)
    }

    /// Compares the cursor with L1; on a mismatch, rewinds to the newest stored block L1
    /// still has, and rolls the L2 state back accordingly.
    async fn check_reorg(&mut self, cursor: Cursor) -> Result<Option<Finding>, WatchError> {
        let now = self.source.block(cursor.number).await?.map(|b| b.hash);
        if now == Some(cursor.hash) {
            return Ok(None);
        }
        // No stored block left on L1: back to before the first block read, with that block's
        // own hash (a zero hash would look like another reorg at the next step).
        let before = self.config.start_block.saturating_sub(1);
        let hash = self.source.block(before).await?.map_or(B256::ZERO, |b| b.hash);
        let mut ancestor = Cursor { number: before, hash };
        for (number, hash) in self.db.l1_hashes_below(cursor.number)? {
            if self.source.block(number).await?.map(|b| b.hash) == Some(hash) {
                ancestor = Cursor { number, hash };
                break;
            }
        }
        let dropped = self.db.rewind(ancestor)?;
        self.reset_l2()?;
        tracing::warn!(target: "native_challenger::watcher", from = cursor.number, to = ancestor.number, dropped = dropped.len(), "L1 reorg: rewound");
        metrics::counter!(metric::WATCHER_REORGS).increment(1);
        Ok(Some(Finding::Reorg {
            from: cursor.number,
            to: ancestor.number,
            dropped: dropped.iter().map(|r| r.id).collect(),
        }))
    }

    /// The L2 block the store must be at, from the batch records (see the module invariants).
    fn l2_target(&self) -> Result<u64, WatchError> {
        let mut target = 0;
        for record in self.db.batches()? {
            if matches!(record.state, BatchState::Invalidated { .. }) {
                continue;
            }
            let last = match record.verdict {
                Verdict::Valid => record.last_block(),
                Verdict::Invalid { index } => (record.first_block + index as u64).saturating_sub(1),
                Verdict::Skipped { .. } => continue,
            };
            target = target.max(last);
        }
        Ok(target)
    }

    /// Rolls the L2 store back to [`Self::l2_target`] if it is ahead.
    fn reset_l2(&self) -> Result<(), WatchError> {
        let target = self.l2_target()?;
        let head = self.store.head()?.ok_or(StoreError::Uninitialised)?;
        if head.number > target {
            self.store.rollback_to(target)?;
        }
        Ok(())
    }

    async fn handle(
        &mut self,
        log: &Log,
        data: &BatchDataByTx,
        findings: &mut Vec<Finding>,
    ) -> Result<(), WatchError> {
        let at_l1 = log.block_number.unwrap_or_default();
        let topics = log.data().topics();
        match topics.first().copied() {
            Some(NativeRollup::BatchProposed::SIGNATURE_HASH) => {
                let event =
                    NativeRollup::BatchProposed::decode_log_data(log.data()).map_err(|reason| {
                        Inconsistent::Undecodable { event: "BatchProposed", reason }
                    })?;
                self.check_next_id(event.batchId)?;
                let batch = log.transaction_hash.and_then(|tx| data.get(&(tx, event.batchId)));
                self.on_proposed(log, &event, batch, findings).await?;
            }
            Some(NativeRollup::BatchInvalidated::SIGNATURE_HASH) => {
                let event = NativeRollup::BatchInvalidated::decode_log_data(log.data()).map_err(
                    |reason| Inconsistent::Undecodable { event: "BatchInvalidated", reason },
                )?;
                self.set_state(event.batchId, BatchState::Invalidated { at_l1 })?;
                if event.batchId == event.convictedBatch {
                    self.reset_l2()?;
                }
                findings.push(Finding::Invalidated {
                    batch_id: event.batchId,
                    convicted: event.convictedBatch,
                });
            }
            Some(NativeRollup::BatchFinalized::SIGNATURE_HASH) => {
                let event = NativeRollup::BatchFinalized::decode_log_data(log.data()).map_err(
                    |reason| Inconsistent::Undecodable { event: "BatchFinalized", reason },
                )?;
                let record = self.set_state(event.batchId, BatchState::Finalized { at_l1 })?;
                let wrong = record.is_none_or(|r| r.verdict != Verdict::Valid);
                if wrong {
                    tracing::error!(target: "native_challenger::watcher", batch = event.batchId, "ALARM: a batch this challenger did not find valid has FINALIZED");
                    metrics::counter!(metric::WATCHER_WRONG_FINALIZED).increment(1);
                }
                findings.push(Finding::Finalized { batch_id: event.batchId, wrong });
            }
            Some(NativeRollup::ProposerConvicted::SIGNATURE_HASH) => {
                let event = NativeRollup::ProposerConvicted::decode_log_data(log.data()).map_err(
                    |reason| Inconsistent::Undecodable { event: "ProposerConvicted", reason },
                )?;
                findings.push(Finding::Convicted {
                    batch_id: event.batchId,
                    challenger: event.challenger,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn set_state(&self, id: u64, state: BatchState) -> Result<Option<BatchRecord>, WatchError> {
        let Some(mut record) = self.db.batch(id)? else { return Ok(None) };
        record.state = state;
        self.db.commit(std::slice::from_ref(&record), &[], None)?;
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests;
