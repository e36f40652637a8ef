//! A fixed sample of the official BlockchainTests, through both paths, on every `cargo test`.
//! (CI runs the whole shipped set with `native-challenger conformance`.)
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use native_challenger::conformance::runner::Outcome;
use native_challenger::conformance::suite::run_suite;
use std::path::PathBuf;

const SAMPLE: &[&str] = &[
    "ValidBlocks/bcStateTests",
    "ValidBlocks/bcEIP1559",
    "ValidBlocks/bcEIP4844-blobtransactions",
    "ValidBlocks/bcEIP3675",
    "ValidBlocks/bcWalletTest",
    "InvalidBlocks/bcMultiChainTest",
    "InvalidBlocks/bc4895-withdrawals",
    "InvalidBlocks/bcEIP1559",
    "GeneralStateTests/stSStoreTest",
    "GeneralStateTests/stSelfBalance",
    "GeneralStateTests/Cancun",
    "GeneralStateTests/Shanghai",
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/ethereum-tests/BlockchainTests")
}

#[test]
fn sample_passes_stateful_and_stateless() {
    let paths: Vec<PathBuf> =
        SAMPLE.iter().map(|p| fixtures().join(p)).filter(|p| p.exists()).collect();
    assert!(
        paths.len() >= SAMPLE.len() - 2,
        "fixture sample missing under {}",
        fixtures().display()
    );
    let scratch = tempfile::tempdir().unwrap();
    let report = run_suite(&paths, 2, scratch.path()).expect("fixtures load");
    let failures: Vec<String> = report
        .tests
        .iter()
        .filter_map(|t| match &t.outcome {
            Outcome::Failed { mode, reason } => Some(format!("{} [{mode:?}]: {reason}", t.test)),
            _ => None,
        })
        .collect();
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    assert!(report.passed >= 300, "only {} passed", report.passed);
    assert_eq!(report.skipped, 0, "the sample is post-merge only");
    let witnessed = report
        .tests
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::Passed { witness_bytes, .. } if witness_bytes > 0))
        .count();
    assert!(witnessed * 10 >= report.passed * 9, "stateless path must run for the valid blocks");
}
