//! Each seam error's severity, the backoff, and the recurrence tracker.

use super::*;
use crate::execute_local::block::ExecError;
use crate::execute_local::replay::ReplayError;
use crate::protocol::ProtocolError;
use alloy_primitives::{Address, B256};
use alloy_provider::transport::TransportErrorKind;

fn unavailable() -> SourceError {
    SourceError::Unavailable { attempts: 8, endpoints: 2, last: "timed out".into() }
}

fn corrupt() -> StoreError {
    StoreError::Corrupt { what: "account", reason: "short".into() }
}

fn undecodable() -> alloy_sol_types::Error {
    alloy_sol_types::Error::Overrun
}

/// A real RocksDB error: opening a database another handle holds (its lock file).
fn rocks_locked() -> rocksdb::Error {
    let dir = tempfile::tempdir().expect("tempdir");
    let _held = rocksdb::DB::open_default(dir.path()).expect("open");
    rocksdb::DB::open_default(dir.path()).expect_err("the lock is held")
}

#[test]
fn l1_faults_are_retried_bad_answers_rewound_local_faults_fatal() {
    let cases: Vec<(WatchError, Severity)> = vec![
        (unavailable().into(), Severity::Retry),
        (
            SourceError::Connect { url: "ws://x".into(), reason: "refused".into() }.into(),
            Severity::Retry,
        ),
        (
            SourceError::Refused { endpoint: "x".into(), reason: "too big".into() }.into(),
            Severity::Retry,
        ),
        (SourceError::NoEndpoint.into(), Severity::Fatal),
        (Incomplete::CountMismatch { block: 5, on_l1: 2, seen: 1 }.into(), Severity::Rewind),
        (Incomplete::IdGap { id: 3, last: 1 }.into(), Severity::Rewind),
        (Incomplete::BatchDataMissing { batch: 1, tx: B256::ZERO }.into(), Severity::Rewind),
        (
            Incomplete::BatchDataMismatch { batch: 1, blocks: 2, checkpoints: 2, proposed: 1 }
                .into(),
            Severity::Rewind,
        ),
        (Incomplete::CheckpointsRoot { batch: 1 }.into(), Severity::Rewind),
        (Incomplete::BatchDataUndecodable { reason: undecodable() }.into(), Severity::Rewind),
        (Inconsistent::LogWithoutBlock.into(), Severity::Rewind),
        (
            Inconsistent::LogField { event: "BatchData", field: "block hash" }.into(),
            Severity::Rewind,
        ),
        (
            Inconsistent::Undecodable { event: "BatchFinalized", reason: undecodable() }.into(),
            Severity::Rewind,
        ),
        (Inconsistent::BlockMissing { number: 9 }.into(), Severity::Rewind),
        (Inconsistent::BlockChanged { number: 9 }.into(), Severity::Rewind),
        (Inconsistent::L2Behind { batch: 4, first_block: 10, l2_head: 7 }.into(), Severity::Fatal),
        (corrupt().into(), Severity::Fatal),
        (StoreError::Uninitialised.into(), Severity::Fatal),
        (
            StoreError::RollbackOutOfRange { target: 1, head: 900, oldest: 500 }.into(),
            Severity::Fatal,
        ),
        (DbError::Corrupt { what: "batch", reason: "json".into() }.into(), Severity::Fatal),
        (DbError::MissingColumnFamily("batches").into(), Severity::Fatal),
        (DbError::Rocks(rocks_locked()).into(), Severity::Retry),
        (StoreError::Rocks(rocks_locked()).into(), Severity::Retry),
    ];
    for (err, expected) in cases {
        assert_eq!(err.severity(), expected, "{err} ({err:?})");
    }
}

#[test]
fn a_replay_fault_is_retried_unless_the_store_under_it_is_broken() {
    let replay = |fault| WatchError::Replay { batch: 3, block: 12, fault };
    let invalid = ExecError::InvalidBlock { reason: "system call failed".into() };
    let bad_inputs = ProtocolError::BadLength { what: "fee recipient", expected: 20, found: 3 };
    for fault in [
        ReplayFault::Execute(ReplayError::Exec(invalid)),
        ReplayFault::Block(bad_inputs.clone()),
        ReplayFault::Encode(bad_inputs),
    ] {
        let err = replay(fault);
        assert_eq!(err.severity(), Severity::Retry, "{err}");
        assert_eq!(err.kind(), "replay_failed");
    }
    for fault in [
        ReplayFault::Execute(ReplayError::Store(corrupt())),
        ReplayFault::Commit(corrupt()),
        ReplayFault::Trace(crate::execute_local::execute::TraceBuildError::Store(corrupt())),
    ] {
        let err = replay(fault);
        assert_eq!(err.severity(), Severity::Fatal, "{err}");
    }
}

#[test]
fn daemon_errors_say_whether_a_restart_can_help() {
    let l1 =
        || DaemonError::L1 { what: "connecting", error: TransportErrorKind::custom_str("down") };
    let cases: Vec<(DaemonError, Severity)> = vec![
        (l1(), Severity::Retry),
        (DaemonError::Signer { reason: "remote signer unreachable".into() }, Severity::Retry),
        (unavailable().into(), Severity::Retry),
        (
            DaemonError::NotRollup {
                address: Address::ZERO,
                what: "batch(uint64)",
                error: undecodable(),
            },
            Severity::Fatal,
        ),
        (DaemonError::GenesisMismatch { reason: "root differs".into() }, Severity::Fatal),
        (
            DaemonError::UnsupportedFork { fork: "frontier".into(), reason: "pre-merge".into() },
            Severity::Fatal,
        ),
        (DaemonError::NoKey, Severity::Fatal),
        (crate::config::ConfigError::NoEndpoint.into(), Severity::Fatal),
        (
            ParamError::WindowTooShort { window: 3, needed: 5, watch: 1, tx: 2 }.into(),
            Severity::Fatal,
        ),
        (ParamError::L1("down".into()).into(), Severity::Retry),
        (DaemonError::Watch(corrupt().into()), Severity::Fatal),
        (DaemonError::Watch(unavailable().into()), Severity::Retry),
    ];
    for (err, expected) in cases {
        assert_eq!(err.severity(), expected, "{err}");
    }
}

#[test]
fn submitter_errors_are_classified_for_their_flow() {
    assert_eq!(TxError::Timeout(Duration::from_secs(60)).severity(), Severity::Retry);
    assert_eq!(TxError::FeeCap { cap: 1, needed: 2 }.severity(), Severity::Retry);
    assert_eq!(TxError::Replaced { nonce: 4 }.severity(), Severity::Fatal);
    assert_eq!(TxError::Rollup(RollupError::Rpc("reset".into())).severity(), Severity::Retry);
    let reverted = RollupError::Reverted { data: Default::default() };
    assert_eq!(TxError::Rollup(reverted).severity(), Severity::Fatal);
    assert_eq!(
        Refusal::NotWorthIt { cost: Default::default(), reward: Default::default() }.severity(),
        Severity::Retry
    );
    assert_eq!(Refusal::SelfCheck("the trace is valid".into()).severity(), Severity::Fatal);
    assert_eq!(KeyError::EnvMissing("KEY".into()).severity(), Severity::Fatal);
    assert_eq!(KeyError::Remote("unreachable".into()).severity(), Severity::Retry);
}

#[test]
fn backoff_doubles_from_the_poll_interval_up_to_its_cap() {
    let poll = Duration::from_secs(2);
    let waits: Vec<Duration> = (1..=8).map(|n| backoff(poll, n)).collect();
    assert_eq!(waits[0], poll, "the first failure waits one poll");
    for pair in waits.windows(2) {
        assert!(pair[1] == pair[0] * 2 || pair[1] == MAX_BACKOFF, "{waits:?}");
    }
    assert_eq!(waits[7], MAX_BACKOFF);
    assert_eq!(backoff(poll, 0), poll);
    assert_eq!(backoff(poll, u32::MAX), MAX_BACKOFF);
    // A poll interval longer than the cap is never shortened.
    let slow = MAX_BACKOFF * 2;
    assert_eq!(backoff(slow, 9), slow);
}

#[test]
fn a_failure_that_recurs_escalates_once_and_clears_on_success() {
    let mut tracker = Recurrence::new(3);
    let err: WatchError = unavailable().into();
    assert_eq!(tracker.failure(&err, 100), Transition::Failed { count: 1 });
    assert_eq!(tracker.failure(&err, 110), Transition::Failed { count: 2 });
    assert_eq!(tracker.recurring(), None);
    let Transition::Escalated(recurring) = tracker.failure(&err, 120) else {
        panic!("the third failure in a row escalates");
    };
    assert_eq!(recurring.count, 3);
    assert_eq!(recurring.since_unix, 100, "since the first of them");
    assert_eq!(recurring.kind, err.kind());
    assert_eq!(recurring.severity, Severity::Retry);
    assert_eq!(recurring.error, err.to_string());
    for count in 4..10 {
        assert_eq!(tracker.failure(&err, 130), Transition::StillRecurring { count });
    }
    assert_eq!(tracker.recurring().map(|r| r.count), Some(9));
    let Transition::Cleared(old) = tracker.success() else { panic!("a success clears it") };
    assert_eq!((old.count, old.since_unix), (9, 100));
    assert_eq!(tracker.recurring(), None);
    assert_eq!(tracker.success(), Transition::Quiet);
    // After clearing, it takes the threshold again.
    assert_eq!(tracker.failure(&err, 200), Transition::Failed { count: 1 });
}

#[test]
fn another_kind_of_failure_starts_a_new_count() {
    let mut tracker = Recurrence::new(2);
    let down: WatchError = unavailable().into();
    let gap: WatchError = Incomplete::IdGap { id: 3, last: 1 }.into();
    assert_ne!(down.kind(), gap.kind());
    assert_eq!(tracker.failure(&down, 1), Transition::Failed { count: 1 });
    assert_eq!(tracker.failure(&gap, 2), Transition::Failed { count: 1 });
    assert_eq!(tracker.failure(&down, 3), Transition::Failed { count: 1 });
    assert!(matches!(tracker.failure(&down, 4), Transition::Escalated(r) if r.since_unix == 3));
    // A reported recurrence ends when another kind of failure takes over.
    let Transition::Cleared(old) = tracker.failure(&gap, 5) else { panic!("cleared") };
    assert_eq!(old.kind, down.kind());
    assert_eq!(tracker.count(), 1);
    // Details differ, the kind is the same: still the same problem.
    let other_gap: WatchError = Incomplete::CountMismatch { block: 9, on_l1: 4, seen: 2 }.into();
    assert_eq!(other_gap.kind(), gap.kind());
    assert!(matches!(tracker.failure(&other_gap, 6), Transition::Escalated(_)));
}

#[test]
fn a_threshold_of_zero_means_one() {
    let mut tracker = Recurrence::new(0);
    assert_eq!(tracker.threshold(), 1);
    let err: WatchError = unavailable().into();
    assert!(matches!(tracker.failure(&err, 1), Transition::Escalated(_)));
}
