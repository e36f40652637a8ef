//! Deployment parameters of the rollup contract, with defaults for the dev L1.

use super::bindings::NativeRollup;
use crate::precompile::DEFAULT_EXECUTE_ADDRESS;
use alloy_primitives::{Address, B256, Bytes, U256, utils::parse_ether};
use alloy_sol_types::SolConstructor;

/// What the rollup contract is deployed with (its immutables; docs/protocol.md, "Rollup
/// contract").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupParams {
    /// Address of the EXECUTE precompile on the L1.
    pub execute: Address,
    /// The L2's chain id; a trace naming another id is refused.
    pub chain_id: u64,
    pub genesis_state_root: B256,
    pub genesis_timestamp: u64,
    /// Exact value each `propose` must carry.
    pub proposer_bond: U256,
    /// Bond locked per open challenge commitment.
    pub challenger_bond: U256,
    /// L1 blocks during which a batch can be challenged.
    pub challenge_window: u64,
    /// Largest L2 block gas limit a proposal may use: a block must fit one challenge.
    pub max_l2_gas_limit: u64,
    pub max_blocks_per_batch: u64,
    /// Bounds the work of invalidating the batches built on a convicted one.
    pub max_pending_batches: u64,
    /// How far an L2 timestamp may lag the L1 block that proposes it, in seconds.
    pub max_timestamp_lag: u64,
    /// Challenger's share of a slashed proposer bond, in basis points; the rest is burned.
    pub reward_bps: u64,
}

/// Default `max_l2_gas_limit`: a real-size L2 block. A block runs as segments of at most
/// `SEGMENT_GAS` (7M) each, and a challenge proves one segment, so the gas limit enters a
/// challenge only through EXECUTE's charge of `min(gas_limit, SEGMENT_GAS)`: any value keeps
/// the worst challenge under 2^24 (docs/protocol.md, "Segments"). What bounds it is the
/// segments a block may have (16, at most 112M of transactions) and replay throughput.
pub const DEFAULT_MAX_L2_GAS_LIMIT: u64 = 30_000_000;

impl RollupParams {
    /// Dev defaults for an L2 with this chain id and genesis.
    pub fn dev(chain_id: u64, genesis_state_root: B256, genesis_timestamp: u64) -> Self {
        Self {
            execute: DEFAULT_EXECUTE_ADDRESS,
            chain_id,
            genesis_state_root,
            genesis_timestamp,
            proposer_bond: parse_ether("1").unwrap_or_default(),
            challenger_bond: parse_ether("0.1").unwrap_or_default(),
            challenge_window: 20,
            max_l2_gas_limit: DEFAULT_MAX_L2_GAS_LIMIT,
            max_blocks_per_batch: 64,
            max_pending_batches: 32,
            max_timestamp_lag: 3_600,
            reward_bps: 5_000,
        }
    }

    fn to_sol(&self) -> NativeRollup::Config {
        NativeRollup::Config {
            execute: self.execute,
            chainId: self.chain_id,
            genesisStateRoot: self.genesis_state_root,
            genesisTimestamp: self.genesis_timestamp,
            proposerBond: self.proposer_bond,
            challengerBond: self.challenger_bond,
            challengeWindow: self.challenge_window,
            maxL2GasLimit: self.max_l2_gas_limit,
            maxBlocksPerBatch: self.max_blocks_per_batch,
            maxPendingBatches: self.max_pending_batches,
            maxTimestampLag: self.max_timestamp_lag,
            rewardBps: U256::from(self.reward_bps),
        }
    }

    /// Creation code: the compiled bytecode followed by the ABI-encoded constructor argument.
    pub fn deploy_code(&self) -> Bytes {
        let args = NativeRollup::constructorCall { c: self.to_sol() }.abi_encode();
        let mut code = NativeRollup::BYTECODE.to_vec();
        code.extend_from_slice(&args);
        code.into()
    }
}
