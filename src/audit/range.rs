//! The range of an audit and the progress of its replay.
//!
//! A range end is a batch id (`7`) or an L1 block number (`l1:1234`). A batch is in the
//! range when it is at or after `from` and at or before `to`, each compared by its own kind
//! (a batch's id, or the L1 block that proposed it). Batch ids grow with L1 blocks, so the
//! batches of a range are consecutive.

use crate::watcher::BatchRecord;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One end of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Batch(u64),
    L1Block(u64),
}

impl FromStr for Bound {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |digits: &str, what: &str| {
            digits.trim().parse::<u64>().map_err(|e| format!("{what} {digits:?}: {e}"))
        };
        match s.trim().strip_prefix("l1:") {
            Some(block) => number(block, "L1 block").map(Bound::L1Block),
            None => number(s, "batch id (or l1:<block>)").map(Bound::Batch),
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Batch(id) => write!(f, "batch {id}"),
            Bound::L1Block(n) => write!(f, "L1 block {n}"),
        }
    }
}

/// The batches to report (and export).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub from: Bound,
    pub to: Bound,
}

impl Range {
    /// Batch ids only.
    pub fn batches(from: u64, to: u64) -> Self {
        Self { from: Bound::Batch(from), to: Bound::Batch(to) }
    }

    /// Refuses a range that is empty by construction (both ends of one kind, reversed).
    pub fn validate(&self) -> Result<(), String> {
        match (self.from, self.to) {
            (Bound::Batch(a), Bound::Batch(b)) | (Bound::L1Block(a), Bound::L1Block(b))
                if a > b =>
            {
                Err(format!("--from {} is after --to {}", self.from, self.to))
            }
            _ => Ok(()),
        }
    }

    pub fn after_start(&self, r: &BatchRecord) -> bool {
        match self.from {
            Bound::Batch(a) => r.id >= a,
            Bound::L1Block(a) => r.l1_block >= a,
        }
    }

    pub fn before_end(&self, r: &BatchRecord) -> bool {
        match self.to {
            Bound::Batch(b) => r.id <= b,
            Bound::L1Block(b) => r.l1_block <= b,
        }
    }

    pub fn contains(&self, r: &BatchRecord) -> bool {
        self.after_start(r) && self.before_end(r)
    }
}

/// Where a replay stands, after each watcher step that read L1.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Batches checked and L2 gas replayed by this run.
    pub batches: u64,
    pub l2_gas: u64,
    /// Time spent in watcher steps by this run (waiting for L1 excluded).
    pub busy: Duration,
    /// The newest batch recorded and the L1 block processed.
    pub last_batch: Option<u64>,
    pub l1_block: u64,
    /// Share of the range done, in [0, 1]: by batch ids when `--to` is a batch, by L1
    /// blocks when it is an L1 block.
    pub done: f64,
    /// Time left at this run's pace; `None` until something was done.
    pub eta: Option<Duration>,
    /// What the last step did.
    pub step_batches: u64,
    pub step_gas: u64,
    pub step_seconds: f64,
}

impl Progress {
    /// L2 Mgas per second of watcher time over the run.
    pub fn mgas_per_second(&self) -> f64 {
        let secs = self.busy.as_secs_f64();
        if secs > 0.0 { self.l2_gas as f64 / 1e6 / secs } else { 0.0 }
    }

    /// The plain progress line (for logs; a terminal gets a bar instead).
    pub fn line(&self) -> String {
        let step_mgas = self.step_gas as f64 / 1e6;
        let step_rate = if self.step_seconds > 0.0 { step_mgas / self.step_seconds } else { 0.0 };
        format!(
            "replay: {:5.1}% L1 block {}, last batch {}; this step {} batch(es), {step_mgas:.2} Mgas in {:.2}s ({step_rate:.2} Mgas/s); run {} batches, {:.2} Mgas/s, ETA {}",
            self.done * 100.0,
            self.l1_block,
            self.last_batch.map_or("none".into(), |id| id.to_string()),
            self.step_batches,
            self.step_seconds,
            self.batches,
            self.mgas_per_second(),
            eta_text(self.eta),
        )
    }
}

/// `12s`, `4m05s`, `1h02m`, or `?`.
pub fn eta_text(eta: Option<Duration>) -> String {
    let Some(eta) = eta else { return "?".into() };
    let s = eta.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Share of the way from `start` to `end` that `now` is, clamped to [0, 1].
pub fn fraction(start: u64, now: u64, end: u64) -> f64 {
    if end <= start {
        return 1.0;
    }
    (now.saturating_sub(start) as f64 / (end - start) as f64).clamp(0.0, 1.0)
}

/// Time left for the rest, at the pace of `elapsed` for the share `done`.
pub fn eta(elapsed: Duration, done: f64) -> Option<Duration> {
    if done <= 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(elapsed.as_secs_f64() * (1.0 - done) / done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_batch_ids_and_l1_blocks_and_refuse_anything_else() {
        assert_eq!("7".parse::<Bound>(), Ok(Bound::Batch(7)));
        assert_eq!("l1:1234".parse::<Bound>(), Ok(Bound::L1Block(1234)));
        assert_eq!(" l1: 5 ".parse::<Bound>(), Ok(Bound::L1Block(5)));
        let err = "0x10".parse::<Bound>().expect_err("hex is not an id");
        assert!(err.contains("batch id"), "{err}");
        let err = "l1:".parse::<Bound>().expect_err("no number");
        assert!(err.contains("L1 block"), "{err}");
        assert!("-1".parse::<Bound>().is_err());
        assert!("l2:4".parse::<Bound>().is_err());
    }

    #[test]
    fn ranges_compare_each_end_by_its_own_kind() {
        let record = |id, l1_block| BatchRecord { l1_block, ..BatchRecord::test(id) };
        let range = Range { from: Bound::Batch(3), to: Bound::L1Block(100) };
        assert!(!range.contains(&record(2, 50)));
        assert!(range.contains(&record(3, 50)));
        assert!(range.contains(&record(9, 100)));
        assert!(!range.contains(&record(10, 101)));
        let range = Range { from: Bound::L1Block(40), to: Bound::Batch(5) };
        assert!(!range.contains(&record(4, 39)));
        assert!(range.contains(&record(5, 40)));
        assert!(!range.contains(&record(6, 41)));
        assert!(Range::batches(4, 3).validate().is_err());
        assert!(Range { from: Bound::L1Block(9), to: Bound::L1Block(8) }.validate().is_err());
        // Mixed kinds cannot be compared before the history is read.
        assert!(Range { from: Bound::L1Block(900), to: Bound::Batch(1) }.validate().is_ok());
    }

    #[test]
    fn progress_fraction_and_eta() {
        assert_eq!(fraction(10, 10, 20), 0.0);
        assert_eq!(fraction(10, 15, 20), 0.5);
        assert_eq!(fraction(10, 30, 20), 1.0);
        assert_eq!(fraction(10, 5, 20), 0.0);
        assert_eq!(fraction(20, 20, 20), 1.0);
        assert_eq!(eta(Duration::from_secs(10), 0.0), None);
        assert_eq!(eta(Duration::from_secs(10), 0.25), Some(Duration::from_secs(30)));
        assert_eq!(eta(Duration::from_secs(10), 1.0), Some(Duration::ZERO));
        assert_eq!(eta_text(Some(Duration::from_secs(59))), "59s");
        assert_eq!(eta_text(Some(Duration::from_secs(245))), "4m05s");
        assert_eq!(eta_text(Some(Duration::from_secs(3720))), "1h02m");
        assert_eq!(eta_text(None), "?");
    }
}
