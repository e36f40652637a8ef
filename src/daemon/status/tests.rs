use super::*;

fn record(id: u64, verdict: Verdict, state: BatchState) -> BatchRecord {
    BatchRecord { verdict, state, ..BatchRecord::test(id) }
}

#[test]
fn tally_follows_findings() {
    let mut tally = BatchTally::default();
    assert!(tally.apply(&Finding::Checked(record(1, Verdict::Valid, BatchState::Pending))));
    let lie = Verdict::Invalid { index: 0 };
    assert!(tally.apply(&Finding::Checked(record(2, lie.clone(), BatchState::Pending))));
    let skipped = Verdict::Skipped { reason: "built on 2".into() };
    assert!(tally.apply(&Finding::Checked(record(3, skipped, BatchState::Pending))));
    let c = tally.counts();
    assert_eq!((c.valid, c.invalid, c.skipped, c.pending), (1, 1, 1, 3));
    // A wrong batch re-checked after a restart is counted once.
    assert!(tally.apply(&Finding::Checked(record(2, lie, BatchState::Pending))));
    assert_eq!(tally.counts().invalid, 1);
    assert!(tally.apply(&Finding::Invalidated { batch_id: 2, convicted: 2 }));
    assert!(tally.apply(&Finding::Invalidated { batch_id: 3, convicted: 2 }));
    assert!(tally.apply(&Finding::Finalized { batch_id: 1, wrong: false }));
    // A finalization of a batch never recorded changes nothing.
    assert!(tally.apply(&Finding::Finalized { batch_id: 9, wrong: true }));
    let c = tally.counts();
    assert_eq!(
        c,
        BatchCounts { valid: 1, invalid: 1, skipped: 1, pending: 0, finalized: 1, invalidated: 2 }
    );
    assert!(!tally.apply(&Finding::Reorg { from: 5, to: 3, dropped: vec![3] }));
}

#[test]
fn tally_from_db_counts_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = WatchDb::open(&dir.path().join("db")).unwrap();
    let records = [
        record(1, Verdict::Valid, BatchState::Finalized { at_l1: 40 }),
        record(2, Verdict::Invalid { index: 1 }, BatchState::Invalidated { at_l1: 30 }),
        record(3, Verdict::Valid, BatchState::Pending),
    ];
    db.commit(&records, &[], None).unwrap();
    let c = BatchTally::from_db(&db).unwrap().counts();
    assert_eq!(
        c,
        BatchCounts { valid: 2, invalid: 1, skipped: 0, pending: 1, finalized: 1, invalidated: 1 }
    );
}

#[test]
fn health_turns_stale_and_says_why() {
    let poll = Duration::from_secs(1);
    assert_eq!(StatusHandle::stale_after(poll), Duration::from_secs(30));
    assert_eq!(StatusHandle::stale_after(Duration::from_secs(12)), Duration::from_secs(120));
    let status = StatusHandle::new("challenge", poll);
    let now = Instant::now();
    assert_eq!(status.health_at(now), Health::Ok, "a daemon just started is healthy");
    let later = now + Duration::from_secs(31);
    let Health::Stale(reason) = status.health_at(later) else { panic!("not stale") };
    assert!(reason.starts_with("stale: no successful poll in the 31 s since the start"));
    status.record_poll(now + Duration::from_secs(20), Ok(()));
    assert_eq!(status.health_at(later), Health::Ok);
    status.record_poll(now + Duration::from_secs(25), Err("L1 unavailable".into()));
    assert_eq!(status.health_at(later), Health::Ok, "one failure within the window");
    let much_later = now + Duration::from_secs(115);
    assert_eq!(
        status.health_at(much_later),
        Health::Stale("stale: last successful poll 95 s ago: L1 unavailable".into())
    );
    let snapshot = status.snapshot();
    assert_eq!(snapshot.last_error.as_deref(), Some("L1 unavailable"));
    assert!(snapshot.last_success_unix.is_some() && snapshot.last_poll_unix.is_some());
    status.record_poll(now + Duration::from_secs(110), Ok(()));
    assert_eq!(status.health_at(much_later), Health::Ok);
    assert_eq!(status.snapshot().last_error, None);
}

#[test]
fn a_recurring_failure_or_a_fatal_error_makes_health_fail_until_cleared() {
    let status = StatusHandle::new("challenge", Duration::from_secs(1));
    let now = Instant::now();
    status.record_poll(now, Err("L1 unavailable".into()));
    assert_eq!(status.health_at(now), Health::Ok, "one failure is no alarm");
    let recurring = Recurring {
        kind: "l1_unavailable".into(),
        severity: crate::severity::Severity::Retry,
        count: 5,
        since_unix: 1_700_000_000,
        error: "L1 unavailable".into(),
    };
    status.update(|s| s.recurring_failure = Some(recurring));
    let Health::Failing(reason) = status.health_at(now) else { panic!("not failing") };
    for part in ["recurring", "l1_unavailable", "retry", "5 times", "1700000000", "L1 unavailable"]
    {
        assert!(reason.contains(part), "{part} missing in {reason}");
    }
    let json = serde_json::to_value(status.snapshot()).unwrap();
    assert_eq!(json["recurring_failure"]["kind"], "l1_unavailable");
    assert_eq!(json["recurring_failure"]["severity"], "retry");
    assert_eq!(json["recurring_failure"]["since_unix"], 1_700_000_000u64);
    status.update(|s| s.recurring_failure = None);
    status.record_poll(now, Ok(()));
    assert_eq!(status.health_at(now), Health::Ok, "healthy again once it clears");
    status.update(|s| s.fatal = Some("corrupt account record: short".into()));
    let Health::Failing(reason) = status.health_at(now) else { panic!("not failing") };
    assert!(reason.starts_with("fatal: "), "{reason}");
    assert!(reason.contains("corrupt account record"), "{reason}");
}

#[test]
fn status_json_has_the_documented_fields() {
    let status = StatusHandle::new("watch-only", Duration::from_secs(1));
    status.update(|s| {
        s.l1_head = Some(12);
        s.cursor = Some(11);
        s.lag_blocks = Some(1);
        s.bond_wei = Some(U256::from(10).pow(U256::from(20)).to_string());
    });
    let json = serde_json::to_value(status.snapshot()).unwrap();
    for field in [
        "l1_head",
        "cursor",
        "lag_blocks",
        "batches",
        "intents",
        "challenger",
        "bond_wei",
        "balance_wei",
        "mode",
        "last_poll_unix",
        "last_error",
        "recurring_failure",
        "fatal",
    ] {
        assert!(json.get(field).is_some(), "{field} missing in {json}");
    }
    assert_eq!(json["bond_wei"], "100000000000000000000");
    assert_eq!(json["challenger"], serde_json::Value::Null);
    for key in ["valid", "invalid", "skipped", "pending", "finalized", "invalidated"] {
        assert_eq!(json["batches"][key], 0, "{key}");
    }
    let back: Status = serde_json::from_value(json).unwrap();
    assert_eq!(back, status.snapshot());
}
