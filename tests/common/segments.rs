//! Every segment of a block, proven alone (docs/protocol.md, "Segments"): what replay, witness
//! recording and EXECUTE's own code must agree on.

use super::TestChain;
use native_challenger::execute_local::block::TxRejection;
use native_challenger::execute_local::execute::{execute, record_segment_trace, verify_trace};
use native_challenger::execute_local::l2::L2Block;
use native_challenger::execute_local::meter::TRACE_BUDGET;
use native_challenger::execute_local::replay::execute_on_store;
use native_challenger::proposer::hostile::MAX_CODE_SIZE;
use native_challenger::protocol::{
    EXECUTE_BASE_GAS, EXECUTE_GAS_PER_TRACE_BYTE, EXECUTE_GAS_PER_TX, ExecuteCall, SEGMENT_GAS,
    Trace, execute_gas_cost,
};

/// Largest item that can cross the budget: a code of the fork's maximum size (EIP-170's
/// 24,576 bytes under Osaka) with its 4-byte length.
pub const MAX_CROSSING_ITEM: u64 = MAX_CODE_SIZE as u64 + 4;

/// What checking a block's segments found.
pub struct Checked {
    /// The largest segment trace.
    pub trace_len: u64,
    /// Every skipped transaction of the block, segment by segment.
    pub skipped: Vec<(usize, TxRejection)>,
    /// Each segment's trace length and end transaction.
    pub segments: Vec<(u64, u32)>,
}

/// Replays the block, then records and verifies each of its segments from the state the
/// previous one ended at, checking everything the protocol promises of each: the meter's
/// count is the trace's exact length and within the bound, EXECUTE's code confirms the
/// segment's end (and refuses another end), its charge covers at most one segment's gas, and
/// the segments chain into the replayed block (cuts, post-state root, skipped transactions).
pub fn check_segments(chain: &TestChain, block: &L2Block) -> Checked {
    let replayed = execute_on_store(&chain.store, &chain.rules, block).expect("replay");
    let count = replayed.cuts.len() + 1;
    let mut pre = chain.head().state_root;
    let mut out = Checked { trace_len: 0, skipped: Vec::new(), segments: Vec::new() };
    for k in 0..count {
        let index = u16::try_from(k).expect("at most 16 segments");
        let (trace, recorded) =
            record_segment_trace(&chain.store, &chain.rules, block, index).expect("trace");
        let encoded = trace.encode().expect("encode");
        let len = encoded.len() as u64;
        let step = &recorded.step;
        assert_eq!(recorded.pre_state_root, pre, "segment {k} starts where {} ended", k.max(1) - 1);
        let meter = step.meter.expect("the L2 meters every segment");
        assert_eq!(meter.trace_bytes, len, "segment {k}: the meter counts the trace's length");
        assert!(
            len <= TRACE_BUDGET + MAX_CROSSING_ITEM,
            "segment {k}: trace of {len} bytes is over the bound {}",
            TRACE_BUDGET + MAX_CROSSING_ITEM
        );
        // EXECUTE's code, from the trace alone, takes the same decisions.
        let decoded = Trace::decode(&encoded).expect("decode");
        let verified = verify_trace(&chain.rules, pre, &decoded).expect("verifies");
        let v = verified.last().expect("one step");
        assert_eq!(v.post_state_root, step.post_state_root, "segment {k}");
        assert_eq!(v.end, step.end, "segment {k}");
        assert_eq!(v.outcome.skipped, step.outcome.skipped, "segment {k}");
        let call = ExecuteCall {
            pre_state_root: pre,
            post_state_root: step.post_state_root,
            trace: encoded.clone().into(),
            gas_used: step.end.gas_used,
        };
        assert!(matches!(execute(&chain.rules, &call), Ok(true)), "segment {k} proves");
        // A trace claiming another end is well formed and answered "no".
        let mut other_end = decoded.clone();
        other_end.segment.end_tx += 1;
        let wrong = ExecuteCall { trace: other_end.encode().expect("encode").into(), ..call };
        assert!(matches!(execute(&chain.rules, &wrong), Ok(false)), "segment {k}: another end");
        // EXECUTE charges one segment's gas, not the block's.
        let txs = block.inputs.transactions.len() as u64;
        let charge = execute_gas_cost(&encoded).expect("charge");
        assert_eq!(
            charge,
            EXECUTE_BASE_GAS
                + block.inputs.gas_limit.min(SEGMENT_GAS)
                + EXECUTE_GAS_PER_TX * txs
                + EXECUTE_GAS_PER_TRACE_BYTE * len
        );
        // The segment ends where replay's cut (or the block) says.
        match replayed.cuts.get(k) {
            Some(cut) => {
                assert!(!step.end.last, "segment {k} does not end the block");
                assert_eq!(cut.end_tx, step.end.end_tx);
                assert_eq!(cut.state_root, step.post_state_root);
                assert_eq!(cut.gas_used, step.end.gas_used);
            }
            None => {
                assert!(step.end.last, "the last segment ends the block");
                assert_eq!(step.post_state_root, replayed.post_state_root);
                assert_eq!(step.end.gas_used, replayed.outcome.gas_used);
            }
        }
        out.trace_len = out.trace_len.max(len);
        out.skipped.extend(step.outcome.skipped.iter().cloned());
        out.segments.push((len, step.end.end_tx));
        pre = step.post_state_root;
    }
    assert_eq!(replayed.outcome.skipped, out.skipped, "replay skips what the segments skip");
    out
}
