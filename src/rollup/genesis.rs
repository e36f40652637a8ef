//! The L2 genesis both the proposer and the challenger start from, and the dev users it funds.
//!
//! Input: a chain id, a timestamp and an allocation. Output: the genesis state root the rollup
//! contract is deployed with, and a store initialised at block 0. Everyone who replays the L2
//! must use the same allocation, or their roots differ from the first block on.

use crate::bench::workloads::STORAGE_WRITER;
use crate::execute_local::chunk::Sealed;
use crate::execute_local::l2::{GenesisError, l2_genesis};
use crate::execute_local::replay::{GenesisAccount, GenesisState};
use crate::execute_local::store::{Head, StateStore, StoreError};
use crate::protocol::L2Header;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, utils::parse_ether};
use alloy_signer_local::PrivateKeySigner;
use std::collections::BTreeMap;

/// Where the dev genesis places the storage-writer contract the workload calls.
pub const STORAGE_WRITER_ADDRESS: Address = Address::new([0x5a; 20]);

/// An L2 genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2Genesis {
    pub chain_id: u64,
    pub timestamp: u64,
    /// Accounts besides the system contracts (which `l2_genesis` adds).
    pub alloc: BTreeMap<Address, GenesisAccount>,
}

/// Why a store could not be initialised.
#[derive(Debug, thiserror::Error)]
pub enum GenesisInitError {
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store holds another chain: its block 0 is {found}, this genesis is {expected}")]
    OtherChain { found: B256, expected: B256 },
}

impl L2Genesis {
    /// The dev genesis: `users` funded with 1,000 ETH each, and the storage writer.
    pub fn dev(chain_id: u64, timestamp: u64, users: &[Address]) -> Self {
        let balance = parse_ether("1000").unwrap_or(U256::MAX);
        let mut alloc: BTreeMap<Address, GenesisAccount> = users
            .iter()
            .map(|user| (*user, GenesisAccount { balance, ..Default::default() }))
            .collect();
        alloc.insert(
            STORAGE_WRITER_ADDRESS,
            GenesisAccount {
                nonce: 1,
                code: Bytes::from_static(STORAGE_WRITER),
                ..Default::default()
            },
        );
        Self { chain_id, timestamp, alloc }
    }

    /// The dev genesis of `chain_id` over `users`, as a rollup deployed over it records it in
    /// its batch 0 (`timestamp`, `state_root`); an error says why it is not that genesis.
    pub fn dev_matching(
        chain_id: u64,
        users: &[Address],
        timestamp: u64,
        state_root: B256,
    ) -> Result<Self, String> {
        let genesis = Self::dev(chain_id, timestamp, users);
        let (_, header) = genesis.build().map_err(|e| e.to_string())?;
        if header.state_root != state_root {
            return Err(format!(
                "the contract's genesis root {state_root} is not the dev genesis of chain {chain_id} with {} users ({})",
                users.len(),
                header.state_root
            ));
        }
        Ok(genesis)
    }

    /// The genesis state and header.
    pub fn build(&self) -> Result<(GenesisState, L2Header), GenesisError> {
        l2_genesis(&self.alloc)
    }

    /// Writes the genesis into an empty store; accepts a store already at this genesis.
    pub fn init_store(&self, store: &StateStore) -> Result<Head, GenesisInitError> {
        let (state, header) = self.build()?;
        let expected = header.block_hash();
        if let Some(head) = store.head()? {
            let found = store.block_hash(0)?.unwrap_or_default();
            if found != expected {
                return Err(GenesisInitError::OtherChain { found, expected });
            }
            return Ok(head);
        }
        let sealed = Sealed { hash: expected, header: Bytes::copy_from_slice(&header.encode()) };
        Ok(state.write(store, 0, &sealed)?)
    }
}

/// The dev L2 users: deterministic keys, the same in every process that asks for `count`.
pub fn dev_users(count: usize) -> Vec<PrivateKeySigner> {
    (0..count as u64)
        .filter_map(|i| {
            let seed =
                keccak256([b"native-challenger dev L2 user".as_slice(), &i.to_be_bytes()].concat());
            PrivateKeySigner::from_bytes(&seed).ok()
        })
        .collect()
}
