//! Admission: which raw transactions the pool takes, with geth's refusals (decoding, type,
//! chain id, nonce, intrinsic gas, fee cap under the base fee, funds).

use super::{Chain, Mining, SubmitError, now};
use alloy_consensus::{
    Transaction, TxEnvelope,
    transaction::{Recovered, SignerRecoverable},
};
use alloy_eips::eip2718::Decodable2718;
use alloy_evm::FromRecoveredTx;
use alloy_primitives::{B256, U256};
use revm::context::TxEnv;
use revm::primitives::hardfork::SpecId;

impl Chain {
    /// Admits a raw transaction into the pool (and mines it when automining).
    pub fn submit(&mut self, raw: &[u8]) -> Result<B256, SubmitError> {
        let mut buf = raw;
        let envelope = TxEnvelope::decode_2718(&mut buf)
            .map_err(|err| SubmitError::Decode(err.to_string()))?;
        if !buf.is_empty() {
            return Err(SubmitError::Decode(format!("{} trailing bytes", buf.len())));
        }
        if envelope.is_eip4844() {
            return Err(SubmitError::UnsupportedType(
                "blob transactions (type 3) are not supported by the dev L1".into(),
            ));
        }
        let hash = *envelope.tx_hash();
        if self.pool.contains(&hash) || self.tx_index.contains_key(&hash) {
            return Err(SubmitError::AlreadyKnown);
        }
        let tx =
            envelope.try_into_recovered().map_err(|err| SubmitError::Signature(err.to_string()))?;
        self.admit(&tx)?;
        if let Some(previous) = self.pool.at(&tx.signer(), tx.nonce()) {
            let old_fee = previous.tx.max_fee_per_gas();
            let old_tip = previous.tx.max_priority_fee_per_gas().unwrap_or(old_fee);
            let new_tip = tx.max_priority_fee_per_gas().unwrap_or(tx.max_fee_per_gas());
            // geth's default price bump: 10% on both the fee cap and the tip.
            if tx.max_fee_per_gas() * 100 < old_fee * 110 || new_tip * 100 < old_tip * 110 {
                return Err(SubmitError::ReplacementUnderpriced);
            }
        }
        let (sender, nonce) = (tx.signer(), tx.nonce());
        self.pool.insert(hash, tx);
        let state_nonce = self
            .store
            .account(&sender)
            .map_err(|e| SubmitError::Internal(e.into()))?
            .map_or(0, |a| a.nonce);
        // Automine mines when the transaction can run now; one with a nonce gap waits (as in
        // anvil) until the gap is filled.
        let ready = self.pool.pending_nonce(&sender, state_nonce) > nonce;
        if self.mining == Mining::Auto && ready {
            self.mine(None).map_err(SubmitError::Internal)?;
        }
        Ok(hash)
    }

    /// The stateless and state checks a transaction passes before it enters the pool.
    fn admit(&self, tx: &Recovered<TxEnvelope>) -> Result<(), SubmitError> {
        if let Some(have) = tx.chain_id()
            && have != self.config.chain_id
        {
            return Err(SubmitError::ChainId { have, want: self.config.chain_id });
        }
        let next = self.head().number() + 1;
        let spec = self.rules.spec_id(next, now().max(self.head().header.timestamp + 1));
        if tx.is_eip7702() && spec < SpecId::PRAGUE {
            return Err(SubmitError::UnsupportedType("EIP-7702 before Prague".into()));
        }
        if let Some(tip) = tx.max_priority_fee_per_gas()
            && tip > tx.max_fee_per_gas()
        {
            return Err(SubmitError::TipAboveFeeCap);
        }
        let gas = tx.gas_limit();
        if gas > self.config.gas_limit {
            return Err(SubmitError::GasLimit);
        }
        if spec >= SpecId::OSAKA && gas > alloy_eips::eip7825::MAX_TX_GAS_LIMIT_OSAKA {
            return Err(SubmitError::GasCap {
                gas,
                cap: alloy_eips::eip7825::MAX_TX_GAS_LIMIT_OSAKA,
            });
        }
        let tx_env = TxEnv::from_recovered_tx(tx.inner(), tx.signer());
        let initial =
            revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx(&tx_env, spec, None);
        let needed = if spec >= SpecId::PRAGUE {
            initial.initial_total_gas().max(initial.floor_gas)
        } else {
            initial.initial_total_gas()
        };
        if gas < needed {
            return Err(SubmitError::IntrinsicGas { gas, needed });
        }
        let base_fee = self.next_base_fee();
        if tx.max_fee_per_gas() < u128::from(base_fee) && !tx.is_legacy() {
            return Err(SubmitError::FeeCapTooLow { fee_cap: tx.max_fee_per_gas(), base_fee });
        }
        let sender = tx.signer();
        let account =
            self.store.account(&sender).map_err(|err| SubmitError::Internal(err.into()))?;
        let (state_nonce, balance) = account.map_or((0, U256::ZERO), |a| (a.nonce, a.balance));
        if tx.nonce() < state_nonce {
            return Err(SubmitError::NonceTooLow {
                address: sender,
                tx: tx.nonce(),
                state: state_nonce,
            });
        }
        let want = U256::from(gas)
            .saturating_mul(U256::from(tx.max_fee_per_gas()))
            .saturating_add(tx.value());
        if balance < want {
            return Err(SubmitError::InsufficientFunds { address: sender, have: balance, want });
        }
        Ok(())
    }
}
