//! The rules a chain executes under: its fork schedule and chain id.
//!
//! The L2 runs the L1 EVM of one configured fork from genesis (default: the newest fork revm
//! supports that mainnet has activated); the conformance runner uses the schedule each
//! Ethereum test names, transitions included.

use super::forks::ForkSchedule;
use revm::primitives::hardfork::SpecId;

/// Fork schedule and chain id.
#[derive(Debug, Clone)]
pub struct ChainRules {
    pub chain_id: u64,
    pub schedule: ForkSchedule,
    /// Replaces the fork's per-transaction gas cap (EIP-7825 from Osaka). Only benchmarks of
    /// pre-Osaka workloads set it; a chain never does.
    pub tx_gas_limit_cap: Option<u64>,
}

impl ChainRules {
    pub fn new(chain_id: u64, schedule: ForkSchedule) -> Self {
        Self { chain_id, schedule, tx_gas_limit_cap: None }
    }

    /// The schedule, as alloy-evm's executor takes it.
    pub fn spec(&self) -> &ForkSchedule {
        &self.schedule
    }

    /// The revm spec of a block.
    pub fn spec_id(&self, number: u64, timestamp: u64) -> SpecId {
        self.schedule.spec_id(number, timestamp)
    }
}
