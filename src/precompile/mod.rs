//! The EXECUTE precompile, as a revm precompile any revm-based client can install.
//!
//! Input: the call data `abi.encode(pre_state_root, post_state_root, trace, gas_used)` and the
//! gas the caller forwarded. Output (docs/protocol.md, "EXECUTE input, output and gas"):
//! - one word, 1 or 0: the verdict, when the trace is well formed and its witness sound and
//!   complete; the call consumes exactly the charge;
//! - a revert whose data is a UTF-8 reason, when the call data or the trace is malformed, the
//!   witness incomplete, or the L1 block's cumulative EXECUTE budget is spent; the call
//!   consumes the charge and never yields a verdict;
//! - out of gas (all forwarded gas consumed) when the caller forwarded less than the charge.
//!
//! The charge is computed from the call data's framing alone, before any hashing or
//! execution, and bounds the work: `EXECUTE_BASE_GAS + Σ blocks' gas_limit +
//! EXECUTE_GAS_PER_TX × Σ blocks' tx_count + EXECUTE_GAS_PER_TRACE_BYTE × trace length`
//! ([`crate::protocol::execute_gas_cost`]). The
//! verdict comes from [`crate::execute_local::execute::verdict`], the code the challenger's
//! pre-submit self-check runs.
//!
//! One precompile serves every rollup on the L1: each trace runs under the chain id it names
//! (the rollup contract checks that id against its own) and under the configured L2 fork
//! schedule, which follows the L1's.

use crate::execute_local::chain::ChainRules;
use crate::execute_local::execute::{ExecuteError, verdict};
use crate::execute_local::forks::ForkSchedule;
use crate::protocol::{
    EXECUTE_BASE_GAS, EXECUTE_GAS_PER_TRACE_BYTE, ExecuteCall, ProtocolError, Trace,
    encode_execute_output,
};
use alloy_evm::precompiles::{DynPrecompile, PrecompileInput, PrecompilesMap};
use alloy_primitives::{Address, Bytes, address};
use revm::precompile::{PrecompileHalt, PrecompileId, PrecompileOutput};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Where the dev L1 installs EXECUTE unless configured otherwise: the first address after the
/// range Ethereum's own precompiles use (0x01..=0x11, 0x100 for P256VERIFY), as in
/// lambdaclass/ethrex's proof of concept.
pub const DEFAULT_EXECUTE_ADDRESS: Address = address!("0x0000000000000000000000000000000000000101");

/// Default cumulative EXECUTE gas per L1 block: enough for one challenge at the EIP-7825
/// per-transaction cap (2^24) and a second one of the same size.
pub const DEFAULT_EXECUTE_BLOCK_GAS_LIMIT: u64 = 2 << 24;

/// How EXECUTE is set up on an L1.
#[derive(Debug, Clone)]
pub struct ExecuteConfig {
    /// The precompile's address.
    pub address: Address,
    /// The fork schedule L2 blocks run under (the L2 follows the L1's EVM).
    pub l2_schedule: ForkSchedule,
    /// Cumulative EXECUTE gas one L1 block may charge; the block builder defers transactions
    /// that would go over it.
    pub block_gas_limit: u64,
}

/// The cumulative EXECUTE gas charged in one L1 block, shared between the precompile and the
/// block builder. A fresh meter per block; [`ExecuteMeter::unlimited`] for `eth_call`.
#[derive(Debug, Clone)]
pub struct ExecuteMeter {
    inner: Arc<MeterState>,
}

#[derive(Debug)]
struct MeterState {
    limit: u64,
    used: AtomicU64,
    refused: AtomicBool,
}

/// The meter's position before a transaction, to undo that transaction's charges if the
/// builder leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterMark {
    used: u64,
}

impl MeterMark {
    /// EXECUTE gas the block had charged before the transaction.
    pub fn used(&self) -> u64 {
        self.used
    }
}

impl ExecuteMeter {
    pub fn new(limit: u64) -> Self {
        Self {
            inner: Arc::new(MeterState {
                limit,
                used: AtomicU64::new(0),
                refused: AtomicBool::new(false),
            }),
        }
    }

    /// A meter without a cumulative limit (calls that build no block).
    pub fn unlimited() -> Self {
        Self::new(u64::MAX)
    }

    pub fn limit(&self) -> u64 {
        self.inner.limit
    }

    /// EXECUTE gas charged so far in this block.
    pub fn used(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// Marks the start of a transaction and clears the "refused" flag.
    pub fn mark(&self) -> MeterMark {
        self.inner.refused.store(false, Ordering::Relaxed);
        MeterMark { used: self.used() }
    }

    /// Whether a call since the last [`ExecuteMeter::mark`] was refused for lack of budget.
    pub fn refused_since_mark(&self) -> bool {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// Undoes the charges made since `mark` (the transaction was left out of the block).
    pub fn rollback(&self, mark: MeterMark) {
        self.inner.used.store(mark.used, Ordering::Relaxed);
        self.inner.refused.store(false, Ordering::Relaxed);
    }

    /// Charges `cost` if the block's budget allows it.
    fn try_charge(&self, cost: u64) -> bool {
        let used = self.used();
        match used.checked_add(cost) {
            Some(total) if total <= self.inner.limit => {
                self.inner.used.store(total, Ordering::Relaxed);
                true
            }
            _ => {
                self.inner.refused.store(true, Ordering::Relaxed);
                false
            }
        }
    }
}

/// What one EXECUTE call comes to, before it is turned into EVM terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The verdict, charging `gas`.
    Verdict { valid: bool, gas: u64 },
    /// The call fails (reverts) charging `gas`: nothing is proven.
    Failed { gas: u64, reason: String },
    /// The caller forwarded less than the charge.
    OutOfGas { needed: u64 },
}

/// The EXECUTE precompile bound to one block's meter.
#[derive(Debug, Clone)]
pub struct ExecutePrecompile {
    config: ExecuteConfig,
    meter: ExecuteMeter,
}

impl ExecutePrecompile {
    pub fn new(config: ExecuteConfig, meter: ExecuteMeter) -> Self {
        Self { config, meter }
    }

    pub fn address(&self) -> Address {
        self.config.address
    }

    /// Adds EXECUTE to an EVM's precompiles (replacing whatever sits at its address).
    pub fn install(&self, precompiles: &mut PrecompilesMap) {
        let this = self.clone();
        precompiles.apply_precompile(&self.config.address, move |_| {
            Some(DynPrecompile::new_stateful(PrecompileId::custom("EXECUTE"), move |input| {
                Ok(this.call(&input))
            }))
        });
    }

    /// Runs one call as the EVM sees it.
    pub fn call(&self, input: &PrecompileInput<'_>) -> PrecompileOutput {
        match self.answer(input.data, input.gas) {
            Answer::Verdict { valid, gas } => PrecompileOutput::new(
                gas,
                Bytes::copy_from_slice(&encode_execute_output(valid)),
                input.reservoir,
            ),
            Answer::Failed { gas, reason } => {
                PrecompileOutput::revert(gas, Bytes::from(reason.into_bytes()), input.reservoir)
            }
            Answer::OutOfGas { .. } => {
                PrecompileOutput::halt(PrecompileHalt::OutOfGas, input.reservoir)
            }
        }
    }

    /// The call's outcome in protocol terms. Never panics, whatever `data` holds.
    pub fn answer(&self, data: &[u8], gas_limit: u64) -> Answer {
        let call = match ExecuteCall::abi_decode(data) {
            Ok(call) => call,
            Err(err) => return self.fail_unframed(data, gas_limit, "call data", &err),
        };
        let cost = match call.gas_cost() {
            Ok(cost) => cost,
            Err(err) => return self.fail_unframed(data, gas_limit, "trace framing", &err),
        };
        if gas_limit < cost {
            return Answer::OutOfGas { needed: cost };
        }
        if !self.meter.try_charge(cost) {
            return Answer::Failed {
                gas: cost,
                reason: format!(
                    "EXECUTE: the L1 block's EXECUTE gas budget is spent ({} of {} used, this \
                     call needs {cost})",
                    self.meter.used(),
                    self.meter.limit()
                ),
            };
        }
        match self.evaluate(&call) {
            Ok(valid) => Answer::Verdict { valid, gas: cost },
            Err(err) => Answer::Failed { gas: cost, reason: format!("EXECUTE: {err}") },
        }
    }

    fn evaluate(&self, call: &ExecuteCall) -> Result<bool, ExecuteError> {
        let trace = Trace::decode(&call.trace)?;
        let rules = ChainRules::new(trace.chain_id, self.config.l2_schedule.clone());
        verdict(&rules, call, &trace)
    }

    /// A call whose charge cannot be read from its framing still pays for its bytes.
    fn fail_unframed(
        &self,
        data: &[u8],
        gas_limit: u64,
        what: &str,
        err: &ProtocolError,
    ) -> Answer {
        let gas = unframed_charge(data.len());
        if gas_limit < gas {
            return Answer::OutOfGas { needed: gas };
        }
        Answer::Failed { gas, reason: format!("EXECUTE: malformed {what}: {err}") }
    }
}

/// The charge for call data whose trace framing cannot be read:
/// `EXECUTE_BASE_GAS + EXECUTE_GAS_PER_TRACE_BYTE × call data length`, saturating.
pub fn unframed_charge(len: usize) -> u64 {
    u64::try_from(len)
        .unwrap_or(u64::MAX)
        .saturating_mul(EXECUTE_GAS_PER_TRACE_BYTE)
        .saturating_add(EXECUTE_BASE_GAS)
}
