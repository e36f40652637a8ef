//! A remote signer: the key stays in another process (a signing service in front of a vault
//! or an HSM, or a node that holds it), reached over JSON-RPC `eth_signTransaction`, the
//! method Web3Signer, Clef, geth and anvil answer.
//!
//! Input: a complete EIP-1559 transaction. Output: that transaction, signed. The answer is
//! never trusted: it must decode as an EIP-1559 transaction equal, field by field, to the one
//! asked for, and its signature must recover to the configured address. Otherwise signing
//! fails with the reason, and nothing is broadcast.

use alloy_consensus::{TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, Bytes, TxKind};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionInput, TransactionRequest};

/// Where the key is. See the module documentation.
#[derive(Debug, Clone)]
pub struct RemoteSigner {
    url: String,
    address: Address,
    client: DynProvider,
}

impl RemoteSigner {
    /// A signer at `url` (http or https) signing as `address`. Nothing is sent yet.
    pub fn new(url: &str, address: Address) -> Result<Self, String> {
        let parsed = url.parse().map_err(|e| format!("remote signer URL {url:?}: {e}"))?;
        let client = ProviderBuilder::new().connect_http(parsed).erased();
        Ok(Self { url: url.to_string(), address, client })
    }

    pub fn address(&self) -> Address {
        self.address
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Asks the signer which accounts it holds; `Err` when it does not hold ours (or does not
    /// answer), so a misconfiguration shows at start, not at the first challenge.
    pub async fn check(&self) -> Result<(), String> {
        let accounts: Vec<Address> = self
            .client
            .raw_request("eth_accounts".into(), ())
            .await
            .map_err(|e| format!("remote signer {}: eth_accounts: {e}", self.url))?;
        if accounts.contains(&self.address) {
            Ok(())
        } else {
            Err(format!("remote signer {} does not hold {}", self.url, self.address))
        }
    }

    /// Has `tx` signed, and checks the answer (see the module documentation).
    pub async fn sign(&self, tx: &TxEip1559) -> Result<TxEnvelope, String> {
        let TxKind::Call(to) = tx.to else {
            return Err("the remote signer signs calls only, not contract creations".into());
        };
        let request = TransactionRequest::default()
            .from(self.address)
            .to(to)
            .nonce(tx.nonce)
            .gas_limit(tx.gas_limit)
            .max_fee_per_gas(tx.max_fee_per_gas)
            .max_priority_fee_per_gas(tx.max_priority_fee_per_gas)
            .value(tx.value)
            .input(TransactionInput::both(tx.input.clone()))
            .transaction_type(2);
        let request = TransactionRequest { chain_id: Some(tx.chain_id), ..request };
        let answer: serde_json::Value = self
            .client
            .raw_request("eth_signTransaction".into(), (request,))
            .await
            .map_err(|e| format!("remote signer {}: {e}", self.url))?;
        let raw = raw_bytes(&answer)?;
        let envelope = TxEnvelope::decode_2718(&mut raw.as_ref())
            .map_err(|e| format!("remote signer answer does not decode: {e}"))?;
        let TxEnvelope::Eip1559(signed) = &envelope else {
            return Err(format!("remote signer answered a {:?} transaction", envelope.tx_type()));
        };
        if signed.tx() != tx {
            return Err(format!(
                "remote signer signed a different transaction: {}",
                first_difference(signed.tx(), tx)
            ));
        }
        let signer = signed
            .recover_signer()
            .map_err(|e| format!("remote signer signature does not recover: {e}"))?;
        if signer != self.address {
            return Err(format!("remote signer signed as {signer}, not {}", self.address));
        }
        Ok(envelope)
    }
}

/// The signed transaction of an answer: a hex string (anvil, Web3Signer) or an object with
/// `raw` (geth, Clef).
fn raw_bytes(answer: &serde_json::Value) -> Result<Bytes, String> {
    let text = match answer {
        serde_json::Value::String(s) => s.as_str(),
        serde_json::Value::Object(o) => o
            .get("raw")
            .and_then(|r| r.as_str())
            .ok_or("remote signer answered an object without `raw`")?,
        other => return Err(format!("remote signer answered {other}")),
    };
    text.parse().map_err(|e| format!("remote signer answer is not hex: {e}"))
}

fn first_difference(got: &TxEip1559, want: &TxEip1559) -> &'static str {
    let checks = [
        (got.chain_id == want.chain_id, "chain id"),
        (got.nonce == want.nonce, "nonce"),
        (got.gas_limit == want.gas_limit, "gas limit"),
        (got.max_fee_per_gas == want.max_fee_per_gas, "max fee"),
        (got.max_priority_fee_per_gas == want.max_priority_fee_per_gas, "tip"),
        (got.to == want.to, "recipient"),
        (got.value == want.value, "value"),
        (got.input == want.input, "data"),
    ];
    checks.iter().find(|(same, _)| !same).map_or("access list", |(_, name)| name)
}
