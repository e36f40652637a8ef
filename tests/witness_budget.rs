//! The witness budget against hostile blocks, without L1: for each class of witness-heavy
//! workload, every segment's recorded trace stays under the bound, the meter's count is the
//! trace's exact length, the stateless verifier (EXECUTE's code) reaches the same post-state
//! and skips the same transactions, and so does stateful replay (protocol v2's budget, per
//! segment since v3: docs/protocol.md, "Segments").
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use common::segments::{Checked, MAX_CROSSING_ITEM, check_segments};
use common::{CHAIN_ID, TestChain};
use native_challenger::execute_local::block::TxRejection;
use native_challenger::execute_local::execute::record_trace;
use native_challenger::execute_local::l2::L2Block;
use native_challenger::execute_local::meter::TRACE_BUDGET;
use native_challenger::execute_local::replay::execute_on_store;
use native_challenger::proposer::hostile::{
    ACCOUNT_SWEEPER, BLOCKHASH_READER, CODE_SWEEPER, Hostile, SLOT_SWEEPER, garbage_txs,
    genesis_accounts, invalid_signature_txs, minimal_signed_tx,
};
use native_challenger::protocol::{
    BLOCK_INPUTS_FIXED_LEN, MAX_BLOCK_INPUT_BYTES, MAX_TXS_PER_BLOCK, SEGMENT_GAS,
};
use proptest::prelude::*;

/// A test chain whose genesis holds `background` accounts and the hostile workloads'
/// contracts (the dev genesis carries the same).
fn chain_with(background: u64) -> TestChain {
    TestChain::with_background_and(background, genesis_accounts())
}

/// Checks each of the block's segments ([`check_segments`]) and returns what happened.
fn check_block(chain: &TestChain, block: &L2Block) -> Checked {
    check_segments(chain, block)
}

/// Gas of a sweep: as much as one transaction may have, beside a transfer in its segment.
const SWEEP_GAS: u64 = SEGMENT_GAS - 100_000;

fn is_budget(rejection: &TxRejection) -> bool {
    matches!(rejection, TxRejection::WitnessBudget { .. })
}

#[test]
fn cold_account_sweep_is_cut_at_the_budget() {
    let mut chain = chain_with(20_000);
    let before = chain.transfer(0, Address::repeat_byte(0xb1), 1);
    let attack = chain.tx(1, TxKind::Call(ACCOUNT_SWEEPER), U256::ZERO, Bytes::new(), SWEEP_GAS);
    let after = chain.transfer(2, Address::repeat_byte(0xb2), 1);
    let block = chain.block(1, vec![before, attack, after]);
    let checked = check_block(&chain, &block);
    // The sweep ends the first segment (it had run the transfer), is refused alone in the
    // second, and the transfer after it runs in a third, with a budget of its own.
    let indices: Vec<usize> = checked.skipped.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, vec![1], "{:?}", checked.skipped);
    assert!(checked.skipped.iter().all(|(_, r)| is_budget(r)));
    let ends: Vec<u32> = checked.segments.iter().map(|(_, end)| *end).collect();
    assert_eq!(ends, vec![1, 2, 3], "three segments");
    assert!(checked.trace_len > TRACE_BUDGET, "the crossing node is in the trace");
    println!("cold-account sweep: trace {} bytes", checked.trace_len);
}

#[test]
fn large_code_sweep_is_cut_at_the_budget() {
    let mut chain = chain_with(0);
    let attack = chain.tx(1, TxKind::Call(CODE_SWEEPER), U256::ZERO, Bytes::new(), SWEEP_GAS);
    let block = chain.block(1, vec![attack]);
    let checked = check_block(&chain, &block);
    assert!(
        matches!(checked.skipped.as_slice(), [(0, r)] if is_budget(r)),
        "{:?}",
        checked.skipped
    );
    println!("code sweep: trace {} bytes", checked.trace_len);
}

#[test]
fn deletions_are_reserved_before_they_collapse() {
    let mut chain = chain_with(0);
    // Block 1 fills 600 slots (three transactions of 200: one transaction may have at most
    // one segment's 7M gas); block 2 deletes 250 of them in one transaction (a reserve of
    // 250 × 536 bytes, over the budget, though the siblings actually resolved are fewer).
    let fill: Vec<Bytes> =
        (0..3).map(|i| chain.write_slots(i, 1_000 + 200 * i as u64, 200, 7)).collect();
    let block = chain.block(1, fill);
    let checked = check_block(&chain, &block);
    assert!(checked.skipped.is_empty(), "{:?}", checked.skipped);
    assert_eq!(checked.segments.len(), 3, "one filling transaction per segment");
    chain.apply(&block);
    let delete = chain.write_slots(0, 1_000, 250, 0);
    let block = chain.block(2, vec![delete]);
    let checked = check_block(&chain, &block);
    assert!(
        matches!(checked.skipped.as_slice(), [(0, r)] if is_budget(r)),
        "{:?}",
        checked.skipped
    );
    println!("deletions: trace {} bytes", checked.trace_len);
}

#[test]
fn a_block_of_garbage_is_carried_but_never_passes_the_bound() {
    let mut chain = chain_with(0);
    // 90 KB of undecodable bytes, then a transaction that would read storage.
    let garbage: Vec<Bytes> =
        (0..900u32).map(|i| Bytes::from(vec![(i % 251) as u8 | 1; 100])).collect();
    let mut txs = garbage;
    txs.push(chain.tx(0, TxKind::Call(SLOT_SWEEPER), U256::ZERO, Bytes::new(), 1_000_000));
    let block = chain.block(1, txs);
    let checked = check_block(&chain, &block);
    assert_eq!(checked.skipped.len(), 901);
    assert!(is_budget(&checked.skipped[900].1), "{:?}", checked.skipped[900]);
}

/// 560 well-formed transactions (63 KB) whose signatures no key made, then a slot sweep: every one
/// is decoded and its sender recovery attempted. High-`s` signatures are refused at recovery
/// (EIP-2), with no state read; the others recover senders that hold nothing, whose account
/// paths are read (and charged) before the transaction is refused, until the budget is spent
/// and the rest are skipped at their start. None is ever refused as undecodable, and the
/// trace stays under the bound.
#[test]
fn invalid_signatures_are_refused_and_never_pass_the_bound() {
    let mut chain = chain_with(20_000);
    let mut txs = invalid_signature_txs(CHAIN_ID, 560);
    let inputs_len: usize = txs.iter().map(|tx| tx.len() + 4).sum();
    assert!(inputs_len < 65_000, "{inputs_len} bytes of invalid transactions");
    txs.push(chain.tx(0, TxKind::Call(SLOT_SWEEPER), U256::ZERO, Bytes::new(), 1_000_000));
    let block = chain.block(1, txs);
    let checked = check_block(&chain, &block);
    assert_eq!(checked.skipped.len(), 561, "every transaction is skipped");
    let (mut bad, mut unfunded, mut budget) = (0, 0, 0);
    for (index, reason) in &checked.skipped {
        match reason {
            // Every high-s signature (even index), and a random r that is no curve point.
            TxRejection::BadSignature { .. } => bad += 1,
            TxRejection::Invalid { reason } if index % 2 == 1 => {
                assert!(reason.to_lowercase().contains("fund"), "#{index}: {reason}");
                unfunded += 1
            }
            TxRejection::WitnessBudget { .. } => budget += 1,
            other => panic!("#{index} skipped for {other}"),
        }
    }
    let even_refused = checked
        .skipped
        .iter()
        .filter(|(i, r)| i % 2 == 0 && *i < 560 && matches!(r, TxRejection::BadSignature { .. }))
        .count();
    assert_eq!(even_refused, 280, "every high-s signature is refused at recovery");
    assert!(unfunded > 0, "some unfunded senders were read before the budget was spent");
    assert!(budget > 0, "the budget cut the block");
    println!(
        "invalid signatures: trace {} bytes; {bad} bad signatures, {unfunded} unfunded senders \
         read, {budget} skipped for the budget",
        checked.trace_len
    );
}

fn hostile_tx(chain: &mut TestChain, kind: u8, gas: u64) -> Bytes {
    match kind % 9 {
        0 => chain.tx(1, TxKind::Call(ACCOUNT_SWEEPER), U256::ZERO, Bytes::new(), gas),
        1 => chain.tx(2, TxKind::Call(SLOT_SWEEPER), U256::ZERO, Bytes::new(), gas),
        2 => chain.write_slots(0, u64::from(kind) * 50, 40, u64::from(kind)),
        3 => chain.tx(3, TxKind::Call(SLOT_SWEEPER), U256::ZERO, Bytes::from_static(&[1]), gas),
        4 => chain.tx(0, TxKind::Call(CODE_SWEEPER), U256::ZERO, Bytes::new(), gas),
        5 => chain.tx(1, TxKind::Call(BLOCKHASH_READER), U256::ZERO, Bytes::new(), gas),
        6 => minimal_signed_tx(CHAIN_ID, u64::from(kind)).expect("a valid key"),
        7 => {
            // Floor-priced calldata, its size drawn from the kind.
            let data = Bytes::from(vec![kind | 1; usize::from(kind) * 40]);
            let gas = 21_000 + 40 * data.len() as u64;
            chain.tx(2, TxKind::Call(Address::repeat_byte(0xda)), U256::ZERO, data, gas)
        }
        _ => Bytes::from(keccak256([kind]).to_vec()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Random mixes of sweeps, slot writes and garbage never give a trace over the bound, and
    /// recording, verification and replay always agree on it.
    #[test]
    fn random_hostile_blocks_stay_under_the_bound(
        kinds in proptest::collection::vec(any::<u8>(), 1..6),
        gas in 200_000u64..4_000_000,
    ) {
        let mut chain = chain_with(5_000);
        let txs: Vec<Bytes> = kinds.iter().map(|k| hostile_tx(&mut chain, *k, gas)).collect();
        let block = chain.block(1, txs);
        let checked = check_block(&chain, &block);
        prop_assert!(checked.trace_len <= TRACE_BUDGET + MAX_CROSSING_ITEM);
    }
}

/// EIP-7002 and EIP-7251 are inert on the L2 (protocol v2): a user's request reverts, and the
/// block's end-of-block system calls succeed with no requests.
#[test]
fn request_contracts_are_inert_on_the_l2() {
    let mut chain = chain_with(0);
    let withdrawal = alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS;
    let consolidation = alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS;
    let request = Bytes::from(vec![0x11; 56]);
    let a = chain.tx(0, TxKind::Call(withdrawal), U256::from(1), request.clone(), 100_000);
    let b = chain.tx(1, TxKind::Call(consolidation), U256::from(1), request, 100_000);
    let block = chain.block(1, vec![a, b]);
    let (_, steps) =
        record_trace(&chain.store, &chain.rules, std::slice::from_ref(&block)).expect("trace");
    let outcome = &steps[0].outcome;
    assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
    assert_eq!(outcome.receipts.len(), 2);
    assert!(outcome.receipts.iter().all(|r| !r.status()), "both requests revert");
    assert!(outcome.requests.is_empty(), "no requests: {:?}", outcome.requests);
    check_block(&chain, &block);
}

/// What a block charges before its first transaction (the system part of `P` in
/// docs/protocol.md, "Witness budget"): framing, inputs, prologue and the preloaded epilogue
/// accounts. The bound needs it under 57,131 bytes beside 64 KiB of inputs.
#[test]
fn an_empty_blocks_trace_is_the_system_part() {
    let chain = chain_with(20_000);
    let block = chain.block(1, vec![]);
    let checked = check_block(&chain, &block);
    let inputs = block.inputs.encoded_len() as u64;
    // Framing 71 (with the segment fields), the parent header 160, the inputs' length 4.
    let system = checked.trace_len - 235 - inputs;
    println!(
        "empty block on a 20,000-account state: trace {} bytes, system part {system}",
        checked.trace_len
    );
    assert!(system < 57_131, "system part {system}");
}

/// BLOCKHASH(number - 256): 20 gas that would pull 256 ancestor headers (40,960 bytes) into
/// the trace. Alone in a block, it fits and the headers are carried; behind 70 KB of block
/// inputs it would not, and the meter refuses it BEFORE the header is looked up, so no header
/// enters the trace and the transaction is skipped.
#[test]
fn a_deep_blockhash_is_refused_before_its_headers_are_read() {
    let mut chain = chain_with(0);
    for number in 1..=300 {
        chain.apply(&chain.block(number, vec![]));
    }
    let call = |chain: &mut TestChain, key: usize| {
        chain.tx(key, TxKind::Call(BLOCKHASH_READER), U256::ZERO, Bytes::new(), 100_000)
    };

    let tx = call(&mut chain, 0);
    let alone = chain.block(301, vec![tx]);
    let (trace, _) =
        record_trace(&chain.store, &chain.rules, std::slice::from_ref(&alone)).expect("trace");
    assert_eq!(
        trace.witness.headers.len(),
        256,
        "headers 45..=300: the oldest asked for up to the parent"
    );
    let checked = check_block(&chain, &alone);
    assert!(checked.skipped.is_empty(), "{:?}", checked.skipped);

    // The same call behind 700 undecodable 100-byte transactions.
    let mut chain = chain;
    let mut txs = garbage_txs(700);
    txs.push(call(&mut chain, 1));
    let crowded = chain.block(301, txs);
    let (trace, _) =
        record_trace(&chain.store, &chain.rules, std::slice::from_ref(&crowded)).expect("trace");
    assert_eq!(trace.witness.headers.len(), 1, "only the parent: the deep header was never read");
    let checked = check_block(&chain, &crowded);
    assert!(
        matches!(checked.skipped.last(), Some((700, r)) if is_budget(r)),
        "{:?}",
        checked.skipped.last()
    );
}

/// `base_fee` bounds nothing the proof needs (docs/protocol.md, "State transition
/// function"): at `u64::MAX` nothing overflows, every transaction offers less and is skipped,
/// and the trace is within the bound as at any other fee; the same transactions at the usual
/// base fee all run.
#[test]
fn a_block_at_the_highest_base_fee_skips_every_transaction() {
    let mut chain = chain_with(1_000);
    let txs: Vec<Bytes> =
        (0..8).map(|k| chain.transfer(k % 4, Address::repeat_byte(0x40 + k as u8), 1)).collect();
    let usual = chain.block(1, txs.clone());
    assert!(check_block(&chain, &usual).skipped.is_empty(), "at 1 gwei every transfer runs");

    let mut inputs = usual.inputs.clone();
    inputs.base_fee = u64::MAX;
    let priced_out = L2Block::new(inputs).expect("inputs encode");
    let checked = check_block(&chain, &priced_out);
    assert_eq!(checked.skipped.len(), txs.len(), "{:?}", checked.skipped);
    assert!(
        checked.skipped.iter().all(|(_, r)| matches!(r, TxRejection::Invalid { .. })),
        "refused by the fork's rules (max fee under the base fee): {:?}",
        checked.skipped
    );
    let replayed = execute_on_store(&chain.store, &chain.rules, &priced_out).expect("replay");
    assert_eq!(replayed.outcome.gas_used, 0);
}

/// The hostile flood class: `propose`'s caps reached together, 1,024 transactions in 64 KiB of
/// inputs. The smallest signed transactions have their senders recovered and are refused for
/// a gas limit under the intrinsic cost; the empty ones are undecodable; the slot sweep behind
/// them finds the budget nearly spent by the inputs and is cut. EXECUTE charges the
/// per-transaction price 1,024 times, the most one block can be charged.
#[test]
fn a_flood_at_proposes_caps_stays_under_the_bound() {
    let mut chain = chain_with(20_000);
    let sweep = chain.tx(0, TxKind::Call(SLOT_SWEEPER), U256::ZERO, Bytes::new(), 1_000_000);
    let room = MAX_BLOCK_INPUT_BYTES - BLOCK_INPUTS_FIXED_LEN - (4 + sweep.len());
    let mut txs = Hostile::Flood.padding(CHAIN_ID, room);
    txs.push(sweep);
    let block = chain.block_with_gas_limit(1, txs, 1_000_000);
    let inputs_len = block.inputs.encoded_len();
    assert_eq!(block.inputs.transactions.len(), MAX_TXS_PER_BLOCK as usize);
    assert!(inputs_len <= MAX_BLOCK_INPUT_BYTES, "{inputs_len} bytes of inputs");
    assert!(MAX_BLOCK_INPUT_BYTES - inputs_len < 100, "the flood fills the bytes: {inputs_len}");
    let signed = block.inputs.transactions.iter().filter(|tx| !tx.is_empty()).count() - 1;
    assert!(signed > 700, "{signed} signed transactions");

    let checked = check_block(&chain, &block);
    assert_eq!(checked.skipped.len(), MAX_TXS_PER_BLOCK as usize, "every transaction is skipped");
    for (index, reason) in &checked.skipped[..MAX_TXS_PER_BLOCK as usize - 1] {
        match reason {
            TxRejection::Invalid { .. } if *index < signed => {}
            TxRejection::Undecodable { .. } if *index >= signed => {}
            other => panic!("#{index} skipped for {other}"),
        }
    }
    assert!(is_budget(&checked.skipped[MAX_TXS_PER_BLOCK as usize - 1].1));
    println!(
        "flood: {signed} signed and {} empty transactions, {inputs_len} bytes of inputs, trace {} bytes",
        MAX_TXS_PER_BLOCK as usize - 1 - signed,
        checked.trace_len
    );
}

/// The hostile calldata class: transactions priced by the EIP-7623 floor, executed (not
/// skipped), carrying most of 64 KiB of inputs for the block's gas.
#[test]
fn floor_priced_calldata_is_executed_within_the_bound() {
    let mut chain = chain_with(20_000);
    let gas_limit = 1_000_000;
    let calls = Hostile::Calldata.calls(gas_limit);
    assert_eq!(calls.len(), 2);
    let mut txs = Vec::new();
    for (i, (to, data, gas)) in calls.iter().enumerate() {
        let zeros = data.iter().filter(|b| **b == 0).count() as u64;
        let floor = 21_000 + 10 * zeros + 40 * (data.len() as u64 - zeros);
        assert_eq!(*gas, floor, "call {i} has exactly its floor");
        txs.push(chain.tx(i, TxKind::Call(*to), U256::ZERO, data.clone(), *gas));
    }
    let block = chain.block_with_gas_limit(1, txs, gas_limit);
    let checked = check_block(&chain, &block);
    assert!(checked.skipped.is_empty(), "{:?}", checked.skipped);
    let replayed = execute_on_store(&chain.store, &chain.rules, &block).expect("replay");
    let floors: u64 = calls.iter().map(|(_, _, gas)| gas).sum();
    assert_eq!(replayed.outcome.gas_used, floors, "each pays its floor, not its standard cost");
    assert!(floors > gas_limit * 9 / 10, "{floors} of {gas_limit} gas");
    let inputs_len = block.inputs.encoded_len();
    assert!(inputs_len > 55_000, "{inputs_len} bytes of inputs");
    println!(
        "calldata: {inputs_len} bytes of inputs for {floors} gas, trace {} bytes",
        checked.trace_len
    );
}
