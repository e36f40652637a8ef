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
    /// EIP-7610's collision case revm lacks: a creation onto an account with storage (but no
    /// code and nonce 0) collides ([`super::eip7610`]). Only the conformance runner sets it;
    /// the L2 never does: its genesis refuses such accounts and none can arise later, so its
    /// execution stays on revm's own path, with no inspector and no extra state read.
    pub eip7610: bool,
}

impl ChainRules {
    pub fn new(chain_id: u64, schedule: ForkSchedule) -> Self {
        Self { chain_id, schedule, tx_gas_limit_cap: None, eip7610: false }
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
