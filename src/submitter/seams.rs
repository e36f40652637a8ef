//! The submitter's two seams, defined by what the intent state machine uses (as op-challenger's
//! `TxSender` and contract interfaces): [`TxSender`] prepares, broadcasts and confirms the
//! challenger's transactions and reads the L1 facts it prices them by; [`RollupReads`] reads
//! the rollup contract's state a challenge depends on.
//!
//! Input: calls from the flow. Output: [`SentTx`] records, [`Mined`] receipts and the contract's
//! views. The real implementations are [`TxManager`] over alloy providers and
//! [`ContractReads`] over the rollup contract; tests run the flow against in-memory fakes.

use super::txmgr::{SentTx, TxError, TxManager};
use crate::rollup::{BatchStatus, NativeRollup, RollupError};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{DynProvider, Provider};
use alloy_sol_types::SolCall;
use futures::future::BoxFuture;

/// A transaction of ours that was mined (with the confirmations the sender requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mined {
    pub hash: B256,
    pub block: u64,
    pub gas_used: u64,
}

/// Sends the challenger's transactions (one key, one nonce sequence) and reads what pricing
/// and following them needs. Every method may fail with a passing error; the flow retries.
pub trait TxSender: Send + Sync + std::fmt::Debug {
    /// The account that signs.
    fn address(&self) -> Address;

    /// Blocks on top of the including block before a receipt counts.
    fn confirmations(&self) -> u64;

    /// The latest L1 block number.
    fn head(&self) -> BoxFuture<'_, Result<u64, TxError>>;

    /// The node's gas price, in wei (for the expected value).
    fn gas_price(&self) -> BoxFuture<'_, Result<u128, TxError>>;

    /// The timestamp of L1 block `number`, if the node has it.
    fn block_timestamp(&self, number: u64) -> BoxFuture<'_, Result<Option<u64>, TxError>>;

    /// How many transactions of ours are sent but not mined.
    fn unmined(&self) -> BoxFuture<'_, Result<u64, TxError>>;

    /// The account's balance, in wei.
    fn balance(&self) -> BoxFuture<'_, Result<U256, TxError>>;

    /// Estimates, prices and signs a call with the account's next nonce; sends nothing. A
    /// refusal by the contract comes back decoded, before any nonce is used.
    fn prepare(
        &self,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> BoxFuture<'_, Result<SentTx, TxError>>;

    /// Broadcasts the newest version; a transaction the node already knows counts as sent.
    fn broadcast<'a>(&'a self, tx: &'a SentTx) -> BoxFuture<'a, Result<(), TxError>>;

    /// Waits until a version of `tx` is mined with the confirmations, never past L1 block
    /// `until`; re-sends and bumps fees on the way, and `persist` sees every new version
    /// before it is broadcast.
    fn confirm_until<'a>(
        &'a self,
        tx: &'a mut SentTx,
        until: u64,
        persist: &'a mut (dyn FnMut(&SentTx) + Send),
    ) -> BoxFuture<'a, Result<Mined, TxError>>;

    /// Prepares, broadcasts and confirms a call in one go.
    fn send(&self, to: Address, data: Bytes, value: U256) -> BoxFuture<'_, Result<Mined, TxError>>;
}

/// A batch as the flow needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchView {
    pub status: BatchStatus,
    /// `checkpointsRoot` of the proposal under this id (the Merkle root of its block hashes).
    pub checkpoints_root: B256,
}

/// The rollup contract's state a challenge depends on.
pub trait RollupReads: Send + Sync + std::fmt::Debug {
    /// The highest batch id proposed.
    fn batch_count(&self) -> BoxFuture<'_, Result<u64, TxError>>;

    /// Batch `id` (the contract refuses ids above the count).
    fn batch(&self, id: u64) -> BoxFuture<'_, Result<BatchView, TxError>>;

    /// The reward a conviction pays: the proposer bond's challenger share.
    fn reward(&self) -> BoxFuture<'_, Result<U256, TxError>>;

    /// The bond `who` has deposited.
    fn challenger_bond(&self, who: Address) -> BoxFuture<'_, Result<U256, TxError>>;

    /// How many commitments of `who` are open (each locks one bond unit).
    fn open_commitments(&self, who: Address) -> BoxFuture<'_, Result<U256, TxError>>;

    /// The contract's `CHALLENGER_BOND`: what one open commitment locks.
    fn bond_unit(&self) -> BoxFuture<'_, Result<U256, TxError>>;
}

fn rpc(err: impl Into<RollupError>) -> TxError {
    TxError::Rollup(err.into())
}

impl TxSender for TxManager {
    fn address(&self) -> Address {
        TxManager::address(self)
    }

    fn confirmations(&self) -> u64 {
        self.policy().confirmations
    }

    fn head(&self) -> BoxFuture<'_, Result<u64, TxError>> {
        Box::pin(async move { self.provider().get_block_number().await.map_err(rpc) })
    }

    fn gas_price(&self) -> BoxFuture<'_, Result<u128, TxError>> {
        Box::pin(async move { self.provider().get_gas_price().await.map_err(rpc) })
    }

    fn block_timestamp(&self, number: u64) -> BoxFuture<'_, Result<Option<u64>, TxError>> {
        Box::pin(async move {
            let block = self.provider().get_block_by_number(number.into()).await.map_err(rpc)?;
            Ok(block.map(|b| b.header.timestamp))
        })
    }

    fn unmined(&self) -> BoxFuture<'_, Result<u64, TxError>> {
        Box::pin(async move {
            let me = TxManager::address(self);
            let pending = self.provider().get_transaction_count(me).pending().await.map_err(rpc)?;
            let mined = self.provider().get_transaction_count(me).await.map_err(rpc)?;
            Ok(pending.saturating_sub(mined))
        })
    }

    fn balance(&self) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(
            async move { self.provider().get_balance(TxManager::address(self)).await.map_err(rpc) },
        )
    }

    fn prepare(
        &self,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> BoxFuture<'_, Result<SentTx, TxError>> {
        Box::pin(TxManager::prepare(self, to, data, value))
    }

    fn broadcast<'a>(&'a self, tx: &'a SentTx) -> BoxFuture<'a, Result<(), TxError>> {
        Box::pin(TxManager::broadcast(self, tx))
    }

    fn confirm_until<'a>(
        &'a self,
        tx: &'a mut SentTx,
        until: u64,
        persist: &'a mut (dyn FnMut(&SentTx) + Send),
    ) -> BoxFuture<'a, Result<Mined, TxError>> {
        Box::pin(async move {
            let receipt = TxManager::confirm_until(self, tx, until, persist).await?;
            Ok(Mined {
                hash: receipt.transaction_hash,
                block: receipt.block_number.unwrap_or_default(),
                gas_used: receipt.gas_used,
            })
        })
    }

    fn send(&self, to: Address, data: Bytes, value: U256) -> BoxFuture<'_, Result<Mined, TxError>> {
        Box::pin(async move {
            let receipt = TxManager::send(self, to, data, value, |_| {}).await?;
            Ok(Mined {
                hash: receipt.transaction_hash,
                block: receipt.block_number.unwrap_or_default(),
                gas_used: receipt.gas_used,
            })
        })
    }
}

/// [`RollupReads`] over the rollup contract's views.
#[derive(Debug, Clone)]
pub struct ContractReads {
    provider: DynProvider,
    rollup: Address,
}

impl ContractReads {
    pub fn new(provider: DynProvider, rollup: Address) -> Self {
        Self { provider, rollup }
    }

    async fn read<C: SolCall>(&self, call: C) -> Result<C::Return, TxError> {
        let request = alloy_rpc_types_eth::TransactionRequest::default()
            .to(self.rollup)
            .input(call.abi_encode().into());
        let out = self.provider.call(request).await.map_err(rpc)?;
        C::abi_decode_returns(&out).map_err(|e| rpc(RollupError::Unexpected(e.to_string())))
    }
}

impl RollupReads for ContractReads {
    fn batch_count(&self) -> BoxFuture<'_, Result<u64, TxError>> {
        Box::pin(self.read(NativeRollup::batchCountCall {}))
    }

    fn batch(&self, id: u64) -> BoxFuture<'_, Result<BatchView, TxError>> {
        Box::pin(async move {
            let batch = self.read(NativeRollup::batchCall { batchId: id }).await?;
            let status = BatchStatus::from_u8(batch.status).ok_or_else(|| {
                rpc(RollupError::Unexpected(format!(
                    "batch {id} has the unknown status {}",
                    batch.status
                )))
            })?;
            Ok(BatchView { status, checkpoints_root: batch.checkpointsRoot })
        })
    }

    fn reward(&self) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(async move {
            let bond = self.read(NativeRollup::PROPOSER_BONDCall {}).await?;
            let bps = self.read(NativeRollup::REWARD_BPSCall {}).await?;
            Ok(bond * bps / U256::from(10_000))
        })
    }

    fn challenger_bond(&self, who: Address) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(self.read(NativeRollup::challengerBondCall::new((who,))))
    }

    fn open_commitments(&self, who: Address) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(self.read(NativeRollup::openCommitmentsCall::new((who,))))
    }

    fn bond_unit(&self) -> BoxFuture<'_, Result<U256, TxError>> {
        Box::pin(self.read(NativeRollup::CHALLENGER_BONDCall {}))
    }
}
