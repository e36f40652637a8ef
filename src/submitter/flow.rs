//! The intent state machine: each step persists the next stage before anything is sent.

use super::{Intent, Refusal, Stage, Submitter, TxError, new_salt, plan, self_check};
use crate::execute_local::chain::ChainRules;
use crate::rollup::NativeRollup;
use crate::watcher::Lie;
use alloy_primitives::U256;
use alloy_provider::Provider;
use alloy_sol_types::SolCall;

const TARGET: &str = "native_challenger::submitter";

impl Submitter {
    /// Plans the challenge of `lie` (self-check, budgets, expected value) and records the
    /// intent, or the refusal as an alarm. An intent already recorded for the same block is
    /// returned as it is (the lie was seen before a restart).
    pub async fn take(&self, rules: &ChainRules, lie: &Lie, descendants: u64) -> Intent {
        let key = format!("batch-{:020}-block-{:06}", lie.batch_id, lie.index);
        if let Ok(Some(existing)) = self.db.intent::<Intent>(&key) {
            return existing;
        }
        metrics::counter!("native_challenger_submitter_challenges_planned_total").increment(1);
        let planned = self_check(rules, lie)
            .and_then(|()| plan(lie, new_salt(), descendants, &self.policy.budgets));
        let intent = match planned {
            Ok((mut intent, chunk)) => {
                if let Err(refusal) = self.worth_it(&chunk).await {
                    intent.stage = Stage::Refused { reason: refusal.to_string() };
                }
                intent
            }
            Err(refusal) => refused(lie, &refusal),
        };
        report(&intent, &intent.stage);
        self.persist(&intent);
        intent
    }

    /// The expected-value check: gas at today's fees against the reward.
    async fn worth_it(&self, chunk: &crate::bisect::ChunkPlan) -> Result<(), Refusal> {
        if self.policy.challenge_always {
            return Ok(());
        }
        let reward = self
            .reward()
            .await
            .map_err(|e| Refusal::SelfCheck(format!("reading the reward: {e}")))?;
        let fee = self.tx.provider().get_gas_price().await.unwrap_or(1_000_000_000);
        let gas = chunk.estimate.total + 100_000; // the commitment transaction
        let cost = U256::from(gas) * U256::from(fee);
        if cost > reward {
            return Err(Refusal::NotWorthIt { cost, reward });
        }
        Ok(())
    }

    /// Advances an intent as far as it can go now and returns it.
    pub async fn advance(&self, mut intent: Intent) -> Intent {
        while !intent.stage.is_final() {
            match self.step(&intent).await {
                Ok(Some(next)) => {
                    report(&intent, &next);
                    intent.stage = next;
                    self.persist(&intent);
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

    async fn step(&self, intent: &Intent) -> Result<Option<Stage>, TxError> {
        match &intent.stage {
            Stage::Planned => self.commit(intent).await,
            Stage::Committing { tx } => {
                let mut tx = tx.clone();
                // `confirm` re-sends (and bumps fees) when this broadcast is refused.
                let _ = self.tx.broadcast(&tx).await;
                let receipt = self
                    .tx
                    .confirm(&mut tx, |t| {
                        self.persist(&with_stage(intent, Stage::Committing { tx: t.clone() }))
                    })
                    .await;
                match receipt {
                    Ok(r) => {
                        Ok(Some(Stage::Committed { block: r.block_number.unwrap_or_default() }))
                    }
                    // The commitment was refused on chain: plan the commit again.
                    Err(TxError::Reverted { .. } | TxError::Replaced { .. }) => {
                        Ok(Some(Stage::Planned))
                    }
                    Err(e) => Err(e),
                }
            }
            Stage::Committed { block } => self.reveal(intent, *block).await,
            Stage::Revealing { tx } => self.land(intent, tx.clone()).await,
            _ => Ok(None),
        }
    }

    async fn commit(&self, intent: &Intent) -> Result<Option<Stage>, TxError> {
        self.ensure_bond().await?;
        let commitment = intent.args().commitment(self.address());
        let data = NativeRollup::commitChallengeCall { commitment }.abi_encode().into();
        match self.tx.prepare(self.rollup, data, U256::ZERO).await {
            Ok(tx) => Ok(Some(Stage::Committing { tx })),
            Err(e) => match e.contract_error() {
                // Committed before a restart lost track of the transaction.
                Some(NativeRollup::NativeRollupErrors::CommitmentExists(_)) => {
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

    async fn reveal(&self, intent: &Intent, committed_at: u64) -> Result<Option<Stage>, TxError> {
        let head = self
            .tx
            .provider()
            .get_block_number()
            .await
            .map_err(crate::rollup::RollupError::from)?;
        if head <= committed_at {
            return Ok(None); // the reveal must land in a later block than the commitment
        }
        let args = intent.args();
        let data = NativeRollup::challengeCall {
            batchId: args.batch_id,
            checkpoints: args.checkpoints.clone(),
            blockIndex: U256::from(args.block_index),
            postStateRoot: args.post_state_root,
            gasUsed: U256::from(args.gas_used),
            trace: args.trace.clone(),
            salt: args.salt,
        }
        .abi_encode()
        .into();
        match self.tx.prepare(self.rollup, data, U256::ZERO).await {
            Ok(tx) => Ok(Some(Stage::Revealing { tx })),
            Err(e) => match e.contract_error() {
                Some(NativeRollup::NativeRollupErrors::CommitmentTooRecent(_)) => Ok(None),
                Some(NativeRollup::NativeRollupErrors::UnknownCommitment(_)) => {
                    Ok(Some(Stage::Planned))
                }
                Some(other) => match Self::batch_gone(other) {
                    Some(reason) => {
                        self.release(intent).await;
                        Ok(Some(Stage::StoodDown { reason }))
                    }
                    None => Ok(Some(Stage::Refused {
                        reason: format!("L1 refused the checked proof: {other:?}"),
                    })),
                },
                None => Err(e),
            },
        }
    }

    async fn land(&self, intent: &Intent, mut tx: super::SentTx) -> Result<Option<Stage>, TxError> {
        // `confirm` re-sends (and bumps fees) when this broadcast is refused.
        let _ = self.tx.broadcast(&tx).await;
        let confirmed = self
            .tx
            .confirm(&mut tx, |t| {
                self.persist(&with_stage(intent, Stage::Revealing { tx: t.clone() }))
            })
            .await;
        match confirmed {
            Ok(receipt) => {
                let block = receipt.block_number.unwrap_or_default();
                metrics::counter!("native_challenger_submitter_challenges_landed_total")
                    .increment(1);
                if let Ok(Some(b)) = self.tx.provider().get_block_by_number(block.into()).await {
                    let seconds = b.header.timestamp.saturating_sub(intent.proposed_at);
                    metrics::gauge!("native_challenger_submitter_proposal_to_landing_seconds")
                        .set(seconds as f64);
                }
                tracing::info!(target: TARGET, batch = intent.batch_id, block, gas = receipt.gas_used, "challenge landed: batch convicted");
                if self.policy.auto_claim {
                    self.claim().await;
                }
                Ok(Some(Stage::Landed {
                    tx: receipt.transaction_hash,
                    block,
                    gas_used: receipt.gas_used,
                }))
            }
            Err(TxError::Reverted { .. } | TxError::Replaced { .. }) => {
                let batch = self.read(NativeRollup::batchCall { batchId: intent.batch_id }).await?;
                if batch.status != 1 {
                    self.release(intent).await;
                    return Ok(Some(Stage::StoodDown {
                        reason: format!("batch {} was convicted by someone else", intent.batch_id),
                    }));
                }
                Ok(Some(Stage::Committed { block: 0 }))
            }
            Err(e) => Err(e),
        }
    }

    /// Deposits the challenger bond one more open commitment needs, if short and allowed.
    async fn ensure_bond(&self) -> Result<(), TxError> {
        let me = self.address();
        let bond = self.read(NativeRollup::challengerBondCall::new((me,))).await?;
        let open = self.read(NativeRollup::openCommitmentsCall::new((me,))).await?;
        let unit = self.read(NativeRollup::CHALLENGER_BONDCall {}).await?;
        let needed = (open + U256::from(1)) * unit;
        metrics::gauge!("native_challenger_submitter_bond_wei").set(f64::from(bond));
        if bond >= needed && !bond.is_zero() {
            return Ok(());
        }
        // A deposit of ours may still be pending (sent before a restart): never deposit twice.
        let provider = self.tx.provider();
        let pending = provider
            .get_transaction_count(me)
            .pending()
            .await
            .map_err(crate::rollup::RollupError::from)?;
        let mined =
            provider.get_transaction_count(me).await.map_err(crate::rollup::RollupError::from)?;
        if pending > mined {
            return Err(TxError::Rollup(crate::rollup::RollupError::Unexpected(format!(
                "{} transaction(s) of ours still pending; the bond is checked again next poll",
                pending - mined
            ))));
        }
        if !self.policy.auto_deposit {
            tracing::error!(target: TARGET, %bond, %needed, "ALARM: challenger bond too low and auto-deposit is off");
            return Err(TxError::Rollup(crate::rollup::RollupError::Unexpected(
                "challenger bond too low".into(),
            )));
        }
        let top_up = (needed - bond.min(needed)).max(unit);
        let data = NativeRollup::depositChallengerBondCall {}.abi_encode().into();
        self.tx.send(self.rollup, data, top_up, |_| {}).await?;
        tracing::info!(target: TARGET, %top_up, "challenger bond deposited");
        metrics::gauge!("native_challenger_submitter_bond_wei").set(f64::from(bond + top_up));
        Ok(())
    }

    /// Best effort: cancels our commitment so the bond it locks is free again.
    async fn release(&self, intent: &Intent) {
        let commitment = intent.args().commitment(self.address());
        let data = NativeRollup::cancelCommitmentCall { commitment }.abi_encode().into();
        if let Err(err) = self.tx.send(self.rollup, data, U256::ZERO, |_| {}).await {
            tracing::debug!(target: TARGET, %err, "commitment not cancelled (it may not exist)");
        }
    }

    /// Best effort: withdraws the rewards credited to us.
    pub async fn claim(&self) {
        let data = NativeRollup::withdrawCall {}.abi_encode().into();
        match self.tx.send(self.rollup, data, U256::ZERO, |_| {}).await {
            Ok(r) => tracing::info!(target: TARGET, tx = %r.transaction_hash, "rewards withdrawn"),
            Err(err) => tracing::warn!(target: TARGET, %err, "withdrawing rewards failed"),
        }
    }
}

/// Logs and counts a stage change (the changes that matter to an operator).
fn report(intent: &Intent, next: &Stage) {
    let batch = intent.batch_id;
    match next {
        Stage::Committing { .. } | Stage::Revealing { .. } => {
            metrics::counter!("native_challenger_submitter_challenges_submitted_total")
                .increment(1);
        }
        Stage::StoodDown { reason } => {
            tracing::warn!(target: TARGET, batch, %reason, "standing down: the batch cannot be convicted by us any more");
            metrics::counter!("native_challenger_submitter_stood_down_total").increment(1);
        }
        Stage::Refused { reason } => {
            tracing::error!(target: TARGET, batch, %reason, "ALARM: challenge refused");
            metrics::counter!("native_challenger_submitter_challenges_refused_total").increment(1);
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
