//! The rules a chain executes under: its fork schedule, chain id and witness budget.
//!
//! The L2 runs the L1 EVM of one configured fork from genesis (default: the newest fork revm
//! supports that mainnet has activated); the conformance runner uses the schedule each
//! Ethereum test names, transitions included.

use super::forks::ForkSchedule;
use super::meter::TRACE_BUDGET;
use revm::primitives::hardfork::SpecId;

pub use crate::protocol::SEGMENT_GAS;

/// Most segments one L2 block may have (docs/protocol.md, "Segments"): with `SEGMENT_GAS` of
/// 7M, a 30M-gas block needs at least 5; the rest is room for segments the witness budget
/// ends early. The rollup contract takes at most `MAX_SEGMENTS_PER_BLOCK - 1` cuts per block.
pub const MAX_SEGMENTS_PER_BLOCK: u16 = 16;

/// How the STF cuts an L2 block into segments, each provable on its own (docs/protocol.md,
/// "Segments").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRules {
    /// Segments a block may have; the last one admitted runs to the end of the block.
    pub max_per_block: u16,
    /// Gas limits of the transactions one segment may execute, in total.
    pub gas: u64,
}

impl SegmentRules {
    /// The rollup's rules.
    pub const L2: Self = Self { max_per_block: MAX_SEGMENTS_PER_BLOCK, gas: SEGMENT_GAS };
}

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
    /// Protocol v2's witness budget: the bytes a chunk's user transactions may bring into its
    /// trace ([`super::meter`]). Every L2 chain has it ([`Self::new`] sets
    /// [`TRACE_BUDGET`]); Ethereum L1 (the conformance runner, the dev L1) has none.
    pub trace_budget: Option<u64>,
    /// How blocks are cut into segments; only chains with a witness budget have them.
    pub segments: Option<SegmentRules>,
}

impl ChainRules {
    /// The rules of an L2 chain: protocol v3, witness budget and segments included.
    pub fn new(chain_id: u64, schedule: ForkSchedule) -> Self {
        Self {
            chain_id,
            schedule,
            tx_gas_limit_cap: None,
            eip7610: false,
            trace_budget: Some(TRACE_BUDGET),
            segments: Some(SegmentRules::L2),
        }
    }

    /// The same rules without a witness budget: Ethereum L1's own block execution.
    pub fn without_trace_budget(mut self) -> Self {
        self.trace_budget = None;
        self.segments = None;
        self
    }

    /// The same rules with other segment rules (tests of segmentation itself).
    pub fn with_segments(mut self, segments: SegmentRules) -> Self {
        self.segments = Some(segments);
        self
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
