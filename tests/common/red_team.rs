//! Pieces the red-team tests share: the `DecoyProposer` test contract (deployed, or as the
//! EIP-7702 delegate of an EOA), type-4 transactions signed here, a `propose` of other blocks
//! to put in a transaction's calldata, and the decoding of a proposal's logs.

use alloy_consensus::{SignableTransaction, TxEip7702, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip7702::{Authorization, SignedAuthorization};
use alloy_network::{TransactionBuilder, TransactionBuilder7702};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolEvent;
use native_challenger::devnet::Devnet;
use native_challenger::execute_local::l2::stored_header;
use native_challenger::execute_local::store::StateStore;
use native_challenger::proposer::PlannedBatch;
use native_challenger::protocol::batch_tree::{batch_headers, batch_leaves, leaves_root};
use native_challenger::protocol::{BlockInputs, Checkpoint, L2Header, checkpoints_root};
use native_challenger::rollup::bindings::DecoyProposer;
use native_challenger::rollup::client::{send_and_wait, with_margin};
use native_challenger::rollup::{NativeRollup, RollupError, from_sol, from_sol_cuts};
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(30);

/// The code of an account delegated to `delegate` (EIP-7702: `0xef0100 || address`).
pub fn delegation_code(delegate: Address) -> Bytes {
    [&[0xef, 0x01, 0x00][..], delegate.as_slice()].concat().into()
}

/// Deploys a `DecoyProposer` from dev account `index`; returns its address.
pub async fn deploy_decoy(node: &Devnet, index: usize) -> Address {
    let (provider, from) = super::rollup::provider(node, index);
    let deploy = TransactionRequest::default()
        .with_from(from)
        .with_deploy_code(DecoyProposer::BYTECODE.clone());
    send_and_wait(&provider, deploy, WAIT)
        .await
        .expect("deploy DecoyProposer")
        .contract_address
        .expect("deployment address")
}

/// A dev account that sends transactions signed here, type 4 included. Its provider has no
/// wallet and no nonce cache: the nonce is read from the node before each transaction. Do not
/// also send from this account through a provider with alloy's cached nonce manager.
pub struct RawSender {
    pub signer: PrivateKeySigner,
    pub provider: DynProvider,
    pub chain_id: u64,
}

impl RawSender {
    /// Dev account `index` of `node`.
    pub async fn new(node: &Devnet, index: usize) -> Self {
        let signer =
            PrivateKeySigner::from_bytes(&node.accounts[index].private_key).expect("dev key");
        let provider =
            ProviderBuilder::new().connect_http(node.http_url.parse().expect("url")).erased();
        let chain_id = provider.get_chain_id().await.expect("chain id");
        Self { signer, provider, chain_id }
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The account's next transaction nonce.
    pub async fn nonce(&self) -> u64 {
        self.provider.get_transaction_count(self.address()).await.expect("nonce")
    }

    /// This account's authorization to run `delegate`'s code (`Address::ZERO` clears the
    /// delegation), valid when the account's nonce is `nonce` as the authorization is applied.
    pub fn authorize(&self, delegate: Address, nonce: u64) -> SignedAuthorization {
        let auth = Authorization { chain_id: U256::from(self.chain_id), address: delegate, nonce };
        let signature = self.signer.sign_hash_sync(&auth.signature_hash()).expect("sign");
        auth.into_signed(signature)
    }

    /// Sends a type-4 transaction `to` with `input` and `value` carrying `authorizations`, and
    /// waits for a successful receipt. Gas is estimated first, with the authorizations, so a
    /// refusal comes back decoded (`RollupError::Contract` for the rollup's errors) and no
    /// nonce is taken.
    pub async fn send_7702(
        &self,
        to: Address,
        input: Bytes,
        value: U256,
        authorizations: Vec<SignedAuthorization>,
    ) -> Result<TransactionReceipt, RollupError> {
        let nonce = self.nonce().await;
        let request = TransactionRequest::default()
            .with_from(self.address())
            .with_to(to)
            .with_input(input.clone())
            .with_value(value)
            .with_nonce(nonce)
            .with_authorization_list(authorizations.clone());
        let gas = with_margin(self.provider.estimate_gas(request).await?);
        let price = self.provider.get_gas_price().await?;
        let priority = 1_000_000_000u128;
        let tx = TxEip7702 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: price * 2 + priority,
            max_priority_fee_per_gas: priority,
            to,
            value,
            access_list: Default::default(),
            authorization_list: authorizations,
            input,
        };
        let signature = self.signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
        let receipt = self
            .provider
            .send_raw_transaction(&raw)
            .await?
            .with_timeout(Some(WAIT))
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

    /// One self-sponsored type-4 transaction: the account delegates itself to `delegate` and
    /// calls itself with `input` and `value` (so `delegate`'s code runs with this account's
    /// storage and balance, and `msg.sender == tx.origin` wherever it calls). Checks that the
    /// delegation took effect (an authorization with a wrong nonce is skipped silently).
    pub async fn delegate_and_call(
        &self,
        delegate: Address,
        input: Bytes,
        value: U256,
    ) -> Result<TransactionReceipt, RollupError> {
        // The sender's nonce is bumped before the authorizations are applied.
        let auth = self.authorize(delegate, self.nonce().await + 1);
        let receipt = self.send_7702(self.address(), input, value, vec![auth]).await?;
        let code = self.provider.get_code_at(self.address()).await?;
        assert_eq!(code, delegation_code(delegate), "the account is delegated to {delegate}");
        Ok(receipt)
    }
}

/// A well-formed `propose` of other blocks than `real`'s, on the same parent and anchor: the
/// same block numbers, timestamps, gas limits and anchor, no transactions and another fee
/// recipient, with input commitments that match. The rollup would accept it on its own.
pub fn other_blocks(real: &NativeRollup::proposeCall) -> NativeRollup::proposeCall {
    let mut fake = real.clone();
    for (block, checkpoint) in fake.blocks.iter_mut().zip(fake.checkpoints.iter_mut()) {
        let mut inputs = BlockInputs::decode(block).expect("real block inputs");
        inputs.transactions.clear();
        inputs.fee_recipient = Address::repeat_byte(0xde);
        *block = inputs.encode().expect("encode").into();
        checkpoint.inputCommitment = keccak256(&block[..]);
        checkpoint.postStateRoot = B256::repeat_byte(0xde);
    }
    fake
}

/// The `BatchData` and `BatchProposed` logs `rollup` emitted in `receipt`; checks there is one
/// of each and that `BatchData` comes right before `BatchProposed`.
pub fn batch_logs(
    receipt: &TransactionReceipt,
    rollup: Address,
) -> (NativeRollup::BatchData, NativeRollup::BatchProposed) {
    let logs: Vec<_> = receipt.inner.logs().iter().filter(|log| log.address() == rollup).collect();
    let data: Vec<_> = logs
        .iter()
        .enumerate()
        .filter_map(|(i, log)| {
            NativeRollup::BatchData::decode_log_data(log.data()).ok().map(|d| (i, d))
        })
        .collect();
    let proposed: Vec<_> = logs
        .iter()
        .enumerate()
        .filter_map(|(i, log)| {
            NativeRollup::BatchProposed::decode_log_data(log.data()).ok().map(|p| (i, p))
        })
        .collect();
    assert_eq!((data.len(), proposed.len()), (1, 1), "one BatchData and one BatchProposed");
    let ((i, data), (j, proposed)) = (data[0].clone(), proposed[0].clone());
    assert_eq!(i + 1, j, "BatchData is emitted right before BatchProposed");
    (data, proposed)
}

/// The batch's logs carry exactly `call`'s blocks and checkpoints, under the proposed id, and
/// the logged checkpoints, chained from the batch's parent block (read from `store`, the
/// proposer's), give `BatchProposed`'s `checkpointsRoot` and `lastBlockHash`.
pub fn assert_logs_carry(
    data: &NativeRollup::BatchData,
    proposed: &NativeRollup::BatchProposed,
    call: &NativeRollup::proposeCall,
    store: &StateStore,
) {
    assert_eq!(data.batchId, proposed.batchId);
    assert_eq!(data.blocks, call.blocks, "BatchData carries the blocks the rollup received");
    assert_eq!(data.checkpoints, call.checkpoints, "and the checkpoints");
    assert_eq!(data.cuts, call.cuts, "and the cuts");
    let base = header(store, proposed.firstBlock - 1);
    let claimed: Vec<Checkpoint> =
        data.checkpoints.iter().map(|c| from_sol(c).expect("gas fits u64")).collect();
    let cuts = from_sol_cuts(&data.cuts, data.blocks.len()).expect("cuts in order");
    let headers = batch_headers(&base, &claimed);
    let leaves = batch_leaves(&headers, &cuts);
    assert_eq!(
        leaves_root(&leaves),
        proposed.checkpointsRoot,
        "the Merkle root of the logged checkpoints' and cuts' leaves is the proposal's checkpointsRoot"
    );
    assert_eq!(proposed.leafCount as usize, leaves.len(), "over the proposal's leaf count");
    let last = headers.last().map(L2Header::block_hash);
    assert_eq!(last, Some(proposed.lastBlockHash), "and they chain to its last block hash");
    assert_eq!(proposed.blockCount as usize, data.blocks.len());
}

/// The stored header of L2 block `number`.
pub fn header(store: &StateStore, number: u64) -> L2Header {
    stored_header(store, number).expect("read").expect("stored")
}

/// The `checkpointsRoot` the contract stores for `batch`, its parent block read from `store`.
pub fn root_of(store: &StateStore, batch: &PlannedBatch) -> B256 {
    let first = batch.blocks.first().expect("a batch has blocks").number;
    checkpoints_root(&header(store, first - 1), &batch.claimed, &batch.claimed_cuts)
}
