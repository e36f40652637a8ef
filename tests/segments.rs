//! Segments (docs/protocol.md, "Segments"), without L1: a full 30M-gas block runs as several
//! segments, each proven alone by EXECUTE's own code from the state the previous one ended
//! at; the per-transaction cap admits a 24 KiB deployment and refuses a transaction over one
//! segment's gas; the last segment a block may have runs to the end of the block.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{Address, Bytes, TxKind, U256};
use common::TestChain;
use common::segments::check_segments;
use native_challenger::execute_local::block::TxRejection;
use native_challenger::execute_local::chain::SegmentRules;
use native_challenger::execute_local::execute::{execute, record_segment_trace};
use native_challenger::execute_local::replay::execute_on_store;
use native_challenger::proposer::full::{
    BURN_GAS, DEPLOY_GAS, MAX_CODE_BYTES, burner_initcode, deploy_initcode,
};
use native_challenger::protocol::{ExecuteCall, SEGMENT_GAS};

/// A 24 KiB deployment, then burners filling `gas_limit` (as `proposer::full` builds it).
fn full_block_txs(chain: &mut TestChain, gas_limit: u64) -> Vec<Bytes> {
    let mut txs =
        vec![chain.tx(0, TxKind::Create, U256::ZERO, deploy_initcode(MAX_CODE_BYTES), DEPLOY_GAS)];
    let mut left = gas_limit - DEPLOY_GAS;
    let mut key = 1;
    while left >= 60_000 {
        let gas = left.min(BURN_GAS);
        txs.push(chain.tx(key % 4, TxKind::Create, U256::ZERO, burner_initcode(), gas));
        left -= gas;
        key += 1;
    }
    txs
}

#[test]
fn a_full_block_runs_as_segments_each_proven_alone() {
    let mut chain = TestChain::with_background(1_000);
    let txs = full_block_txs(&mut chain, 30_000_000);
    let block = chain.block_with_gas_limit(1, txs, 30_000_000);
    let checked = check_segments(&chain, &block);
    assert!(checked.skipped.is_empty(), "{:?}", checked.skipped);
    // The deployment alone (a burner does not fit beside it), one burner per segment, and the
    // last burner with what is left.
    let ends: Vec<u32> = checked.segments.iter().map(|(_, end)| *end).collect();
    assert_eq!(ends, vec![1, 2, 3, 4, 5], "five segments");
    let replayed = execute_on_store(&chain.store, &chain.rules, &block).expect("replay");
    assert_eq!(replayed.cuts.len(), 4);
    let last = replayed.outcome.receipts.last().expect("receipts");
    assert_eq!(
        alloy_consensus::TxReceipt::cumulative_gas_used(last),
        replayed.outcome.gas_used,
        "receipts carry the block's cumulative gas across segments"
    );
    assert!(replayed.outcome.gas_used > 29_000_000, "{} gas used", replayed.outcome.gas_used);
    let deployed = replayed.outcome.receipts.first().expect("the deployment's receipt");
    assert!(alloy_consensus::TxReceipt::status(deployed), "a 24 KiB contract deploys");
    let code: usize = replayed.diff.codes.iter().map(|(_, code)| code.len()).sum();
    assert_eq!(code, MAX_CODE_BYTES, "its 24,576 bytes of code are in the block's changes");
    // The block commits, and the next block builds on the segments' state.
    let head = chain.apply(&block);
    assert_eq!(head.state_root, replayed.post_state_root);
    let next = chain.transfer(1, Address::repeat_byte(0x77), 5);
    let block = chain.block(2, vec![next]);
    assert!(check_segments(&chain, &block).skipped.is_empty());
}

#[test]
fn a_later_segment_does_not_prove_from_another_pre_state() {
    let mut chain = TestChain::with_background(100);
    let txs = full_block_txs(&mut chain, 30_000_000);
    let block = chain.block_with_gas_limit(1, txs, 30_000_000);
    let replayed = execute_on_store(&chain.store, &chain.rules, &block).expect("replay");
    let (trace, recorded) =
        record_segment_trace(&chain.store, &chain.rules, &block, 2).expect("segment 2");
    let encoded: Bytes = trace.encode().expect("encode").into();
    let call = ExecuteCall {
        pre_state_root: replayed.cuts[1].state_root,
        post_state_root: recorded.step.post_state_root,
        trace: encoded.clone(),
        gas_used: recorded.step.end.gas_used,
    };
    assert!(matches!(execute(&chain.rules, &call), Ok(true)));
    // From the block's pre-state (or any other root) the witness does not even resolve.
    let other = ExecuteCall { pre_state_root: chain.head().state_root, ..call.clone() };
    assert!(execute(&chain.rules, &other).is_err(), "another pre-state is no proof");
    // Started elsewhere in the block, the same trace is another claim.
    let mut moved = trace.clone();
    moved.segment.start_tx -= 1;
    let moved = ExecuteCall { trace: moved.encode().expect("encode").into(), ..call };
    assert!(!matches!(execute(&chain.rules, &moved), Ok(true)), "another start proves nothing");
}

#[test]
fn a_transaction_over_one_segment_s_gas_is_skipped_and_a_deployment_is_not() {
    let mut chain = TestChain::with_background(10);
    let deploy =
        chain.tx(0, TxKind::Create, U256::ZERO, deploy_initcode(MAX_CODE_BYTES), DEPLOY_GAS);
    let over = chain.tx(
        1,
        TxKind::Call(Address::repeat_byte(0x99)),
        U256::ZERO,
        Bytes::new(),
        SEGMENT_GAS + 1,
    );
    let after = chain.transfer(2, Address::repeat_byte(0x98), 1);
    let block = chain.block_with_gas_limit(1, vec![deploy, over, after], 30_000_000);
    let checked = check_segments(&chain, &block);
    assert!(
        matches!(checked.skipped.as_slice(), [(1, TxRejection::SegmentGas { .. })]),
        "{:?}",
        checked.skipped
    );
    assert_eq!(checked.segments.len(), 1, "the cap skips; it does not end the segment");
}

#[test]
fn the_last_segment_a_block_may_have_runs_to_its_end() {
    let mut chain = TestChain::with_background(10);
    chain.rules =
        chain.rules.clone().with_segments(SegmentRules { max_per_block: 2, gas: SEGMENT_GAS });
    let burn = |chain: &mut TestChain, key| {
        chain.tx(key, TxKind::Create, U256::ZERO, burner_initcode(), BURN_GAS)
    };
    let txs = vec![burn(&mut chain, 0), burn(&mut chain, 1), burn(&mut chain, 2)];
    let block = chain.block_with_gas_limit(1, txs, 30_000_000);
    let checked = check_segments(&chain, &block);
    // Segment 0 burns once; segment 1, the last admitted, burns once and skips the third
    // burner, which does not fit in what is left of its gas.
    let ends: Vec<u32> = checked.segments.iter().map(|(_, end)| *end).collect();
    assert_eq!(ends, vec![1, 3]);
    assert!(
        matches!(checked.skipped.as_slice(), [(2, TxRejection::SegmentGas { .. })]),
        "{:?}",
        checked.skipped
    );
}

/// A segment runs at most `min(SEGMENT_GAS, gas_limit)` of transaction gas limits, what EXECUTE
/// charges for it: two transfers offering 600k gas each do not share a segment of a 1M-gas
/// block, though together they use 42k (the block's own check, on gas used, would take both).
#[test]
fn a_segment_runs_no_more_gas_limits_than_its_block_s_gas_limit() {
    let mut chain = TestChain::with_background(10);
    let a =
        chain.tx(0, TxKind::Call(Address::repeat_byte(0x61)), U256::from(1), Bytes::new(), 600_000);
    let b =
        chain.tx(1, TxKind::Call(Address::repeat_byte(0x62)), U256::from(1), Bytes::new(), 600_000);
    let block = chain.block_with_gas_limit(1, vec![a, b], 1_000_000);
    let checked = check_segments(&chain, &block);
    assert!(checked.skipped.is_empty(), "{:?}", checked.skipped);
    let ends: Vec<u32> = checked.segments.iter().map(|(_, end)| *end).collect();
    assert_eq!(ends, vec![1, 2], "one transfer per segment");
    // Over the block's gas limit, a transaction is over its segment's capacity.
    let c =
        chain.tx(2, TxKind::Call(Address::repeat_byte(0x63)), U256::ZERO, Bytes::new(), 1_000_001);
    let block = chain.block_with_gas_limit(1, vec![c], 1_000_000);
    let checked = check_segments(&chain, &block);
    assert!(
        matches!(checked.skipped.as_slice(), [(0, TxRejection::SegmentGas { .. })]),
        "{:?}",
        checked.skipped
    );
}
