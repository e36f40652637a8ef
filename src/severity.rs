//! How bad a failure is, and what the daemon does about it: every error that crosses the
//! watcher, daemon or submitter seam says whether trying again can help ([`Classify`]).
//!
//! Input: an error of one of those seams. Output: its [`Severity`] and a stable `kind`
//! (a snake_case label for logs, metrics and the recurrence alarm). The model follows kona's
//! derivation pipeline (temporary, reset, critical):
//! - [`Severity::Retry`]: a passing fault (an RPC endpoint down, a timeout); the same step is
//!   tried again after a backoff.
//! - [`Severity::Rewind`]: L1's answer cannot be trusted as read (inconsistent, incomplete,
//!   changed by a reorg while reading); nothing is committed, the endpoint is distrusted and
//!   the range read again, after the cursor is checked against L1 (and rewound on a reorg).
//! - [`Severity::Fatal`]: trying again cannot help (a corrupt local store, a configuration or
//!   genesis that does not match L1, a contract that is not a rollup): the daemon stops.
//!
//! A failure that recurs whatever its severity is caught by [`Recurrence`]: after
//! `threshold` failures of the same kind in a row it is reported once as recurring, and
//! cleared by the next success.
//!
//! The submitter's error types are classified here too, without the submitter depending on
//! this module; for them fatal means final for that call or transaction (the flow moves on:
//! a new round, a refusal), never a stop of the daemon.

use crate::daemon::DaemonError;
use crate::daemon::params::ParamError;
use crate::execute_local::store::StoreError;
use crate::rollup::RollupError;
use crate::rollup::genesis::GenesisInitError;
use crate::submitter::{KeyError, Refusal, TxError};
use crate::watcher::db::DbError;
use crate::watcher::{Incomplete, Inconsistent, ReplayFault, SourceError, WatchError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What to do about a failure. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Retry,
    Rewind,
    Fatal,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Rewind => "rewind",
            Self::Fatal => "fatal",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows its [`Severity`]; every seam error implements it.
pub trait Classify: std::error::Error {
    fn severity(&self) -> Severity;
    /// A stable snake_case name of the failure (not of its details): two failures of the
    /// same kind are the same problem recurring.
    fn kind(&self) -> &'static str;
}

/// RocksDB's own faults: a busy or interrupted operation passes; corruption, a bad argument
/// or a missing feature does not. An I/O error (a full disk, say) may clear when the operator
/// acts, so it is retried and, if it persists, raises the recurrence alarm.
fn rocks_severity(err: &rocksdb::Error) -> Severity {
    use rocksdb::ErrorKind as K;
    match err.kind() {
        K::Busy
        | K::TryAgain
        | K::TimedOut
        | K::Incomplete
        | K::Aborted
        | K::Expired
        | K::MergeInProgress
        | K::IOError
        | K::ShutdownInProgress => Severity::Retry,
        K::NotFound
        | K::Corruption
        | K::NotSupported
        | K::InvalidArgument
        | K::CompactionTooLarge
        | K::ColumnFamilyDropped
        | K::Unknown => Severity::Fatal,
    }
}

impl Classify for SourceError {
    fn severity(&self) -> Severity {
        match self {
            Self::Unavailable { .. } | Self::Connect { .. } | Self::Refused { .. } => {
                Severity::Retry
            }
            Self::NoEndpoint => Severity::Fatal,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "l1_unavailable",
            Self::Connect { .. } => "l1_connect",
            Self::Refused { .. } => "l1_refused",
            Self::NoEndpoint => "no_l1_endpoint",
        }
    }
}

impl Classify for DbError {
    fn severity(&self) -> Severity {
        match self {
            Self::Rocks(e) => rocks_severity(e),
            Self::MissingColumnFamily(_) | Self::Corrupt { .. } => Severity::Fatal,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Rocks(_) => "challenger_db",
            Self::MissingColumnFamily(_) | Self::Corrupt { .. } => "challenger_db_corrupt",
        }
    }
}

impl Classify for StoreError {
    fn severity(&self) -> Severity {
        match self {
            Self::Rocks(e) => rocks_severity(e),
            // The store no longer holds what the records say it holds (or cannot go back as
            // far as a reorg needs): re-sync from genesis or a snapshot.
            Self::MissingColumnFamily { .. }
            | Self::Corrupt { .. }
            | Self::Uninitialised
            | Self::AlreadyInitialised { .. }
            | Self::RollbackOutOfRange { .. }
            | Self::NotNextBlock { .. } => Severity::Fatal,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Rocks(_) => "l2_store",
            Self::RollbackOutOfRange { .. } => "l2_rollback_out_of_range",
            _ => "l2_store_corrupt",
        }
    }
}

impl Classify for Inconsistent {
    fn severity(&self) -> Severity {
        match self {
            // Local state behind what the records promise: not L1's fault.
            Self::L2Behind { .. } => Severity::Fatal,
            Self::LogWithoutBlock
            | Self::LogField { .. }
            | Self::Undecodable { .. }
            | Self::BlockMissing { .. }
            | Self::BlockChanged { .. } => Severity::Rewind,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::L2Behind { .. } => "l2_behind_records",
            Self::BlockChanged { .. } => "l1_block_changed",
            Self::BlockMissing { .. } => "l1_block_missing",
            Self::LogWithoutBlock | Self::LogField { .. } => "l1_log_incomplete",
            Self::Undecodable { .. } => "l1_log_undecodable",
        }
    }
}

impl Classify for Incomplete {
    fn severity(&self) -> Severity {
        Severity::Rewind
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::CountMismatch { .. } | Self::IdGap { .. } => "l1_batches_missing",
            Self::BatchDataMissing { .. }
            | Self::BatchDataMismatch { .. }
            | Self::CheckpointsRoot { .. }
            | Self::BatchDataUndecodable { .. } => "l1_batch_data_wrong",
        }
    }
}

impl Classify for ReplayFault {
    fn severity(&self) -> Severity {
        use crate::execute_local::execute::TraceBuildError as T;
        use crate::execute_local::replay::ReplayError as R;
        use crate::execute_local::witness::RecordError;
        match self {
            Self::Execute(R::Store(e))
            | Self::Trace(T::Store(e))
            | Self::Trace(T::Record(RecordError::Store(e)))
            | Self::Commit(e) => e.severity(),
            // Deterministic: the same batch fails the same way again. Not fatal, though: a
            // proposer must not be able to stop every challenger with one odd batch. It is
            // retried, and the recurrence alarm tells the operator.
            Self::Block(_) | Self::Execute(_) | Self::Trace(_) | Self::Encode(_) => Severity::Retry,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Execute(crate::execute_local::replay::ReplayError::Store(e))
            | Self::Commit(e) => e.kind(),
            _ => "replay_failed",
        }
    }
}

impl Classify for WatchError {
    fn severity(&self) -> Severity {
        match self {
            Self::Source(e) => e.severity(),
            Self::Db(e) => e.severity(),
            Self::Store(e) => e.severity(),
            Self::Inconsistent(e) => e.severity(),
            Self::Incomplete(e) => e.severity(),
            Self::Replay { fault, .. } => fault.severity(),
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Source(e) => e.kind(),
            Self::Db(e) => e.kind(),
            Self::Store(e) => e.kind(),
            Self::Inconsistent(e) => e.kind(),
            Self::Incomplete(e) => e.kind(),
            Self::Replay { fault, .. } => fault.kind(),
        }
    }
}

impl Classify for ParamError {
    fn severity(&self) -> Severity {
        match self {
            Self::WindowTooShort { .. } | Self::ExecuteBudget { .. } => Severity::Fatal,
            Self::L1(_) => Severity::Retry,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::WindowTooShort { .. } => "window_too_short",
            Self::ExecuteBudget { .. } => "execute_budget",
            Self::L1(_) => "l1_unavailable",
        }
    }
}

impl Classify for DaemonError {
    fn severity(&self) -> Severity {
        match self {
            Self::Source(e) => e.severity(),
            Self::Db(e) => e.severity(),
            Self::Store(e) => e.severity(),
            Self::Parameters(e) => e.severity(),
            Self::Watch(e) => e.severity(),
            Self::Genesis(GenesisInitError::Store(e)) => e.severity(),
            Self::Snapshot(crate::snapshot::SnapshotError::Store(e)) => e.severity(),
            Self::L1 { .. } | Self::Signer { .. } => Severity::Retry,
            Self::Snapshot(crate::snapshot::SnapshotError::L1(_)) => Severity::Retry,
            Self::Snapshot(_) => Severity::Fatal,
            Self::Config(_)
            | Self::Genesis(_)
            | Self::GenesisMismatch { .. }
            | Self::UnsupportedFork { .. }
            | Self::Io { .. }
            | Self::NotRollup { .. }
            | Self::NoKey
            | Self::Metrics { .. } => Severity::Fatal,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Source(e) => e.kind(),
            Self::Db(e) => e.kind(),
            Self::Store(e) => e.kind(),
            Self::Parameters(e) => e.kind(),
            Self::Watch(e) => e.kind(),
            Self::L1 { .. } => "l1_unavailable",
            Self::Signer { .. } => "signer",
            Self::Config(_) => "config",
            Self::Genesis(GenesisInitError::Store(e)) => e.kind(),
            Self::Snapshot(crate::snapshot::SnapshotError::Store(e)) => e.kind(),
            Self::Snapshot(crate::snapshot::SnapshotError::L1(_)) => "l1_unavailable",
            Self::Snapshot(_) => "snapshot_refused",
            Self::Genesis(_) | Self::GenesisMismatch { .. } => "genesis_mismatch",
            Self::UnsupportedFork { .. } => "unsupported_fork",
            Self::Io { .. } => "io",
            Self::NotRollup { .. } => "not_a_rollup",
            Self::NoKey => "no_key",
            Self::Metrics { .. } => "metrics_endpoint",
        }
    }
}

impl Classify for RollupError {
    fn severity(&self) -> Severity {
        match self {
            // The contract's answer is final for this call; the flow decides what it means.
            Self::Contract(_) | Self::Reverted { .. } | Self::Failed { .. } => Severity::Fatal,
            Self::Rpc(_) | Self::Unexpected(_) => Severity::Retry,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Contract(_) => "contract_refused",
            Self::Reverted { .. } => "call_reverted",
            Self::Failed { .. } => "tx_failed",
            Self::Rpc(_) => "l1_rpc",
            Self::Unexpected(_) => "l1_unexpected_answer",
        }
    }
}

impl Classify for TxError {
    fn severity(&self) -> Severity {
        match self {
            Self::Rollup(e) => e.severity(),
            // A reverted or replaced transaction is final for that transaction; the intent
            // goes on with a new round (the submitter's flow).
            Self::Reverted { .. } | Self::Replaced { .. } => Severity::Fatal,
            Self::Timeout(_) | Self::FeeCap { .. } => Severity::Retry,
            Self::Sign(_) => Severity::Retry,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Rollup(e) => e.kind(),
            Self::Reverted { .. } => "tx_reverted",
            Self::Replaced { .. } => "tx_replaced",
            Self::Timeout(_) => "tx_timeout",
            Self::FeeCap { .. } => "fee_cap",
            Self::Sign(_) => "signer",
        }
    }
}

impl Classify for KeyError {
    fn severity(&self) -> Severity {
        match self {
            Self::Remote(_) => Severity::Retry,
            Self::EnvMissing(_)
            | Self::EnvMalformed(_)
            | Self::Password { .. }
            | Self::Keystore { .. } => Severity::Fatal,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Remote(_) => "signer",
            _ => "key",
        }
    }
}

impl Classify for Refusal {
    fn severity(&self) -> Severity {
        match self {
            // Fees move: a challenge not worth it now may be later.
            Self::NotWorthIt { .. } => Severity::Retry,
            Self::SelfCheck(_) | Self::NoFit(_) => Severity::Fatal,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::NotWorthIt { .. } => "not_worth_it",
            Self::SelfCheck(_) => "self_check",
            Self::NoFit(_) => "no_fit",
        }
    }
}

/// The longest wait between two tries of a failing step (unless the poll interval is longer).
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How long to wait before trying a step again after `failures` failures in a row of
/// severity retry: the poll interval, doubled with each failure after the first, up to
/// [`MAX_BACKOFF`] (never below the poll interval).
pub fn backoff(poll: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    poll.saturating_mul(1 << doublings).min(MAX_BACKOFF.max(poll))
}

/// Failures in a row before one is reported as recurring (`[l1] failure_alarm_after`).
pub const DEFAULT_RECURRENCE_THRESHOLD: u32 = 5;

/// A failure that has recurred at least the threshold's times in a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    pub kind: String,
    pub severity: Severity,
    /// Failures in a row so far.
    pub count: u32,
    /// When the first of them happened (Unix seconds).
    pub since_unix: u64,
    /// The last one's message.
    pub error: String,
}

/// What one observation changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// A failure below the threshold (`count` in a row of its kind).
    Failed { count: u32 },
    /// The failure just reached the threshold: report it once, now.
    Escalated(Recurring),
    /// A failure already reported as recurring: nothing new to say.
    StillRecurring { count: u32 },
    /// A success or another kind of failure ended a reported recurrence.
    Cleared(Recurring),
    /// A success with nothing to clear.
    Quiet,
}

/// Counts failures of the same kind in a row. See the module documentation.
#[derive(Debug, Clone)]
pub struct Recurrence {
    threshold: u32,
    streak: Option<Recurring>,
}

impl Recurrence {
    /// Reports a failure as recurring at its `threshold`-th time in a row (at least 1).
    pub fn new(threshold: u32) -> Self {
        Self { threshold: threshold.max(1), streak: None }
    }

    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The recurring failure, once it has reached the threshold.
    pub fn recurring(&self) -> Option<&Recurring> {
        self.streak.as_ref().filter(|s| s.count >= self.threshold)
    }

    /// Failures of the current kind in a row.
    pub fn count(&self) -> u32 {
        self.streak.as_ref().map_or(0, |s| s.count)
    }

    /// A failure at `now_unix`. Another kind than the streak's starts a new streak (and
    /// clears a reported one: the first of the new kind is only counted).
    pub fn failure(&mut self, err: &dyn Classify, now_unix: u64) -> Transition {
        let kind = err.kind();
        let cleared = match &mut self.streak {
            Some(streak) if streak.kind == kind => {
                streak.count = streak.count.saturating_add(1);
                streak.severity = err.severity();
                streak.error = err.to_string();
                None
            }
            _ => {
                let old = self.streak.take().filter(|s| s.count >= self.threshold);
                self.streak = Some(Recurring {
                    kind: kind.to_string(),
                    severity: err.severity(),
                    count: 1,
                    since_unix: now_unix,
                    error: err.to_string(),
                });
                old
            }
        };
        let Some(streak) = &self.streak else { return Transition::Quiet };
        match streak.count {
            n if n == self.threshold => Transition::Escalated(streak.clone()),
            n if n > self.threshold => Transition::StillRecurring { count: n },
            n => match cleared {
                Some(old) => Transition::Cleared(old),
                None => Transition::Failed { count: n },
            },
        }
    }

    /// A success: ends the streak.
    pub fn success(&mut self) -> Transition {
        match self.streak.take().filter(|s| s.count >= self.threshold) {
            Some(old) => Transition::Cleared(old),
            None => Transition::Quiet,
        }
    }
}

#[cfg(test)]
mod tests;
