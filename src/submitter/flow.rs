//! The intent state machine: each step persists the next stage before anything is sent.
//!
//! Nothing an attacker or a passing fault can arrange makes a refusal final while the
//! challenge window is open: an unprofitable challenge or a failed read waits (re-evaluated
//! every poll), a commit or reveal that fails on chain starts a new round with a new salt
//! after a backoff, and only the closing of the window, a conviction by someone else or the
//! disappearance of the proposal (a reorg) ends an intent that did not land.

use super::{Intent, Refusal, Stage, Submitter, TxError, new_salt, plan, self_check};
use crate::daemon::metrics_names as metric;
use crate::execute_local::chain::ChainRules;
use crate::rollup::{BatchStatus, NativeRollup, NativeRollupErrors, RollupError};
use crate::watcher::Lie;
use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use std::collections::HashSet;

const TARGET: &str = "native_challenger::submitter";
/// Most steps one call of [`Submitter::advance`] takes (a commit and a reveal need four).
const MAX_STEPS: usize = 8;
/// L1 blocks to wait after the first failed round; doubles per round up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: u64 = 1;
const MAX_BACKOFF: u64 = 8;

/// The backoff, in L1 blocks, after `attempts` failed rounds.
pub(super) fn backoff_blocks(attempts: u32) -> u64 {
    FIRST_BACKOFF.saturating_mul(1 << attempts.saturating_sub(1).min(10)).min(MAX_BACKOFF)
}

impl Submitter {
    /// Plans the challenge of `lie` (self-check, budgets, expected value) and records the
    /// intent, or the refusal as an alarm. An intent already recorded for the same proposal
    /// and block is returned as it is (the lie was seen before a restart).
    pub async fn take(&self, rules: &ChainRules, lie: &Lie, descendants: u64) -> Intent {
        let key = Intent::new(lie, alloy_primitives::B256::ZERO, Stage::Planned).key();
        if let Ok(Some(existing)) = self.db.intent::<Intent>(&key) {
            return existing;
        }
        metrics::counter!(metric::SUBMITTER_CHALLENGES_PLANNED).increment(1);
        let planned = self_check(rules, lie)
            .and_then(|()| plan(lie, new_salt(), descendants, &self.policy.budgets));
        let mut intent = match planned {
            Ok((mut intent, chunk)) => {
                intent.l1_gas = chunk.estimate.total + COMMIT_GAS;
                intent
            }
            Err(refusal) => refused(lie, &refusal),
        };
        if !intent.stage.is_final() {
            intent.window_closes = lie.l1_block + self.window;
            if let Err(reason) = self.worth_it(intent.l1_gas).await {
                intent.stage = Stage::Waiting { reason };
            }
        }
        report(&intent, &intent.stage);
        self.persist(&intent);
        intent
    }

    /// The expected-value check: gas at today's fees against the reward. `Err` is why the
    /// challenge waits; a failed read is a reason to wait, never to give up.
    async fn worth_it(&self, l1_gas: u64) -> Result<(), String> {
        if self.policy.challenge_always {
            return Ok(());
        }
        let reward = self.reward().await.map_err(|e| format!("reading the reward: {e}"))?;
        let fee = self.tx.gas_price().await.map_err(|e| format!("reading the gas price: {e}"))?;
        let cost = U256::from(l1_gas) * U256::from(fee);
        if cost > reward {
            return Err(Refusal::NotWorthIt { cost, reward }.to_string());
        }
        Ok(())
    }

    /// Advances an intent as far as it can go now and returns it. Stops when a step has to
    /// wait, fails, or sends the intent back to a new round (never loops within one call).
    pub async fn advance(&self, mut intent: Intent) -> Intent {
        for _ in 0..MAX_STEPS {
            if intent.stage.is_final() {
                break;
            }
            match self.step(&intent).await {
                Ok(Some(next)) => {
                    report(&intent, &next);
                    let new_round = matches!(next, Stage::Planned)
                        && !matches!(intent.stage, Stage::Planned | Stage::Waiting { .. });
                    intent.stage = next;
                    if new_round {
                        self.new_round(&mut intent).await;
                    }
                    self.persist(&intent);
                    if new_round {
                        break;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(target: TARGET, batch = intent.batch_id, %err, "challenge step failed; will retry");
                    break;
                }
            }
        }
        intent
    }

    /// A failed commit or reveal round: a new salt (whatever was seen of the old commitment
    /// tells an attacker nothing about the next) and a backoff before the next commit.
    async fn new_round(&self, intent: &mut Intent) {
        intent.attempts = intent.attempts.saturating_add(1);
        intent.salt = new_salt();
        let head = self.tx.head().await.unwrap_or(0);
        intent.retry_at = head + backoff_blocks(intent.attempts);
        tracing::warn!(target: TARGET, batch = intent.batch_id, attempts = intent.attempts, retry_at = intent.retry_at, "challenge round failed on chain; new salt, retrying after a backoff");
        metrics::counter!(metric::SUBMITTER_ROUNDS_FAILED).increment(1);
    }

    async fn step(&self, intent: &Intent) -> Result<Option<Stage>, TxError> {
        let head = self.head().await?;
        // Past the window nothing can land; a transaction in flight gets until its deadline.
        let deadline = if intent.stage.in_flight() {
            self.confirm_deadline(intent)
        } else {
            intent.window_closes
        };
        if head > deadline {
            return self.window_closed(intent).await.map(Some);
        }
        match &intent.stage {
            Stage::Waiting { .. } => self.reconsider(intent).await,
            Stage::Planned if head < intent.retry_at => Ok(None),
            Stage::Planned => self.commit(intent).await,
            Stage::Committing { tx } => {
                let mut tx = tx.clone();
                // Sent before anything else: a prepared transaction holds a nonce, and one never
                // broadcast would hold up every later one. `confirm` re-sends (and bumps fees)
                // when this broadcast is refused.
                let _ = self.tx.broadcast(&tx).await;
                // A reorg may have taken the proposal with our commitment: do not wait for
                // confirmations of a commitment to nothing while a live lie waits behind it.
                if let Some(reason) = self.proposal_gone(intent).await? {
                    return Ok(Some(Stage::StoodDown { reason }));
                }
                let until = self.confirm_deadline(intent);
                let mut persist = |t: &super::SentTx| {
                    self.persist(&with_stage(intent, Stage::Committing { tx: t.clone() }))
                };
                let receipt = self.tx.confirm_until(&mut tx, until, &mut persist).await;
                match receipt {
                    Ok(mined) => Ok(Some(Stage::Committed { block: mined.block })),
                    // The commitment was refused on chain: a new round.
                    Err(TxError::Reverted { .. } | TxError::Replaced { .. }) => {
                        Ok(Some(Stage::Planned))
                    }
                    Err(e) => Err(e),
                }
            }
            Stage::Committed { block } => self.reveal(intent, *block, head).await,
            Stage::Revealing { tx } => self.land(intent, tx.clone()).await,
            _ => Ok(None),
        }
    }

    /// An intent that ended because its batch was convicted (by us or by someone else)
    /// starts a new round when an L1 reorg undid the conviction: the same proposal is pending
    /// again and its window is open. Checked at every poll for the intents whose window is
    /// open (one read each), whether or not the watcher has seen the reorg: a conviction can
    /// be undone before the watcher ever reached its block. Returns the reopened intents.
    /// Intents whose key is in `busy` (being advanced) are left alone.
    pub async fn reopen_undone(&self, busy: &HashSet<String>) -> Vec<Intent> {
        let Ok(head) = self.head().await else { return Vec::new() };
        let Ok(intents) = self.db.intents::<Intent>() else { return Vec::new() };
        let mut reopened = Vec::new();
        for mut intent in intents {
            let ended = matches!(intent.stage, Stage::Landed { .. } | Stage::StoodDown { .. });
            if !ended || head > intent.window_closes || busy.contains(&intent.key()) {
                continue;
            }
            let Ok(batch) = self.reads.batch(intent.batch_id).await else {
                continue;
            };
            if batch.status != BatchStatus::Pending
                || batch.checkpoints_root != intent.checkpoints_root
            {
                continue;
            }
            tracing::warn!(target: TARGET, batch = intent.batch_id, stage = ?intent.stage, "a reorg undid the conviction: challenging again");
            metrics::counter!(metric::SUBMITTER_CONVICTIONS_UNDONE).increment(1);
            intent.stage = Stage::Planned;
            self.new_round(&mut intent).await;
            intent.retry_at = head;
            self.persist(&intent);
            reopened.push(intent);
        }
        reopened
    }

    /// A waiting intent: planned again when the expected value turns positive.
    async fn reconsider(&self, intent: &Intent) -> Result<Option<Stage>, TxError> {
        match self.worth_it(intent.l1_gas).await {
            Ok(()) => Ok(Some(Stage::Planned)),
            Err(reason) => {
                if matches!(&intent.stage, Stage::Waiting { reason: old } if *old == reason) {
                    Ok(None)
                } else {
                    Ok(Some(Stage::Waiting { reason }))
                }
            }
        }
    }

    /// The window has closed without our challenge landing: stood down if the batch fell
    /// anyway, otherwise the alarm that the lie survived us.
    async fn window_closed(&self, intent: &Intent) -> Result<Stage, TxError> {
        let batch = self.reads.batch(intent.batch_id).await?;
        if batch.status == BatchStatus::Invalidated {
            return Ok(Stage::StoodDown {
                reason: format!("batch {} was convicted by someone else", intent.batch_id),
            });
        }
        let why = match &intent.stage {
            Stage::Waiting { reason } => format!(" while waiting ({reason})"),
            _ => String::new(),
        };
        Ok(Stage::Refused {
            reason: format!(
                "the challenge window of batch {} closed after L1 block {} before the challenge landed{why}",
                intent.batch_id, intent.window_closes
            ),
        })
    }

    /// Waits for a confirmation never past the window (a later receipt is worth nothing).
    fn confirm_deadline(&self, intent: &Intent) -> u64 {
        intent.window_closes + self.tx.confirmations()
    }

    async fn head(&self) -> Result<u64, TxError> {
        self.tx.head().await
    }

    /// Whether the proposal the intent proves wrong is still on L1 and pending; `Some` is
    /// why to stand down.
    async fn proposal_gone(&self, intent: &Intent) -> Result<Option<String>, TxError> {
        let count = self.reads.batch_count().await?;
        if intent.batch_id > count {
            return Ok(Some(format!("batch {} is no longer on L1 (a reorg)", intent.batch_id)));
        }
        let batch = self.reads.batch(intent.batch_id).await?;
        if batch.checkpoints_root != intent.checkpoints_root {
            return Ok(Some(format!(
                "batch {} is now another proposal (a reorg replaced the one proven wrong)",
                intent.batch_id
            )));
        }
        if batch.status != BatchStatus::Pending {
            return Ok(Some(format!("batch {} is no longer pending", intent.batch_id)));
        }
        Ok(None)
    }

    async fn commit(&self, intent: &Intent) -> Result<Option<Stage>, TxError> {
        if let Some(reason) = self.proposal_gone(intent).await? {
            return Ok(Some(Stage::StoodDown { reason }));
        }
        self.ensure_bond().await?;
        let commitment = intent.args().commitment(self.address());
        let data = NativeRollup::commitChallengeCall { commitment }.abi_encode().into();
        match self.tx.prepare(self.rollup, data, U256::ZERO).await {
            Ok(tx) => Ok(Some(Stage::Committing { tx })),
            Err(e) => match e.contract_error() {
                // Ours (commitments are per challenger): committed before a restart lost
                // track of the transaction.
                Some(NativeRollupErrors::CommitmentExists(_)) => {
                    Ok(Some(Stage::Committed { block: 0 }))
                }
                Some(other) => match Self::batch_gone(other) {
                    Some(reason) => Ok(Some(Stage::StoodDown { reason })),
                    None => Err(e),
                },
                None => Err(e),
            },
        }
    }

    async fn reveal(
        &self,
        intent: &Intent,
        committed_at: u64,
        head: u64,
    ) -> Result<Option<Stage>, TxError> {
        if head <= committed_at {
            return Ok(None); // the reveal must land in a later block than the commitment
        }
        let data = intent.args().call().abi_encode().into();
        match self.tx.prepare(self.rollup, data, U256::ZERO).await {
            Ok(tx) => Ok(Some(Stage::Revealing { tx })),
            Err(e) => match e.contract_error() {
                Some(NativeRollupErrors::CommitmentTooRecent(_)) => Ok(None),
                Some(NativeRollupErrors::UnknownCommitment(_)) => Ok(Some(Stage::Planned)),
                Some(NativeRollupErrors::CheckpointNotInBatch(_)) => {
                    let reason = self.proposal_gone(intent).await?.unwrap_or_else(|| {
                        format!("batch {} no longer has these checkpoints", intent.batch_id)
                    });
                    self.release(intent).await;
                    Ok(Some(Stage::StoodDown { reason }))
                }
                Some(other) => match Self::batch_gone(other) {
                    Some(reason) => {
                        self.release(intent).await;
                        Ok(Some(Stage::StoodDown { reason }))
                    }
                    // The proof passed the self-check: a refusal now is passing (an EXECUTE
                    // budget spent by others in the block the node simulated in) or a bug
                    // worth an alarm; retried every poll until the window closes.
                    None => {
                        tracing::error!(target: TARGET, batch = intent.batch_id, error = ?other, "ALARM: L1 refused a self-checked proof; retrying");
                        metrics::counter!(metric::SUBMITTER_REVEAL_REFUSALS).increment(1);
                        Ok(None)
                    }
                },
                None => Err(e),
            },
        }
    }

    async fn land(&self, intent: &Intent, mut tx: super::SentTx) -> Result<Option<Stage>, TxError> {
        // `confirm` re-sends (and bumps fees) when this broadcast is refused.
        let _ = self.tx.broadcast(&tx).await;
        let until = self.confirm_deadline(intent);
        let mut persist = |t: &super::SentTx| {
            self.persist(&with_stage(intent, Stage::Revealing { tx: t.clone() }))
        };
        let confirmed = self.tx.confirm_until(&mut tx, until, &mut persist).await;
        match confirmed {
            Ok(receipt) => {
                let block = receipt.block;
                metrics::counter!(metric::SUBMITTER_CHALLENGES_LANDED).increment(1);
                if let Ok(Some(timestamp)) = self.tx.block_timestamp(block).await {
                    let seconds = timestamp.saturating_sub(intent.proposed_at);
                    metrics::gauge!(metric::SUBMITTER_PROPOSAL_TO_LANDING_SECONDS)
                        .set(seconds as f64);
                }
                tracing::info!(target: TARGET, batch = intent.batch_id, block, gas = receipt.gas_used, "challenge landed: batch convicted");
                if self.policy.auto_claim {
                    self.claim().await;
                }
                Ok(Some(Stage::Landed { tx: receipt.hash, block, gas_used: receipt.gas_used }))
            }
            Err(TxError::Reverted { .. } | TxError::Replaced { .. }) => {
                if let Some(reason) = self.proposal_gone(intent).await? {
                    self.release(intent).await;
                    let reason = if reason.contains("no longer pending") {
                        format!("batch {} was convicted by someone else", intent.batch_id)
                    } else {
                        reason
                    };
                    return Ok(Some(Stage::StoodDown { reason }));
                }
                // The commitment is still ours (a failed reveal leaves it open): reveal again.
                Ok(Some(Stage::Committed { block: 0 }))
            }
            Err(e) => Err(e),
        }
    }

    /// Deposits the challenger bond one more open commitment needs, if short and allowed.
    async fn ensure_bond(&self) -> Result<(), TxError> {
        let _one_at_a_time = self.bond_lock.lock().await;
        let me = self.address();
        let bond = self.reads.challenger_bond(me).await?;
        let open = self.reads.open_commitments(me).await?;
        let unit = self.reads.bond_unit().await?;
        let needed = (open + U256::from(1)) * unit;
        metrics::gauge!(metric::SUBMITTER_BOND_WEI).set(f64::from(bond));
        if bond >= needed && !bond.is_zero() {
            return Ok(());
        }
        // A deposit of ours may still be pending (sent before a restart): never deposit twice.
        let unmined = self.tx.unmined().await?;
        if unmined > 0 {
            return Err(TxError::Rollup(RollupError::Unexpected(format!(
                "{unmined} transaction(s) of ours still pending; the bond is checked again next poll"
            ))));
        }
        if !self.policy.auto_deposit {
            tracing::error!(target: TARGET, %bond, %needed, "ALARM: challenger bond too low and auto-deposit is off");
            return Err(TxError::Rollup(RollupError::Unexpected("challenger bond too low".into())));
        }
        let top_up = (needed - bond.min(needed)).max(unit);
        let data = NativeRollup::depositChallengerBondCall {}.abi_encode().into();
        self.tx.send(self.rollup, data, top_up).await?;
        tracing::info!(target: TARGET, %top_up, "challenger bond deposited");
        metrics::gauge!(metric::SUBMITTER_BOND_WEI).set(f64::from(bond + top_up));
        Ok(())
    }

    /// Best effort: cancels our commitment so the bond it locks is free again.
    async fn release(&self, intent: &Intent) {
        let commitment = intent.args().commitment(self.address());
        let data = NativeRollup::cancelCommitmentCall { commitment }.abi_encode().into();
        if let Err(err) = self.tx.send(self.rollup, data, U256::ZERO).await {
            tracing::debug!(target: TARGET, %err, "commitment not cancelled (it may not exist)");
        }
    }

    /// Best effort: withdraws the rewards credited to us. Not while a transaction of ours is
    /// still pending: after a restart between sending a withdrawal and recording the landing,
    /// the reveal is confirmed again and this runs again, and a second withdrawal would be
    /// mined behind the first and revert (`bond claim` withdraws anything left).
    pub async fn claim(&self) {
        match self.tx.unmined().await {
            Ok(0) => {}
            Ok(unmined) => {
                tracing::info!(target: TARGET, unmined, "rewards not withdrawn now: a transaction of ours is still pending (`bond claim` withdraws what is left)");
                return;
            }
            Err(err) => {
                tracing::warn!(target: TARGET, %err, "withdrawing rewards failed");
                return;
            }
        }
        let data = NativeRollup::withdrawCall {}.abi_encode().into();
        match self.tx.send(self.rollup, data, U256::ZERO).await {
            Ok(r) => tracing::info!(target: TARGET, tx = %r.hash, "rewards withdrawn"),
            Err(err) => tracing::warn!(target: TARGET, %err, "withdrawing rewards failed"),
        }
    }
}

/// The L1 gas of the commitment transaction, for the expected value.
const COMMIT_GAS: u64 = 100_000;

/// Logs and counts a stage change (the changes that matter to an operator).
fn report(intent: &Intent, next: &Stage) {
    let batch = intent.batch_id;
    match next {
        Stage::Committing { .. } | Stage::Revealing { .. } => {
            metrics::counter!(metric::SUBMITTER_CHALLENGES_SUBMITTED).increment(1);
        }
        Stage::Waiting { reason } => {
            tracing::warn!(target: TARGET, batch, %reason, window_closes = intent.window_closes, "challenge waiting; re-evaluated every poll until the window closes");
            metrics::counter!(metric::SUBMITTER_CHALLENGES_WAITING).increment(1);
        }
        Stage::StoodDown { reason } => {
            tracing::warn!(target: TARGET, batch, %reason, "standing down: the batch cannot be convicted by us any more");
            metrics::counter!(metric::SUBMITTER_STOOD_DOWN).increment(1);
        }
        Stage::Refused { reason } => {
            tracing::error!(target: TARGET, batch, %reason, "ALARM: challenge refused");
            metrics::counter!(metric::SUBMITTER_CHALLENGES_REFUSED).increment(1);
        }
        _ => {}
    }
}

fn with_stage(intent: &Intent, stage: Stage) -> Intent {
    Intent { stage, ..intent.clone() }
}

fn refused(lie: &Lie, refusal: &Refusal) -> Intent {
    Intent::new(lie, alloy_primitives::B256::ZERO, Stage::Refused { reason: refusal.to_string() })
}

#[cfg(test)]
mod tests {
    use super::backoff_blocks;

    #[test]
    fn the_backoff_doubles_per_failed_round_up_to_its_cap() {
        let blocks: Vec<u64> = (1..=6).map(backoff_blocks).collect();
        assert_eq!(blocks, vec![1, 2, 4, 8, 8, 8]);
        assert_eq!(backoff_blocks(u32::MAX), 8);
    }
}
