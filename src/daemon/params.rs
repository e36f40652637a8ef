//! Deployment parameters checked against each other before the daemon challenges anything.
//!
//! Input: the contract's `CHALLENGE_WINDOW` (L1 blocks), the configured confirmations (the
//! watcher's, or the node's finalized lag, and the challenger's own), the fee-bump interval,
//! L1's block time measured over recent blocks, and the contract's `MAX_L2_GAS_LIMIT` against
//! the EXECUTE budget and the per-transaction gas cap. Output: an error when no challenge can
//! land inside the window even on an idle L1, or when a full block's challenge cannot fit one
//! L1 block's EXECUTE budget or one transaction; warnings when the slack left for delays
//! (hostile builders, stuffed blocks, a spent EXECUTE budget) is thin. The arithmetic is in
//! docs/protocol.md ("How long a challenge can be delayed").

use crate::bisect::{Budgets, TX_GAS_CAP};
use crate::config::Config;
use crate::protocol::{
    EXECUTE_BASE_GAS, EXECUTE_GAS_PER_TRACE_BYTE, EXECUTE_GAS_PER_TX, MAX_TXS_PER_BLOCK,
};
use alloy_provider::{DynProvider, Provider};
use alloy_rpc_types_eth::BlockNumberOrTag;
use std::time::Duration;

const TARGET: &str = "native_challenger::daemon";
/// Blocks over which L1's block time is measured.
const SAMPLE_BLOCKS: u64 = 32;
/// Slack, in L1 blocks beyond the minimum, below which the daemon warns. docs/protocol.md
/// works out that stuffing 124 consecutive 60M-gas blocks under EIP-1559 costs about a
/// million ETH, and that the base fee then needs about as many blocks to fall back under the
/// challenger's fee cap: a window with less slack than twice that leaves a lie an affordable
/// way to outwait us.
pub const RECOMMENDED_SLACK: u64 = 256;
/// Fee bumps that should fit in the slack (from 1x to ~2x the first fee at +15% each).
pub const MIN_BUMPS: u32 = 5;

/// Why the parameters cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error(
        "CHALLENGE_WINDOW is {window} L1 blocks, but a challenge needs at least {needed}: {watch} to confirm the proposal, 1 to include the commitment, {tx} to confirm it, 1 to include the reveal; lower [l1] confirmations or [challenger] confirmations, or deploy with a longer window"
    )]
    WindowTooShort { window: u64, needed: u64, watch: u64, tx: u64 },
    #[error(
        "a challenge of a full block needs an EXECUTE charge of up to {charge} gas (MAX_L2_GAS_LIMIT {max_l2_gas_limit} + {EXECUTE_BASE_GAS} + {EXECUTE_GAS_PER_TX} per transaction of {MAX_TXS_PER_BLOCK} + {EXECUTE_GAS_PER_TRACE_BYTE} per byte of a {max_tx_size}-byte transaction), over the {limit} gas an L1 block or transaction allows"
    )]
    ExecuteBudget { charge: u64, max_l2_gas_limit: u64, max_tx_size: usize, limit: u64 },
    #[error("reading L1 for the parameter check: {0}")]
    L1(String),
}

/// The timing a challenge lives under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `CHALLENGE_WINDOW`, L1 blocks.
    pub window: u64,
    /// Blocks the watcher waits before acting on a proposal.
    pub watch_depth: u64,
    /// Confirmations of the challenger's own transactions.
    pub tx_confirmations: u64,
    pub resubmit_after: Duration,
    /// L1's measured block time (zero when it could not be measured: an idle dev chain).
    pub block_time: Duration,
    /// The contract's `MAX_L2_GAS_LIMIT` and the budgets a challenge must fit.
    pub max_l2_gas_limit: u64,
    pub budgets: Budgets,
}

impl Timing {
    /// Reads the finalized lag (when the watcher follows finalized blocks) and the block time
    /// from L1.
    pub async fn read(
        provider: &DynProvider,
        config: &Config,
        window: u64,
        max_l2_gas_limit: u64,
        budgets: Budgets,
    ) -> Result<Self, ParamError> {
        let l1 = config.l1().map_err(|e| ParamError::L1(e.to_string()))?;
        let head = block(provider, BlockNumberOrTag::Latest).await?;
        let watch_depth = if l1.finalized {
            let finalized = block(provider, BlockNumberOrTag::Finalized).await?;
            head.0.saturating_sub(finalized.0)
        } else {
            l1.confirmations
        };
        let earlier = block(provider, head.0.saturating_sub(SAMPLE_BLOCKS).into()).await?;
        let blocks = head.0 - earlier.0;
        let block_time = if blocks == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(head.1.saturating_sub(earlier.1) as f64 / blocks as f64)
        };
        Ok(Self {
            window,
            watch_depth,
            tx_confirmations: config.challenger.confirmations,
            resubmit_after: Duration::from_secs(config.challenger.resubmit_after_secs),
            block_time,
            max_l2_gas_limit,
            budgets,
        })
    }

    /// The fewest L1 blocks from a proposal to its conviction on an idle L1.
    pub fn needed(&self) -> u64 {
        self.watch_depth + 1 + self.tx_confirmations + 1
    }

    /// Blocks of delay the window absorbs beyond the minimum.
    pub fn slack(&self) -> u64 {
        self.window.saturating_sub(self.needed())
    }

    /// The largest EXECUTE charge of a challenge the contract can make necessary: a segment
    /// of a block at `MAX_L2_GAS_LIMIT` (charged at most `SEGMENT_GAS`) with a trace as large
    /// as the transaction may be.
    pub fn worst_execute_charge(&self) -> u64 {
        let trace = u64::try_from(self.budgets.max_tx_size).unwrap_or(u64::MAX);
        EXECUTE_BASE_GAS
            .saturating_add(self.max_l2_gas_limit.min(crate::protocol::SEGMENT_GAS))
            .saturating_add(u64::from(MAX_TXS_PER_BLOCK) * EXECUTE_GAS_PER_TX)
            .saturating_add(trace.saturating_mul(EXECUTE_GAS_PER_TRACE_BYTE))
    }

    /// `Err` when no challenge can land in the window, or a full block's cannot fit L1's
    /// EXECUTE budget or gas cap; the warnings otherwise.
    pub fn check(&self) -> Result<Vec<String>, ParamError> {
        let limit = self.budgets.execute_block_gas.min(self.budgets.tx_gas_cap).min(TX_GAS_CAP);
        if self.worst_execute_charge() > limit {
            return Err(ParamError::ExecuteBudget {
                charge: self.worst_execute_charge(),
                max_l2_gas_limit: self.max_l2_gas_limit,
                max_tx_size: self.budgets.max_tx_size,
                limit,
            });
        }
        if self.window < self.needed() {
            return Err(ParamError::WindowTooShort {
                window: self.window,
                needed: self.needed(),
                watch: self.watch_depth,
                tx: self.tx_confirmations,
            });
        }
        let mut warnings = Vec::new();
        if self.slack() < RECOMMENDED_SLACK {
            warnings.push(format!(
                "CHALLENGE_WINDOW leaves {} L1 blocks of slack for delays (stuffed blocks, hostile builders, a spent EXECUTE budget); at least {RECOMMENDED_SLACK} are recommended (docs/protocol.md)",
                self.slack()
            ));
        }
        let slack_time = self.block_time * u32::try_from(self.slack()).unwrap_or(u32::MAX);
        if !self.block_time.is_zero() && slack_time < self.resubmit_after * MIN_BUMPS {
            warnings.push(format!(
                "only {:?} of slack at {:?} per L1 block: fewer than {MIN_BUMPS} fee bumps every {:?} fit; lower [challenger] resubmit_after_secs",
                slack_time, self.block_time, self.resubmit_after
            ));
        }
        for warning in &warnings {
            tracing::warn!(target: TARGET, window = self.window, needed = self.needed(), "{warning}");
        }
        Ok(warnings)
    }
}

/// A block's number and timestamp.
async fn block(provider: &DynProvider, tag: BlockNumberOrTag) -> Result<(u64, u64), ParamError> {
    let block = provider
        .get_block_by_number(tag)
        .await
        .map_err(|e| ParamError::L1(e.to_string()))?
        .ok_or_else(|| ParamError::L1(format!("no {tag} block")))?;
    Ok((block.header.number, block.header.timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(window: u64) -> Timing {
        Timing {
            window,
            watch_depth: 2,
            tx_confirmations: 3,
            resubmit_after: Duration::from_secs(24),
            block_time: Duration::from_secs(12),
            max_l2_gas_limit: 1_000_000,
            budgets: Budgets::default(),
        }
    }

    #[test]
    fn a_window_shorter_than_one_challenge_is_refused_with_its_numbers() {
        // 2 to confirm the proposal + 1 commit + 3 confirmations + 1 reveal = 7.
        assert_eq!(timing(7).needed(), 7);
        let err = timing(6).check().expect_err("too short");
        assert_eq!(err, ParamError::WindowTooShort { window: 6, needed: 7, watch: 2, tx: 3 });
        assert!(err.to_string().contains("at least 7"), "{err}");
        assert!(timing(7).check().is_ok());
    }

    #[test]
    fn thin_slack_and_slow_bumps_are_warned_about() {
        let warnings = timing(20).check().expect("possible");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("13 L1 blocks of slack"), "{warnings:?}");
        // 13 blocks x 12 s = 156 s of slack holds 6 bumps of 24 s; at 60 s only 2.
        let slow = Timing { resubmit_after: Duration::from_secs(60), ..timing(20) };
        assert_eq!(slow.check().expect("possible").len(), 2);
        let production = timing(50_400);
        assert!(production.check().expect("possible").is_empty());
    }

    #[test]
    fn a_block_gas_limit_is_charged_one_segment_and_a_tight_cap_is_refused() {
        // 100,000 + 1M + 5,000 x 1,024 transactions + 4 x 131,072: well inside 2^24 and the
        // 2 x 2^24 EXECUTE budget.
        assert_eq!(timing(50_400).worst_execute_charge(), 6_744_288);
        // A 30M block is charged one segment's 7M, whatever its gas limit.
        let full = Timing { max_l2_gas_limit: 30_000_000, ..timing(50_400) };
        assert_eq!(full.worst_execute_charge(), 12_744_288);
        let larger = Timing { max_l2_gas_limit: 200_000_000, ..timing(50_400) };
        assert_eq!(larger.worst_execute_charge(), 12_744_288);
        assert!(full.check().is_ok());
        // A per-transaction cap below what a segment's challenge needs is refused.
        let tight =
            Timing { budgets: Budgets { tx_gas_cap: 12_000_000, ..Budgets::default() }, ..full };
        match tight.check() {
            Err(ParamError::ExecuteBudget { charge, limit, .. }) => {
                assert_eq!(charge, 12_744_288);
                assert_eq!(limit, 12_000_000);
            }
            other => panic!("expected the budget refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_unmeasured_block_time_warns_only_about_the_slack() {
        let idle = Timing { block_time: Duration::ZERO, ..timing(20) };
        assert_eq!(idle.check().expect("possible").len(), 1);
    }
}
