//! `eth_signTransaction` for the dev accounts, as anvil answers it: the request names its
//! sender (`from`, one of the dev accounts) and every field of an EIP-1559 transaction; the
//! answer is the signed transaction, EIP-2718 encoded. Nothing is sent. This makes the dev L1
//! a remote signer for the challenger's tests, like any node that holds keys.

use super::DevAccount;
use alloy_consensus::{SignableTransaction, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::Bytes;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// Signs `request` with the dev account named by its `from`; `Err` says what is wrong with
/// the request.
pub fn sign_request(
    chain_id: u64,
    accounts: &[DevAccount],
    mut request: TransactionRequest,
) -> Result<Bytes, String> {
    let from = request.from.ok_or("the request has no `from`")?;
    let account = accounts
        .iter()
        .find(|a| a.address == from)
        .ok_or_else(|| format!("no key for {from} on this node"))?;
    match request.chain_id {
        Some(id) if id != chain_id => {
            return Err(format!("chain id {id}, but this node's is {chain_id}"));
        }
        Some(_) => {}
        None => request.chain_id = Some(chain_id),
    }
    if let Err(missing) = request.complete_1559() {
        return Err(format!("only complete EIP-1559 requests are signed; missing {missing:?}"));
    }
    let tx = request.build_1559().map_err(|e| e.to_string())?;
    let signer = PrivateKeySigner::from_bytes(&account.private_key).map_err(|e| e.to_string())?;
    let signature = signer.sign_hash_sync(&tx.signature_hash()).map_err(|e| e.to_string())?;
    Ok(TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into())
}
