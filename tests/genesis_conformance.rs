//! The genesis-file parser against data nobody here wrote: the official BlockchainTests, whose
//! `pre` is a genesis allocation in geth's spelling and whose `genesisBlockHeader.stateRoot` is
//! its root. Each sampled `pre` goes through the parser and the state builder below the L2 layer
//! (no system contracts added), and must give that root.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alloy_primitives::B256;
use native_challenger::execute_local::replay::GenesisState;
use native_challenger::rollup::genesis_file::GethGenesis;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const SAMPLE: &[&str] = &[
    "ValidBlocks/bcStateTests",
    "ValidBlocks/bcEIP1559",
    "ValidBlocks/bcExample",
    "ValidBlocks/bcWalletTest",
    "GeneralStateTests/stSStoreTest",
    "GeneralStateTests/stCreate2",
    "GeneralStateTests/stPreCompiledContracts",
    "GeneralStateTests/Cancun",
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/ethereum-tests/BlockchainTests")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn fixture_allocations_give_their_genesis_roots() {
    let mut files = Vec::new();
    for dir in SAMPLE {
        json_files(&fixtures().join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() >= 100, "fixture sample missing under {}", fixtures().display());
    let (mut checked, mut accounts, mut slots) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read(file).expect("read fixture");
        let tests: serde_json::Map<String, Value> = serde_json::from_slice(&text).expect("json");
        for (name, test) in tests {
            let expected: B256 =
                serde_json::from_value(test["genesisBlockHeader"]["stateRoot"].clone())
                    .expect("stateRoot");
            let file_text = serde_json::to_vec(&json!({
                "config": {"chainId": 1},
                "timestamp": test["genesisBlockHeader"]["timestamp"],
                "alloc": test["pre"],
            }))
            .expect("json");
            let genesis = match GethGenesis::parse(&file_text) {
                Ok(genesis) => genesis,
                Err(err) => {
                    failures.push(format!("{name}: refused: {err}"));
                    continue;
                }
            };
            accounts += genesis.alloc.len();
            slots += genesis.alloc.values().map(|a| a.storage.len()).sum::<usize>();
            let state = GenesisState::build(&genesis.alloc).expect("build");
            if state.state_root != expected {
                failures.push(format!("{name}: root {} != {expected}", state.state_root));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 300, "only {checked} tests checked");
    assert!(slots > 0, "the sample has no storage");
    println!("{checked} fixture genesis roots reproduced ({accounts} accounts, {slots} slots)");
}
