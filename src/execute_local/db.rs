//! Databases under the EVM, and how their failures are reported.
//!
//! [`TrieDb`] reads the state through the Merkle-Patricia tries themselves, resolving nodes
//! from a [`WitnessSources`]. It is the database of BOTH witness recording (sources: the node
//! store, recording every node, code and ancestor hash handed out) and stateless verification
//! (sources: the witness). Because the two run the same code in the same order, the recorded
//! witness is exactly the set of items verification asks for.
//!
//! Failures are reported as [`DbFault`]s through the database's [`FaultSlot`] (see
//! [`super::fault`]).

use super::fault::{DbFault, Fault, FaultSlot};
use super::trie::NodeSource;
use super::tries::StateTries;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;
use revm::{Database, bytecode::Bytecode, state::AccountInfo};
use std::collections::BTreeMap;

/// Where a [`TrieDb`] gets trie nodes, codes and ancestor block hashes.
pub trait WitnessSources {
    type Nodes: NodeSource;
    /// Trie nodes, by hash.
    fn nodes(&self) -> &Self::Nodes;
    /// Bytecode by code hash; `Ok(None)` if unknown.
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, DbFault>;
    /// Hash of an ancestor block (one before the executed range); `Ok(None)` if unknown.
    fn ancestor_hash(&self, number: u64) -> Result<Option<B256>, DbFault>;
}

/// Executes against the tries. See the module documentation.
pub struct TrieDb<'s, S: WitnessSources> {
    sources: &'s S,
    pub tries: StateTries,
    /// Hashes of blocks executed in this range, known once each block is done.
    range_hashes: BTreeMap<u64, B256>,
    fault: Fault,
}

impl<S: WitnessSources> std::fmt::Debug for TrieDb<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrieDb").field("range_hashes", &self.range_hashes).finish_non_exhaustive()
    }
}

impl<'s, S: WitnessSources> TrieDb<'s, S> {
    pub fn new(sources: &'s S, pre_state_root: B256) -> Self {
        Self {
            sources,
            tries: StateTries::new(pre_state_root),
            range_hashes: BTreeMap::new(),
            fault: Fault::default(),
        }
    }

    /// Makes the hash of a block executed in this range visible to BLOCKHASH.
    pub fn push_block_hash(&mut self, number: u64, hash: B256) {
        self.range_hashes.insert(number, hash);
    }

    fn load_code(&self, hash: B256) -> Result<Bytecode, DbFault> {
        let code = self.sources.code(&hash)?.ok_or(DbFault::MissingCode { hash })?;
        let actual = keccak256(&code);
        if actual != hash {
            return Err(DbFault::CodeHashMismatch { hash, actual });
        }
        decode_bytecode(hash, code)
    }
}

/// Bytecode from its stored bytes (EIP-7702 delegations are recognised by their prefix).
pub fn decode_bytecode(hash: B256, code: Bytes) -> Result<Bytecode, DbFault> {
    Bytecode::new_raw_checked(code)
        .map_err(|err| DbFault::MalformedCode { hash, reason: format!("{err:?}") })
}

impl<S: WitnessSources> Database for TrieDb<'_, S> {
    type Error = DbFault;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbFault> {
        match self.tries.account(self.sources.nodes(), address) {
            Ok(account) => Ok(account.map(|a| AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: a.code_hash,
                code: None,
                ..Default::default()
            })),
            Err(fault) => Err(self.fault.record(fault)),
        }
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbFault> {
        if code_hash == KECCAK256_EMPTY || code_hash == B256::ZERO {
            return Ok(Bytecode::default());
        }
        self.load_code(code_hash).map_err(|fault| self.fault.record(fault))
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbFault> {
        self.tries
            .storage(self.sources.nodes(), address, index)
            .map_err(|fault| self.fault.record(fault))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbFault> {
        if let Some(hash) = self.range_hashes.get(&number) {
            return Ok(*hash);
        }
        match self.sources.ancestor_hash(number) {
            Ok(Some(hash)) => Ok(hash),
            Ok(None) => Err(self.fault.record(DbFault::MissingBlockHash { number })),
            Err(fault) => Err(self.fault.record(fault)),
        }
    }
}

impl<S: WitnessSources> FaultSlot for TrieDb<'_, S> {
    fn take_fault(&mut self) -> Option<DbFault> {
        self.fault.take()
    }

    /// From the account leaf's storage root: the leaf `basic` already read, no other node.
    fn has_storage(&mut self, address: Address) -> Result<bool, DbFault> {
        match self.tries.account(self.sources.nodes(), address) {
            Ok(leaf) => Ok(leaf.is_some_and(|leaf| leaf.storage_root != EMPTY_ROOT_HASH)),
            Err(fault) => Err(self.fault.record(fault)),
        }
    }
}
