//! One segment of a block (docs/protocol.md, "Segments"): where it starts, the rule that ends
//! it, and its execution on a [`BlockRun`]. The block-execution engine is [`super::block`];
//! running a block segment by segment over a store is [`super::segments`].

use super::block::{
    BlockEnvInput, BlockOutcome, BlockRun, ExecError, InvalidTxPolicy, PreparedTx, TxOutcome,
    TxRejection, settle,
};
use super::chain::ChainRules;
use super::fault::FaultSlot;
use alloy_consensus::Transaction;
use revm::database::State;

/// Where a segment starts in its block (docs/protocol.md, "Segments").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentStart {
    /// Position of the segment in its block, from 0.
    pub index: u16,
    /// The first transaction the segment considers: where the previous segment ended.
    pub start_tx: u32,
    /// Gas the block's earlier segments used.
    pub gas_before: u64,
}

impl SegmentStart {
    /// A block's first segment.
    pub const FIRST: Self = Self { index: 0, start_tx: 0, gas_before: 0 };
}

/// How a segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEnd {
    /// The first transaction the segment did not consider (the block's transaction count
    /// when the segment ended the block).
    pub end_tx: u32,
    /// Gas the block used up to the end of this segment (earlier segments included).
    pub gas_used: u64,
    /// Whether this segment ended the block (its epilogue ran).
    pub last: bool,
}

/// Executes one segment of a block on `state`: the prologue if it is the block's first, its
/// transactions from `start.start_tx` until the segment rules end it, and the epilogue if it
/// reaches the end of the block. See docs/protocol.md, "Segments", for the rules; on chains
/// without segment rules the segment is the whole block.
pub fn execute_segment<DB>(
    rules: &ChainRules,
    env: &BlockEnvInput,
    txs: &[PreparedTx],
    policy: InvalidTxPolicy,
    state: &mut State<DB>,
    start: SegmentStart,
) -> Result<(BlockOutcome, SegmentEnd), ExecError>
where
    DB: FaultSlot,
{
    check_start(rules, env, txs.len(), start)?;
    let segments = rules.segments;
    // The last segment a block may have runs to the end of the block, as a v2 block did.
    let last_admitted = segments.is_none_or(|s| start.index.saturating_add(1) >= s.max_per_block);
    // What a segment may run: `SEGMENT_GAS` of gas limits, or the block's gas limit if lower,
    // which is what EXECUTE charges for it (`min(gas_limit, SEGMENT_GAS)`); refunds cannot
    // stretch it, as they can stretch a block's gas (the block checks gas used, not limits).
    let capacity = segments.map(|s| s.gas.min(env.gas_limit));
    let first_tx = start.start_tx as usize;
    let mut run = BlockRun::begin_segment(rules, env, &mut *state, start, |_| {})?;
    let mut spent = 0u64;
    let mut committed_any = false;
    let mut end = txs.len();
    for (index, tx) in txs.iter().enumerate().skip(first_tx) {
        let rejection = match tx {
            Err(rejection) => Some(rejection.clone()),
            Ok(tx) => {
                // The segment's gas works as a block's: a transaction's gas limit must fit in
                // what the segment's earlier transactions left of it.
                let gas_limit = tx.gas_limit();
                let room = capacity.map(|cap| (cap, cap.saturating_sub(spent)));
                match room {
                    Some((cap, room)) if gas_limit > cap || (gas_limit > room && last_admitted) => {
                        Some(TxRejection::SegmentGas { gas_limit, room })
                    }
                    Some((_, room)) if gas_limit > room => {
                        end = index;
                        break;
                    }
                    _ => match run.transact(tx, |_| true)? {
                        // A transaction that ran (committed, or stopped by the witness budget)
                        // takes its whole gas limit from the segment: the segment's execution
                        // is then bounded by `SEGMENT_GAS` whatever refunds give back, which
                        // is what EXECUTE charges for it.
                        TxOutcome::Committed { .. } | TxOutcome::Discarded => {
                            spent = spent.saturating_add(gas_limit);
                            committed_any = true;
                            None
                        }
                        TxOutcome::Rejected(rejection @ TxRejection::WitnessBudget { .. })
                            if !last_admitted =>
                        {
                            // The budget ends the segment: before this transaction, which
                            // the next segment runs afresh, or after it when it was the
                            // segment's first and can never fit.
                            if committed_any {
                                end = index;
                            } else {
                                run.skipped.push((index, rejection));
                                end = index + 1;
                            }
                            break;
                        }
                        TxOutcome::Rejected(rejection) => {
                            if matches!(rejection, TxRejection::WitnessBudget { .. }) {
                                spent = spent.saturating_add(gas_limit);
                            }
                            Some(rejection)
                        }
                    },
                }
            }
        };
        if let Some(rejection) = rejection {
            match policy {
                InvalidTxPolicy::Skip => run.skipped.push((index, rejection)),
                InvalidTxPolicy::RejectBlock => {
                    return Err(ExecError::InvalidBlock {
                        reason: format!("transaction {index}: {rejection}"),
                    });
                }
            }
        }
    }
    // `txs.len()` fits u32 for every block a chain with segments accepts (at most
    // `MAX_TXS_PER_BLOCK`), and `check_start` refused a start past it.
    let end_tx = u32::try_from(end).unwrap_or(u32::MAX);
    if end < txs.len() {
        let outcome = run.pause();
        let gas_used = outcome.gas_used;
        return Ok((outcome, SegmentEnd { end_tx, gas_used, last: false }));
    }
    let finished = run.finish();
    let outcome = settle(finished, state)?;
    let gas_used = outcome.gas_used;
    Ok((outcome, SegmentEnd { end_tx, gas_used, last: true }))
}

/// A segment must start where one can: the first at transaction 0 with no gas before it, a
/// later one inside the block's transactions, below the block's segment count and gas limit.
fn check_start(
    rules: &ChainRules,
    env: &BlockEnvInput,
    tx_count: usize,
    start: SegmentStart,
) -> Result<(), ExecError> {
    let max = rules.segments.map_or(1, |s| s.max_per_block);
    let start_tx = start.start_tx as usize;
    let well_placed = if start.index == 0 {
        start.start_tx == 0 && start.gas_before == 0
    } else {
        start.index < max && start_tx >= 1 && start_tx < tx_count
    };
    if !well_placed || start.gas_before > env.gas_limit {
        return Err(ExecError::BadSegmentStart {
            start: Box::new(start),
            tx_count,
            max_segments: max,
        });
    }
    Ok(())
}
