//! Bisect: whether the challenge of the first wrong leaf fits one L1 transaction.
//!
//! Pure functions, no I/O. The first divergence is found where the checkpoints are made: the
//! watcher's replay (`watcher::replay`) executes a batch block by block, each block segment by
//! segment (docs/protocol.md, "Segments"), and stops at the first leaf of the batch's tree (a
//! cut inside a block, or a block's own checkpoint) whose claim is not its own, recording the
//! trace of that one segment. That segment is the smallest chunk the protocol can prove: the
//! STF fixes segment boundaries, so the chunk is at most `SEGMENT_GAS` of transactions and one
//! segment's witness, whatever the block's gas limit or the batch's length. Input here: the
//! sizes of that segment's challenge (trace bytes, calldata, EXECUTE charge). Output: a
//! [`ChunkPlan`] or a [`NoFit`] alarm carrying every number that decided it.
//!
//! The plan checks the budgets (docs/protocol.md, "Challenge rule", 4): the EXECUTE charge
//! within the L1 block's EXECUTE budget, the whole transaction within the EIP-7825 cap of 2^24
//! gas with calldata priced by EIP-7623 (the floor of 10 gas per token applies when it is
//! higher), and the signed transaction within the mempool's size limit.

/// EIP-7825: the most gas one transaction may use.
pub const TX_GAS_CAP: u64 = 1 << 24;
/// geth's and reth's default limit on a transaction's size in the public mempool.
pub const DEFAULT_MAX_TX_SIZE: usize = 128 * 1024;
/// Bytes a signed EIP-1559 transaction adds around its calldata (RLP of the other fields and
/// the signature), rounded up.
pub const TX_ENVELOPE_BYTES: usize = 200;
/// What the rollup contract's `challenge` spends besides EXECUTE, memory and hashing, per
/// docs/protocol.md: checks, commitment, conviction bookkeeping (measured on the dev L1 at
/// about 60k; doubled for margin).
pub const CONTRACT_BASE_GAS: u64 = 120_000;
/// Per batch invalidated on top of the convicted one (status, credit, event).
pub const CONTRACT_GAS_PER_DESCENDANT: u64 = 40_000;

/// The budgets a challenge must fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Cumulative EXECUTE gas one L1 block allows.
    pub execute_block_gas: u64,
    /// Gas one transaction may use.
    pub tx_gas_cap: u64,
    /// Largest signed transaction the challenge may be.
    pub max_tx_size: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            execute_block_gas: crate::precompile::DEFAULT_EXECUTE_BLOCK_GAS_LIMIT,
            tx_gas_cap: TX_GAS_CAP,
            max_tx_size: DEFAULT_MAX_TX_SIZE,
        }
    }
}

/// What a candidate challenge transaction is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeShape {
    /// The EXECUTE charge of its trace (`protocol::execute_gas_cost`).
    pub execute_charge: u64,
    pub trace_bytes: usize,
    /// The `challenge(...)` calldata: its length and how many of its bytes are zero.
    pub calldata_bytes: usize,
    pub calldata_zero_bytes: usize,
    /// Batches built on the challenged one (the conviction invalidates them too).
    pub descendants: u64,
}

impl ChallengeShape {
    /// The shape of `calldata` carrying a trace of `trace_bytes` charged `execute_charge`.
    pub fn of(calldata: &[u8], trace_bytes: usize, execute_charge: u64, descendants: u64) -> Self {
        let calldata_zero_bytes = calldata.iter().filter(|b| **b == 0).count();
        Self {
            execute_charge,
            trace_bytes,
            calldata_bytes: calldata.len(),
            calldata_zero_bytes,
            descendants,
        }
    }
}

/// A challenge that fits, with the figures it was judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// First block of the chunk (index in its batch) and its length in blocks.
    pub start: usize,
    pub blocks: usize,
    pub estimate: GasEstimate,
    pub tx_bytes: usize,
}

/// The L1 gas of a challenge transaction, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasEstimate {
    /// 21,000 + 4/16 gas per zero/non-zero calldata byte.
    pub intrinsic: u64,
    /// EIP-7623's floor: 21,000 + 10 gas per token (zero byte 1 token, non-zero 4).
    pub floor: u64,
    pub execute_charge: u64,
    /// The contract's own work: checks, memory for the EXECUTE input, hashing, conviction.
    pub contract: u64,
    /// max(intrinsic + execute_charge + contract, floor).
    pub total: u64,
}

/// Why no chunk fits: the alarm's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoFit {
    #[error(
        "EXECUTE charge {charge} exceeds the L1 block's EXECUTE budget {budget} (block {index})"
    )]
    ExecuteBudget { index: usize, charge: u64, budget: u64 },
    #[error(
        "challenge of block {index} needs ~{gas} gas (EXECUTE {charge}, calldata {calldata} bytes), over the per-transaction cap {cap}"
    )]
    TxGas { index: usize, gas: u64, charge: u64, calldata: usize, cap: u64 },
    #[error(
        "challenge of block {index} is ~{bytes} bytes (trace {trace}), over the {limit}-byte transaction size limit"
    )]
    TxSize { index: usize, bytes: usize, trace: usize, limit: usize },
}

/// Estimates the L1 gas of a challenge of this shape.
pub fn estimate_gas(shape: &ChallengeShape) -> GasEstimate {
    let zeros = shape.calldata_zero_bytes as u64;
    let nonzeros =
        (shape.calldata_bytes - shape.calldata_zero_bytes.min(shape.calldata_bytes)) as u64;
    let tokens = zeros + 4 * nonzeros;
    let intrinsic = 21_000 + 4 * tokens;
    let floor = 21_000 + 10 * tokens;
    let words = (shape.trace_bytes as u64).div_ceil(32) + 8;
    // Memory for abi.encode of the EXECUTE input (expansion is quadratic), its copy, and
    // keccak256 of the trace (commitment) and of the block inputs (at most the trace).
    let memory = 3 * words + words * words / 512 + 3 * words;
    let hashing = 2 * (30 + 6 * words);
    let contract =
        CONTRACT_BASE_GAS + CONTRACT_GAS_PER_DESCENDANT * shape.descendants + memory + hashing;
    let execution = intrinsic + shape.execute_charge + contract;
    GasEstimate {
        intrinsic,
        floor,
        execute_charge: shape.execute_charge,
        contract,
        total: execution.max(floor),
    }
}

/// Plans the challenge of the block at `index`: it fits, or the alarm says by how much not.
pub fn plan_chunk(
    index: usize,
    shape: &ChallengeShape,
    budgets: &Budgets,
) -> Result<ChunkPlan, NoFit> {
    if shape.execute_charge > budgets.execute_block_gas {
        return Err(NoFit::ExecuteBudget {
            index,
            charge: shape.execute_charge,
            budget: budgets.execute_block_gas,
        });
    }
    let estimate = estimate_gas(shape);
    if estimate.total > budgets.tx_gas_cap {
        return Err(NoFit::TxGas {
            index,
            gas: estimate.total,
            charge: shape.execute_charge,
            calldata: shape.calldata_bytes,
            cap: budgets.tx_gas_cap,
        });
    }
    let tx_bytes = shape.calldata_bytes + TX_ENVELOPE_BYTES;
    if tx_bytes > budgets.max_tx_size {
        return Err(NoFit::TxSize {
            index,
            bytes: tx_bytes,
            trace: shape.trace_bytes,
            limit: budgets.max_tx_size,
        });
    }
    Ok(ChunkPlan { start: index, blocks: 1, estimate, tx_bytes })
}

#[cfg(test)]
mod tests;
