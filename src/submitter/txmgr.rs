//! The transaction manager: the only code that signs and sends. It owns the account's nonce,
//! prices fees from the node, estimates gas before taking a nonce, bumps the fees of a
//! transaction that is not mined in time (same nonce, at least +10% as geth and reth require,
//! so the replacement is not refused as underpriced), re-broadcasts a transaction a reorg
//! dropped, and waits for the configured confirmations. Nonces come from one sequence shared
//! by every clone (several intents may send at once), and broadcasts fail over across the
//! configured endpoints: the next one is tried when one refuses or does not answer in time.
//!
//! Input: calls to make. Output: [`SentTx`] records the caller persists before and after each
//! broadcast (so a restart re-broadcasts instead of sending twice), and receipts.

use super::keys::TxKey;
use crate::daemon::metrics_names as metric;
use crate::rollup::{NativeRollupErrors, RollupError};
use alloy_consensus::TxEip1559;
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_provider::{DynProvider, Provider};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How transactions are sent and followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPolicy {
    /// Blocks on top of the including block before a receipt counts.
    pub confirmations: u64,
    /// Bump fees when not mined after this long.
    pub resubmit_after: Duration,
    /// Fee increase per bump, percent (at least 10).
    pub fee_bump_percent: u64,
    /// Never offer more than this per gas, in wei.
    pub max_fee_per_gas: u128,
    pub poll: Duration,
    /// Give up waiting after this long (the caller decides what next).
    pub timeout: Duration,
    /// Wait this long for one endpoint to answer a broadcast before trying the next.
    pub send_timeout: Duration,
}

impl Default for TxPolicy {
    fn default() -> Self {
        Self {
            confirmations: 1,
            resubmit_after: Duration::from_secs(24),
            fee_bump_percent: 15,
            max_fee_per_gas: 500_000_000_000,
            poll: Duration::from_millis(500),
            timeout: Duration::from_secs(300),
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// A signed transaction and every version of it that was broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentTx {
    pub to: Address,
    pub data: Bytes,
    pub value: U256,
    pub nonce: u64,
    pub gas: u64,
    #[serde(with = "decimal")]
    pub max_fee: u128,
    #[serde(with = "decimal")]
    pub tip: u128,
    /// Hashes of every version sent, newest last.
    pub hashes: Vec<B256>,
    /// The newest version, signed.
    pub raw: Bytes,
}

/// u128 as a decimal string: JSON numbers (serde_json) do not carry 128-bit integers.
mod decimal {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|e| D::Error::custom(format!("{text:?} is not a u128: {e}")))
    }
}

/// Why a transaction did not get through.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error(transparent)]
    Rollup(#[from] RollupError),
    #[error("transaction {tx} was mined in block {block} and failed")]
    Reverted { tx: B256, block: u64 },
    #[error("nonce {nonce} was used by another transaction")]
    Replaced { nonce: u64 },
    #[error("not mined within {0:?}")]
    Timeout(Duration),
    #[error("the fee cap {cap} wei/gas is below what the network asks ({needed})")]
    FeeCap { cap: u128, needed: u128 },
    #[error("signing: {0}")]
    Sign(String),
}

impl TxError {
    /// The contract's custom error, when the node refused the call for one.
    pub fn contract_error(&self) -> Option<&NativeRollupErrors> {
        match self {
            Self::Rollup(RollupError::Contract(e)) => Some(e),
            _ => None,
        }
    }
}

/// Whether a node refused a transaction for its fees (cap below the base fee, or a
/// replacement that does not pay enough more).
fn is_underpriced(err: &TxError) -> bool {
    let text = err.to_string().to_lowercase();
    ["underpriced", "less than block base fee", "fee cap", "feecap", "max fee per gas less than"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// Whether a node's refusal means it has the transaction already (or one with its nonce was
/// mined): sent, as far as broadcasting goes.
fn is_known(text: &str) -> bool {
    let text = text.to_lowercase();
    ["already known", "nonce too low", "already imported", "known transaction"]
        .iter()
        .any(|needle| text.contains(needle))
}

/// The transaction manager. See the module documentation.
#[derive(Debug, Clone)]
pub struct TxManager {
    provider: DynProvider,
    /// Where broadcasts go, in order of preference (the first is `provider`'s endpoint).
    endpoints: Vec<DynProvider>,
    signer: TxKey,
    chain_id: u64,
    policy: TxPolicy,
    /// The nonces this manager hands out, shared by its clones.
    nonces: Arc<Mutex<Nonces>>,
}

/// One account's nonce sequence across the intents sending at once.
#[derive(Debug, Default)]
struct Nonces {
    /// The next nonce to hand out (`None` until the first transaction, or after a reset).
    next: Option<u64>,
    /// Nonces handed out and not yet taken by any endpoint, with when.
    unsent: std::collections::BTreeMap<u64, Instant>,
}

impl Nonces {
    /// The nonce for a new transaction, given the node's mined (`latest`) and `pending`
    /// counts. Past the sequence's own next nonce while transactions of ours are in flight;
    /// the node's count when it holds nothing of ours and nothing handed out is waiting to be
    /// sent (a nonce handed out and never sent, older than `abandoned`, no longer counts: the
    /// gap it left is filled instead of holding up every later transaction).
    fn take(&mut self, latest: u64, pending: u64, abandoned: Duration) -> u64 {
        self.unsent.retain(|nonce, at| *nonce >= latest && at.elapsed() < abandoned);
        let nonce = match self.next {
            Some(next) if pending > latest || !self.unsent.is_empty() => next.max(pending),
            _ => pending,
        };
        self.next = Some(nonce + 1);
        self.unsent.insert(nonce, Instant::now());
        nonce
    }
}

impl TxManager {
    pub fn new(
        provider: DynProvider,
        signer: impl Into<TxKey>,
        chain_id: u64,
        policy: TxPolicy,
    ) -> Self {
        Self {
            endpoints: vec![provider.clone()],
            provider,
            signer: signer.into(),
            chain_id,
            policy,
            nonces: Arc::default(),
        }
    }

    /// Broadcasts to `fallbacks` too, in order, when the endpoints before refuse or time out.
    pub fn with_fallbacks(mut self, fallbacks: impl IntoIterator<Item = DynProvider>) -> Self {
        self.endpoints.extend(fallbacks);
        self
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    pub fn policy(&self) -> &TxPolicy {
        &self.policy
    }

    /// Estimates, prices and signs a call with the account's next nonce; sends nothing. A
    /// refusal by the contract comes back decoded, before any nonce is used.
    pub async fn prepare(&self, to: Address, data: Bytes, value: U256) -> Result<SentTx, TxError> {
        let from = self.address();
        let request = TransactionRequest::default()
            .with_from(from)
            .with_to(to)
            .with_input(data.clone())
            .with_value(value);
        let estimate = self.provider.estimate_gas(request).await.map_err(RollupError::from)?;
        let gas = crate::rollup::client::with_margin(estimate);
        let (max_fee, tip) = self.fees().await?;
        // One nonce sequence for every intent sending at once: held from reading the node's
        // counts until the transaction is signed ([`Nonces::take`]).
        let mut nonces = self.nonces.lock().await;
        let latest = self.provider.get_transaction_count(from).await.map_err(RollupError::from)?;
        let pending =
            self.provider.get_transaction_count(from).pending().await.map_err(RollupError::from)?;
        let nonce =
            nonces.take(latest, pending, self.policy.resubmit_after.max(self.policy.send_timeout));
        let mut tx = SentTx {
            to,
            data,
            value,
            nonce,
            gas,
            max_fee,
            tip,
            hashes: Vec::new(),
            raw: Bytes::new(),
        };
        if let Err(err) = self.sign(&mut tx).await {
            nonces.unsent.remove(&nonce);
            nonces.next = Some(nonce);
            return Err(err);
        }
        Ok(tx)
    }

    /// Max fee and tip: twice the latest base fee plus the node's suggested tip.
    async fn fees(&self) -> Result<(u128, u128), TxError> {
        let block = self
            .provider
            .get_block_by_number(alloy_rpc_types_eth::BlockNumberOrTag::Latest)
            .await
            .map_err(RollupError::from)?
            .ok_or_else(|| RollupError::Unexpected("no latest block".into()))?;
        let base = u128::from(block.header.base_fee_per_gas.unwrap_or(1_000_000_000));
        let tip =
            self.provider.get_max_priority_fee_per_gas().await.map_err(RollupError::from)?.max(1);
        let max_fee = base * 2 + tip;
        if max_fee > self.policy.max_fee_per_gas {
            return Err(TxError::FeeCap { cap: self.policy.max_fee_per_gas, needed: max_fee });
        }
        Ok((max_fee, tip))
    }

    async fn sign(&self, tx: &mut SentTx) -> Result<(), TxError> {
        let unsigned = TxEip1559 {
            chain_id: self.chain_id,
            nonce: tx.nonce,
            gas_limit: tx.gas,
            max_fee_per_gas: tx.max_fee,
            max_priority_fee_per_gas: tx.tip,
            to: TxKind::Call(tx.to),
            value: tx.value,
            access_list: Default::default(),
            input: tx.data.clone(),
        };
        let envelope = self.signer.sign(unsigned).await.map_err(TxError::Sign)?;
        tx.hashes.push(*envelope.tx_hash());
        tx.raw = envelope.encoded_2718().into();
        Ok(())
    }

    /// Broadcasts the newest version, to each endpoint in turn until one takes it. "Already
    /// known" and "nonce too low" count as taken: [`Self::confirm`] finds out what happened
    /// from receipts. Every endpoint refusing or timing out returns the last refusal.
    pub async fn broadcast(&self, tx: &SentTx) -> Result<(), TxError> {
        let mut last = None;
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            let sent = tokio::time::timeout(
                self.policy.send_timeout,
                endpoint.send_raw_transaction(&tx.raw),
            )
            .await;
            let err = match sent {
                Ok(Ok(_)) => return self.sent(tx).await,
                Ok(Err(err)) if is_known(&err.to_string()) => return self.sent(tx).await,
                Ok(Err(err)) => TxError::Rollup(RollupError::from(err)),
                Err(_) => TxError::Timeout(self.policy.send_timeout),
            };
            if index + 1 < self.endpoints.len() {
                tracing::warn!(target: "native_challenger::submitter", endpoint = index, %err, nonce = tx.nonce, "broadcast failed; trying the next endpoint");
            }
            last = Some(err);
        }
        Err(last.unwrap_or_else(|| TxError::Rollup(RollupError::Unexpected("no endpoint".into()))))
    }

    /// An endpoint took `tx`: its nonce is no longer waiting to be sent.
    async fn sent(&self, tx: &SentTx) -> Result<(), TxError> {
        self.nonces.lock().await.unsent.remove(&tx.nonce);
        Ok(())
    }

    /// Re-signs with fees raised by the policy's bump (same nonce).
    pub async fn bump(&self, tx: &mut SentTx) -> Result<(), TxError> {
        let pct = u128::from(self.policy.fee_bump_percent.max(10));
        let raise = |v: u128| v + (v * pct).div_ceil(100).max(1);
        let (max_fee, tip) = (raise(tx.max_fee), raise(tx.tip));
        if max_fee > self.policy.max_fee_per_gas {
            return Err(TxError::FeeCap { cap: self.policy.max_fee_per_gas, needed: max_fee });
        }
        tx.max_fee = max_fee;
        tx.tip = tip;
        self.sign(tx).await
    }

    /// The latest base fee, when it is above what `tx` offers.
    async fn base_fee_above(&self, tx: &SentTx) -> Result<Option<u128>, TxError> {
        let block = self
            .provider
            .get_block_by_number(alloy_rpc_types_eth::BlockNumberOrTag::Latest)
            .await
            .map_err(RollupError::from)?;
        let base = block.and_then(|b| b.header.base_fee_per_gas).map(u128::from);
        Ok(base.filter(|b| *b > tx.max_fee))
    }

    /// Re-signs with at least twice `base` plus the tip as max fee (and at least the policy's
    /// bump over the old fees), capped by the policy.
    async fn bump_over(&self, tx: &mut SentTx, base: u128) -> Result<(), TxError> {
        let pct = u128::from(self.policy.fee_bump_percent.max(10));
        let raise = |v: u128| v + (v * pct).div_ceil(100).max(1);
        let tip = raise(tx.tip);
        let max_fee = raise(tx.max_fee).max(base * 2 + tip).min(self.policy.max_fee_per_gas);
        if max_fee <= tx.max_fee {
            return Err(TxError::FeeCap {
                cap: self.policy.max_fee_per_gas,
                needed: base * 2 + tip,
            });
        }
        tx.max_fee = max_fee;
        tx.tip = tip.min(max_fee);
        self.sign(tx).await
    }

    /// Waits until one version of `tx` is mined with the policy's confirmations. Bumps fees
    /// when it takes too long and re-broadcasts when the node has forgotten it (a reorg dropped
    /// it); `persist` sees every new version before it is broadcast.
    pub async fn confirm(
        &self,
        tx: &mut SentTx,
        persist: impl FnMut(&SentTx),
    ) -> Result<TransactionReceipt, TxError> {
        self.confirm_until(tx, u64::MAX, persist).await
    }

    /// [`Self::confirm`], giving up (`Timeout`) once L1 is past block `until` as well as after
    /// the policy's timeout: a caller whose transaction is worthless after a deadline never
    /// waits beyond it.
    pub async fn confirm_until(
        &self,
        tx: &mut SentTx,
        until: u64,
        mut persist: impl FnMut(&SentTx),
    ) -> Result<TransactionReceipt, TxError> {
        let started = Instant::now();
        let mut last_send = Instant::now();
        loop {
            if let Some(receipt) = self.mined(tx).await? {
                let head = self.provider.get_block_number().await.map_err(RollupError::from)?;
                let depth = receipt.block_number.map_or(0, |n| head.saturating_sub(n) + 1);
                if depth >= self.policy.confirmations {
                    if !receipt.status() {
                        return Err(TxError::Reverted {
                            tx: receipt.transaction_hash,
                            block: receipt.block_number.unwrap_or_default(),
                        });
                    }
                    return Ok(receipt);
                }
            } else {
                let nonce = self
                    .provider
                    .get_transaction_count(self.address())
                    .await
                    .map_err(RollupError::from)?;
                if nonce > tx.nonce && self.mined(tx).await?.is_none() {
                    return Err(TxError::Replaced { nonce: tx.nonce });
                }
                if let Some(base) = self.base_fee_above(tx).await? {
                    // The base fee rose past our cap (stuffed blocks): a node keeps the
                    // transaction but no builder can include it. Reprice now, not at the next
                    // resubmission time.
                    self.bump_over(tx, base).await?;
                    persist(tx);
                    tracing::info!(target: "native_challenger::submitter", nonce = tx.nonce, max_fee = tx.max_fee, base, "fee bump: the base fee passed our max fee");
                    metrics::counter!(metric::SUBMITTER_FEE_BUMPS).increment(1);
                    last_send = Instant::now();
                } else if last_send.elapsed() >= self.policy.resubmit_after {
                    self.bump(tx).await?;
                    persist(tx);
                    tracing::info!(target: "native_challenger::submitter", nonce = tx.nonce, max_fee = tx.max_fee, "fee bump");
                    metrics::counter!(metric::SUBMITTER_FEE_BUMPS).increment(1);
                    last_send = Instant::now();
                }
                // Re-broadcast each poll: a no-op while the node knows it, a re-send after a
                // reorg dropped it from blocks and pool. A node that dropped it because the base
                // fee rose past its cap refuses it as underpriced: bump now and send that.
                match self.broadcast(tx).await {
                    Ok(()) => {}
                    Err(err) if is_underpriced(&err) => {
                        self.bump(tx).await?;
                        persist(tx);
                        tracing::info!(target: "native_challenger::submitter", nonce = tx.nonce, max_fee = tx.max_fee, %err, "fee bump after an underpriced refusal");
                        metrics::counter!(metric::SUBMITTER_FEE_BUMPS).increment(1);
                        last_send = Instant::now();
                        if let Err(err) = self.broadcast(tx).await {
                            tracing::warn!(target: "native_challenger::submitter", %err, "re-broadcast refused; retrying at the next poll");
                        }
                    }
                    Err(err) => return Err(err),
                }
            }
            if started.elapsed() >= self.policy.timeout {
                return Err(TxError::Timeout(self.policy.timeout));
            }
            let head = self.provider.get_block_number().await.map_err(RollupError::from)?;
            if head > until {
                return Err(TxError::Timeout(started.elapsed()));
            }
            tokio::time::sleep(self.policy.poll).await;
        }
    }

    /// The receipt of whichever version was mined, if any.
    async fn mined(&self, tx: &SentTx) -> Result<Option<TransactionReceipt>, TxError> {
        for hash in tx.hashes.iter().rev() {
            if let Some(receipt) =
                self.provider.get_transaction_receipt(*hash).await.map_err(RollupError::from)?
            {
                return Ok(Some(receipt));
            }
        }
        Ok(None)
    }

    /// Prepares, persists, broadcasts and confirms a call in one go.
    pub async fn send(
        &self,
        to: Address,
        data: Bytes,
        value: U256,
        mut persist: impl FnMut(&SentTx),
    ) -> Result<TransactionReceipt, TxError> {
        let mut tx = self.prepare(to, data, value).await?;
        persist(&tx);
        self.broadcast(&tx).await?;
        self.confirm(&mut tx, persist).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABANDONED: Duration = Duration::from_secs(3600);

    #[test]
    fn concurrent_senders_get_consecutive_nonces_past_the_node_count() {
        let mut nonces = Nonces::default();
        // Nothing of ours known: the node's count; then, before the node has seen either
        // transaction, the sequence goes on past it.
        assert_eq!(nonces.take(5, 5, ABANDONED), 5);
        assert_eq!(nonces.take(5, 5, ABANDONED), 6);
        assert_eq!(nonces.take(5, 6, ABANDONED), 7);
        // Transactions sent by someone else with this key: past the node's count.
        assert_eq!(nonces.take(5, 10, ABANDONED), 10);
    }

    #[test]
    fn a_nonce_never_sent_leaves_no_gap_once_abandoned() {
        let mut nonces = Nonces::default();
        assert_eq!(nonces.take(3, 3, ABANDONED), 3);
        // Sent and mined.
        nonces.unsent.remove(&3);
        assert_eq!(nonces.take(4, 4, ABANDONED), 4);
        // 4 is never sent: still waiting to be sent, the next is 5 ...
        assert_eq!(nonces.take(4, 4, ABANDONED), 5);
        // ... but once abandoned, with nothing of ours at the node, the gap is filled.
        assert_eq!(nonces.take(4, 4, Duration::ZERO), 4);
    }

    #[test]
    fn a_sent_transaction_survives_its_json_record() {
        let tx = SentTx {
            to: Address::repeat_byte(1),
            data: Bytes::from_static(b"call"),
            value: U256::from(7),
            nonce: 3,
            gas: 21_000,
            max_fee: u128::MAX - 1,
            tip: 1_000_000_000,
            hashes: vec![B256::repeat_byte(2)],
            raw: Bytes::from_static(b"raw"),
        };
        let json = serde_json::to_vec(&tx).expect("encode");
        let back: SentTx = serde_json::from_slice(&json).expect("decode");
        assert_eq!(back, tx);
    }
}
