//! What the daemon is doing, for `/status` and `/healthz`: a [`Status`] snapshot behind a
//! [`StatusHandle`], which the watcher loop updates after each step (L1 head, cursor, batch
//! counts) and the submitter task after each round of advances (open intents, bond, balance).
//!
//! The batch counts are kept incrementally ([`BatchTally`]) from the findings of each step, so
//! a poll costs nothing per recorded batch. The records are read in full only at start, after
//! a reorg, and after a failed step (which may have left changes behind that its findings,
//! never returned, did not report).

use super::metrics_names as names;
use super::{Daemon, DaemonError, SubmitTask};
use crate::config::{Config, Mode};
use crate::severity::Recurring;
use crate::submitter::{Intent, Stage};
use crate::watcher::{BatchRecord, BatchState, Finding, Verdict, WatchDb, WatchError};
use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TARGET: &str = "native_challenger::daemon";

/// Batches by verdict (`valid`, `invalid`, `skipped`) and by L1 state (`pending`,
/// `finalized`, `invalidated`): each batch is counted once in each group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchCounts {
    pub valid: u64,
    pub invalid: u64,
    pub skipped: u64,
    pub pending: u64,
    pub finalized: u64,
    pub invalidated: u64,
}

/// A challenge that is not finished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenIntent {
    pub batch_id: u64,
    pub block_index: u64,
    /// `planned`, `committing`, `committed`, `revealing` or `waiting`.
    pub stage: String,
    /// The last L1 block in which the challenge can land.
    pub window_closes: u64,
    /// Commit/reveal rounds that failed on chain so far.
    pub attempts: u32,
    /// Why it waits (`waiting` only).
    pub reason: Option<String>,
}

/// The JSON of `/status`. Wei amounts are decimal strings (they exceed JSON's safe integers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// The daemon's version (`native-challenger --version`).
    pub version: String,
    /// `challenge`, `watchtower` or `watch-only`.
    pub mode: String,
    pub rollup: Option<Address>,
    /// The challenger account; `null` in watch-only mode.
    pub challenger: Option<Address>,
    /// The L1 head at the last successful poll (the finalized block with `[l1] finalized`).
    pub l1_head: Option<u64>,
    /// The last L1 block processed.
    pub cursor: Option<u64>,
    /// `l1_head − cursor`.
    pub lag_blocks: Option<u64>,
    pub batches: BatchCounts,
    /// Unfinished challenges, oldest batch first.
    pub intents: Vec<OpenIntent>,
    /// The challenger bond in the contract (read every poll in challenge mode).
    pub bond_wei: Option<String>,
    /// The challenger account's balance (read every poll in challenge mode).
    pub balance_wei: Option<String>,
    pub started_unix: u64,
    /// The last watcher poll, successful or not.
    pub last_poll_unix: Option<u64>,
    pub last_success_unix: Option<u64>,
    /// The error of the last poll; `null` once a poll succeeds.
    pub last_error: Option<String>,
    /// A watcher failure of the same kind `[metrics] failure_alarm_after` times in a row
    /// (kind, severity, count, since when, last error); `null` once a poll succeeds.
    pub recurring_failure: Option<Recurring>,
    /// The fatal error the daemon stopped on.
    pub fatal: Option<String>,
    /// Where `/metrics`, `/status` and `/healthz` are served (the bound address: a configured
    /// port 0 shows the port chosen).
    pub listen: Option<String>,
}

/// What `/healthz` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The reason, e.g. `stale: last successful poll 95 s ago: L1 unavailable …`.
    Stale(String),
    /// Stopped on a fatal error, or a failure that recurs: the reason.
    Failing(String),
}

#[derive(Debug)]
struct Shared {
    status: Status,
    started: Instant,
    last_success: Option<Instant>,
    stale_after: Duration,
}

/// The shared snapshot. Cheap to clone; every clone sees the same status.
#[derive(Debug, Clone)]
pub struct StatusHandle(Arc<RwLock<Shared>>);

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The wall-clock time now, in Unix seconds.
pub fn unix_now() -> u64 {
    unix(SystemTime::now())
}

/// The wall-clock time of `at` (an instant in the past or now).
fn unix_of(at: Instant) -> u64 {
    let ago = Instant::now().saturating_duration_since(at);
    unix(SystemTime::now().checked_sub(ago).unwrap_or(UNIX_EPOCH))
}

impl StatusHandle {
    /// A fresh snapshot for a daemon in `mode` polling every `poll`; `/healthz` turns stale
    /// when no poll has succeeded for [`Self::stale_after`] of it.
    pub fn new(mode: &str, poll: Duration) -> Self {
        let status = Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            mode: mode.to_string(),
            started_unix: unix(SystemTime::now()),
            ..Status::default()
        };
        let shared = Shared {
            status,
            started: Instant::now(),
            last_success: None,
            stale_after: Self::stale_after(poll),
        };
        Self(Arc::new(RwLock::new(shared)))
    }

    /// How long without a successful poll makes `/healthz` fail: 10 poll intervals, at least
    /// 30 s.
    pub fn stale_after(poll: Duration) -> Duration {
        (poll * 10).max(Duration::from_secs(30))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn snapshot(&self) -> Status {
        self.read().status.clone()
    }

    pub fn update(&self, change: impl FnOnce(&mut Status)) {
        change(&mut self.write().status);
    }

    /// Records a watcher poll that ended at `at`: `Ok` clears the last error.
    pub fn record_poll(&self, at: Instant, outcome: Result<(), String>) {
        let mut shared = self.write();
        let when = unix_of(at);
        shared.status.last_poll_unix = Some(when);
        match outcome {
            Ok(()) => {
                shared.last_success = Some(at);
                shared.status.last_success_unix = Some(when);
                shared.status.last_error = None;
            }
            Err(err) => shared.status.last_error = Some(err),
        }
    }

    /// Failing after a fatal error or while a failure recurs; otherwise healthy while the last
    /// successful poll (or, before the first, the start) is at most [`Self::stale_after`] old
    /// at `now`.
    pub fn health_at(&self, now: Instant) -> Health {
        let shared = self.read();
        if let Some(err) = &shared.status.fatal {
            return Health::Failing(format!("fatal: stopped: {err}"));
        }
        if let Some(r) = &shared.status.recurring_failure {
            return Health::Failing(format!(
                "recurring: {} ({}) failed {} times in a row since unix {}: {}",
                r.kind, r.severity, r.count, r.since_unix, r.error
            ));
        }
        let since = shared.last_success.unwrap_or(shared.started);
        let age = now.saturating_duration_since(since);
        if age <= shared.stale_after {
            return Health::Ok;
        }
        let mut reason = match shared.last_success {
            Some(_) => format!("stale: last successful poll {} s ago", age.as_secs()),
            None => format!("stale: no successful poll in the {} s since the start", age.as_secs()),
        };
        if let Some(err) = &shared.status.last_error {
            reason.push_str(": ");
            reason.push_str(err);
        }
        Health::Stale(reason)
    }

    pub fn health(&self) -> Health {
        self.health_at(Instant::now())
    }
}

/// The name of the mode a daemon runs in.
pub fn mode_name(config: &Config, watch_only: bool) -> &'static str {
    let c = &config.challenger;
    match c.mode {
        _ if watch_only => "watch-only",
        Mode::WatchOnly => "watch-only",
        Mode::Watchtower => "watchtower",
        Mode::Challenge if c.challenge_always => "watchtower",
        Mode::Challenge => "challenge",
    }
}

/// The name of an intent's stage, as stored (`stood_down` etc.).
pub fn stage_name(stage: &Stage) -> &'static str {
    match stage {
        Stage::Planned => "planned",
        Stage::Committing { .. } => "committing",
        Stage::Committed { .. } => "committed",
        Stage::Revealing { .. } => "revealing",
        Stage::Landed { .. } => "landed",
        Stage::Waiting { .. } => "waiting",
        Stage::StoodDown { .. } => "stood_down",
        Stage::Refused { .. } => "refused",
    }
}

impl From<&Intent> for OpenIntent {
    fn from(intent: &Intent) -> Self {
        Self {
            batch_id: intent.batch_id,
            block_index: intent.block_index,
            stage: stage_name(&intent.stage).to_string(),
            window_closes: intent.window_closes,
            attempts: intent.attempts,
            reason: match &intent.stage {
                Stage::Waiting { reason } => Some(reason.clone()),
                _ => None,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VerdictKind {
    Valid,
    Invalid,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateKind {
    Pending,
    Finalized,
    Invalidated,
}

impl BatchCounts {
    fn slot(&mut self, verdict: VerdictKind, state: StateKind) -> [&mut u64; 2] {
        let Self { valid, invalid, skipped, pending, finalized, invalidated } = self;
        let v = match verdict {
            VerdictKind::Valid => valid,
            VerdictKind::Invalid => invalid,
            VerdictKind::Skipped => skipped,
        };
        let s = match state {
            StateKind::Pending => pending,
            StateKind::Finalized => finalized,
            StateKind::Invalidated => invalidated,
        };
        [v, s]
    }
}

/// The batch counts, kept from the watcher's findings (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct BatchTally {
    seen: BTreeMap<u64, (VerdictKind, StateKind)>,
    counts: BatchCounts,
}

impl BatchTally {
    /// Counts every record of `db`.
    pub fn from_db(db: &WatchDb) -> Result<Self, crate::watcher::db::DbError> {
        let mut tally = Self::default();
        for record in db.batches()? {
            tally.record(&record);
        }
        Ok(tally)
    }

    fn put(&mut self, id: u64, entry: (VerdictKind, StateKind)) {
        if let Some((v, s)) = self.seen.insert(id, entry) {
            for n in self.counts.slot(v, s) {
                *n = n.saturating_sub(1);
            }
        }
        for n in self.counts.slot(entry.0, entry.1) {
            *n += 1;
        }
    }

    /// Counts `record`, replacing what was counted for its id.
    pub fn record(&mut self, record: &BatchRecord) {
        let verdict = match record.verdict {
            Verdict::Valid => VerdictKind::Valid,
            Verdict::Invalid { .. } => VerdictKind::Invalid,
            Verdict::Skipped { .. } => VerdictKind::Skipped,
        };
        let state = match record.state {
            BatchState::Pending => StateKind::Pending,
            BatchState::Finalized { .. } => StateKind::Finalized,
            BatchState::Invalidated { .. } => StateKind::Invalidated,
        };
        self.put(record.id, (verdict, state));
    }

    fn set_state(&mut self, id: u64, state: StateKind) {
        if let Some(&(verdict, _)) = self.seen.get(&id) {
            self.put(id, (verdict, state));
        }
    }

    /// Applies one finding; `false` when the records must be counted again (a reorg).
    pub fn apply(&mut self, finding: &Finding) -> bool {
        match finding {
            Finding::Checked(record) => self.record(record),
            Finding::Invalidated { batch_id, .. } => {
                self.set_state(*batch_id, StateKind::Invalidated)
            }
            Finding::Finalized { batch_id, .. } => self.set_state(*batch_id, StateKind::Finalized),
            Finding::Reorg { .. } => return false,
            Finding::Lie(_) | Finding::Convicted { .. } => {}
        }
        true
    }

    pub fn counts(&self) -> BatchCounts {
        self.counts
    }
}

/// The snapshot of a daemon being built, and the endpoint serving it when `[metrics] listen`
/// is set (bound before anything connects to L1, so a taken port fails the start at once).
pub(super) async fn open_status(
    config: &Config,
    watch_only: bool,
    challenger: Option<Address>,
    poll: Duration,
) -> Result<(StatusHandle, Option<super::metrics_setup::Endpoint>), DaemonError> {
    let status = StatusHandle::new(mode_name(config, watch_only), poll);
    status.update(|s| {
        s.rollup = config.l1.as_ref().map(|l1| l1.rollup);
        s.challenger = challenger;
    });
    let Some(listen) = &config.metrics.listen else { return Ok((status, None)) };
    let listen: SocketAddr = listen.parse().map_err(|_| {
        DaemonError::Config(crate::config::ConfigError::BadListen { value: listen.clone() })
    })?;
    let recorder = super::metrics_setup::recorder().map_err(DaemonError::Metrics)?;
    let endpoint = super::metrics_setup::Endpoint::start(listen, status.clone(), Some(recorder))
        .await
        .map_err(DaemonError::Metrics)?;
    status.update(|s| s.listen = Some(endpoint.addr().to_string()));
    tracing::info!(target: TARGET, addr = %endpoint.addr(), "serving /metrics, /status and /healthz");
    Ok((status, Some(endpoint)))
}

/// Fills in what the opened daemon knows before its first poll (the stored cursor, the batch
/// counts), and returns the tally to keep.
pub(super) fn initial(status: &StatusHandle, db: &WatchDb) -> Option<BatchTally> {
    let tally = BatchTally::from_db(db)
        .map_err(|err| tracing::warn!(target: TARGET, %err, "counting the batch records"))
        .ok();
    let cursor = db.cursor().ok().flatten().map(|c| c.number);
    status.update(|s| {
        s.cursor = cursor;
        if let Some(tally) = &tally {
            s.batches = tally.counts();
        }
    });
    tally
}

impl Daemon {
    /// The snapshot `/status` serves (also for embedders that serve nothing).
    pub fn status(&self) -> &StatusHandle {
        &self.status
    }

    /// The address `/metrics`, `/status` and `/healthz` are served on, if `[metrics] listen`
    /// is set (with port 0, the port chosen).
    pub fn endpoint(&self) -> Option<SocketAddr> {
        self.endpoint.as_ref().map(|e| e.addr())
    }

    /// After a successful watcher step: head, cursor, batch counts.
    pub(super) fn report_step(&mut self, findings: &[Finding], processed: Option<u64>, head: u64) {
        let current = match self.tally.as_mut() {
            Some(tally) => findings.iter().all(|f| tally.apply(f)),
            None => false,
        };
        if !current {
            self.tally = BatchTally::from_db(self.watcher.db())
                .map_err(|err| tracing::warn!(target: TARGET, %err, "counting the batch records"))
                .ok();
        }
        let counts = self.tally.as_ref().map(BatchTally::counts);
        self.status.update(|s| {
            s.l1_head = Some(head);
            s.cursor = processed;
            s.lag_blocks = processed.map(|c| head.saturating_sub(c));
            if let Some(counts) = counts {
                s.batches = counts;
            }
        });
        self.status.record_poll(Instant::now(), Ok(()));
    }

    /// After a failed watcher step: the error; the counts are taken again from the records
    /// after the next successful step (a failed step may have written some).
    pub(super) fn report_error(&mut self, err: &WatchError) {
        self.tally = None;
        self.status.record_poll(Instant::now(), Err(err.to_string()));
    }
}

impl SubmitTask {
    /// After a round of advances: the open intents and the bond (also the bond gauge).
    pub(super) async fn report(&self) {
        let intents = match self.submitter.open_intents() {
            Ok(open) => Some(open.iter().map(OpenIntent::from).collect::<Vec<_>>()),
            Err(_) => None, // logged by advance_open
        };
        let bond = self.read_bond().await;
        if let Some(bond) = bond {
            metrics::gauge!(names::SUBMITTER_BOND_WEI).set(f64::from(bond));
        }
        self.status.update(|s| {
            if let Some(intents) = intents {
                s.intents = intents;
            }
            if let Some(bond) = bond {
                s.bond_wei = Some(bond.to_string());
            }
        });
    }

    /// After one advance finished: the open intents (read from the records, no L1 call).
    pub(super) fn report_intents(&self) {
        if let Ok(open) = self.submitter.open_intents() {
            let intents = open.iter().map(OpenIntent::from).collect::<Vec<_>>();
            self.status.update(|s| s.intents = intents);
        }
    }

    pub(super) fn report_balance(&self, balance: U256) {
        self.status.update(|s| s.balance_wei = Some(balance.to_string()));
    }

    async fn read_bond(&self) -> Option<U256> {
        self.submitter.bond().await.ok()
    }
}

#[cfg(test)]
mod tests;
