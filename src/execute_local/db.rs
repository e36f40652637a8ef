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
use super::meter::{Meter, MeteredNodes};
use super::trie::NodeSource;
use super::tries::{StateDiff, StateTries};
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
    /// The witness meter, on chains with a trace budget ([`super::meter`]).
    meter: Option<Meter>,
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
            meter: None,
        }
    }

    /// Meters the trace this database's reads build ([`super::meter`]).
    pub fn with_meter(mut self, meter: Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    pub fn meter(&self) -> Option<&Meter> {
        self.meter.as_ref()
    }

    /// Applies a block's changes to the tries (collapse siblings are charged, never refused:
    /// the meter is not enforcing between transactions) and returns the new state root.
    pub fn apply(&mut self, diff: &StateDiff) -> Result<B256, DbFault> {
        let nodes = MeteredNodes { inner: self.sources.nodes(), meter: self.meter.as_ref() };
        self.tries.apply(&nodes, diff)
    }

    /// Records a fault: the meter's refusal if the meter refused, else `fault` itself.
    fn fail(&mut self, fault: DbFault) -> DbFault {
        let fault = match &self.meter {
            Some(meter) if meter.tripped() && !matches!(fault, DbFault::OverBudget { .. }) => {
                meter.over()
            }
            _ => fault,
        };
        self.fault.record(fault)
    }

    /// Makes the hash of a block executed in this range visible to BLOCKHASH.
    pub fn push_block_hash(&mut self, number: u64, hash: B256) {
        self.range_hashes.insert(number, hash);
    }

    fn load_code(&self, hash: B256) -> Result<Bytecode, DbFault> {
        if let Some(meter) = &self.meter {
            meter.refuse_after_trip()?;
        }
        let code = self.sources.code(&hash)?.ok_or(DbFault::MissingCode { hash })?;
        let actual = keccak256(&code);
        if actual != hash {
            return Err(DbFault::CodeHashMismatch { hash, actual });
        }
        if let Some(meter) = &self.meter {
            meter.code(&hash, code.len())?;
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
        let nodes = MeteredNodes { inner: self.sources.nodes(), meter: self.meter.as_ref() };
        let read = self.tries.account(&nodes, address).and_then(|account| {
            // An existing empty account is removed when touched (EIP-161).
            if let (Some(meter), Some(a)) = (&self.meter, &account)
                && a.nonce == 0
                && a.balance.is_zero()
                && (a.code_hash == KECCAK256_EMPTY || a.code_hash == B256::ZERO)
            {
                meter.removable(address, None)?;
            }
            Ok(account)
        });
        match read {
            Ok(account) => Ok(account.map(|a| AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: a.code_hash,
                code: None,
                ..Default::default()
            })),
            Err(fault) => Err(self.fail(fault)),
        }
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbFault> {
        if code_hash == KECCAK256_EMPTY || code_hash == B256::ZERO {
            return Ok(Bytecode::default());
        }
        self.load_code(code_hash).map_err(|fault| self.fail(fault))
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbFault> {
        let nodes = MeteredNodes { inner: self.sources.nodes(), meter: self.meter.as_ref() };
        let read = self.tries.storage(&nodes, address, index).and_then(|value| {
            if let Some(meter) = &self.meter
                && !value.is_zero()
            {
                meter.removable(address, Some(index))?;
            }
            Ok(value)
        });
        read.map_err(|fault| self.fail(fault))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbFault> {
        if let Some(hash) = self.range_hashes.get(&number) {
            return Ok(*hash);
        }
        if let Some(meter) = &self.meter
            && let Err(fault) = meter.header_wanted(number)
        {
            return Err(self.fail(fault));
        }
        match self.sources.ancestor_hash(number) {
            Ok(Some(hash)) => {
                if let Some(meter) = &self.meter {
                    meter.header_found(number);
                }
                Ok(hash)
            }
            Ok(None) => Err(self.fail(DbFault::MissingBlockHash { number })),
            Err(fault) => Err(self.fail(fault)),
        }
    }
}

impl<S: WitnessSources> FaultSlot for TrieDb<'_, S> {
    fn take_fault(&mut self) -> Option<DbFault> {
        self.fault.take()
    }

    /// From the account leaf's storage root: the leaf `basic` already read, no other node.
    fn has_storage(&mut self, address: Address) -> Result<bool, DbFault> {
        let nodes = MeteredNodes { inner: self.sources.nodes(), meter: self.meter.as_ref() };
        match self.tries.account(&nodes, address) {
            Ok(leaf) => Ok(leaf.is_some_and(|leaf| leaf.storage_root != EMPTY_ROOT_HASH)),
            Err(fault) => Err(self.fail(fault)),
        }
    }

    fn open_tx(&mut self) -> Result<(), DbFault> {
        self.meter.as_ref().map_or(Ok(()), Meter::open_tx)
    }

    fn close_tx(&mut self) {
        if let Some(meter) = &self.meter {
            meter.close_tx();
        }
    }
}
