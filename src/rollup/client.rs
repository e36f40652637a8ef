//! A typed client of the rollup contract over JSON-RPC.
//!
//! Input: a provider (any node, any transport; the signer is the provider's wallet) and the
//! contract's address. Output: receipts and decoded values. A refusal by the contract comes
//! back as [`RollupError::Contract`] with the decoded custom error, whether the node reported
//! it while estimating gas or the transaction failed on chain.

use super::bindings::NativeRollup::{self, NativeRollupErrors};
use super::params::RollupParams;
use super::to_sol_leaf;
use crate::protocol::CheckpointProof;
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_provider::{DynProvider, Provider};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use std::time::Duration;

/// Why a rollup call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error("the rollup contract refused: {0:?}")]
    Contract(NativeRollupErrors),
    #[error("the call reverted without a known error (data {data})")]
    Reverted { data: Bytes },
    #[error("transaction {tx} was mined but failed (gas used {gas_used})")]
    Failed { tx: B256, gas_used: u64 },
    #[error("JSON-RPC: {0}")]
    Rpc(String),
    #[error("unexpected answer from the node: {0}")]
    Unexpected(String),
}

impl From<alloy_provider::transport::TransportError> for RollupError {
    fn from(err: alloy_provider::transport::TransportError) -> Self {
        if let Some(payload) = err.as_error_resp() {
            if let Some(decoded) = payload.as_decoded_interface_error::<NativeRollupErrors>() {
                return Self::Contract(decoded);
            }
            if let Some(data) = payload.as_revert_data() {
                return Self::Reverted { data };
            }
        }
        Self::Rpc(err.to_string())
    }
}

/// The arguments of `challenge`, and of the commitment that must precede it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeArgs {
    pub batch_id: u64,
    /// Where the claimed leaf (a block's header or a cut inside a block) sits in the batch's
    /// tree, and the leaf before it, each with its path to the batch's `checkpointsRoot`.
    pub proof: CheckpointProof,
    pub post_state_root: B256,
    pub gas_used: u64,
    /// The encoded EXECUTE trace of the claimed leaf's segment.
    pub trace: Bytes,
    pub salt: B256,
}

impl ChallengeArgs {
    /// The commitment `challenger` must register a block before revealing these arguments;
    /// equal to the contract's `challengeCommitment`.
    pub fn commitment(&self, challenger: Address) -> B256 {
        let words = (
            challenger,
            self.batch_id,
            U256::from(self.proof.index),
            self.post_state_root,
            U256::from(self.gas_used),
            keccak256(&self.trace),
            self.salt,
        );
        keccak256(words.abi_encode_params())
    }

    pub fn call(&self) -> NativeRollup::challengeCall {
        NativeRollup::challengeCall {
            batchId: self.batch_id,
            leafIndex: U256::from(self.proof.index),
            prev: to_sol_leaf(&self.proof.prev),
            prevProof: self.proof.prev_path.clone(),
            claimed: to_sol_leaf(&self.proof.claimed),
            proof: self.proof.path.clone(),
            postStateRoot: self.post_state_root,
            gasUsed: U256::from(self.gas_used),
            trace: self.trace.clone(),
            salt: self.salt,
        }
    }
}

/// The rollup contract at one address, driven by one provider (and its wallet).
#[derive(Debug, Clone)]
pub struct RollupClient {
    provider: DynProvider,
    address: Address,
    from: Address,
    timeout: Duration,
}

impl RollupClient {
    /// A client of the contract at `address`, sending from `from` (the provider's signer).
    pub fn at(provider: DynProvider, address: Address, from: Address) -> Self {
        Self { provider, address, from, timeout: Duration::from_secs(60) }
    }

    /// Deploys a new rollup contract.
    pub async fn deploy(
        provider: DynProvider,
        from: Address,
        params: &RollupParams,
    ) -> Result<(Self, TransactionReceipt), RollupError> {
        let tx =
            TransactionRequest::default().with_from(from).with_deploy_code(params.deploy_code());
        let receipt = send_and_wait(&provider, tx, Duration::from_secs(60)).await?;
        let address = receipt
            .contract_address
            .ok_or_else(|| RollupError::Unexpected("deployment receipt has no address".into()))?;
        Ok((Self::at(provider, address, from), receipt))
    }

    pub fn address(&self) -> Address {
        self.address
    }

    pub fn from(&self) -> Address {
        self.from
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The same contract, sent to from another provider and signer.
    pub fn with_signer(&self, provider: DynProvider, from: Address) -> Self {
        Self { provider, from, ..self.clone() }
    }

    /// Sends a call to the contract and waits for a successful receipt.
    pub async fn send<C: SolCall>(
        &self,
        call: &C,
        value: U256,
    ) -> Result<TransactionReceipt, RollupError> {
        let tx = TransactionRequest::default()
            .with_from(self.from)
            .with_to(self.address)
            .with_input(call.abi_encode())
            .with_value(value);
        send_and_wait(&self.provider, tx, self.timeout).await
    }

    /// A read-only call at the latest block.
    pub async fn read<C: SolCall>(&self, call: &C) -> Result<C::Return, RollupError> {
        let tx = TransactionRequest::default().with_to(self.address).with_input(call.abi_encode());
        let out = self.provider.call(tx).await?;
        C::abi_decode_returns(&out).map_err(|err| RollupError::Unexpected(err.to_string()))
    }

    /// Proposes a batch; returns its id (from the `BatchProposed` event) and the receipt.
    pub async fn propose(
        &self,
        call: &NativeRollup::proposeCall,
        bond: U256,
    ) -> Result<(u64, TransactionReceipt), RollupError> {
        let receipt = self.send(call, bond).await?;
        let id = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == self.address)
            .find_map(|log| NativeRollup::BatchProposed::decode_log_data(log.data()).ok())
            .map(|event| event.batchId)
            .ok_or_else(|| RollupError::Unexpected("no BatchProposed event".into()))?;
        Ok((id, receipt))
    }

    pub async fn finalize(&self, batch_id: u64) -> Result<TransactionReceipt, RollupError> {
        self.send(&NativeRollup::finalizeCall { batchId: batch_id }, U256::ZERO).await
    }

    pub async fn deposit_challenger_bond(
        &self,
        wei: U256,
    ) -> Result<TransactionReceipt, RollupError> {
        self.send(&NativeRollup::depositChallengerBondCall {}, wei).await
    }

    pub async fn withdraw_challenger_bond(
        &self,
        wei: U256,
    ) -> Result<TransactionReceipt, RollupError> {
        self.send(&NativeRollup::withdrawChallengerBondCall { amount: wei }, U256::ZERO).await
    }

    pub async fn commit(&self, commitment: B256) -> Result<TransactionReceipt, RollupError> {
        self.send(&NativeRollup::commitChallengeCall { commitment }, U256::ZERO).await
    }

    /// Closes one of the caller's own open commitments and unlocks its bond.
    pub async fn cancel_commitment(
        &self,
        commitment: B256,
    ) -> Result<TransactionReceipt, RollupError> {
        self.send(&NativeRollup::cancelCommitmentCall { commitment }, U256::ZERO).await
    }

    /// The L1 block of `challenger`'s open commitment `commitment`; 0 when it has none.
    pub async fn commitment_block(
        &self,
        challenger: Address,
        commitment: B256,
    ) -> Result<u64, RollupError> {
        self.read(&NativeRollup::commitmentsCall::new((challenger, commitment))).await
    }

    pub async fn challenge(&self, args: &ChallengeArgs) -> Result<TransactionReceipt, RollupError> {
        self.send(&args.call(), U256::ZERO).await
    }

    /// Pays out the caller's credits.
    pub async fn withdraw(&self) -> Result<TransactionReceipt, RollupError> {
        self.send(&NativeRollup::withdrawCall {}, U256::ZERO).await
    }

    pub async fn batch(&self, batch_id: u64) -> Result<NativeRollup::Batch, RollupError> {
        self.read(&NativeRollup::batchCall { batchId: batch_id }).await
    }

    pub async fn tip(&self) -> Result<u64, RollupError> {
        self.read(&NativeRollup::tipCall {}).await
    }

    pub async fn last_finalized(&self) -> Result<u64, RollupError> {
        self.read(&NativeRollup::lastFinalizedCall {}).await
    }

    pub async fn credits(&self, account: Address) -> Result<U256, RollupError> {
        self.read(&NativeRollup::creditsCall::new((account,))).await
    }

    pub async fn challenger_bond(&self, account: Address) -> Result<U256, RollupError> {
        self.read(&NativeRollup::challengerBondCall::new((account,))).await
    }

    pub async fn total_burned(&self) -> Result<U256, RollupError> {
        self.read(&NativeRollup::totalBurnedCall {}).await
    }
}

/// Sends `tx` (filled and signed by the provider's fillers) and waits for its receipt; a
/// mined failure is [`RollupError::Failed`].
///
/// Gas is estimated here, before the provider's fillers run: a call the node refuses then
/// fails without a nonce being taken (alloy's cached nonce manager would otherwise count the
/// refused transaction and leave a gap that stalls every later one).
pub async fn send_and_wait(
    provider: &DynProvider,
    mut tx: TransactionRequest,
    timeout: Duration,
) -> Result<TransactionReceipt, RollupError> {
    if tx.gas.is_none() {
        let estimate = provider.estimate_gas(tx.clone()).await?;
        tx.gas = Some(with_margin(estimate));
    }
    let pending = provider.send_transaction(tx).await?;
    let receipt = pending
        .with_timeout(Some(timeout))
        .get_receipt()
        .await
        .map_err(|err| RollupError::Rpc(format!("waiting for the receipt: {err}")))?;
    if !receipt.status() {
        return Err(RollupError::Failed {
            tx: receipt.transaction_hash,
            gas_used: receipt.gas_used,
        });
    }
    Ok(receipt)
}

/// An estimate plus 10% (gas refunds and cold accesses can differ between the estimate's
/// context and the block), within the EIP-7825 per-transaction cap.
pub fn with_margin(estimate: u64) -> u64 {
    estimate.saturating_add(estimate / 10).min(crate::bisect::TX_GAS_CAP).max(estimate)
}
