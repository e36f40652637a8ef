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
//!   committed: it raises an alarm, the endpoint is distrusted and the range read again.

pub mod db;
mod replay;
pub mod source;

pub use db::{BatchRecord, BatchState, Cursor, Verdict, WatchDb};
pub use replay::read_batch_blocks;
pub use source::{BlockRef, L1Source, RetryPolicy, RpcSource, SourceError};

use crate::daemon::metrics_names as metric;
use crate::execute_local::chain::ChainRules;
use crate::execute_local::store::{StateStore, StoreError};
use crate::protocol::Checkpoint;
use crate::rollup::NativeRollup;
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
            .map_err(|e| WatchError::Incomplete(format!("a BatchData log does not decode: {e}")))?;
        let tx = log.transaction_hash.ok_or_else(|| {
            WatchError::Inconsistent("a BatchData log without its transaction".into())
        })?;
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

/// Errors that stop a step; the step can be retried (nothing half-done is kept).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("L1 is inconsistent: {0}")]
    Inconsistent(String),
    #[error("replaying batch {batch}: {reason}")]
    Replay { batch: u64, reason: String },
    /// The endpoint's answer leaves something out that L1 itself says exists (a batch id
    /// skipped, a `BatchProposed` without its `BatchData`): the step is not committed, the
    /// endpoint is distrusted, and the range is read again.
    #[error("incomplete L1 answer: {0}")]
    Incomplete(String),
}

/// The first wrong checkpoint of a batch, with what proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lie {
    pub batch_id: u64,
    pub index: usize,
    pub claimed: Vec<Checkpoint>,
    pub local: Checkpoint,
    /// The encoded one-block trace, recorded from the state before the block.
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
    /// Returns the findings and the L1 block the watcher has now processed.
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
        match self.read_range(from, to, &mut findings).await {
            Ok(()) => {}
            Err(WatchError::Incomplete(reason)) => {
                tracing::error!(target: "native_challenger::watcher", from, to, %reason, "ALARM: L1 answer incomplete; distrusting the endpoint and reading the range again");
                metrics::counter!(metric::WATCHER_INCOMPLETE_ANSWERS).increment(1);
                self.source.distrust_current();
                return Err(WatchError::Incomplete(reason));
            }
            Err(e) => return Err(e),
        }
        metrics::gauge!(metric::WATCHER_L1_PROCESSED_BLOCK).set(to as f64);
        metrics::gauge!(metric::WATCHER_L1_HEAD_LAG_BLOCKS)
            .set(head.number.saturating_sub(to) as f64);
        Ok((findings, Some(to), head))
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
        let end = self
            .source
            .block(to)
            .await?
            .ok_or_else(|| WatchError::Inconsistent(format!("block {to} is missing")))?;
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
            return Err(WatchError::Incomplete(format!(
                "the rollup holds {count} batches at L1 block {to}, the logs showed {seen}"
            )));
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
            return Err(WatchError::Incomplete(format!(
                "batch {id} proposed, but the last batch seen is {last}"
            )));
        }
        Ok(())
    }

    /// Each log's block must still be canonical (a reorg between reads is caught here).
    async fn check_log_blocks(&self, logs: &[Log]) -> Result<Vec<(u64, B256)>, WatchError> {
        let mut seen: Vec<(u64, B256)> = Vec::new();
        for log in logs {
            let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
                return Err(WatchError::Inconsistent("a log without its block".into()));
            };
            if seen.iter().any(|(n, _)| *n == number) {
                continue;
            }
            let now = self.source.block(number).await?.map(|b| b.hash);
            if now != Some(hash) {
                return Err(WatchError::Inconsistent(format!(
                    "block {number} changed while reading its logs"
                )));
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
        let mut ancestor =
            Cursor { number: self.config.start_block.saturating_sub(1), hash: B256::ZERO };
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
                let event = NativeRollup::BatchProposed::decode_log_data(log.data())
                    .map_err(|e| WatchError::Inconsistent(format!("BatchProposed: {e}")))?;
                self.check_next_id(event.batchId)?;
                let batch = log.transaction_hash.and_then(|tx| data.get(&(tx, event.batchId)));
                self.on_proposed(log, &event, batch, findings).await?;
            }
            Some(NativeRollup::BatchInvalidated::SIGNATURE_HASH) => {
                let event = NativeRollup::BatchInvalidated::decode_log_data(log.data())
                    .map_err(|e| WatchError::Inconsistent(format!("BatchInvalidated: {e}")))?;
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
                let event = NativeRollup::BatchFinalized::decode_log_data(log.data())
                    .map_err(|e| WatchError::Inconsistent(format!("BatchFinalized: {e}")))?;
                let record = self.set_state(event.batchId, BatchState::Finalized { at_l1 })?;
                let wrong = record.is_none_or(|r| r.verdict != Verdict::Valid);
                if wrong {
                    tracing::error!(target: "native_challenger::watcher", batch = event.batchId, "ALARM: a batch this challenger did not find valid has FINALIZED");
                    metrics::counter!(metric::WATCHER_WRONG_FINALIZED).increment(1);
                }
                findings.push(Finding::Finalized { batch_id: event.batchId, wrong });
            }
            Some(NativeRollup::ProposerConvicted::SIGNATURE_HASH) => {
                let event = NativeRollup::ProposerConvicted::decode_log_data(log.data())
                    .map_err(|e| WatchError::Inconsistent(format!("ProposerConvicted: {e}")))?;
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
