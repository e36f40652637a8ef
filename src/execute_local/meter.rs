//! The witness meter: protocol v2's bound on what one chunk's trace may hold.
//!
//! The meter runs inside the state transition function, in the trie database every L2 path
//! executes over (replay, witness recording, the pre-submit self-check and EXECUTE), so all
//! four take the same decisions from the same counts. It counts the bytes of the chunk's
//! minimal trace as execution builds it (docs/protocol.md, "Witness budget"):
//!
//! - the framing and the block inputs, known before the first transaction;
//! - every trie node the first time it is resolved (`4 + len`), every code the first time it
//!   is loaded (`4 + len`), and 160 bytes per ancestor header from the oldest one BLOCKHASH
//!   asked for up to the parent (the parent's is part of the framing);
//! - a **deletion reserve** of [`DELETION_RESERVE`] bytes per key that could be removed by the
//!   chunk (a non-zero storage slot, an existing empty account, read from the pre-state):
//!   removing a key can make its branch collapse, and the surviving sibling (at most one node,
//!   at most a full branch) is only resolved when the block's changes are applied.
//!
//! While a user transaction runs, the meter is *enforcing*: the first charge that takes the
//! total over the budget fails the read with [`DbFault::OverBudget`], and the block executor
//! skips the transaction (`TxRejection::WitnessBudget`): no state change, no gas, as for any
//! transaction the STF refuses. A transaction that starts with the budget already spent is
//! skipped without running. A header charge is known before the header is looked at, so it
//! is checked first and never crosses; a node, a code or a reserve is charged once it is in
//! hand, so the item that crosses is in the trace (the verifier must see it to decide the same
//! way), and the trace can exceed the budget by at most one item. System calls (the block's
//! prologue and epilogue) are counted but never refused: they cannot be skipped.

use super::fault::DbFault;
use super::trie::{NodeSource, NodeSourceError};
use alloy_primitives::{Address, B256, Bytes, U256};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;

/// Bytes a chunk's user transactions may bring into its trace (block inputs and framing
/// included). docs/protocol.md, "Witness budget", derives it from one L1 transaction's limits.
pub const TRACE_BUDGET: u64 = 98_304;

/// Reserve per removable key: one collapse sibling, at most a full branch node (532 bytes of
/// RLP: a 3-byte list header, 16 × 33-byte references and an empty value) plus its 4-byte
/// length in the trace.
pub const DELETION_RESERVE: u64 = 536;

/// Size of an ancestor header in the trace.
pub const HEADER_BYTES: u64 = 160;

/// Bytes of the trace outside the blocks and the witness items: version, chain id, parent
/// hash, the segment fields, block count, and the three item counts.
pub const TRACE_FIXED_BYTES: u64 = 1 + 8 + 32 + (2 + 4 + 8 + 4) + 2 + 4 + 4 + 2;

/// The trace bytes a chunk starts with before any witness item: the fixed framing, each
/// block's inputs with their 4-byte length, and the parent header.
pub fn base_trace_bytes(block_lens: impl IntoIterator<Item = usize>) -> u64 {
    block_lens
        .into_iter()
        .fold(TRACE_FIXED_BYTES + HEADER_BYTES, |acc, len| acc.saturating_add(4 + len as u64))
}

/// What the meter counted for a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterReport {
    /// The budget the chunk ran under.
    pub budget: u64,
    /// Bytes of the minimal trace: equals the encoded trace's length.
    pub trace_bytes: u64,
    /// Deletion reserves charged (an upper bound on the collapse siblings, already inside
    /// `trace_bytes` for those that were resolved).
    pub reserved: u64,
}

impl MeterReport {
    /// What the budget checks ran against: exact bytes plus the reserves.
    pub fn charged(&self) -> u64 {
        self.trace_bytes.saturating_add(self.reserved)
    }
}

/// Counts a chunk's trace bytes. See the module documentation.
#[derive(Debug)]
pub struct Meter {
    budget: u64,
    exact: Cell<u64>,
    reserved: Cell<u64>,
    enforcing: Cell<bool>,
    tripped: Cell<bool>,
    nodes: RefCell<HashSet<B256>>,
    codes: RefCell<HashSet<B256>>,
    removable: RefCell<HashSet<(Address, Option<U256>)>>,
    /// Oldest ancestor whose header is in the trace (starts at the parent).
    oldest: Cell<u64>,
}

impl Meter {
    /// A meter for a chunk whose framing and block inputs take `base` bytes and whose parent
    /// is block `parent`.
    pub fn new(budget: u64, base: u64, parent: u64) -> Self {
        Self {
            budget,
            exact: Cell::new(base),
            reserved: Cell::new(0),
            enforcing: Cell::new(false),
            tripped: Cell::new(false),
            nodes: RefCell::default(),
            codes: RefCell::default(),
            removable: RefCell::default(),
            oldest: Cell::new(parent),
        }
    }

    pub fn report(&self) -> MeterReport {
        MeterReport {
            budget: self.budget,
            trace_bytes: self.exact.get(),
            reserved: self.reserved.get(),
        }
    }

    fn charged(&self) -> u64 {
        self.exact.get().saturating_add(self.reserved.get())
    }

    /// Whether a user transaction may start; makes the meter enforcing if so.
    pub fn open_tx(&self) -> Result<(), DbFault> {
        self.tripped.set(false);
        if self.charged() > self.budget {
            return Err(self.over());
        }
        self.enforcing.set(true);
        Ok(())
    }

    /// Ends the enforcing phase of a user transaction.
    pub fn close_tx(&self) {
        self.enforcing.set(false);
        self.tripped.set(false);
    }

    /// Whether the last failure of a read was this meter refusing it.
    pub fn tripped(&self) -> bool {
        self.tripped.get()
    }

    /// The fault a refused read reports.
    pub fn over(&self) -> DbFault {
        DbFault::OverBudget { charged: self.charged(), budget: self.budget }
    }

    /// Fails, before anything is fetched or charged, once the meter has refused a read in
    /// this transaction: revm may read again after a refused read before it gives up the
    /// transaction, and nothing it reads then may enter the trace (or the bound would not
    /// hold).
    pub fn refuse_after_trip(&self) -> Result<(), DbFault> {
        if self.enforcing.get() && self.tripped.get() {
            return Err(self.over());
        }
        Ok(())
    }

    /// Fails if the meter is enforcing and the total is over the budget.
    fn check(&self) -> Result<(), DbFault> {
        if self.enforcing.get() && self.charged() > self.budget {
            self.tripped.set(true);
            return Err(self.over());
        }
        Ok(())
    }

    /// A trie node handed to the tries (charged the first time its hash is seen).
    pub fn node(&self, hash: &B256, len: usize) -> Result<(), DbFault> {
        self.refuse_after_trip()?;
        if self.nodes.borrow_mut().insert(*hash) {
            self.exact.set(self.exact.get().saturating_add(4 + len as u64));
        }
        self.check()
    }

    /// A code loaded for execution (charged the first time its hash is seen).
    pub fn code(&self, hash: &B256, len: usize) -> Result<(), DbFault> {
        self.refuse_after_trip()?;
        if self.codes.borrow_mut().insert(*hash) {
            self.exact.set(self.exact.get().saturating_add(4 + len as u64));
        }
        self.check()
    }

    /// A key read from the pre-state that the chunk could remove: a non-zero slot
    /// (`Some(slot)`) or an existing empty account (`None`).
    pub fn removable(&self, address: Address, slot: Option<U256>) -> Result<(), DbFault> {
        self.refuse_after_trip()?;
        if self.removable.borrow_mut().insert((address, slot)) {
            self.reserved.set(self.reserved.get().saturating_add(DELETION_RESERVE));
        }
        self.check()
    }

    /// BLOCKHASH of ancestor `number`: checked BEFORE the header is looked up, since its cost
    /// is known; charged by [`Self::header_found`] once it is.
    pub fn header_wanted(&self, number: u64) -> Result<(), DbFault> {
        self.refuse_after_trip()?;
        let extra = self.header_cost(number);
        if self.enforcing.get() && self.charged().saturating_add(extra) > self.budget {
            self.tripped.set(true);
            return Err(DbFault::OverBudget {
                charged: self.charged().saturating_add(extra),
                budget: self.budget,
            });
        }
        Ok(())
    }

    /// Charges the headers from `number` up to the oldest one already in the trace.
    pub fn header_found(&self, number: u64) {
        let extra = self.header_cost(number);
        if extra > 0 {
            self.exact.set(self.exact.get().saturating_add(extra));
            self.oldest.set(number);
        }
    }

    fn header_cost(&self, number: u64) -> u64 {
        self.oldest.get().saturating_sub(number).saturating_mul(HEADER_BYTES)
    }
}

/// A [`NodeSource`] that charges every node it hands out to a [`Meter`].
#[derive(Debug)]
pub struct MeteredNodes<'a, N: ?Sized> {
    pub inner: &'a N,
    pub meter: Option<&'a Meter>,
}

impl<N: NodeSource + ?Sized> NodeSource for MeteredNodes<'_, N> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, NodeSourceError> {
        if let Some(meter) = self.meter {
            meter.refuse_after_trip().map_err(NodeSourceError::new)?;
        }
        let found = self.inner.node(hash)?;
        if let (Some(meter), Some(bytes)) = (self.meter, &found) {
            meter.node(hash, bytes.len()).map_err(NodeSourceError::new)?;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_may_not_start_once_the_budget_is_spent() {
        let meter = Meter::new(1_000, 900, 10);
        meter.open_tx().expect("900 of 1000 used");
        let err = meter.node(&B256::repeat_byte(1), 200).expect_err("crosses");
        assert!(matches!(err, DbFault::OverBudget { charged: 1_104, budget: 1_000 }));
        assert!(meter.tripped());
        // The crossing node is in the trace: the verifier needed it to decide.
        assert_eq!(meter.report().trace_bytes, 1_104);
        // Nothing read after the refusal is charged (nor fetched, see `MeteredNodes`).
        assert!(meter.node(&B256::repeat_byte(9), 10).is_err());
        assert!(meter.code(&B256::repeat_byte(8), 10).is_err());
        assert!(meter.header_wanted(9).is_err());
        assert_eq!(meter.report().trace_bytes, 1_104);
        meter.close_tx();
        assert!(!meter.tripped());
        assert!(matches!(meter.open_tx(), Err(DbFault::OverBudget { .. })));
    }

    #[test]
    fn items_are_charged_once_and_system_calls_are_never_refused() {
        let meter = Meter::new(1_000, 0, 10);
        for _ in 0..3 {
            meter.node(&B256::repeat_byte(2), 996).expect("not enforcing");
            meter.code(&B256::repeat_byte(3), 96).expect("not enforcing");
            meter.removable(Address::repeat_byte(4), Some(U256::from(1))).expect("not enforcing");
        }
        let report = meter.report();
        assert_eq!(report.trace_bytes, 1_000 + 100);
        assert_eq!(report.reserved, DELETION_RESERVE);
        assert!(!meter.tripped());
    }

    #[test]
    fn headers_are_checked_before_they_are_read() {
        let meter = Meter::new(HEADER_BYTES * 10, 0, 300);
        meter.open_tx().expect("empty");
        meter.header_wanted(295).expect("5 headers fit");
        meter.header_found(295);
        assert_eq!(meter.report().trace_bytes, 5 * HEADER_BYTES);
        meter.header_wanted(297).expect("already in the trace");
        meter.header_found(297);
        assert_eq!(meter.report().trace_bytes, 5 * HEADER_BYTES);
        let err = meter.header_wanted(289).expect_err("6 more do not fit");
        assert!(matches!(err, DbFault::OverBudget { .. }));
        // Refused before the lookup: nothing was charged, so the header is not in the trace.
        assert_eq!(meter.report().trace_bytes, 5 * HEADER_BYTES);
    }

    #[test]
    fn base_bytes_count_the_framing_blocks_and_parent_header() {
        // Framing 53 + the segment fields 18 + parent header 160 + (4 + 120) for an empty
        // block.
        assert_eq!(base_trace_bytes([120]), 53 + 18 + 160 + 124);
    }
}
