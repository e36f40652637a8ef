//! The benchmark harness runs end to end on small generated workloads (no timing asserted).

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
