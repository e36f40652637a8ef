//! EIP-7610 in the conformance path, on the official fixtures that exercise it.

use super::*;
use crate::conformance::fixture::load_file;
use std::path::PathBuf;

fn general_state_test(file: &str) -> Vec<(String, BlockchainTest)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/ethereum-tests/BlockchainTests/GeneralStateTests")
        .join(file);
    let loaded = load_file(&path);
    assert!(loaded.is_ok(), "loading {}: {loaded:?}", path.display());
    loaded.map(|f| f.tests.into_iter().collect()).unwrap_or_default()
}

fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("scratch directory");
    let path = dir.path().join(name);
    (dir, path)
}

/// Every case of a fixture whose pre-state holds an account with storage but no code and
/// nonce 0, and whose block creates a contract at that address: both paths must pass (gas
/// used, receipts, state root, and every postState account: the caller's nonce bumped, the
/// storage-only account untouched) with EIP-7610, and the same block must fail without it,
/// on the gas revm alone computes.
fn collides(file: &str, cases: usize) {
    let tests = general_state_test(file);
    assert_eq!(tests.len(), cases, "{file}: cases");
    for (name, test) in &tests {
        let storage_only = test
            .pre
            .values()
            .filter(|a| {
                a.nonce == 0 && a.code.is_empty() && a.storage.values().any(|v| !v.is_zero())
            })
            .count();
        assert!(storage_only > 0, "{name}: no storage-only account in the pre-state");
        let (_dir, path) = scratch(name);
        let outcome = run_test(test, &path);
        assert!(
            matches!(outcome, Outcome::Passed { blocks: 1, witness_bytes } if witness_bytes > 0),
            "{name}: {outcome:?}"
        );
        let (_dir, path) = scratch(name);
        match run_under(test, &path, false) {
            Outcome::Failed { mode: Mode::Stateful, reason } => {
                assert!(reason.contains("gas used"), "{name}: without EIP-7610: {reason}")
            }
            other => panic!("{name}: without EIP-7610 the fixture must fail, got {other:?}"),
        }
    }
}

/// A creation transaction onto a storage-only account (the whole gas limit is consumed).
#[test]
fn creation_transaction_onto_storage_collides() {
    collides("stRevertTest/RevertInCreateInInit_Paris.json", 1);
}

/// CREATE2 from init code onto storage-only accounts: the inner creation collides, its gas is
/// consumed, the outer creation succeeds with its nonce bumped by the failed CREATE2.
#[test]
fn create2_onto_storage_collides() {
    collides("stCreate2/create2collisionStorageParis.json", 3);
}
