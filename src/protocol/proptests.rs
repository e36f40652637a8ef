//! Property tests of the protocol codecs.
//!
//! Input: arbitrary bytes and arbitrary valid values (proptest strategies below).
//! Output: assertions that (1) no decoder panics on any input, (2) encode -> decode
//! round-trips, (3) any single-byte change of a valid trace is rejected or decodes to a
//! different value that re-encodes to exactly the changed bytes (decode is injective),
//! (4) block ranges and gas cost agree with the structured values.

use super::*;
use alloy_primitives::{Address, B256, Bytes, keccak256};
use proptest::prelude::*;

fn arb_b256() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::new)
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn arb_block_inputs() -> impl Strategy<Value = BlockInputs> {
    let fixed = (
        any::<u64>(),
        any::<u64>(),
        any::<[u8; 20]>(),
        arb_b256(),
        any::<u64>(),
        any::<u64>(),
        arb_b256(),
    );
    (fixed, proptest::collection::vec(arb_bytes(40), 0..4)).prop_map(|(f, transactions)| {
        BlockInputs {
            number: f.0,
            timestamp: f.1,
            fee_recipient: Address::new(f.2),
            prev_randao: f.3,
            gas_limit: f.4,
            base_fee: f.5,
            l1_anchor: f.6,
            transactions,
        }
    })
}

fn arb_header() -> impl Strategy<Value = L2Header> {
    (arb_b256(), any::<u64>(), arb_b256(), arb_b256(), any::<u64>()).prop_map(|h| L2Header {
        parent_hash: h.0,
        number: h.1,
        input_commitment: h.2,
        state_root: h.3,
        gas_used: h.4,
    })
}

/// A contiguous chain of 1..=4 headers: the first is arbitrary, the rest link to it.
fn arb_header_chain() -> impl Strategy<Value = Vec<L2Header>> {
    let rest = proptest::collection::vec((arb_b256(), arb_b256(), any::<u64>()), 0..4);
    (arb_header(), rest).prop_map(|(mut first, rest)| {
        first.number %= u64::MAX - 8;
        let mut chain = vec![first];
        for (input_commitment, state_root, gas_used) in rest {
            let prev = chain[chain.len() - 1];
            let parent_hash = prev.block_hash();
            chain.push(L2Header {
                parent_hash,
                number: prev.number + 1,
                input_commitment,
                state_root,
                gas_used,
            });
        }
        chain
    })
}

fn arb_trace() -> impl Strategy<Value = Trace> {
    let blocks = proptest::collection::vec(arb_block_inputs(), 1..4);
    let nodes = proptest::collection::vec(arb_bytes(24), 0..5);
    let codes = proptest::collection::vec(arb_bytes(24), 0..5);
    let segment = (any::<u16>(), any::<u32>(), any::<u64>(), any::<u32>()).prop_map(
        |(index, start_tx, gas_before, end_tx)| TraceSegment {
            index,
            start_tx,
            gas_before,
            end_tx,
        },
    );
    (any::<u64>(), segment, blocks, nodes, codes, arb_header_chain()).prop_map(
        |(chain_id, segment, blocks, nodes, codes, headers)| {
            let parent_hash = headers[headers.len() - 1].block_hash();
            let witness = Witness { nodes, codes, headers };
            Trace { chain_id, parent_hash, segment, blocks, witness }
        },
    )
}

fn canonical(trace: &Trace) -> Trace {
    Trace { witness: trace.witness.canonical(), ..trace.clone() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = BlockInputs::decode(&bytes);
        let _ = L2Header::decode(&bytes);
        let _ = Checkpoint::decode(&bytes);
        let _ = Trace::decode(&bytes);
        let _ = ExecuteCall::abi_decode(&bytes);
        let _ = execute_gas_cost(&bytes);
        let _ = block_input_ranges(&bytes);
        let _ = decode_execute_output(&bytes);
        // Same, behind a valid version byte so the trace decoder gets further.
        let mut versioned = vec![TRACE_VERSION];
        versioned.extend_from_slice(&bytes);
        let _ = Trace::decode(&versioned);
        let _ = execute_gas_cost(&versioned);
    }

    #[test]
    fn block_inputs_round_trip(inputs in arb_block_inputs()) {
        let bytes = inputs.encode().unwrap();
        prop_assert_eq!(bytes.len(), inputs.encoded_len());
        prop_assert_eq!(BlockInputs::decode(&bytes).unwrap(), inputs.clone());
        prop_assert_eq!(inputs.commitment().unwrap(), keccak256(&bytes));
    }

    #[test]
    fn header_and_checkpoint_round_trip(header in arb_header()) {
        prop_assert_eq!(L2Header::decode(&header.encode()).unwrap(), header);
        let checkpoint = Checkpoint::of_header(&header);
        prop_assert_eq!(Checkpoint::decode(&checkpoint.encode()).unwrap(), checkpoint);
    }

    #[test]
    fn trace_round_trip_and_ranges(trace in arb_trace()) {
        let bytes = trace.encode().unwrap();
        prop_assert_eq!(Trace::decode(&bytes).unwrap(), canonical(&trace));
        let ranges = trace.block_input_ranges();
        prop_assert_eq!(block_input_ranges(&bytes).unwrap(), ranges.clone());
        for (block, range) in trace.blocks.iter().zip(ranges) {
            prop_assert_eq!(keccak256(bytes.get(range).unwrap()), block.commitment().unwrap());
        }
        let gas = trace.blocks.iter().fold(EXECUTE_BASE_GAS as u128 + 4 * bytes.len() as u128, |a, b| a + b.gas_limit.min(SEGMENT_GAS) as u128 + EXECUTE_GAS_PER_TX as u128 * b.transactions.len() as u128);
        match execute_gas_cost(&bytes) {
            Ok(cost) => prop_assert_eq!(cost as u128, gas),
            Err(e) => prop_assert!(gas > u64::MAX as u128 && e == ProtocolError::GasOverflow),
        }
    }

    #[test]
    fn flipping_any_trace_byte_changes_or_rejects(trace in arb_trace(), mask in 1u8..=255) {
        let original = canonical(&trace);
        let bytes = trace.encode().unwrap();
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= mask;
            if let Ok(decoded) = Trace::decode(&changed) {
                prop_assert_ne!(&decoded, &original, "byte {} flipped, same value", i);
                prop_assert_eq!(decoded.encode().unwrap(), changed);
            }
        }
    }

    #[test]
    fn execute_call_round_trip(pre in arb_b256(), post in arb_b256(), trace in arb_bytes(100), gas_used in any::<u64>()) {
        let call = ExecuteCall { pre_state_root: pre, post_state_root: post, trace, gas_used };
        let bytes = call.abi_encode();
        prop_assert_eq!(bytes.len() % 32, 0);
        prop_assert_eq!(ExecuteCall::abi_decode(&bytes).unwrap(), call);
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            if let Ok(decoded) = ExecuteCall::abi_decode(&changed) {
                prop_assert_eq!(decoded.abi_encode(), changed);
            }
        }
    }
}

#[test]
fn execute_output_words() {
    assert_eq!(decode_execute_output(&encode_execute_output(true)), Ok(true));
    assert_eq!(decode_execute_output(&encode_execute_output(false)), Ok(false));
    assert_eq!(decode_execute_output(&[0u8; 31]).unwrap_err().kind(), "bad_length");
    let mut two = [0u8; 32];
    two[31] = 2;
    assert_eq!(decode_execute_output(&two).unwrap_err().kind(), "invalid_output");
}
