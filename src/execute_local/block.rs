//! The one block-execution function.
//!
//! Input: the rules of the chain (fork schedule, chain id), a block environment, the block's
//! transactions (already decoded and sender-recovered, or the reason they could not be), a
//! policy for invalid transactions, and a revm [`State`] over any database.
//! Output: receipts, gas used, and the state changes left in the [`State`] (taken by the caller
//! with `take_bundle`).
//!
//! Every path of the product runs blocks through [`execute_block`]: stateful replay over
//! rocksdb, witness recording, stateless verification from a witness, the EXECUTE precompile
//! and the conformance runner. They differ only in the database under the `State` and in the
//! [`InvalidTxPolicy`]: Ethereum L1 rejects a block holding an invalid transaction, while the
//! L2 state transition function skips such a transaction so that every committed block has
//! exactly one correct post-state (docs/protocol.md, "State transition function").
//!
//! Invariant: a database failure (a missing witness node, an I/O error) is never mistaken for
//! an invalid transaction. Databases report failures through [`DbFault`], which this function
//! checks before classifying any error, so a broken witness can never turn into "this
//! transaction was skipped" and from there into a verdict.

pub use super::block_segment::{SegmentEnd, SegmentStart, execute_segment};
use super::chain::ChainRules;
use super::eip7610::StorageCollisions;
use super::fault::{DbFault, FaultSlot};
use super::l2::EPILOGUE_ACCOUNTS;
use alloy_consensus::{
    Header, ReceiptEnvelope, Transaction, TxEnvelope, TxReceipt, proofs::calculate_receipt_root,
    transaction::Recovered,
};
use alloy_eips::{eip4895::Withdrawal, eip7685::Requests};
use alloy_evm::{
    Evm, EvmEnv, EvmFactory,
    block::{BlockExecutionError, BlockExecutor, BlockValidationError, CommitChanges},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutor, EthEvmBuilder, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder,
    },
    precompiles::PrecompilesMap,
};
use alloy_primitives::{Address, B256, Bloom, Bytes, KECCAK256_EMPTY, U256};
use revm::{
    context::{BlockEnv, CfgEnv},
    context_interface::block::BlobExcessGasAndPrice,
    context_interface::result::{ExecutionResult, HaltReason},
    database::State,
};
use std::borrow::Cow;

/// What execution needs to know about a block besides its transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEnvInput {
    pub number: u64,
    pub timestamp: u64,
    pub beneficiary: Address,
    pub prev_randao: B256,
    pub gas_limit: u64,
    pub base_fee: u64,
    pub parent_hash: B256,
    /// EIP-4788 root; on the L2 this carries the L1 anchor.
    pub parent_beacon_block_root: Option<B256>,
    /// EIP-4844 excess blob gas of this block (Cancun on).
    pub excess_blob_gas: Option<u64>,
    /// EIP-4895 withdrawals (Shanghai on, Ethereum L1 only; the L2 has none).
    pub withdrawals: Option<Vec<Withdrawal>>,
}

impl BlockEnvInput {
    /// The environment of an Ethereum block, read from its header.
    pub fn from_header(header: &Header, withdrawals: Option<Vec<Withdrawal>>) -> Self {
        Self {
            number: header.number,
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            prev_randao: header.mix_hash,
            gas_limit: header.gas_limit,
            base_fee: header.base_fee_per_gas.unwrap_or_default(),
            parent_hash: header.parent_hash,
            parent_beacon_block_root: header.parent_beacon_block_root,
            excess_blob_gas: header.excess_blob_gas,
            withdrawals,
        }
    }
}

/// A transaction as handed to the executor: decoded and recovered, or the reason it is not.
pub type PreparedTx = Result<Recovered<TxEnvelope>, TxRejection>;

/// Why a transaction was not executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxRejection {
    #[error("undecodable transaction bytes: {reason}")]
    Undecodable { reason: String },
    #[error("signature does not recover a sender: {reason}")]
    BadSignature { reason: String },
    #[error("transaction type {tx_type} is not allowed on this chain")]
    DisallowedType { tx_type: u8 },
    #[error("invalid under the fork's transaction rules: {reason}")]
    Invalid { reason: String },
    /// The chunk's witness budget (docs/protocol.md, "Witness budget") was spent before the
    /// transaction started, or would be passed by one of its reads.
    #[error("the segment's trace would hold {charged} bytes, over its budget of {budget}")]
    WitnessBudget { charged: u64, budget: u64 },
    /// The transaction's gas limit is over what its segment has left ([`crate::execute_local::chain::SEGMENT_GAS`]
    /// is also the per-transaction cap), in a segment that cannot end before it.
    #[error("gas limit {gas_limit} is over the {room} gas its segment has left")]
    SegmentGas { gas_limit: u64, room: u64 },
}

/// What to do with a transaction that the fork's rules reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidTxPolicy {
    /// Ethereum L1: the whole block is invalid.
    RejectBlock,
    /// The L2 state transition function: the transaction is skipped (no state change, no
    /// receipt, no gas) and execution goes on with the next one.
    Skip,
}

/// The result of executing one block.
#[derive(Debug, Clone)]
pub struct BlockOutcome {
    pub receipts: Vec<ReceiptEnvelope>,
    pub gas_used: u64,
    pub blob_gas_used: u64,
    pub receipts_root: B256,
    pub logs_bloom: Bloom,
    /// EIP-7685 requests (Prague on); meaningless on the L2 and ignored there.
    pub requests: Requests,
    /// Indices of transactions skipped under [`InvalidTxPolicy::Skip`], with the reason.
    pub skipped: Vec<(usize, TxRejection)>,
}

/// Why a block could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The block breaks the fork's rules (only under [`InvalidTxPolicy::RejectBlock`], or a
    /// block-level rule such as a failing system call).
    #[error("invalid block: {reason}")]
    InvalidBlock { reason: String },
    /// The database under the EVM failed: missing witness data or an I/O fault. Never a verdict.
    #[error(transparent)]
    Database(#[from] DbFault),
    /// A chunk of several blocks under a witness budget: protocol v2 meters each block as it
    /// runs alone from its pre-state, so a chunk is one block (docs/protocol.md, "Witness
    /// budget").
    #[error("a chunk under a witness budget holds one block, not {blocks}")]
    ChunkTooLong { blocks: usize },
    /// A segment that cannot start where it was asked to (docs/protocol.md, "Segments").
    #[error(
        "segment {} cannot start at transaction {} after {} gas (block of {tx_count} transactions, at most {max_segments} segments)",
        start.index, start.start_tx, start.gas_before
    )]
    BadSegmentStart { start: Box<SegmentStart>, tx_count: usize, max_segments: u16 },
    /// The block's segment ended before its last transaction where a whole block was asked for.
    #[error("the segment ends at transaction {end_tx} of {tx_count}, before the end of the block")]
    SegmentEndsEarly { end_tx: u32, tx_count: usize },
}

/// Executes one block on `state`, whole: one segment from its start to its end. On chains
/// whose blocks have more than one segment, a block that needs more is an error
/// ([`ExecError::SegmentEndsEarly`]); run it with [`execute_segment`] instead.
pub fn execute_block<DB>(
    rules: &ChainRules,
    env: &BlockEnvInput,
    txs: &[PreparedTx],
    policy: InvalidTxPolicy,
    state: &mut State<DB>,
) -> Result<BlockOutcome, ExecError>
where
    DB: FaultSlot,
{
    let (outcome, end) = execute_segment(rules, env, txs, policy, state, SegmentStart::FIRST)?;
    if !end.last {
        return Err(ExecError::SegmentEndsEarly { end_tx: end.end_tx, tx_count: txs.len() });
    }
    Ok(outcome)
}

/// Completes [`BlockRun::finish`]'s error handling once the run has released the state: a
/// database fault recorded during the post-block changes wins over "invalid block".
pub fn settle<DB: FaultSlot>(
    finished: Result<BlockOutcome, ExecError>,
    state: &mut State<DB>,
) -> Result<BlockOutcome, ExecError> {
    match finished {
        Err(ExecError::InvalidBlock { reason }) => {
            take_fault(state)?;
            Err(ExecError::InvalidBlock { reason })
        }
        other => other,
    }
}

/// What became of one transaction offered to a [`BlockRun`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutcome {
    /// Executed and part of the block; `gas_used` is what it adds to the block's gas.
    Committed { gas_used: u64 },
    /// Executed, then left out because the caller's commit condition said no; the state is
    /// as if it never ran.
    Discarded,
    /// The fork's rules reject it (nonce, funds, gas, blob budget): it did not run.
    Rejected(TxRejection),
}

/// One block being executed transaction by transaction: the engine under [`execute_block`],
/// and what a block builder uses when it chooses transactions as it goes (the dev L1).
///
/// `begin` applies the fork's pre-block system calls, `transact` runs one transaction and
/// lets the caller decide from its result whether it stays in the block, `finish` applies the
/// post-block changes (withdrawals, EIP-7685 requests) and seals the outcome. `install` may add
/// precompiles to the EVM (the dev L1 adds EXECUTE); L2 execution adds none.
pub struct BlockRun<'a, DB: FaultSlot> {
    executor: Executor<'a, DB>,
    rules: &'a ChainRules,
    timestamp: u64,
    pub(super) skipped: Vec<(usize, TxRejection)>,
}

impl<'a, DB: FaultSlot> BlockRun<'a, DB> {
    /// Starts the block: builds the EVM and applies the pre-execution system calls.
    pub fn begin(
        rules: &'a ChainRules,
        env: &'a BlockEnvInput,
        state: &'a mut State<DB>,
        tx_count_hint: Option<usize>,
        install: impl FnOnce(&mut PrecompilesMap),
    ) -> Result<Self, ExecError> {
        Self::start(rules, env, state, SegmentStart::FIRST, tx_count_hint, install)
    }

    /// Starts a segment of the block: the pre-execution system calls run only in the first
    /// segment; a later one continues after the gas its predecessors used.
    pub fn begin_segment(
        rules: &'a ChainRules,
        env: &'a BlockEnvInput,
        state: &'a mut State<DB>,
        start: SegmentStart,
        install: impl FnOnce(&mut PrecompilesMap),
    ) -> Result<Self, ExecError> {
        Self::start(rules, env, state, start, None, install)
    }

    fn start(
        rules: &'a ChainRules,
        env: &'a BlockEnvInput,
        state: &'a mut State<DB>,
        start: SegmentStart,
        tx_count_hint: Option<usize>,
        install: impl FnOnce(&mut PrecompilesMap),
    ) -> Result<Self, ExecError> {
        if rules.trace_budget.is_some() {
            preload(state, &EPILOGUE_ACCOUNTS)?;
        }
        let evm_env = evm_env(rules, env);
        // The inspector runs only under `rules.eip7610` (Ethereum L1); otherwise this is
        // exactly `EthEvmFactory::create_evm`, which never invokes an inspector.
        let mut evm = EthEvmBuilder::new(state, evm_env)
            .inspector(StorageCollisions)
            .set_inspect(rules.eip7610)
            .build();
        install(evm.precompiles_mut());
        let ctx = EthBlockExecutionCtx {
            parent_hash: env.parent_hash,
            parent_beacon_block_root: env.parent_beacon_block_root,
            ommers: &[],
            withdrawals: env.withdrawals.as_deref().map(Cow::Borrowed),
            extra_data: Bytes::new(),
            tx_count_hint,
            slot_number: None,
        };
        let mut executor =
            EthBlockExecutor::new(evm, ctx, rules.spec(), AlloyReceiptBuilder::default());
        if start.index == 0 {
            let pre = executor.apply_pre_execution_changes();
            check(pre, executor.evm_mut().db_mut())?;
        } else {
            executor.cumulative_tx_gas_used = start.gas_before;
            executor.block_regular_gas_used = start.gas_before;
        }
        Ok(Self { executor, rules, timestamp: env.timestamp, skipped: Vec::new() })
    }

    /// Gas used by the transactions committed so far.
    pub fn gas_used(&self) -> u64 {
        self.executor.cumulative_tx_gas_used
    }

    /// Runs `tx`; it stays in the block only if `keep` approves its result.
    pub fn transact(
        &mut self,
        tx: &Recovered<TxEnvelope>,
        keep: impl FnOnce(&ExecutionResult<HaltReason>) -> bool,
    ) -> Result<TxOutcome, ExecError> {
        if let Some(rejection) =
            blob_rules(self.rules, self.timestamp, self.executor.blob_gas_used, tx)
        {
            return Ok(TxOutcome::Rejected(rejection));
        }
        if let Err(fault) = self.executor.evm_mut().db_mut().database.open_tx() {
            return witness_budget(fault).map(TxOutcome::Rejected);
        }
        let result = self.executor.execute_transaction_with_commit_condition(tx, |output| {
            if keep(&output.result.result) { CommitChanges::Yes } else { CommitChanges::No }
        });
        let db = self.executor.evm_mut().db_mut();
        db.database.close_tx();
        let fault = db.database.take_fault();
        match result {
            Ok(Some(gas)) => {
                fault.map_or(Ok(()), Err)?;
                Ok(TxOutcome::Committed { gas_used: gas.tx_gas_used() })
            }
            Ok(None) => {
                fault.map_or(Ok(()), Err)?;
                Ok(TxOutcome::Discarded)
            }
            Err(err) => {
                // The meter refused a read: revm discarded the transaction's changes
                // (`Handler::catch_error`), so skipping it leaves the state as it was.
                if let Some(fault) = fault {
                    // revm may have met a second refused read after the first and left it in
                    // its context; it must not fail the next transaction or system call.
                    self.executor.evm_mut().ctx_mut().error = Ok(());
                    return witness_budget(fault).map(TxOutcome::Rejected);
                }
                match err {
                    BlockExecutionError::Validation(
                        reason @ (BlockValidationError::InvalidTx { .. }
                        | BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
                            ..
                        }),
                    ) => Ok(TxOutcome::Rejected(TxRejection::Invalid { reason: reason.to_string() })),
                    other => Err(ExecError::InvalidBlock { reason: other.to_string() }),
                }
            }
        }
    }

    /// Ends a segment that does not end the block: no post-block changes. The outcome holds
    /// the segment's receipts, and the block's gas up to here.
    pub fn pause(mut self) -> BlockOutcome {
        let receipts = std::mem::take(&mut self.executor.receipts);
        BlockOutcome {
            receipts_root: calculate_receipt_root(&receipts),
            logs_bloom: receipts.iter().fold(Bloom::ZERO, |acc, r| acc | r.bloom()),
            receipts,
            gas_used: self.executor.cumulative_tx_gas_used,
            blob_gas_used: self.executor.blob_gas_used,
            requests: Requests::default(),
            skipped: self.skipped,
        }
    }

    /// Applies the post-block changes and returns the outcome. A database fault during those
    /// changes can only be told apart from an invalid block once the state is released: pass
    /// the result through [`settle`].
    pub fn finish(self) -> Result<BlockOutcome, ExecError> {
        let skipped = self.skipped;
        let (mut evm, result) = match self.executor.finish() {
            Ok(done) => done,
            Err(err) => {
                return Err(ExecError::InvalidBlock { reason: err.to_string() });
            }
        };
        take_fault(evm.db_mut())?;
        drop(evm);
        let receipts = result.receipts;
        Ok(BlockOutcome {
            receipts_root: calculate_receipt_root(&receipts),
            logs_bloom: receipts.iter().fold(Bloom::ZERO, |acc, r| acc | r.bloom()),
            receipts,
            gas_used: result.gas_used,
            blob_gas_used: result.blob_gas_used,
            requests: result.requests,
            skipped,
        })
    }
}

type Executor<'a, DB> = EthBlockExecutor<
    'a,
    <EthEvmFactory as EvmFactory>::Evm<&'a mut State<DB>, StorageCollisions>,
    &'a super::forks::ForkSchedule,
    AlloyReceiptBuilder,
>;

/// Block-level blob rules revm does not check per transaction: the block's blob gas budget.
fn blob_rules(
    rules: &ChainRules,
    timestamp: u64,
    used: u64,
    tx: &Recovered<TxEnvelope>,
) -> Option<TxRejection> {
    let blob_gas = tx.blob_gas_used()?;
    let max = rules.spec().blob_params_at(timestamp).map(|p| p.max_blob_gas_per_block())?;
    let used = used.saturating_add(blob_gas);
    (used > max).then(|| TxRejection::Invalid {
        reason: format!("blob gas {used} exceeds the block's maximum {max}"),
    })
}

/// Loads accounts and their code into the state's cache before the block's transactions, so
/// that a later system call finds them there and brings nothing new into the trace: the L2
/// preloads what its epilogue reads ([`EPILOGUE_ACCOUNTS`]), which keeps every unskippable
/// read ahead of the first user transaction (docs/protocol.md, "Witness budget").
fn preload<DB: FaultSlot>(state: &mut State<DB>, addresses: &[Address]) -> Result<(), ExecError> {
    use revm::Database;
    for address in addresses {
        let loaded = state.basic(*address).and_then(|info| match info {
            Some(info) if info.code_hash != KECCAK256_EMPTY => {
                state.code_by_hash(info.code_hash).map(drop)
            }
            _ => Ok(()),
        });
        if let Err(err) = loaded {
            take_fault(state)?;
            return Err(ExecError::Database(DbFault::Store { reason: err.to_string() }));
        }
    }
    Ok(())
}

/// The rejection for the meter's refusal; any other fault stays a fault.
fn witness_budget(fault: DbFault) -> Result<TxRejection, ExecError> {
    match fault {
        DbFault::OverBudget { charged, budget } => {
            Ok(TxRejection::WitnessBudget { charged, budget })
        }
        other => Err(ExecError::Database(other)),
    }
}

/// Surfaces a database fault recorded while the EVM ran, before anything else is concluded.
fn take_fault<DB: FaultSlot>(state: &mut State<DB>) -> Result<(), DbFault> {
    state.database.take_fault().map_or(Ok(()), Err)
}

fn check<DB: FaultSlot>(
    result: Result<(), BlockExecutionError>,
    state: &mut State<DB>,
) -> Result<(), ExecError> {
    match result {
        Ok(()) => take_fault(state).map_err(Into::into),
        Err(err) => Err(classify(err, state)),
    }
}

fn classify<DB: FaultSlot>(err: BlockExecutionError, state: &mut State<DB>) -> ExecError {
    match take_fault(state) {
        Err(fault) => ExecError::Database(fault),
        Ok(()) => ExecError::InvalidBlock { reason: err.to_string() },
    }
}

/// The revm configuration and block environment for `env` under `rules`.
pub fn evm_env(rules: &ChainRules, env: &BlockEnvInput) -> EvmEnv {
    let spec_id = rules.spec_id(env.number, env.timestamp);
    let mut cfg = CfgEnv::new_with_spec(spec_id).with_chain_id(rules.chain_id);
    cfg.tx_gas_limit_cap = rules.tx_gas_limit_cap;
    let blob_params = rules.spec().blob_params_at(env.timestamp);
    if let Some(params) = &blob_params {
        cfg.set_max_blobs_per_tx(params.max_blobs_per_tx);
    }
    let blob_excess_gas_and_price = env
        .excess_blob_gas
        .zip(blob_params)
        .map(|(excess, params)| BlobExcessGasAndPrice::new(excess, params.update_fraction as u64));
    let block = BlockEnv {
        number: U256::from(env.number),
        beneficiary: env.beneficiary,
        timestamp: U256::from(env.timestamp),
        gas_limit: env.gas_limit,
        basefee: env.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(env.prev_randao),
        blob_excess_gas_and_price,
        ..Default::default()
    };
    EvmEnv::new(cfg, block)
}
