//! The challenger end to end on the dev L1 with the real contracts and real transactions:
//! honest batches are never challenged, every fault mode is convicted within the window, a
//! lie proposed while the daemon was down is convicted after its restart, two challengers
//! produce one conviction, RPC faults do not stop it, and a reorg that removes a proposal
//! takes its verdict with it.
// Test code may unwrap and expect (clippy.toml allows it in #[test] functions only; the
// helpers here panic into a failed test too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_provider::Provider;
use alloy_sol_types::SolCall;
use common::e2e::{E2e, checked, landed};
use common::rpc_proxy::RpcProxy;
use native_challenger::daemon::Event;
use native_challenger::proposer::Fault;
use native_challenger::submitter::Stage;
use native_challenger::watcher::{Finding, Verdict};
use std::time::Duration;

const BLOCK_TIME: Duration = Duration::from_millis(250);
const WAIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_batches_are_never_challenged() {
    let mut e = E2e::new(40, BLOCK_TIME).await;
    let config = e.config("c", None);
    let mut daemon = e.start(&config, Some(1)).await;
    let challenger = common::e2e::dev_key(1, &e.node).address();
    let mut last = 0;
    for _ in 0..6 {
        last = e.propose(None).await.0;
    }
    let event = daemon.wait_for(WAIT, "the last batch checked", |ev| checked(ev, last)).await;
    let seen = daemon.shutdown().await;
    assert!(
        matches!(event, Event::Finding(Finding::Checked(ref r)) if r.verdict == Verdict::Valid)
    );
    let verdicts: Vec<_> = seen
        .iter()
        .filter_map(|ev| match ev {
            Event::Finding(Finding::Checked(r)) => Some((r.id, r.verdict.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts.len(), 6, "{verdicts:?}");
    assert!(verdicts.iter().all(|(_, v)| *v == Verdict::Valid), "{verdicts:?}");
    assert!(
        !seen.iter().any(|ev| matches!(ev, Event::Intent(_) | Event::Finding(Finding::Lie(_))))
    );
    assert_eq!(e.nonce(challenger).await, 0, "the challenger sent nothing");
}

/// An honest batch, the lie, an honest batch on top: the daemon convicts the lie.
async fn convicts(fault: Fault) {
    let mut e = E2e::new(40, BLOCK_TIME).await;
    let config = e.config("c", None);
    let mut daemon = e.start(&config, Some(1)).await;
    e.propose(None).await;
    let (lie_id, batch) = e.propose(Some(fault)).await;
    let (top_id, _) = e.propose(None).await;
    let event = daemon.wait_for(WAIT, "a landed challenge", |ev| landed(ev).is_some()).await;
    let intent = landed(&event).expect("landed").clone();
    assert_eq!(intent.batch_id, lie_id);
    assert_eq!(Some(intent.block_index as usize), batch.first_lie());
    assert_eq!(intent.post_state_root, batch.honest[fault.block()].post_state_root);
    daemon.saw_or_wait(WAIT, "the invalidation", |ev| matches!(ev, Event::Finding(Finding::Invalidated { batch_id, .. }) if *batch_id == lie_id)).await;
    let seen = daemon.shutdown().await;
    assert_eq!(e.status(lie_id).await, 3, "the lie is invalidated");
    assert_eq!(e.status(top_id).await, 3, "and the batch built on it");
    assert_eq!(e.client.tip().await.unwrap(), 1);
    let built_on_lie = seen.iter().any(|ev| matches!(ev, Event::Finding(Finding::Checked(r)) if r.id == top_id && matches!(r.verdict, Verdict::Skipped { .. })));
    assert!(built_on_lie, "the batch on top of the lie is not replayed");
    let challenger = common::e2e::dev_key(1, &e.node).address();
    assert_eq!(
        e.client.credits(challenger).await.unwrap(),
        alloy_primitives::U256::ZERO,
        "the reward was claimed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_root_is_convicted() {
    convicts(Fault::WrongPostRoot { block: 1 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_gas_used_is_convicted() {
    convicts(Fault::WrongGasUsed { block: 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_intermediate_checkpoint_is_convicted() {
    convicts(Fault::WrongIntermediate { block: 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_transaction_lie_is_convicted() {
    convicts(Fault::InvalidTx { block: 1 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_proposed_while_the_daemon_was_down_is_convicted_after_restart() {
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let config = e.config("c", None);
    let mut daemon = e.start(&config, Some(1)).await;
    let (first, _) = e.propose(None).await;
    daemon.wait_for(WAIT, "the first batch checked", |ev| checked(ev, first)).await;
    daemon.shutdown().await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    e.propose(None).await;
    let mut daemon = e.start(&config, Some(1)).await;
    let event = daemon.wait_for(WAIT, "a landed challenge", |ev| landed(ev).is_some()).await;
    assert_eq!(landed(&event).unwrap().batch_id, lie_id);
    let seen = daemon.shutdown().await;
    // The restarted daemon resumed from its cursor: batch 1 was not checked twice.
    assert!(
        !seen.iter().any(|ev| checked(ev, first)),
        "batch {first} re-checked after the restart"
    );
    assert_eq!(e.status(lie_id).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_challengers_make_one_conviction_and_the_other_loses_nothing() {
    let mut e = E2e::new(60, BLOCK_TIME).await;
    let (a_config, b_config) = (e.config("a", None), e.config("b", None));
    let mut a = e.start(&a_config, Some(1)).await;
    let mut b = e.start(&b_config, Some(2)).await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    let finished = |ev: &Event| matches!(ev, Event::Intent(i) if matches!(i.stage, Stage::Landed { .. } | Stage::StoodDown { .. }));
    let ea = a.wait_for(WAIT, "challenger a finishing", finished).await;
    let eb = b.wait_for(WAIT, "challenger b finishing", finished).await;
    a.shutdown().await;
    b.shutdown().await;
    let outcomes = [ea, eb].map(|ev| match ev {
        Event::Intent(i) => i.stage,
        _ => unreachable!(),
    });
    let landed = outcomes.iter().filter(|s| matches!(s, Stage::Landed { .. })).count();
    assert_eq!(landed, 1, "exactly one conviction: {outcomes:?}");
    assert_eq!(e.status(lie_id).await, 3);
    for index in [1, 2] {
        let who = common::e2e::dev_key(index, &e.node).address();
        let bond = e.client.challenger_bond(who).await.unwrap();
        let open = e
            .client
            .read(&native_challenger::rollup::NativeRollup::openCommitmentsCall::new((who,)))
            .await
            .unwrap();
        assert_eq!(
            open,
            alloy_primitives::U256::ZERO,
            "challenger {index} has no locked commitment left"
        );
        assert_eq!(bond, e.params.challenger_bond, "challenger {index} keeps its whole bond");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_errors_and_delays_do_not_stop_a_conviction() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    // A window of 400 blocks (100 s): retries back off up to 10 s between attempts.
    let mut e = E2e::new(400, BLOCK_TIME).await;
    let proxy = RpcProxy::start(&e.node.http_url).await;
    proxy.set_max_log_range(Some(2));
    proxy.set_delay(Duration::from_millis(20));
    // A few blocks mined before the daemon starts make its first read wider than the proxy
    // allows, however few blocks the deployment took.
    let provider = e.client.provider().clone();
    let deployed = provider.get_block_number().await.unwrap();
    while provider.get_block_number().await.unwrap() < deployed + 6 {
        tokio::time::sleep(BLOCK_TIME).await;
    }
    let config = e.config("c", Some(&proxy.url));
    let mut daemon = e.start(&config, Some(1)).await;
    e.propose(None).await;
    proxy.fail_next(6);
    let (lie_id, _) = e.propose(Some(Fault::WrongGasUsed { block: 1 })).await;
    proxy.drop_next(3);
    let event = daemon.wait_for(WAIT, "a landed challenge", |ev| landed(ev).is_some()).await;
    assert_eq!(landed(&event).unwrap().batch_id, lie_id);
    daemon.shutdown().await;
    assert!(proxy.refused() > 0, "log ranges were refused and split");
    assert_eq!(e.status(lie_id).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_removes_a_proposal_removes_its_verdict() {
    let mut e = E2e::new(60, BLOCK_TIME).await;
    // Watch-only and at depth 0, so the lie is seen before the reorg takes it away.
    let mut config = e.config("w", None);
    config.l1.as_mut().unwrap().confirmations = 0;
    let mut daemon = e.start(&config, None).await;
    e.propose(None).await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    daemon
        .wait_for(
            WAIT,
            "the lie",
            |ev| matches!(ev, Event::Finding(Finding::Lie(l)) if l.batch_id == lie_id),
        )
        .await;
    let receipt_block = e.client.batch(lie_id).await.unwrap().proposedAt;
    let tx = {
        let logs = e
            .client
            .provider()
            .get_logs(
                &alloy_rpc_types_eth::Filter::new()
                    .address(e.client.address())
                    .from_block(receipt_block)
                    .to_block(receipt_block),
            )
            .await
            .unwrap();
        logs[0].transaction_hash.unwrap()
    };
    e.reorg_out(receipt_block, tx).await;
    let event = daemon
        .wait_for(WAIT, "the reorg", |ev| matches!(ev, Event::Finding(Finding::Reorg { .. })))
        .await;
    let Event::Finding(Finding::Reorg { dropped, .. }) = event else { unreachable!() };
    assert!(dropped.contains(&lie_id), "the lie's record is dropped: {dropped:?}");
    daemon.shutdown().await;
    assert_eq!(
        e.client.read(&native_challenger::rollup::NativeRollup::batchCountCall {}).await.unwrap(),
        1,
        "L1 forgot the proposal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_drops_the_commitment_gets_it_sent_again() {
    let mut e = E2e::new(400, BLOCK_TIME).await;
    let mut config = e.config("c", None);
    // The challenger waits 8 blocks before trusting its own transactions.
    config.challenger.confirmations = 8;
    let mut daemon = e.start(&config, Some(1)).await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    let filter = alloy_rpc_types_eth::Filter::new()
        .address(e.client.address())
        .event_signature(<native_challenger::rollup::NativeRollup::ChallengeCommitted as alloy_sol_types::SolEvent>::SIGNATURE_HASH)
        .from_block(0);
    let deadline = std::time::Instant::now() + WAIT;
    let commit = loop {
        let logs = e.client.provider().get_logs(&filter).await.unwrap();
        if let Some(log) = logs.first() {
            break log.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no commitment");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (tx, block) = (commit.transaction_hash.unwrap(), commit.block_number.unwrap());
    e.reorg_out(block, tx).await;
    assert!(
        e.client.provider().get_transaction_receipt(tx).await.unwrap().is_none(),
        "the reorg dropped the commitment"
    );
    let event = daemon.wait_for(WAIT, "a landed challenge", |ev| landed(ev).is_some()).await;
    assert_eq!(landed(&event).unwrap().batch_id, lie_id);
    daemon.shutdown().await;
    assert!(
        e.client.provider().get_transaction_receipt(tx).await.unwrap().is_some(),
        "the same commitment was sent again and mined"
    );
    assert_eq!(e.status(lie_id).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_reorged_out_before_its_confirmations_is_never_challenged() {
    let mut e = E2e::new(400, BLOCK_TIME).await;
    let mut config = e.config("c", None);
    config.l1.as_mut().unwrap().confirmations = 12; // 3 s of blocks
    let mut daemon = e.start(&config, Some(1)).await;
    let (honest, _) = e.propose(None).await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 0 })).await;
    let proposed_at = e.client.batch(lie_id).await.unwrap().proposedAt;
    let filter = alloy_rpc_types_eth::Filter::new()
        .address(e.client.address())
        .from_block(proposed_at)
        .to_block(proposed_at);
    let tx = e.client.provider().get_logs(&filter).await.unwrap()[0].transaction_hash.unwrap();
    let head = e.client.provider().get_block_number().await.unwrap();
    assert!(head < proposed_at + 12, "the reorg comes before the watcher acts on the block");
    e.reorg_out(proposed_at, tx).await;
    // Long enough for the watcher to pass the block the proposal was in, at its depth.
    daemon.wait_for(WAIT, "the honest batch checked", |ev| checked(ev, honest)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    daemon.drain();
    let seen = daemon.shutdown().await;
    assert!(
        !seen.iter().any(|ev| matches!(ev, Event::Finding(Finding::Lie(_)) | Event::Intent(_))),
        "{seen:#?}"
    );
    let challenger = common::e2e::dev_key(1, &e.node).address();
    assert_eq!(e.nonce(challenger).await, 0, "nothing was sent");
    assert_eq!(
        e.client.read(&native_challenger::rollup::NativeRollup::batchCountCall {}).await.unwrap(),
        1
    );
}

/// A reorg deeper than the challenger's confirmations removes its landed challenge: the
/// same lie is pending again, and the daemon challenges it again (a new round, a new salt)
/// instead of trusting a landing that no longer exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_undoes_the_conviction_gets_the_lie_challenged_again() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut e = E2e::new(120, BLOCK_TIME).await;
    let mut config = e.config("c", None);
    config.challenger.auto_claim = false;
    let mut daemon = e.start(&config, Some(1)).await;
    e.propose(None).await;
    let (lie_id, _) = e.propose(Some(Fault::WrongPostRoot { block: 1 })).await;
    let event = daemon.wait_for(WAIT, "a landed challenge", |ev| landed(ev).is_some()).await;
    let first = landed(&event).expect("landed").clone();
    let Stage::Landed { tx, block, .. } = first.stage else { unreachable!() };
    assert_eq!(e.status(lie_id).await, 3);
    e.reorg_out(block, tx).await;
    assert_eq!(e.status(lie_id).await, 1, "the reorg undid the conviction");
    let event = daemon
        .wait_for(WAIT, "a second landed challenge", |ev| {
            landed(ev).is_some_and(|i| matches!(i.stage, Stage::Landed { tx: t, .. } if t != tx))
        })
        .await;
    let second = landed(&event).expect("landed").clone();
    daemon.shutdown().await;
    assert_eq!(second.batch_id, lie_id);
    assert_eq!(second.post_state_root, first.post_state_root);
    assert_ne!(second.salt, first.salt, "a new round commits to a new salt");
    assert!(second.attempts > first.attempts);
    assert_eq!(e.status(lie_id).await, 3, "convicted again");
}
