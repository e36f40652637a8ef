//! Audits on the dev L1: `replay` over a range with honest and faulty batches gives the right
//! verdicts, resumes after an interruption without re-checking finished batches, and
//! exports a bundle `verify-bundle` accepts; tampered bundles (a flipped byte in a block
//! file, an edited manifest root, a consistently forged file) are rejected with a precise
//! reason; the HTML report renders in headless Chromium; the `replay` command itself takes
//! L1-block bounds and writes both reports, and the `verify-bundle` command passes a good
//! bundle and fails a tampered one.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chromium;
use common::e2e::E2e;
use native_challenger::audit::bundle::{BlockVerdict, Manifest};
use native_challenger::audit::html;
use native_challenger::audit::open::{RangeOptions, replay_range};
use native_challenger::audit::range::Range;
use native_challenger::audit::report::{BatchReport, BatchVerdict, Report};
use native_challenger::audit::verify::verify_bundle;
use native_challenger::config::Config;
use native_challenger::proposer::Fault;
use native_challenger::protocol::ExecuteCall;
use std::path::Path;
use std::time::Duration;

/// The replay, in-process (the library the `replay` command wraps).
async fn replay(config: &Config, to: u64, bundle: &Path) -> Report {
    let options = RangeOptions {
        range: Range::batches(1, to),
        export_bundles: Some(bundle.to_path_buf()),
        wait: Duration::from_secs(60),
    };
    replay_range(config, &options, |_| {}).await.expect("replay")
}

/// `verify-bundle`'s verdict: whether it passed, and every disagreement as one line each.
fn verify(dir: &Path) -> (bool, String) {
    let report = verify_bundle(dir, 2).expect("verify");
    let lines: Vec<String> =
        report.disagreements.iter().map(|d| format!("block {}: {}", d.block, d.reason)).collect();
    (report.disagreements.is_empty(), lines.join("\n"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_gives_verdicts_resumes_and_exports_a_bundle_that_verifies() {
    let mut e = E2e::new(1_000, Duration::from_millis(250)).await;
    let (honest, _) = e.propose(None).await;
    let work = e.dir.path().join("audit");
    std::fs::create_dir_all(&work).unwrap();
    let config = e.config("replay", None);
    let bundle = work.join("bundle");

    // Interrupted: stop after the first batch; more history lands; resume to the last.
    let first = replay(&config, honest, &bundle).await;
    assert_eq!(first.batches.len(), 1);
    assert!(first.batches[0].checked_this_run);
    let fault = Fault::WrongPostRoot { block: 1 };
    let (lie, lie_batch) = e.propose(Some(fault)).await;
    let (on_lie, _) = e.propose(None).await;
    let report = replay(&config, on_lie, &bundle).await;
    let ids: Vec<u64> = report.batches.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![honest, lie, on_lie]);
    assert!(!report.batches[0].checked_this_run, "batch {honest} re-checked after resuming");
    assert!(report.batches[1].checked_this_run && report.batches[2].checked_this_run);

    assert_eq!(report.batches[0].verdict, BatchVerdict::Valid);
    match &report.batches[1].verdict {
        BatchVerdict::Invalid { first_divergent_block, index, correct, claimed } => {
            assert_eq!(*index, 1);
            assert_eq!(*first_divergent_block, report.batches[1].first_block + 1);
            assert_eq!(correct.post_state_root, lie_batch.honest[1].post_state_root);
            assert_ne!(claimed.post_state_root, correct.post_state_root);
        }
        other => panic!("batch {lie}: {other:?}"),
    }
    assert!(matches!(report.batches[2].verdict, BatchVerdict::Skipped { .. }));
    assert_eq!((report.totals.valid, report.totals.invalid, report.totals.skipped), (1, 1, 1));
    the_html_page_renders_in_chromium(&report, &work.join("report.html"));

    // The bundle: both blocks of the honest batch, and the lie's batch up to its lie.
    let manifest = Manifest::load(&bundle).expect("manifest");
    let blocks: Vec<(u64, BlockVerdict)> =
        manifest.blocks.iter().map(|b| (b.batch_id, b.verdict)).collect();
    use BlockVerdict::{Invalid, Valid};
    assert_eq!(blocks, vec![(honest, Valid), (honest, Valid), (lie, Valid), (lie, Invalid)]);
    let (ok, stderr) = verify(&bundle);
    assert!(ok, "the bundle does not verify: {stderr}");

    // Tampered: a flipped byte in a block file.
    let flipped = work.join("flipped");
    copy_dir(&bundle, &flipped);
    let file = flipped.join(&manifest.blocks[1].file);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let (ok, stderr) = verify(&flipped);
    assert!(!ok);
    assert!(stderr.contains(&format!("block {}", manifest.blocks[1].block)), "{stderr}");
    assert!(stderr.contains("hash mismatch"), "{stderr}");

    // Tampered: an edited root in the manifest.
    let edited = work.join("edited");
    copy_dir(&bundle, &edited);
    let mut m = manifest.clone();
    m.blocks[2].post_state_root = m.blocks[1].post_state_root;
    m.save(&edited).unwrap();
    let (ok, stderr) = verify(&edited);
    assert!(!ok);
    assert!(stderr.contains("post_state_root in the file differs from the manifest's"), "{stderr}");

    // Tampered consistently: a block file re-encoded with another root, and the manifest's
    // root and hash updated to match: EXECUTE itself refuses it.
    let forged = work.join("forged");
    copy_dir(&bundle, &forged);
    let mut m = manifest.clone();
    let entry = &mut m.blocks[0];
    let original = std::fs::read(bundle.join(&entry.file)).unwrap();
    let mut call = ExecuteCall::abi_decode(&original).expect("call");
    call.post_state_root = manifest.blocks[1].post_state_root;
    let bytes = call.abi_encode();
    std::fs::write(forged.join(&entry.file), &bytes).unwrap();
    entry.post_state_root = call.post_state_root;
    entry.keccak256 = alloy_primitives::keccak256(&bytes);
    m.save(&forged).unwrap();
    let (ok, stderr) = verify(&forged);
    assert!(!ok);
    assert!(stderr.contains("EXECUTE returned false"), "{stderr}");
}

/// The report's page, rendered by headless Chromium: the charts are drawn (pixels of each
/// verdict's bar colour and of the speed line, far more than the legend's swatches hold) and
/// the parsed DOM holds every batch's verdict and the lie's roots.
fn the_html_page_renders_in_chromium(report: &Report, path: &Path) {
    std::fs::write(path, html::render(report)).expect("write page");
    let shot = chromium::screenshot(path, 1280, 1600);
    assert_eq!((shot.width, shot.height), (1280, 1600));
    let swatch = 12 * 12;
    for (what, colour) in [("valid", html::VALID_COLOUR), ("invalid", html::INVALID_COLOUR)] {
        let pixels = shot.count(colour, 8);
        assert!(pixels > 50 * swatch, "{what} bar: {pixels} pixels of {colour}");
    }
    let line = shot.count(html::SPEED_COLOUR, 24);
    assert!(line > 200, "speed chart: {line} pixels of {}", html::SPEED_COLOUR);

    let dom = chromium::dump_dom(path);
    assert_eq!(dom.matches("<rect class=\"bar ").count(), report.batches.len(), "{dom}");
    for b in &report.batches {
        assert!(dom.contains(&format!("<tr id=\"batch-{}\">", b.id)), "batch {} row", b.id);
        if let BatchVerdict::Invalid { correct, claimed, .. } = &b.verdict {
            assert!(dom.contains(&correct.post_state_root.to_string()));
            assert!(dom.contains(&claimed.post_state_root.to_string()));
        }
    }
    assert!(dom.contains("1 wrong batch(es) found."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_command_takes_l1_block_bounds_and_writes_both_reports() {
    let mut e = E2e::new(1_000, Duration::from_millis(250)).await;
    let (honest, _) = e.propose(None).await;
    let (lie, _) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    let (on_lie, _) = e.propose(None).await;
    // The L1 blocks of the three proposals, from a replay by batch ids.
    let config = e.config("by-id", None);
    let bundle = e.dir.path().join("bundle");
    let by_id = replay(&config, on_lie, &bundle).await;
    let l1: Vec<u64> = by_id.batches.iter().map(|b| b.l1_block).collect();
    assert_eq!(l1.len(), 3);
    assert!(l1[0] < l1[1] && l1[1] < l1[2], "{l1:?}");

    // The command, on a state of its own, from the lie's L1 block to the last proposal's.
    let dir = e.dir.path().join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    let config_path = dir.join("replay.toml");
    let text = format!(
        "[chain]\nchain_id = 901\n[store]\npath = \"{}\"\n[l1]\nrpc = [\"{}\"]\nrollup = \"{}\"\n\
         poll_interval_ms = 100\n",
        dir.join("l2").display(),
        e.node.http_url,
        e.client.address()
    );
    std::fs::write(&config_path, text).unwrap();
    let (json, page) = (dir.join("report.json"), dir.join("report.html"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_native-challenger"))
        .arg("replay")
        .arg("--config")
        .arg(&config_path)
        .args(["--from", &format!("l1:{}", l1[1]), "--to", &format!("l1:{}", l1[2])])
        .arg("--report")
        .arg(&json)
        .arg("--html")
        .arg(&page)
        .args(["--wait-secs", "60"])
        .output()
        .expect("run replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay failed: {stderr}");
    // Not a terminal: plain progress lines, no bar.
    assert!(
        stderr.lines().any(|l| l.starts_with("replay: ") && l.contains("L1 block")),
        "{stderr}"
    );
    assert!(!stderr.contains('\r'), "{stderr}");

    let report: Report = serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("report");
    let ids: Vec<u64> = report.batches.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![lie, on_lie], "batch {honest} was proposed before the range");
    // The same verdicts as the replay by batch ids (timings differ between the two runs).
    let key = |b: &BatchReport| (b.id, b.l1_block, b.l2_gas, b.verdict.clone());
    let expected: Vec<_> = by_id.batches[1..].iter().map(key).collect();
    assert_eq!(report.batches.iter().map(key).collect::<Vec<_>>(), expected);
    assert!(matches!(report.batches[0].verdict, BatchVerdict::Invalid { index: 0, .. }));
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(raw["from"], serde_json::json!({ "l1_block": l1[1] }));
    assert_eq!(raw["to"], serde_json::json!({ "l1_block": l1[2] }));
    let dom = chromium::dump_dom(&page);
    assert!(dom.contains(&format!("<tr id=\"batch-{lie}\">")), "{dom}");
    assert!(!dom.contains(&format!("<tr id=\"batch-{honest}\">")), "{dom}");

    // `verify-bundle`, the command: the replay's bundle passes; a flipped byte fails it with
    // the block and the reason, and a non-zero exit.
    let verify_cli = |dir: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_native-challenger"))
            .arg("verify-bundle")
            .arg(dir)
            .args(["--jobs", "2"])
            .output()
            .expect("run verify-bundle")
    };
    let manifest = Manifest::load(&bundle).expect("manifest");
    let out = verify_cli(&bundle);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(result["blocks"], manifest.blocks.len());
    assert_eq!(result["disagreements"], serde_json::json!([]));
    assert!(stderr.contains(&format!("all {} blocks verified", manifest.blocks.len())));
    let tampered = e.dir.path().join("tampered");
    copy_dir(&bundle, &tampered);
    let victim = &manifest.blocks[0];
    let mut bytes = std::fs::read(tampered.join(&victim.file)).unwrap();
    bytes[40] ^= 0x80;
    std::fs::write(tampered.join(&victim.file), bytes).unwrap();
    let out = verify_cli(&tampered);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a tampered bundle passed: {stderr}");
    assert!(stderr.contains(&format!("block {} ({})", victim.block, victim.file)), "{stderr}");
    assert!(stderr.contains("hash mismatch"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_gas_used_is_reported_at_its_block_and_its_bundle_verifies() {
    let mut e = E2e::new(1_000, Duration::from_millis(250)).await;
    let (honest, _) = e.propose(None).await;
    let (lie, lie_batch) = e.propose(Some(Fault::WrongGasUsed { block: 0 })).await;
    let config = e.config("replay", None);
    let bundle = e.dir.path().join("bundle");
    let report = replay(&config, lie, &bundle).await;
    let ids: Vec<u64> = report.batches.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![honest, lie]);
    assert_eq!(report.batches[0].verdict, BatchVerdict::Valid);
    match &report.batches[1].verdict {
        BatchVerdict::Invalid { first_divergent_block, index, correct, claimed } => {
            assert_eq!(*index, 0);
            assert_eq!(*first_divergent_block, report.batches[1].first_block);
            assert_eq!(correct.gas_used, lie_batch.honest[0].gas_used);
            assert_eq!(correct.post_state_root, claimed.post_state_root);
            assert_ne!(correct.gas_used, claimed.gas_used);
        }
        other => panic!("batch {lie}: {other:?}"),
    }
    let manifest = Manifest::load(&bundle).expect("manifest");
    let last = manifest.blocks.last().expect("blocks");
    assert_eq!((last.batch_id, last.verdict), (lie, BlockVerdict::Invalid));
    let (ok, stderr) = verify(&bundle);
    assert!(ok, "the bundle does not verify: {stderr}");
}

/// A reorg replaces a batch the bundle already holds: a resumed replay reports the new batch
/// and the bundle follows (its entries name the new proposal, and it still verifies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_under_an_exported_batch_is_followed_by_the_bundle() {
    let mut e = E2e::new(1_000, Duration::from_millis(250)).await;
    let (honest, _) = e.propose(None).await;
    let (second, _) = e.propose(None).await;
    let mut config = e.config("replay", None);
    config.l1.as_mut().unwrap().confirmations = 0;
    let bundle = e.dir.path().join("bundle");
    let before = replay(&config, second, &bundle).await;
    assert_eq!(before.batches[1].verdict, BatchVerdict::Valid);
    let old_tx = before.batches[1].l1_tx;
    let manifest = Manifest::load(&bundle).expect("manifest");
    assert!(manifest.blocks.iter().any(|b| b.batch_id == second && b.l1_tx == old_tx));

    // Drop the second proposal from L1; the proposer proposes a lie in its place (same id).
    e.reorg_out(before.batches[1].l1_block, old_tx).await;
    let (replaced, lie_batch) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    assert_eq!(replaced, second, "the lie takes the dropped batch's id");

    let after = replay(&config, replaced, &bundle).await;
    let ids: Vec<u64> = after.batches.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![honest, replaced]);
    let new_tx = after.batches[1].l1_tx;
    assert_ne!(new_tx, old_tx);
    assert!(matches!(after.batches[1].verdict, BatchVerdict::Invalid { index: 0, .. }));
    let manifest = Manifest::load(&bundle).expect("manifest");
    let entries: Vec<(u64, alloy_primitives::B256, BlockVerdict)> =
        manifest.blocks.iter().map(|b| (b.batch_id, b.l1_tx, b.verdict)).collect();
    let first_tx = after.batches[0].l1_tx;
    assert_eq!(
        entries,
        vec![
            (honest, first_tx, BlockVerdict::Valid),
            (honest, first_tx, BlockVerdict::Valid),
            (replaced, new_tx, BlockVerdict::Invalid),
        ],
        "the dropped batch's entries are gone, the lie's first block is in"
    );
    let lie_block = manifest.blocks[2].block;
    assert_eq!(manifest.blocks[2].post_state_root, lie_batch.honest[0].post_state_root);
    // The dropped batch's second block has no file any more.
    assert!(!bundle.join(format!("block-{}.bin", lie_block + 1)).exists());
    let (ok, stderr) = verify(&bundle);
    assert!(ok, "the bundle does not verify after the reorg: {stderr}");
}

/// The proposer's other fault modes that reach L1: each batch gets an `invalid` verdict at
/// the faulty block, with the proposer's own honest and claimed checkpoints as `correct` and
/// `claimed`, and its bundle verifies (EXECUTE accepts the correct transition and rejects the
/// claimed one). (`oversized-block` never reaches L1: the contract refuses the batch.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_fault_modes_get_their_verdicts_and_bundles_that_verify() {
    use native_challenger::audit::report::RootGas;
    for fault in [Fault::WrongIntermediate { block: 0 }, Fault::InvalidTx { block: 1 }] {
        let mut e = E2e::new(1_000, Duration::from_millis(250)).await;
        let (honest, _) = e.propose(None).await;
        let (lie, lie_batch) = e.propose(Some(fault)).await;
        let config = e.config("replay", None);
        let bundle = e.dir.path().join("bundle");
        let report = replay(&config, lie, &bundle).await;
        let ids: Vec<u64> = report.batches.iter().map(|b| b.id).collect();
        assert_eq!(ids, vec![honest, lie], "{}", fault.name());
        assert_eq!(report.batches[0].verdict, BatchVerdict::Valid, "{}", fault.name());
        let BatchVerdict::Invalid { index, first_divergent_block, correct, claimed } =
            report.batches[1].verdict.clone()
        else {
            panic!("{}: {:?}", fault.name(), report.batches[1].verdict);
        };
        assert_eq!(index, fault.block(), "{}", fault.name());
        assert_eq!(first_divergent_block, report.batches[1].first_block + index as u64);
        assert_eq!(correct, RootGas::from(&lie_batch.honest[index]), "{}", fault.name());
        assert_eq!(claimed, RootGas::from(&lie_batch.claimed[index]), "{}", fault.name());
        assert_ne!(correct, claimed, "{}", fault.name());
        let manifest = Manifest::load(&bundle).expect("manifest");
        let last = manifest.blocks.last().expect("blocks");
        assert_eq!((last.block, last.verdict), (first_divergent_block, BlockVerdict::Invalid));
        let (ok, stderr) = verify(&bundle);
        assert!(ok, "{}: the bundle does not verify: {stderr}", fault.name());
    }
}

/// A lie in a cut of a full 30M-gas block (docs/protocol.md, "Segments"): the bundle holds one
/// EXECUTE input per segment of the block, each from the state the previous segment ended at,
/// and only the segment whose cut was a lie is invalid; the bundle verifies (EXECUTE accepts
/// every true segment and rejects the claimed cut).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_in_a_full_block_s_cut_is_exported_segment_by_segment() {
    let mut e = E2e::new(1_000, Duration::from_millis(250)).await;
    let (lie, lie_batch) = e.propose(Some(Fault::WrongCut { block: 1 })).await;
    assert_eq!(lie_batch.honest_cuts[1].len(), 4, "five segments");
    let config = e.config("replay", None);
    let bundle = e.dir.path().join("bundle");
    let report = replay(&config, lie, &bundle).await;
    let BatchVerdict::Invalid { index, first_divergent_block, .. } =
        report.batches[0].verdict.clone()
    else {
        panic!("{:?}", report.batches[0].verdict);
    };
    assert_eq!(index, 1);
    let manifest = Manifest::load(&bundle).expect("manifest");
    let entries: Vec<_> =
        manifest.blocks.iter().filter(|b| b.block == first_divergent_block).collect();
    let segments: Vec<u16> = entries.iter().map(|b| b.segment).collect();
    assert_eq!(segments, vec![0, 1, 2, 3, 4], "one input per segment");
    let verdicts: Vec<BlockVerdict> = entries.iter().map(|b| b.verdict).collect();
    use BlockVerdict::{Invalid, Valid};
    assert_eq!(verdicts, vec![Valid, Valid, Valid, Invalid, Valid], "the fourth cut lied");
    for pair in entries.windows(2) {
        assert_eq!(pair[1].pre_state_root, pair[0].post_state_root, "segments chain");
    }
    assert_eq!(entries[3].claimed.post_state_root, lie_batch.claimed_cuts[1][3].state_root);
    let (ok, stderr) = verify(&bundle);
    assert!(ok, "the bundle does not verify: {stderr}");
}
