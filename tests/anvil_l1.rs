//! Everything L1-facing that does not need EXECUTE, against anvil (npm `@foundry-rs/anvil`), a
//! node nobody here wrote: the contracts deploy and run there (honest batches proposed,
//! finalized after the window, bonds paid back to the wei); the watch-only daemon follows the
//! proposals, finds honest batches valid and reports a lie at the right block; an
//! `anvil_reorg` that drops a proposal is reported with the proposal's id and the daemon
//! follows the new chain; the transaction manager takes consecutive nonces and bumps the fees
//! of a stuck transaction by at least 10%, and anvil accepts and mines the replacement.
//!
//! anvil has no EXECUTE precompile, so nothing is convicted here: the rollup's EXECUTE address
//! is the default 0x…0101, an empty account on anvil.
//!
//! Two tests pin bugs anvil showed, now fixed: the transaction manager bumps and re-sends when
//! the node drops and refuses a fee cap below the base fee, and the proposer asks the node for
//! its nonce, so a reorg that dropped a proposal leaves no gap.
//!
//! Needs `npm install --prefix tests/js` (`.ci/run` does it); without it these tests fail
//! rather than skip.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/anvil.rs"]
mod anvil;

use alloy_primitives::{Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_sol_types::SolCall;
use anvil::{AnvilRollup, WAIT, dev_key, fee};
use native_challenger::daemon::Event;
use native_challenger::proposer::Fault;
use native_challenger::rollup::{BatchStatus, NativeRollup, NativeRollupErrors, RollupError};
use native_challenger::submitter::{TxManager, TxPolicy};
use native_challenger::watcher::{Finding, Verdict};
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;

fn checked(event: &Event, id: u64) -> Option<Verdict> {
    match event {
        Event::Finding(Finding::Checked(r)) if r.id == id => Some(r.verdict.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_batches_finalize_after_the_window_and_bonds_come_back() {
    let window = 5;
    let mut r = AnvilRollup::new(window).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, batch, receipt) = r.propose(None).await;
        assert!(receipt.status() && batch.fault.is_none());
        let stored = r.client.batch(id).await.unwrap();
        assert_eq!(stored.lastStateRoot, batch.honest.last().unwrap().post_state_root);
        ids.push(id);
    }
    assert_eq!(ids, [1, 2, 3]);
    let (c, bond) = (&r.client, r.params.proposer_bond);
    assert_eq!(c.tip().await.unwrap(), 3);
    assert_eq!(r.balance(c.address()).await, bond * U256::from(3), "the contract holds 3 bonds");
    match c.finalize(1).await {
        Err(RollupError::Contract(NativeRollupErrors::ChallengeWindowOpen(_))) => {}
        other => panic!("finalizing inside the window: {other:?}"),
    }
    r.anvil.mine(window + 1).await;
    match c.finalize(2).await {
        Err(RollupError::Contract(NativeRollupErrors::NotNextToFinalize(e))) => {
            assert_eq!(e.lastFinalized, 0)
        }
        other => panic!("finalizing out of order: {other:?}"),
    }
    for id in &ids {
        c.finalize(*id).await.expect("finalize after the window");
        let status = BatchStatus::from_u8(c.batch(*id).await.unwrap().status);
        assert_eq!(status, Some(BatchStatus::Finalized), "batch {id}");
    }
    assert_eq!(c.last_finalized().await.unwrap(), 3);
    let proposer = c.from();
    assert_eq!(c.credits(proposer).await.unwrap(), bond * U256::from(3));
    let before = r.balance(proposer).await;
    let receipt = c.withdraw().await.expect("withdraw");
    let after = r.balance(proposer).await;
    assert_eq!(after + fee(&receipt), before + bond * U256::from(3), "to the wei");
    assert_eq!(r.balance(c.address()).await, U256::ZERO, "nothing left behind");
    match c.withdraw().await {
        Err(RollupError::Contract(NativeRollupErrors::NothingToWithdraw(_))) => {}
        other => panic!("second withdrawal: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_only_daemon_finds_the_honest_batch_valid_and_reports_the_lie() {
    let mut r = AnvilRollup::new(40).await;
    let mut w = r.watch(&r.watch_config("w", 1)).await;
    let (honest, ..) = r.propose(None).await;
    let (lie_id, batch, _) = r.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    r.anvil.mine(1).await; // one confirmation for the lie's block
    let event = w
        .wait_for(
            "the lie",
            |ev| matches!(ev, Event::Finding(Finding::Lie(l)) if l.batch_id == lie_id),
        )
        .await;
    let seen = w.shutdown().await;
    let Event::Finding(Finding::Lie(lie)) = event else { unreachable!() };
    assert_eq!(Some(lie.index), batch.first_lie());
    assert_eq!(lie.index, 1);
    assert_eq!(lie.local, batch.honest[1], "the local checkpoint is the honest one");
    assert_eq!(lie.claimed, batch.claimed);
    let verdicts: Vec<_> = seen.iter().filter_map(|ev| checked(ev, honest)).collect();
    assert_eq!(verdicts, [Verdict::Valid], "the honest batch is checked once, valid");
    let verdicts: Vec<_> = seen.iter().filter_map(|ev| checked(ev, lie_id)).collect();
    assert_eq!(verdicts, [Verdict::Invalid { index: 1 }]);
    assert!(!seen.iter().any(|ev| matches!(ev, Event::Intent(_))), "watch-only sends nothing");
}

/// Has anvil replace the blocks from `proposal`'s on with blocks holding only a transfer;
/// checks that L1 forgot it (batch `kept` is the last left) and returns its L1 block.
async fn reorg_out(r: &AnvilRollup, kept: u64, proposal: &TransactionReceipt) -> u64 {
    let at = proposal.block_number.unwrap();
    assert!(r.client.batch(kept).await.unwrap().proposedAt < at, "kept is in an earlier block");
    let p = &r.anvil.provider;
    let head = p.get_block_number().await.unwrap();
    let other = dev_key(2).address();
    let transfer = json!([{"from": other, "to": other, "value": "0x1"}, 0]);
    r.anvil.rpc("anvil_reorg", json!([head - at + 1, [transfer]])).await;
    assert_eq!(p.get_transaction_receipt(proposal.transaction_hash).await.unwrap(), None);
    let count = r.client.read(&NativeRollup::batchCountCall {}).await.unwrap();
    assert_eq!(count, kept, "anvil forgot the proposal");
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anvil_reorg_that_drops_a_proposal_is_reported_and_the_new_chain_followed() {
    let mut r = AnvilRollup::new(40).await;
    // Depth 0, so the proposal is seen before the reorg takes it away.
    let mut w = r.watch(&r.watch_config("w", 0)).await;
    let (kept, ..) = r.propose(None).await;
    let (gone, _, receipt) = r.propose(None).await;
    w.wait_for("the second batch checked", |ev| checked(ev, gone).is_some()).await;
    let at = reorg_out(&r, kept, &receipt).await;
    let event =
        w.wait_for("the reorg", |ev| matches!(ev, Event::Finding(Finding::Reorg { .. }))).await;
    let Event::Finding(Finding::Reorg { dropped, to, .. }) = event else { unreachable!() };
    assert_eq!(dropped, [gone], "only the dropped proposal's record goes");
    assert!(to < at, "rewound below the proposal's block");
    // Proposed again on the new chain (same provider: it asks the node for the nonce), the
    // batch is checked from the rewound L2 state.
    let (again, ..) = r.propose(None).await;
    assert_eq!(again, gone, "the id is free again");
    let event = w.wait_for("the new batch checked", |ev| checked(ev, again).is_some()).await;
    assert_eq!(checked(&event, again), Some(Verdict::Valid));
    let seen = w.shutdown().await;
    assert!(!seen.iter().any(|ev| matches!(ev, Event::Finding(Finding::Lie(_)))), "{seen:#?}");
}

/// Was a bug: `driver::signing_provider` filled nonces with alloy's `CachedNonceManager`,
/// which kept counting past a nonce that a reorg gave back, so the next proposal waited in
/// anvil's queue behind a gap until the receipt wait timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proposer_resends_after_a_reorg_dropped_its_proposal() {
    let mut r = AnvilRollup::new(40).await;
    let (kept, ..) = r.propose(None).await;
    let (gone, _, receipt) = r.propose(None).await;
    reorg_out(&r, kept, &receipt).await;
    let (again, _, receipt) = r.propose(None).await;
    assert_eq!(again, gone);
    assert!(receipt.status());
}

fn manager(r: &AnvilRollup, index: usize) -> TxManager {
    let policy = TxPolicy {
        resubmit_after: Duration::from_millis(500),
        poll: Duration::from_millis(100),
        timeout: WAIT,
        ..TxPolicy::default()
    };
    TxManager::new(r.anvil.provider.clone(), dev_key(index), r.anvil.chain_id, policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_transaction_is_bumped_replaced_and_mined_and_nonces_follow_each_other() {
    let r = AnvilRollup::new(20).await;
    let txm = manager(&r, 3);
    let (to, bond) = (r.client.address(), r.params.challenger_bond);
    let data: Bytes = NativeRollup::depositChallengerBondCall {}.abi_encode().into();
    r.anvil.rpc("evm_setAutomine", json!([false])).await;
    let mut first = txm.prepare(to, data.clone(), bond).await.expect("prepare");
    txm.broadcast(&first).await.expect("broadcast");
    let second = txm.prepare(to, data, bond).await.expect("prepare");
    assert_eq!(second.nonce, first.nonce + 1, "the pending nonce counts the pooled transaction");
    txm.broadcast(&second).await.expect("broadcast");
    let original = first.clone();
    let (sent, mut versions) = mpsc::unbounded_channel();
    let m = txm.clone();
    let task = tokio::spawn(async move {
        let receipt = m.confirm(&mut first, |v| drop(sent.send(v.clone()))).await;
        (first, receipt)
    });
    let bumped = tokio::time::timeout(WAIT, versions.recv()).await.expect("a bump").unwrap();
    assert_eq!((bumped.nonce, bumped.hashes.len()), (original.nonce, 2));
    assert_eq!(bumped.hashes[0], original.hashes[0]);
    assert!(bumped.max_fee * 100 >= original.max_fee * 110, "{bumped:?} vs {original:?}");
    assert!(bumped.tip * 100 >= original.tip * 110, "{bumped:?} vs {original:?}");
    let p = &r.anvil.provider;
    // anvil holds the replacement in the original's place (it was not refused as underpriced).
    while !task.is_finished()
        && p.get_transaction_by_hash(bumped.hashes[1]).await.unwrap().is_none()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(p.get_transaction_by_hash(original.hashes[0]).await.unwrap(), None);
    r.anvil.rpc("evm_mine", json!([])).await;
    let (first, receipt) = task.await.expect("join");
    let receipt = receipt.expect("the replacement is mined");
    assert!(receipt.status());
    assert_ne!(receipt.transaction_hash, original.hashes[0], "a bumped version was mined");
    assert!(first.hashes.contains(&receipt.transaction_hash));
    assert_eq!(p.get_transaction_receipt(original.hashes[0]).await.unwrap(), None);
    let second = txm.confirm(&mut second.clone(), |_| {}).await.expect("the next nonce mined");
    assert!(second.status());
    let me = txm.address();
    assert_eq!(p.get_transaction_count(me).await.unwrap(), original.nonce + 2);
    assert_eq!(r.client.challenger_bond(me).await.unwrap(), bond * U256::from(2));
}

/// Was a bug: when the next block's base fee rises above a pooled transaction's fee cap,
/// anvil drops it from its pool and refuses it again ("max fee per gas less than block base
/// fee", -32003); `TxManager::confirm` used to return that error instead of bumping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_by_a_base_fee_rise_is_bumped_and_sent_again() {
    let r = AnvilRollup::new(20).await;
    let txm = manager(&r, 4);
    let (to, bond) = (r.client.address(), r.params.challenger_bond);
    let data: Bytes = NativeRollup::depositChallengerBondCall {}.abi_encode().into();
    r.anvil.rpc("evm_setAutomine", json!([false])).await;
    let mut tx = txm.prepare(to, data, bond).await.expect("prepare");
    txm.broadcast(&tx).await.expect("broadcast");
    let spike = U256::from(tx.max_fee * 2);
    r.anvil.rpc("anvil_setNextBlockBaseFeePerGas", json!([spike])).await;
    r.anvil.rpc("evm_mine", json!([])).await;
    let p = &r.anvil.provider;
    assert_eq!(p.get_transaction_receipt(tx.hashes[0]).await.unwrap(), None);
    r.anvil.rpc("evm_setAutomine", json!([true])).await;
    let receipt = txm.confirm(&mut tx, |_| {}).await.expect("bumped over the base fee and mined");
    assert!(receipt.status() && tx.hashes.len() >= 2);
    assert_eq!(r.client.challenger_bond(txm.address()).await.unwrap(), bond);
}
