//! How a database under the EVM reports that its data failed, as opposed to a block being
//! invalid.
//!
//! revm receives only a marker error ([`DbFault::Recorded`]); the real fault is kept in the
//! database (the first one wins) and taken out by the executor through [`FaultSlot`], so it
//! can never be confused with an invalid transaction. Every database under the EVM uses these
//! types: the trie database ([`super::db`]), the state store ([`super::store`]) and the tries
//! ([`super::tries`]), which is why they live apart from all three.

use super::trie::TrieError;
use alloy_primitives::{Address, B256};
use revm::{Database, database_interface::DBErrorMarker};

/// A failure of the data under the EVM. Never a verdict about the block.
#[derive(Debug, thiserror::Error)]
pub enum DbFault {
    #[error(transparent)]
    Trie(#[from] TrieError),
    #[error("account leaf for {address} does not decode: {reason}")]
    MalformedAccount { address: Address, reason: String },
    #[error("code {hash} is not available")]
    MissingCode { hash: B256 },
    #[error("code stored under {hash} hashes to {actual}")]
    CodeHashMismatch { hash: B256, actual: B256 },
    #[error("code {hash} is not valid bytecode: {reason}")]
    MalformedCode { hash: B256, reason: String },
    #[error("hash of ancestor block {number} is not available")]
    MissingBlockHash { number: u64 },
    #[error("state store: {reason}")]
    Store { reason: String },
    /// The witness meter refused the read: the chunk's trace would pass its budget
    /// ([`super::meter`]). Inside a user transaction this skips the transaction; it is the
    /// one fault that is a verdict, and the block executor never lets it out as a fault.
    #[error("the chunk's trace would hold {charged} bytes, over its budget of {budget}")]
    OverBudget { charged: u64, budget: u64 },
    /// Marker handed to revm; the real fault is in the database's [`FaultSlot`].
    #[error("database fault (recorded in the database)")]
    Recorded,
}

impl DBErrorMarker for DbFault {}

/// A database that keeps the first fault it reported.
pub trait FaultSlot: Database<Error = DbFault> + std::fmt::Debug {
    /// Takes the first fault reported since the last call.
    fn take_fault(&mut self) -> Option<DbFault>;

    /// Whether `address` has any storage in the state this database reads (EIP-7610's
    /// collision rule). Asked only under [`ChainRules::eip7610`](super::chain::ChainRules),
    /// which the L2 never sets; a fault is recorded like any other.
    fn has_storage(&mut self, address: Address) -> Result<bool, DbFault>;

    /// Before a user transaction: `Err(DbFault::OverBudget)` when the witness budget is spent
    /// and the transaction must be skipped; otherwise the meter enforces until
    /// [`Self::close_tx`]. Databases without a meter accept every transaction.
    fn open_tx(&mut self) -> Result<(), DbFault> {
        Ok(())
    }

    /// After a user transaction (however it ended).
    fn close_tx(&mut self) {}
}

/// Keeps the first fault; returns the marker for revm.
#[derive(Debug, Default)]
pub struct Fault(Option<DbFault>);

impl Fault {
    pub fn record(&mut self, fault: DbFault) -> DbFault {
        if self.0.is_none() {
            self.0 = Some(fault);
        }
        DbFault::Recorded
    }

    pub fn take(&mut self) -> Option<DbFault> {
        self.0.take()
    }
}
