//! Starting from a snapshot on the dev L1 with the real daemon: honest batches finalize, a
//! snapshot is exported at a finalized batch while the first challenger runs, and a NEW
//! challenger, with a fresh data directory and the snapshot alone, convicts a later lie
//! without replaying anything before it. A pending batch cannot be exported; a corrupt file
//! is refused and leaves the new store empty.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::e2e::{E2e, checked, landed};
use native_challenger::daemon::{Daemon, Event};
use native_challenger::execute_local::store::StateStore;
use native_challenger::proposer::Fault;
use native_challenger::snapshot;
use native_challenger::watcher::{Finding, Verdict};
use std::time::{Duration, Instant};

const BLOCK_TIME: Duration = Duration::from_millis(250);
const WAIT: Duration = Duration::from_secs(90);
const WINDOW: u64 = 40;

/// Finalizes batches `1..=last` as soon as each window closes.
async fn finalize_up_to(e: &E2e, last: u64) {
    let deadline = Instant::now() + WAIT;
    let mut next = 1;
    while next <= last {
        assert!(Instant::now() < deadline, "batch {next} did not finalize within {WAIT:?}");
        match e.client.finalize(next).await {
            Ok(_) => next += 1,
            Err(_) => tokio::time::sleep(BLOCK_TIME).await,
        }
    }
}

/// Exports batch `id`, retrying while the finalization is not yet confirmed.
async fn export_when_confirmed(
    config: &native_challenger::config::Config,
    id: u64,
    out: &std::path::Path,
) -> snapshot::ExportSummary {
    let deadline = Instant::now() + WAIT;
    loop {
        match snapshot::export(config, id, out).await {
            Ok(summary) => return summary,
            Err(err) if Instant::now() < deadline && err.to_string().contains("not finalized") => {
                tokio::time::sleep(BLOCK_TIME).await
            }
            Err(err) => panic!("exporting batch {id}: {err}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_challenger_started_from_a_snapshot_convicts_a_later_lie() {
    let mut e = E2e::new(WINDOW, BLOCK_TIME).await;
    let first = e.config("first", None);
    let mut watcher = e.start(&first, None).await;
    for _ in 0..3 {
        e.propose(None).await;
    }
    watcher.wait_for(WAIT, "batch 3 checked", |ev| checked(ev, 3)).await;
    let (pending, _) = e.propose(None).await;
    // Confirmed (the watcher acts at the same depth as the export reads), still pending.
    watcher.wait_for(WAIT, "the pending batch checked", |ev| checked(ev, pending)).await;
    let file = e.dir.path().join("batch-3.snapshot");
    let err = snapshot::export(&first, pending, &file).await.expect_err("pending batch");
    assert!(err.to_string().contains("not finalized"), "{err}");
    assert!(!file.exists(), "nothing written for a pending batch");

    finalize_up_to(&e, 3).await;
    let summary = export_when_confirmed(&first, 3, &file).await;
    assert_eq!(summary.batch_id, 3);
    let batch3 = e.client.batch(3).await.expect("batch 3");
    assert_eq!(summary.block, batch3.firstBlock + batch3.blockCount - 1);
    assert!(summary.accounts > 0 && summary.codes > 0, "{summary:?}");
    watcher.shutdown().await;

    // A corrupt copy is refused, and the store it was to initialise stays empty.
    let mut bytes = std::fs::read(&file).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let corrupt = e.dir.path().join("corrupt.snapshot");
    std::fs::write(&corrupt, bytes).expect("write");
    let mut refused = e.config("refused", None);
    refused.start.snapshot = Some(corrupt);
    std::fs::create_dir_all(refused.store.path.parent().expect("parent")).expect("dir");
    let err = Daemon::build(&refused, None, true).await.err().expect("a corrupt file is refused");
    // Refused wherever the flipped bit lands: by the checksum, or by a structural check the
    // parser meets first (an order, a length).
    let err = err.to_string();
    assert!(err.contains("corrupt.snapshot"), "the refusal names the file: {err}");
    let store = StateStore::open(&refused.store.path).expect("open");
    assert_eq!(store.head().expect("head"), None, "nothing written");
    drop(store);

    // The new challenger: a fresh data directory and the snapshot alone.
    let mut second = e.config("second", None);
    second.start.snapshot = Some(file.clone());
    let mut daemon = e.start(&second, Some(1)).await;
    let (lie, batch) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    let event = daemon.wait_for(WAIT, "a landed challenge", |ev| landed(ev).is_some()).await;
    let intent = landed(&event).expect("landed").clone();
    assert_eq!(intent.batch_id, lie);
    assert_eq!(intent.post_state_root, batch.honest[1].post_state_root);
    daemon
        .saw_or_wait(WAIT, "the invalidation", |ev| {
            matches!(ev, Event::Finding(Finding::Invalidated { batch_id, .. }) if *batch_id == lie)
        })
        .await;
    let seen = daemon.shutdown().await;
    assert_eq!(e.status(lie).await, 3, "the lie is invalidated");
    let checked_ids: Vec<(u64, Verdict)> = seen
        .iter()
        .filter_map(|ev| match ev {
            Event::Finding(Finding::Checked(r)) => Some((r.id, r.verdict.clone())),
            _ => None,
        })
        .collect();
    assert!(
        checked_ids.iter().all(|(id, _)| *id > 3),
        "replayed before the snapshot: {checked_ids:?}"
    );
    assert!(checked_ids.contains(&(pending, Verdict::Valid)), "{checked_ids:?}");
    let wrong_finalized =
        seen.iter().any(|ev| matches!(ev, Event::Finding(Finding::Finalized { wrong: true, .. })));
    assert!(!wrong_finalized, "a finalization before the snapshot raised the alarm: {seen:#?}");

    let store = StateStore::open(&second.store.path).expect("open");
    let base = store.snapshot_base().expect("base").expect("started from a snapshot");
    assert_eq!((base.batch_id, base.hash), (3, batch3.lastBlockHash));
    drop(store);
    // A restart opens the same store without importing again.
    let daemon = e.start(&second, Some(1)).await;
    daemon.shutdown().await;
}
