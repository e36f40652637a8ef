//! The L2 path end to end: stateful replay into rocksdb, trace recording, and the EXECUTE
//! semantics over the trace alone; tampered traces never verify; rollback restores state.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{Address, B256, Bytes, U256};
use common::{TestChain, storage_writer_address};
use native_challenger::execute_local::execute::{ExecuteError, execute, record_trace, witness_of};
use native_challenger::execute_local::l2::L2Block;
use native_challenger::execute_local::l2::L2Headers;
use native_challenger::execute_local::stateless::{VerifyError, verify_chunk};
use native_challenger::protocol::{ExecuteCall, Trace};
use proptest::prelude::*;

/// Genesis, then block 1 (transfers to fresh accounts, a deployment, storage writes) and
/// block 2 (storage deletions that collapse branches, a stale-nonce tx, garbage bytes).
fn two_blocks(chain: &mut TestChain) -> (L2Block, L2Block) {
    let fresh = |i: u8| Address::repeat_byte(0x10 + i);
    let txs1 = vec![
        chain.transfer(0, fresh(1), 1_000),
        chain.transfer(1, fresh(2), 2_000),
        chain.deploy_writer(2),
        chain.write_slots(3, 100, 6, 7),
    ];
    let b1 = chain.block(1, txs1);
    let stale = chain.tx_with_nonce(
        0,
        0,
        alloy_primitives::TxKind::Call(fresh(3)),
        U256::from(1),
        Bytes::new(),
        21_000,
    );
    let txs2 = vec![
        chain.write_slots(3, 0, 8, 0),
        stale,
        Bytes::from_static(&[0x02, 0xc0]),
        chain.transfer(1, fresh(4), 5),
    ];
    (b1, chain.block(2, txs2))
}

fn call_for(trace: &Trace, pre: B256, post: B256, gas_used: u64) -> ExecuteCall {
    ExecuteCall {
        pre_state_root: pre,
        post_state_root: post,
        trace: trace.encode().expect("encode").into(),
        gas_used,
    }
}

#[test]
fn replay_trace_and_execute_agree() {
    let mut chain = TestChain::new();
    let (b1, b2) = two_blocks(&mut chain);
    for block in [b1, b2] {
        let parent = chain.head();
        let (trace, steps) =
            record_trace(&chain.store, &chain.rules, std::slice::from_ref(&block)).expect("trace");
        let pending = native_challenger::execute_local::replay::execute_on_store(
            &chain.store,
            &chain.rules,
            &block,
        )
        .expect("execute");
        assert_eq!(
            steps[0].post_state_root, pending.post_state_root,
            "recording and replay disagree"
        );
        let gas = pending.outcome.gas_used;
        let root = pending.post_state_root;
        if block.inputs.number == 2 {
            assert_eq!(pending.outcome.skipped.len(), 2, "stale nonce and garbage are skipped");
            assert_eq!(pending.outcome.receipts.len(), 2);
        }
        pending.commit(&chain.store).expect("commit");
        assert_ne!(root, parent.state_root);
        assert!(
            execute(&chain.rules, &call_for(&trace, parent.state_root, root, gas))
                .expect("valid trace")
        );
        assert!(
            !execute(&chain.rules, &call_for(&trace, parent.state_root, B256::repeat_byte(1), gas))
                .expect("mismatch is a verdict")
        );
        assert!(
            !execute(&chain.rules, &call_for(&trace, parent.state_root, root, gas + 1))
                .expect("mismatch is a verdict")
        );
        // The wrong pre-state root cannot be proven: the parent header binds it.
        assert!(execute(&chain.rules, &call_for(&trace, B256::repeat_byte(2), root, gas)).is_err());
    }
    // Storage slots 0..8 of the genesis contract were deleted, 100..106 written.
    assert_eq!(chain.store.storage(&storage_writer_address(), &U256::from(3)).unwrap(), U256::ZERO);
    assert_eq!(
        chain.store.storage(&storage_writer_address(), &U256::from(105)).unwrap(),
        U256::from(7)
    );
}

#[test]
fn two_block_chunk_verifies_without_a_budget_only() {
    let mut chain = TestChain::new();
    let (b1, b2) = two_blocks(&mut chain);
    let genesis = chain.head();
    // Protocol v2 meters each block as it would run alone, so its chunks are one block.
    let err = record_trace(&chain.store, &chain.rules, &[b1.clone(), b2.clone()])
        .expect_err("a v2 chunk is one block");
    assert!(err.to_string().contains("one block"), "{err}");
    // The trace format still carries several blocks for chains without a witness budget.
    let rules = chain.rules.clone().without_trace_budget();
    let (trace, steps) =
        record_trace(&chain.store, &rules, &[b1.clone(), b2.clone()]).expect("trace");
    chain.apply(&b1);
    let head = chain.apply(&b2);
    assert_eq!(steps[1].post_state_root, head.state_root);
    let total: u64 = (1..=2u64)
        .map(|n| {
            let (_, bytes) = chain.store.header(n).unwrap().unwrap();
            native_challenger::protocol::L2Header::decode(&bytes).unwrap().gas_used
        })
        .sum();
    assert!(
        execute(&rules, &call_for(&trace, genesis.state_root, head.state_root, total)).unwrap()
    );
    assert!(
        !execute(&rules, &call_for(&trace, genesis.state_root, head.state_root, total - 1))
            .unwrap()
    );
    assert!(
        execute(&chain.rules, &call_for(&trace, genesis.state_root, head.state_root, total))
            .is_err(),
        "EXECUTE under v2 refuses a two-block trace"
    );
}

/// A valid trace of block 2 and the call that proves it.
fn block_two_call() -> (TestChain, Trace, ExecuteCall) {
    let mut chain = TestChain::new();
    let (b1, b2) = two_blocks(&mut chain);
    chain.apply(&b1);
    let parent = chain.head();
    let (trace, steps) = record_trace(&chain.store, &chain.rules, &[b2]).expect("trace");
    let call =
        call_for(&trace, parent.state_root, steps[0].post_state_root, steps[0].outcome.gas_used);
    assert!(execute(&chain.rules, &call).unwrap());
    (chain, trace, call)
}

fn fails(chain: &TestChain, trace: &Trace, call: &ExecuteCall) -> ExecuteError {
    let call = ExecuteCall { trace: trace.encode().expect("encode").into(), ..call.clone() };
    match execute(&chain.rules, &call) {
        Err(err) => err,
        Ok(verdict) => panic!("tampered trace gave verdict {verdict}"),
    }
}

#[test]
fn tampered_witnesses_are_typed_errors() {
    let (chain, trace, call) = block_two_call();
    // Truncated: every single node dropped in turn.
    for index in 0..trace.witness.nodes.len() {
        let mut t = trace.clone();
        t.witness.nodes.remove(index);
        let err = fails(&chain, &t, &call);
        assert!(
            matches!(err, ExecuteError::Witness(ref e) if e.fault().is_some()),
            "dropped node {index}: {err}"
        );
    }
    // A dropped code.
    let mut t = trace.clone();
    t.witness.codes.clear();
    assert!(matches!(fails(&chain, &t, &call), ExecuteError::Witness(_)));
    // A foreign node (well formed, never referenced).
    let mut t = trace.clone();
    t.witness.nodes.push(Bytes::from(alloy_rlp::encode(vec![
        Bytes::from(vec![0x20; 40]),
        Bytes::from(vec![7u8; 40]),
    ])));
    let err = fails(&chain, &t.clone(), &call);
    assert!(
        matches!(err, ExecuteError::Witness(VerifyError::Unused { kind: "node", .. })),
        "{err}"
    );
    // Bit-flipped node: re-sorted so only the content is wrong.
    let mut t = trace.clone();
    let mut node = t.witness.nodes[0].to_vec();
    let last = node.len() - 1;
    node[last] ^= 1;
    t.witness.nodes[0] = node.into();
    assert!(matches!(
        fails(&chain, &t, &call),
        ExecuteError::Witness(_) | ExecuteError::Malformed(_)
    ));
    // A foreign block: the inputs of another number.
    let mut t = trace.clone();
    t.blocks[0].number += 1;
    assert!(matches!(
        fails(&chain, &t, &call),
        ExecuteError::Witness(VerifyError::WrongBlockNumber { .. })
    ));
    // Inputs that change nothing observable still give a valid transition: EXECUTE judges
    // the transition of the inputs it is given. What stops this trace on L1 is the contract:
    // its inputs no longer hash to the committed input commitment.
    let mut t = trace.clone();
    t.blocks[0].prev_randao = B256::repeat_byte(9);
    let other = ExecuteCall { trace: t.encode().unwrap().into(), ..call.clone() };
    assert!(execute(&chain.rules, &other).unwrap());
    assert_ne!(t.blocks[0].commitment().unwrap(), trace.blocks[0].commitment().unwrap());
    // Another chain.
    let mut t = trace.clone();
    t.chain_id += 1;
    assert!(matches!(fails(&chain, &t, &call), ExecuteError::WrongChain { .. }));
}

#[test]
fn malformed_trace_bytes_are_typed_errors() {
    let (chain, _trace, call) = block_two_call();
    let bytes = call.trace.to_vec();
    // Reordered witness nodes, truncation, a trailing byte: decode errors.
    let cases: Vec<Vec<u8>> = vec![
        bytes[..bytes.len() - 1].to_vec(),
        [bytes.clone(), vec![0]].concat(),
        bytes[..40].to_vec(),
        Vec::new(),
    ];
    for case in cases {
        let call = ExecuteCall { trace: case.into(), ..call.clone() };
        assert!(matches!(execute(&chain.rules, &call), Err(ExecuteError::Malformed(_))));
    }
    // Reordered witness nodes, handed to the stateless verifier directly.
    let trace = Trace::decode(&bytes).unwrap();
    let mut witness = witness_of(&trace);
    witness.nodes.swap(0, 1);
    let blocks: Vec<L2Block> =
        trace.blocks.iter().cloned().map(|b| L2Block::new(b).unwrap()).collect();
    let err = verify_chunk::<_, L2Headers>(
        &chain.rules,
        call.pre_state_root,
        trace.parent_hash,
        &blocks,
        &witness,
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::NotCanonical { kind: "nodes", .. }), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Arbitrary bit flips anywhere in the trace: never a panic, and never "valid" for a trace
    /// the contract would accept. EXECUTE judges the transition of the blocks it is given; a
    /// flip inside a block's inputs that leaves the transition unchanged (say, PREVRANDAO that
    /// nothing reads, or the bytes of a transaction that is skipped either way) is still a
    /// valid transition, for other inputs: the contract refuses it because the inputs no longer
    /// hash to the committed input commitment. So a "valid" answer must come with changed
    /// commitments; anything else would let a tampered trace pass.
    #[test]
    fn flipped_bits_never_verify(flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let (chain, trace, call) = &*FIXTURE;
        let mut bytes = call.trace.to_vec();
        for (index, bit) in &flips {
            let i = index.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let changed = bytes != call.trace.to_vec();
        let tampered = ExecuteCall { trace: bytes.clone().into(), ..call.clone() };
        if changed && matches!(execute(&chain.rules, &tampered), Ok(true)) {
            let decoded = Trace::decode(&bytes).expect("a valid answer implies a decodable trace");
            let commitments = |t: &Trace| t.blocks.iter().map(|b| b.commitment().expect("encodes")).collect::<Vec<_>>();
            prop_assert_ne!(commitments(&decoded), commitments(trace), "a trace with the committed inputs but other bytes verified");
        }
    }
}

static FIXTURE: std::sync::LazyLock<(TestChain, Trace, ExecuteCall)> =
    std::sync::LazyLock::new(block_two_call);

#[test]
fn rollback_restores_state_and_replays_identically() {
    let mut chain = TestChain::new();
    let (b1, b2) = two_blocks(&mut chain);
    let h1 = chain.apply(&b1);
    let slot_before = chain.store.storage(&storage_writer_address(), &U256::from(3)).unwrap();
    let h2 = chain.apply(&b2);
    assert_ne!(h1.state_root, h2.state_root);
    let restored = chain.store.rollback_to(1).expect("rollback");
    assert_eq!(restored, h1);
    assert_eq!(
        chain.store.storage(&storage_writer_address(), &U256::from(3)).unwrap(),
        slot_before
    );
    assert!(chain.store.header(2).unwrap().is_none());
    let again = chain.apply(&b2);
    assert_eq!(again, h2, "replaying after rollback gives the same block");
    assert_eq!(
        chain.store.rollback_to(5).expect("no-op"),
        h2,
        "rolling back past the head changes nothing"
    );
}
