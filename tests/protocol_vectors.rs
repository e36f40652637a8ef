//! Checks the Rust protocol codecs against the vectors in tests/vectors/, which an
//! independent Python implementation (tests/vectors/gen_vectors.py) produced from the spec.
//!
//! Input: every tests/vectors/*.json file (schema: tests/vectors/README.md).
//! Output: for each `valid` case, encode(value) == encoded, decode(encoded) == value and the
//! hashes, ranges and gas agree; each `invalid` case is rejected with the named error kind.
//! Invariant: a vector file this test does not know fails the test (none is skipped).
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alloy_primitives::{B256, keccak256};
use native_challenger::protocol::batch_tree::{
    Leaf, batch_headers, batch_leaves, merkle_path, verify_path,
};
use native_challenger::protocol::{
    BlockInputs, Checkpoint, CheckpointProof, Cut, ExecuteCall, L2Header, ProtocolError, Trace,
    block_input_ranges, checkpoints_root, execute_gas_cost,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::PathBuf;

const FILES: [&str; 7] = [
    "block_inputs",
    "l2_header",
    "checkpoint",
    "trace",
    "execute_call",
    "execute_gas_cost",
    "batch_tree",
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("vectors")
}

fn load(name: &str) -> Value {
    let text =
        std::fs::read_to_string(dir().join(format!("{name}.json"))).expect("vector file readable");
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn hex_bytes(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    hex::decode(s.strip_prefix("0x").expect("0x prefix")).expect("valid hex")
}

fn typed<T: DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).expect("value matches the Rust type")
}

fn cases<'a>(file: &'a Value, key: &str) -> &'a Vec<Value> {
    let list = file[key].as_array().unwrap_or_else(|| panic!("`{key}` array"));
    assert!(!list.is_empty(), "`{key}` must not be empty");
    list
}

/// Every invalid case must fail to decode with exactly the named error kind.
fn check_invalid<T: std::fmt::Debug>(
    file: &Value,
    decode: impl Fn(&[u8]) -> Result<T, ProtocolError>,
) {
    for case in cases(file, "invalid") {
        let name = &case["name"];
        let err =
            decode(&hex_bytes(&case["encoded"])).expect_err(&format!("{name} must be rejected"));
        assert_eq!(err.kind(), case["error"].as_str().unwrap(), "{name}: got {err}");
    }
}

#[test]
fn every_vector_file_is_checked() {
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            assert!(FILES.contains(&stem), "unchecked vector file {stem}.json");
        }
    }
}

#[test]
fn block_inputs() {
    let file = load("block_inputs");
    for case in cases(&file, "valid") {
        let (value, bytes): (BlockInputs, _) = (typed(&case["value"]), hex_bytes(&case["encoded"]));
        assert_eq!(value.encode().unwrap(), bytes, "{}", case["name"]);
        assert_eq!(BlockInputs::decode(&bytes).unwrap(), value);
        assert_eq!(value.commitment().unwrap(), typed::<B256>(&case["commitment"]));
    }
    check_invalid(&file, BlockInputs::decode);
}

#[test]
fn l2_header() {
    let file = load("l2_header");
    for case in cases(&file, "valid") {
        let (value, bytes): (L2Header, _) = (typed(&case["value"]), hex_bytes(&case["encoded"]));
        assert_eq!(value.encode().to_vec(), bytes, "{}", case["name"]);
        assert_eq!(L2Header::decode(&bytes).unwrap(), value);
        assert_eq!(value.block_hash(), typed::<B256>(&case["block_hash"]));
        if case["name"] == "genesis" {
            assert_eq!(L2Header::genesis(value.state_root), value);
        }
    }
    check_invalid(&file, L2Header::decode);
}

#[test]
fn checkpoint() {
    let file = load("checkpoint");
    for case in cases(&file, "valid") {
        let (value, bytes): (Checkpoint, _) = (typed(&case["value"]), hex_bytes(&case["encoded"]));
        assert_eq!(value.encode().to_vec(), bytes);
        assert_eq!(Checkpoint::decode(&bytes).unwrap(), value);
        assert_eq!(value.hash(), typed::<B256>(&case["hash"]));
    }
    check_invalid(&file, Checkpoint::decode);
}

#[test]
fn trace() {
    let file = load("trace");
    for case in cases(&file, "valid") {
        let (value, bytes): (Trace, _) = (typed(&case["value"]), hex_bytes(&case["encoded"]));
        assert_eq!(value.encode().unwrap(), bytes, "{}", case["name"]);
        assert_eq!(Trace::decode(&bytes).unwrap(), value);
        assert_eq!(value.hash().unwrap(), typed::<B256>(&case["hash"]));
        let ranges: Vec<[usize; 2]> = typed(&case["block_input_ranges"]);
        let ranges: Vec<_> = ranges.into_iter().map(|[a, b]| a..b).collect();
        assert_eq!(value.block_input_ranges(), ranges);
        assert_eq!(block_input_ranges(&bytes).unwrap(), ranges);
        for (block, range) in value.blocks.iter().zip(ranges) {
            assert_eq!(keccak256(&bytes[range]), block.commitment().unwrap());
        }
        assert_eq!(execute_gas_cost(&bytes).unwrap(), case["execute_gas_cost"].as_u64().unwrap());
    }
    check_invalid(&file, Trace::decode);
}

#[test]
fn execute_call() {
    let file = load("execute_call");
    for case in cases(&file, "valid") {
        let (value, bytes): (ExecuteCall, _) = (typed(&case["value"]), hex_bytes(&case["encoded"]));
        assert_eq!(value.abi_encode(), bytes, "{}", case["name"]);
        assert_eq!(ExecuteCall::abi_decode(&bytes).unwrap(), value);
    }
    check_invalid(&file, ExecuteCall::abi_decode);
}

#[test]
fn execute_gas_cost_cases() {
    let file = load("execute_gas_cost");
    for case in cases(&file, "cases") {
        let got = execute_gas_cost(&hex_bytes(&case["trace"]));
        match case["gas"].as_u64() {
            Some(gas) => assert_eq!(got, Ok(gas), "{}", case["name"]),
            None => assert_eq!(
                got.unwrap_err().kind(),
                case["error"].as_str().unwrap(),
                "{}",
                case["name"]
            ),
        }
    }
}

/// A cut as the vectors list it: with its block's index.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorCut {
    block_index: usize,
    end_tx: u32,
    state_root: B256,
    gas_used: u64,
}

/// The batch tree (docs/protocol.md, "Checkpoints"): the headers chained from the base, the
/// leaves (cuts before their block's header), the root and the paths the contract checks are
/// those of the independent implementation.
#[test]
fn batch_tree() {
    let file = load("batch_tree");
    let mut with_cuts = 0;
    for case in cases(&file, "valid") {
        let name = &case["name"];
        let base: L2Header = typed(&case["base"]);
        let checkpoints: Vec<Checkpoint> = typed(&case["checkpoints"]);
        let hashes: Vec<B256> = typed(&case["block_hashes"]);
        let listed: Vec<VectorCut> =
            if case["cuts"].is_null() { Vec::new() } else { typed(&case["cuts"]) };
        let mut cuts = vec![Vec::new(); checkpoints.len()];
        for cut in &listed {
            let (end_tx, state_root, gas_used) = (cut.end_tx, cut.state_root, cut.gas_used);
            cuts[cut.block_index].push(Cut { end_tx, state_root, gas_used });
        }
        with_cuts += usize::from(!listed.is_empty());
        let headers = batch_headers(&base, &checkpoints);
        let mine: Vec<B256> = headers.iter().map(L2Header::block_hash).collect();
        assert_eq!(mine, hashes, "{name}: block hashes");
        let expected_leaves: Vec<B256> = typed(&case["leaves"]);
        let leaves = batch_leaves(&headers, &cuts);
        let leaf_hashes: Vec<B256> = leaves.iter().map(Leaf::hash).collect();
        assert_eq!(leaf_hashes, expected_leaves, "{name}: leaves");
        let root: B256 = typed(&case["root"]);
        assert_eq!(checkpoints_root(&base, &checkpoints, &cuts), root, "{name}: root");
        for pick in cases(case, "paths") {
            let index = pick["index"].as_u64().expect("index") as usize;
            let path: Vec<B256> = typed(&pick["path"]);
            assert_eq!(
                merkle_path(&leaf_hashes, index),
                Some(path.clone()),
                "{name}: path {index}"
            );
            assert!(verify_path(root, leaves.len(), index, leaf_hashes[index], &path));
            let proof =
                CheckpointProof::new(&base, &checkpoints, &cuts, index).expect("in the batch");
            assert_eq!(proof.path, path);
            assert_eq!(proof.claimed, leaves[index]);
            assert!(proof.verify(root, leaves.len()).is_some(), "{name}: proof {index}");
        }
    }
    assert!(with_cuts >= 2, "the vectors cover batches with cuts");
}
