//! The benchmark harness runs end to end on small generated workloads (no timing asserted).
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use native_challenger::bench::{self, Sizes};

#[test]
fn quick_generated_workloads_run_and_report() {
    let workloads = bench::all_workloads(Sizes::QUICK, None).expect("workloads");
    assert_eq!(workloads.len(), 2);
    let scratch = tempfile::tempdir().unwrap();
    let figures = bench::run(&workloads, scratch.path(), |_| {}).expect("bench runs");
    for f in &figures {
        assert!(f.gas > 0 && f.txs > 0, "{}: no work", f.name);
        assert_eq!(f.reverted, 0, "{}: generated transactions must succeed", f.name);
        assert!(f.witness_bytes > 0 && f.witness_nodes > 0, "{}: empty witness", f.name);
    }
    // Transfers to fresh accounts: 21,000 gas each, exactly.
    assert_eq!(figures[0].gas, 21_000 * figures[0].txs as u64);
    let report = bench::report(&figures, Sizes::QUICK, "test machine");
    assert!(report.contains("| workload |") && report.contains(&figures[1].name));
    assert!(report.contains("## Summary"));
}

#[test]
fn erc20_workload_uses_the_fixture_contract() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/workloads");
    let code = bench::fixtures::erc20_code(&dir).expect("erc20 fixture");
    let workload = bench::fixtures::erc20_transfers(code, 1, 5, 10);
    let scratch = tempfile::tempdir().unwrap();
    let figures = bench::run(&[workload], scratch.path(), |_| {}).expect("erc20 transfers succeed");
    assert_eq!(figures[0].reverted, 0, "balances must sit in the slot-0 mapping");
    assert!(figures[0].gas > 5 * 21_000);
}

/// The quick EXECUTE section: every figure present, every verdict valid, and the L1 figures
/// agree with the documented formulas, computed here independently.
#[test]
fn quick_execute_section_is_measured_and_consistent() {
    use bench::execute::{ExecuteSizes, L1Outcome};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/workloads");
    let erc20 = dir.is_dir().then(|| bench::fixtures::erc20_code(&dir).expect("erc20 fixture"));
    let kinds = if erc20.is_some() { 4 } else { 3 };
    let sizes = ExecuteSizes::QUICK;
    let rows = bench::execute::run(&sizes, erc20, |_| {}).expect("EXECUTE bench runs");
    assert_eq!(rows.len(), kinds * sizes.gas_limits.len());
    for row in &rows {
        let name = format!("{} @ {}", row.kind, row.gas_limit);
        assert!(row.txs > 0 && row.gas_used > 0 && row.gas_used <= row.gas_limit, "{name}");
        assert!(row.witness_bytes > 0 && row.trace_bytes > row.witness_bytes, "{name}");
        let per_tx = 5_000 * row.txs as u64;
        assert_eq!(
            row.charge,
            100_000 + row.gas_limit + per_tx + 4 * row.trace_bytes as u64,
            "{name}"
        );
        // Protocol v2's bound holds whatever the gas limit: the STF cut the block at its budget.
        assert!(row.trace_bytes <= 98_304 + 24_580, "{name}: trace {}", row.trace_bytes);
        assert_eq!(row.call_data_bytes, 160 + row.trace_bytes.next_multiple_of(32), "{name}");
        let cost = row.l1.as_ref().expect("every challenge goes to the dev L1");
        let (zeros, nonzeros) = (cost.calldata.zeros, cost.calldata.nonzeros);
        assert_eq!(zeros + nonzeros, row.call_data_bytes as u64, "{name}");
        let standard = 21_000 + 4 * zeros + 16 * nonzeros + row.charge;
        let floor = 21_000 + 10 * (zeros + 4 * nonzeros);
        let expected = standard.max(floor);
        assert_eq!(cost.expected_gas, expected, "{name}");
        assert!(cost.tx_bytes > row.call_data_bytes, "{name}: the signed tx holds the call data");
        match &cost.outcome {
            L1Outcome::Mined { gas_used, valid } => {
                assert!(*valid, "{name}: the dev L1's verdict");
                assert_eq!(*gas_used, expected, "{name}: receipt gas = documented formula");
                assert!(expected <= 1 << 24, "{name}");
            }
            L1Outcome::Refused(reason) => {
                assert!(expected > 1 << 24, "{name}: refused although it fits: {reason}");
                assert!(reason.contains("gas limit"), "{name}: {reason}");
            }
        }
    }
    // Transfers fill the block: 21,000 gas each, less than one transfer left over.
    let transfers = &rows[0];
    assert_eq!(transfers.gas_used, 21_000 * transfers.txs as u64);
    assert!(transfers.gas_limit - transfers.gas_used < 21_000);
    let fits = |r: &bench::execute::ExecuteRow| {
        r.l1.as_ref().is_some_and(|c| c.fits_gas_cap() && c.fits_mempool())
    };
    // Up to one segment's gas (protocol v3), every block's proof fits one L1 transaction;
    // under v2 a 16M-gas block's did not.
    assert!(rows.iter().all(fits), "every segment-sized block fits one transaction");

    let section = bench::execute::section(&rows, &sizes);
    assert!(section.starts_with("## EXECUTE"));
    for heading in ["### Verification throughput", "### L1 gas of a one-block", "### Summary"] {
        assert!(section.contains(heading), "{heading}");
    }
    let table_rows = section.lines().filter(|l| l.starts_with(&format!("| {} |", rows[0].kind)));
    assert_eq!(table_rows.count(), 2 * sizes.gas_limits.len(), "one row per block in each table");
}

/// The quick audit section: the commands run as child processes over a real recorded
/// history, every batch is found valid (the bench checks the reports), the bundle holds one
/// file per block, and the figures are consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_audit_section_runs_the_commands_over_a_recorded_history() {
    let sizes = bench::audit::AuditSizes::QUICK;
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_native-challenger"));
    let f = bench::audit::run(sizes, exe, |_| {}).await.expect("audit bench runs");
    assert_eq!(f.batches, sizes.batches);
    assert_eq!(f.bundle_files as u64, sizes.batches, "one one-block batch per file");
    assert!(f.l2_txs > 0 && f.l2_gas > 0 && f.bundle_bytes > 0);
    assert!(f.l1_blocks > sizes.batches, "a block per proposal, plus the deployment");
    let jobs: Vec<usize> = f.verify.iter().map(|(j, _)| *j).collect();
    assert_eq!(jobs, vec![1, 2]);
    for run in [f.replay, f.replay_export].iter().chain(f.verify.iter().map(|(_, r)| r)) {
        assert!(run.peak_rss_kib > 0 && !run.wall.is_zero(), "{run:?}");
    }
    let section = bench::audit::section(&f);
    assert!(section.starts_with("\n## Audit"));
    assert_eq!(section.matches("| `--jobs ").count(), 2);
}

/// The quick pricing section: every worst-case trace gets a valid verdict charging the
/// documented formula (computed here), the blocks are what the section says they are, and
/// the reference really spends its gas on ECRECOVER.
#[test]
fn quick_pricing_section_prices_every_worst_case_trace() {
    use bench::execute::pricing::{self, PricingSizes};
    let sizes = PricingSizes::QUICK;
    let p = pricing::run(&sizes, |_| {}).expect("pricing bench runs");
    assert_eq!(p.traces.len(), 11);
    for t in &p.traces {
        let charge = 100_000 + t.gas_limit + 5_000 * t.txs as u64 + 4 * t.trace_bytes as u64;
        assert_eq!(t.charge, charge, "{}", t.name);
        assert!(t.trace_bytes <= 98_304 + 24_580, "{}: trace {}", t.name, t.trace_bytes);
        assert!(t.gas_used <= t.gas_limit, "{}", t.name);
        assert!(!t.time.is_zero(), "{}", t.name);
    }
    let find = |prefix: &str| {
        p.traces.iter().find(|t| t.name.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}"))
    };
    // The per-transaction worst case fills `propose`'s 64 KiB with ~80-byte transactions,
    // every one recovered and then skipped (none fits a block gas limit of 1).
    let minimal = p.traces.iter().find(|t| t.gas_limit == 1).expect("the gas-limit-1 block");
    assert!(minimal.txs > 700 && minimal.txs <= 1_024, "{}", minimal.txs);
    assert_eq!(minimal.skipped, minimal.txs);
    assert_eq!(minimal.gas_used, 0);
    // BLOCKHASH(number - 256) carries 256 headers of 160 bytes.
    assert!(find("BLOCKHASH").trace_bytes > 256 * 160);
    assert_eq!(find("BLOCKHASH").skipped, 0);
    // The L2 ECRECOVER loop runs to its end inside the block.
    let l2_loop = find("ECRECOVER loop inside");
    assert_eq!(l2_loop.skipped, 0);
    assert!(l2_loop.gas_used > 900_000, "{}", l2_loop.gas_used);
    assert_eq!(find("typical").skipped, 0);
    assert_eq!(find("typical").gas_used, 47 * 21_000);

    let reference = p.reference().expect("a reference");
    assert!(reference.name.starts_with("ECRECOVER loop"));
    let calls = sizes.reference_calls;
    assert!(reference.gas > 3_100 * calls && reference.gas < 3_300 * calls + 30_000);

    let section = pricing::section(&p);
    assert!(section.starts_with("## Pricing"));
    let headers = ["| trace |", "| plain EVM"];
    let rows = section
        .lines()
        .filter(|l| l.starts_with("| ") && !headers.iter().any(|h| l.starts_with(h)));
    assert_eq!(rows.count(), p.traces.len() + p.plain.len(), "one row per trace and workload");
    assert!(section.contains("The costliest trace per charged gas is"));
}

/// The challenges section on the dev L1, for the typical workload: the real daemon convicts
/// the lie, and the row's figures are within every limit and consistent with each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_challenges_section_convicts_and_reports() {
    use bench::challenges::{ChallengeWorkload, TRACE_BOUND, run, section};
    let rows = run(&[ChallengeWorkload::Typical], |_| {}).await.expect("the challenge lands");
    let r = &rows[0];
    assert!(r.fits_gas() && r.fits_size(), "{r:?}");
    assert!(r.trace_bytes > 0 && r.trace_bytes <= TRACE_BOUND, "{r:?}");
    assert!(r.tx_bytes > r.trace_bytes, "the reveal carries the trace: {r:?}");
    // EXECUTE charges at least its base and the block's gas limit up to one segment's gas,
    // inside the reveal's gas.
    let segment = r.l2_gas_limit.min(native_challenger::protocol::SEGMENT_GAS);
    assert!(r.l1_gas > 100_000 + segment, "{r:?}");
    assert!(r.l2_gas_used > 0 && r.l2_gas_used <= r.l2_gas_limit, "{r:?}");
    assert!(r.l2_txs > 0, "{r:?}");
    assert!(r.sent <= r.convicted, "{r:?}");
    // Proposal confirmed, commitment included and confirmed, reveal included; within the window.
    assert!((3..=60).contains(&r.l1_blocks), "{r:?}");
    let markdown = section(&rows);
    assert!(markdown.contains("| typical (mixed workload) |"), "{markdown}");
}
