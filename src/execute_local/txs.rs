//! Turning transaction bytes into [`PreparedTx`]: decode, recover the sender, apply the
//! chain's admission rule.
//!
//! Ethereum L1 accepts every EIP-2718 type the fork knows. The L2 additionally refuses blob
//! transactions (type 3): their blobs are not part of the L2 block inputs, so they cannot be
//! executed the same way by everyone (docs/protocol.md). A refusal is a [`TxRejection`], which
//! the L2's [`InvalidTxPolicy::Skip`](super::block::InvalidTxPolicy) turns into a skipped
//! transaction, never into an error.

use super::block::{PreparedTx, TxRejection};
use alloy_consensus::{TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::{Decodable2718, Typed2718};

/// EIP-4844 blob transactions' type byte.
pub const BLOB_TX_TYPE: u8 = 3;

/// Recovers the sender (signatures with a high `s` are refused, as since Homestead).
pub fn prepare_envelope(tx: TxEnvelope) -> PreparedTx {
    tx.try_into_recovered().map_err(|err| TxRejection::BadSignature { reason: err.to_string() })
}

/// An L2 transaction from its raw bytes: strict EIP-2718 decoding (nothing trailing), sender
/// recovery, and no blob transactions.
pub fn prepare_l2_tx(raw: &[u8]) -> PreparedTx {
    let tx = TxEnvelope::decode_2718_exact(raw)
        .map_err(|err| TxRejection::Undecodable { reason: err.to_string() })?;
    if tx.ty() == BLOB_TX_TYPE {
        return Err(TxRejection::DisallowedType { tx_type: BLOB_TX_TYPE });
    }
    prepare_envelope(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_undecodable_not_a_panic() {
        for raw in [&[][..], &[0x02][..], &[0xff, 0x00], &[0xc0]] {
            assert!(matches!(prepare_l2_tx(raw), Err(TxRejection::Undecodable { .. })), "{raw:?}");
        }
    }
}
