//! Calls: `eth_call` and `eth_estimateGas` on the state after any block, under that block's
//! environment, with geth's wording for what cannot run.

use super::{CallError, Chain};
use crate::devnet::DevnetError;
use crate::execute_local::block::BlockEnvInput;
use crate::precompile::{ExecuteMeter, ExecutePrecompile};
use alloy_evm::{Evm, EvmFactory, eth::EthEvmFactory, rpc::TryIntoTxEnv};
use alloy_rpc_types_eth::TransactionRequest;
use revm::context::TxEnv;
use revm::context_interface::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction};
use revm::database::State;
use revm::primitives::hardfork::SpecId;

impl Chain {
    /// Runs a call on the state after block `number`, under that block's environment.
    pub fn call(
        &self,
        request: &TransactionRequest,
        number: u64,
    ) -> Result<ExecutionResult<HaltReason>, CallError> {
        let block = self
            .block(number)
            .ok_or_else(|| CallError::Invalid(format!("unknown block {number}")))?;
        let view = self.state_at(number)?;
        let header = &block.header;
        let env = BlockEnvInput::from_header(header, None);
        let mut evm_env = crate::execute_local::block::evm_env(&self.rules, &env);
        evm_env.cfg_env.disable_nonce_check = true;
        let no_fee = request.gas_price.is_none() && request.max_fee_per_gas.is_none();
        if no_fee {
            evm_env.cfg_env.disable_base_fee = true;
        }
        let cap = evm_env.cfg_env.tx_gas_limit_cap.unwrap_or(u64::MAX).min(self.config.gas_limit);
        let mut request = request.clone();
        if request.gas.is_none() {
            let spec = self.rules.spec_id(header.number, header.timestamp);
            let cap = if spec >= SpecId::OSAKA {
                cap.min(alloy_eips::eip7825::MAX_TX_GAS_LIMIT_OSAKA)
            } else {
                cap
            };
            request.gas = Some(cap);
        }
        let tx_env: TxEnv =
            request.try_into_tx_env(&evm_env).map_err(|err| CallError::Invalid(err.to_string()))?;
        let db = State::builder().with_database(view.db()).build();
        let mut evm = EthEvmFactory::default().create_evm(db, evm_env);
        ExecutePrecompile::new(self.execute.clone(), ExecuteMeter::unlimited())
            .install(evm.precompiles_mut());
        match evm.transact(tx_env) {
            Ok(result) => Ok(result.result),
            Err(EVMError::Transaction(invalid)) => {
                Err(CallError::Invalid(invalid_message(&invalid)))
            }
            Err(err) => Err(CallError::Internal(DevnetError::Build(err.to_string()))),
        }
    }

    /// The least gas limit with which the call succeeds.
    pub fn estimate_gas(
        &self,
        request: &TransactionRequest,
        number: u64,
    ) -> Result<u64, CallError> {
        let run = |gas: u64| {
            let mut req = request.clone();
            req.gas = Some(gas);
            self.call(&req, number)
        };
        let spec = self.rules.spec_id(number, self.head().header.timestamp);
        let mut hi = request.gas.unwrap_or(self.config.gas_limit);
        if spec >= SpecId::OSAKA {
            hi = hi.min(alloy_eips::eip7825::MAX_TX_GAS_LIMIT_OSAKA);
        }
        let used = match run(hi)? {
            ExecutionResult::Success { gas, .. } => gas.tx_gas_used(),
            ExecutionResult::Revert { output, .. } => return Err(CallError::Reverted { output }),
            ExecutionResult::Halt { reason, .. } => {
                return Err(CallError::Halted(halt_message(&reason, hi)));
            }
        };
        let succeeds = |gas: u64| -> Result<bool, CallError> {
            match run(gas) {
                Ok(ExecutionResult::Success { .. }) => Ok(true),
                Ok(_) => Ok(false),
                Err(CallError::Invalid(_)) => Ok(false),
                Err(err) => Err(err),
            }
        };
        let mut lo = used.saturating_sub(1);
        // Most calls need little more than they use (the 63/64 rule, refunds): try that first.
        let guess = used.saturating_mul(64) / 63 + 2_300;
        if guess < hi && succeeds(guess)? {
            hi = guess;
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if succeeds(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }
}

/// geth's wording for transactions a call cannot run.
pub fn invalid_message(invalid: &InvalidTransaction) -> String {
    match invalid {
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: have {balance} want {fee}")
        }
        InvalidTransaction::CallGasCostMoreThanGasLimit { initial_gas, gas_limit } => {
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".into()
        }
        other => other.to_string(),
    }
}

/// geth's wording for halts.
pub fn halt_message(reason: &HaltReason, gas: u64) -> String {
    match reason {
        HaltReason::OutOfGas(_) => format!("gas required exceeds allowance ({gas})"),
        other => format!("{other:?}"),
    }
}
