//! The L1 side of a challenge: each block's EXECUTE call sent as a real signed transaction to
//! the embedded dev L1, and what it cost.
//!
//! Input: per challenge, the ABI call data and its EXECUTE charge. Output: per challenge, an
//! [`L1Cost`]: the call data's gas (standard and EIP-7623 floor), the documented total, the
//! signed transaction's size, and the outcome on the dev L1: `gasUsed` of the receipt and the
//! verdict `eth_call` returned, or the node's refusal when the transaction is over the
//! EIP-7825 per-transaction cap.

use crate::devnet::{Devnet, DevnetConfig};
use crate::precompile::DEFAULT_EXECUTE_ADDRESS;
use crate::protocol::decode_execute_output;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_network::TransactionBuilder;
use alloy_primitives::{Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use std::time::Duration;

/// EIP-7825: the most gas one transaction may use (Osaka).
pub const TX_GAS_CAP: u64 = 1 << 24;
/// The transaction size the public mempool accepts (geth's `txMaxSize`).
pub const MEMPOOL_TX_BYTES: usize = 128 * 1024;
/// Intrinsic gas of any transaction.
pub const TX_BASE_GAS: u64 = 21_000;

/// Zero and non-zero bytes of call data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Calldata {
    pub zeros: u64,
    pub nonzeros: u64,
}

impl Calldata {
    pub fn of(data: &[u8]) -> Self {
        let zeros = data.iter().filter(|b| **b == 0).count() as u64;
        Self { zeros, nonzeros: data.len() as u64 - zeros }
    }

    /// EIP-2028: 4 gas per zero byte, 16 per non-zero byte.
    pub fn standard_gas(&self) -> u64 {
        4 * self.zeros + 16 * self.nonzeros
    }

    /// EIP-7623 floor: 10 gas per token, a non-zero byte being 4 tokens.
    pub fn floor_gas(&self) -> u64 {
        10 * (self.zeros + 4 * self.nonzeros)
    }
}

/// Gas of a transaction that calls EXECUTE directly with `calldata`, charging `charge`:
/// `21,000 + max(calldata + charge, EIP-7623 floor)`.
pub fn expected_l1_gas(calldata: &Calldata, charge: u64) -> u64 {
    TX_BASE_GAS + (calldata.standard_gas() + charge).max(calldata.floor_gas())
}

/// What the dev L1 did with a challenge transaction.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum L1Outcome {
    /// Mined and successful: `gasUsed` of the receipt, and the verdict of `eth_call`.
    Mined { gas_used: u64, valid: bool },
    /// Refused at submission (the reason the node gave).
    Refused(String),
}

/// The L1 cost of one challenge.
#[derive(Debug, Clone, serde::Serialize)]
pub struct L1Cost {
    pub calldata: Calldata,
    /// [`expected_l1_gas`]; the transaction's gas limit.
    pub expected_gas: u64,
    /// Size of the signed transaction (EIP-2718 encoding).
    pub tx_bytes: usize,
    pub outcome: L1Outcome,
}

impl L1Cost {
    pub fn fits_gas_cap(&self) -> bool {
        self.expected_gas <= TX_GAS_CAP
    }

    pub fn fits_mempool(&self) -> bool {
        self.tx_bytes <= MEMPOOL_TX_BYTES
    }
}

/// One EXECUTE call to send.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub data: Vec<u8>,
    pub charge: u64,
}

/// Starts the dev L1 in-process, sends every challenge from its first dev account, stops it.
pub fn send_all(challenges: &[Challenge]) -> Result<Vec<L1Cost>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let config = DevnetConfig { listen: "127.0.0.1:0".parse()?, ..Default::default() };
        let node = Devnet::spawn(config).await.context("starting the dev L1")?;
        let costs = send_on(&node, challenges).await;
        node.stop().await;
        costs
    })
}

async fn send_on(node: &Devnet, challenges: &[Challenge]) -> Result<Vec<L1Cost>> {
    let account = node.accounts.first().context("the dev L1 has no account")?;
    let key = PrivateKeySigner::from_bytes(&account.private_key).context("dev key")?;
    let provider = ProviderBuilder::new().connect_http(node.http_url.parse()?);
    let mut nonce = provider.get_transaction_count(key.address()).await?;
    let mut costs = Vec::with_capacity(challenges.len());
    for challenge in challenges {
        let sender = Sender { provider: &provider, key: &key, chain_id: node.chain_id, nonce };
        let cost = sender.send(challenge).await?;
        if matches!(cost.outcome, L1Outcome::Mined { .. }) {
            nonce += 1;
        }
        costs.push(cost);
    }
    Ok(costs)
}

struct Sender<'a, P> {
    provider: &'a P,
    key: &'a PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
}

impl<P: Provider> Sender<'_, P> {
    /// Signs the challenge with exactly the documented gas and sends it: a transaction over
    /// the per-transaction cap must be refused by the node, any other must succeed.
    async fn send(&self, challenge: &Challenge) -> Result<L1Cost> {
        let calldata = Calldata::of(&challenge.data);
        let expected_gas = expected_l1_gas(&calldata, challenge.charge);
        let raw = self.sign(&challenge.data, expected_gas).await?;
        let outcome = if expected_gas <= TX_GAS_CAP {
            self.mine(&challenge.data, &raw, expected_gas).await?
        } else {
            match self.provider.send_raw_transaction(&raw).await {
                Ok(_) => bail!("the dev L1 accepted a transaction of {expected_gas} gas"),
                Err(err) => L1Outcome::Refused(err.to_string()),
            }
        };
        Ok(L1Cost { calldata, expected_gas, tx_bytes: raw.len(), outcome })
    }

    /// Checks the verdict with `eth_call`, then sends `raw` and waits for its receipt.
    async fn mine(&self, data: &[u8], raw: &[u8], gas: u64) -> Result<L1Outcome> {
        let valid = self.verdict(data, gas).await?;
        let receipt = self
            .provider
            .send_raw_transaction(raw)
            .await
            .context("sending the challenge")?
            .with_timeout(Some(Duration::from_secs(120)))
            .get_receipt()
            .await
            .context("waiting for the receipt")?;
        if !receipt.status() {
            bail!("the challenge transaction failed on the dev L1 (gas used {})", receipt.gas_used);
        }
        Ok(L1Outcome::Mined { gas_used: receipt.gas_used, valid })
    }

    /// The verdict the precompile returns, through `eth_call`.
    async fn verdict(&self, data: &[u8], gas: u64) -> Result<bool> {
        let request = TransactionRequest::default()
            .with_from(self.key.address())
            .with_to(DEFAULT_EXECUTE_ADDRESS)
            .with_input(Bytes::copy_from_slice(data))
            .with_gas_limit(gas);
        let output = self.provider.call(request).await.context("eth_call of EXECUTE")?;
        Ok(decode_execute_output(&output)?)
    }

    async fn sign(&self, data: &[u8], gas_limit: u64) -> Result<Vec<u8>> {
        let price = self.provider.get_gas_price().await?;
        let tip = 1_000_000_000u128;
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_limit,
            max_fee_per_gas: 2 * price + tip,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(DEFAULT_EXECUTE_ADDRESS),
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::copy_from_slice(data),
        };
        let signature = self.key.sign_hash_sync(&tx.signature_hash()).context("signing")?;
        Ok(TxEnvelope::from(tx.into_signed(signature)).encoded_2718())
    }
}
