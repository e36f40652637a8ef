//! EIP-7610's missing case, for Ethereum L1 execution (the conformance runner): a creation
//! onto an account with storage collides.
//!
//! EIP-7610 makes CREATE, CREATE2 and creation transactions fail as an address collision when
//! the target has non-empty storage, exactly as when it has code or a nonce. revm 43 checks
//! nonce and code hash only (`create_account_checkpoint`): a plain revm `Database` cannot tell
//! whether an account's storage is empty.
//!
//! [`StorageCollisions`] is a revm inspector that adds the case. Before each create frame it
//! takes revm's own steps up to the collision check, in revm's order and with the same
//! effects (depth limit, caller balance, caller nonce overflow, the created address, loading
//! the target, which revm does next anyway). If the target has nonce 0 and no code (so revm
//! would not collide) but has storage, it ends the creation as revm ends a collision: the
//! caller's nonce is bumped and kept, nothing is transferred, the frame's gas is consumed and
//! the result is `CreateCollision`. In every other case revm runs the frame unchanged.
//!
//! Storage emptiness, in the current state: a non-zero slot in revm's `State` cache; else, if
//! the cache saw the account destroyed (EIP-161 clearing, self-destruct) or absent, none; else
//! the database's answer for the pre-block state ([`FaultSlot::has_storage`]). That is exact
//! because an account with nonce 0 and no code never gains storage and never changes it: only
//! code running at its address writes its storage, which takes a creation there (nonce 1 from
//! the start) or an EIP-7702 delegation (its authorisation bumps the nonce), and nonces never
//! go back to 0 except when the account, storage included, is destroyed.
//!
//! Only [`ChainRules::eip7610`](super::chain::ChainRules) turns it on, and only the
//! conformance runner sets that. The L2 never does: its genesis refuses accounts with storage
//! but no code and nonce 0 (`l2::GenesisError::StorageWithoutCode`) and, by the argument
//! above, none can arise later. With the flag off the EVM does not invoke the inspector at all
//! (alloy-evm's `inspect` switch), so L2 execution, witness recording and stateless
//! verification run revm's own path, read nothing more and record no extra witness item.

use super::fault::FaultSlot;
use alloy_evm::eth::EthEvmContext;
use alloy_primitives::{Address, Bytes, KECCAK256_EMPTY};
use revm::{
    Inspector,
    context::{ContextTr, JournalTr},
    context_interface::journaled_state::account::JournaledAccountTr,
    database::State,
    interpreter::{CreateInputs, CreateOutcome, Gas, InstructionResult, InterpreterResult},
    primitives::CALL_STACK_LIMIT,
};

/// The EIP-7610 inspector. See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct StorageCollisions;

type Ctx<'a, DB> = EthEvmContext<&'a mut State<DB>>;

impl<'a, DB: FaultSlot> Inspector<Ctx<'a, DB>> for StorageCollisions {
    fn create(
        &mut self,
        context: &mut Ctx<'a, DB>,
        inputs: &mut CreateInputs,
    ) -> Option<CreateOutcome> {
        storage_collision(context, inputs).then(|| collide(context, inputs))
    }
}

/// Whether this creation collides under EIP-7610 where revm would let it proceed. A database
/// fault answers `false`: revm then reads the same data and meets the same fault, and the
/// fault, kept in the database, fails the block before any verdict.
fn storage_collision<DB: FaultSlot>(context: &mut Ctx<'_, DB>, inputs: &CreateInputs) -> bool {
    let journal = context.journal_mut();
    // revm's early returns, which come before it loads the target (`make_create_frame`).
    // The journal's depth is the depth of the frame being created.
    if journal.depth() > CALL_STACK_LIMIT as usize {
        return false;
    }
    let Ok(caller) = journal.load_account(inputs.caller()) else {
        return false;
    };
    let (balance, nonce) = (caller.data.info.balance, caller.data.info.nonce);
    if balance < inputs.value() || nonce == u64::MAX {
        return false;
    }
    let target = inputs.created_address(nonce);
    let Ok(account) = journal.load_account(target) else {
        return false;
    };
    if account.data.info.nonce != 0 || account.data.info.code_hash != KECCAK256_EMPTY {
        return false; // revm's own collision, or a regular account: revm's case either way
    }
    has_storage(journal.db_mut(), target)
}

/// Storage emptiness in the current state (a fault answers `false`, as above). See the
/// module documentation.
fn has_storage<DB: FaultSlot>(state: &mut State<DB>, address: Address) -> bool {
    if let Some(cached) = state.cache.accounts.get(&address) {
        let slots = cached.account.as_ref().map(|a| &a.storage);
        if slots.is_some_and(|slots| slots.values().any(|v| !v.is_zero())) {
            return true;
        }
        if cached.status.was_destroyed() || cached.account.is_none() {
            return false;
        }
    }
    state.database.has_storage(address).unwrap_or(false)
}

/// The collision as revm's `make_create_frame` produces it: the caller's nonce bumped before
/// the check stays bumped, and the frame ends with all its gas consumed.
fn collide<DB: FaultSlot>(context: &mut Ctx<'_, DB>, inputs: &CreateInputs) -> CreateOutcome {
    if let Ok(mut caller) = context.journal_mut().load_account_mut(inputs.caller()) {
        caller.data.bump_nonce();
    }
    CreateOutcome {
        result: InterpreterResult {
            result: InstructionResult::CreateCollision,
            gas: Gas::new_with_regular_gas_and_reservoir(inputs.gas_limit(), inputs.reservoir()),
            output: Bytes::new(),
        },
        address: None,
        charged_create_state_gas: inputs.charged_create_state_gas(),
    }
}

#[cfg(test)]
mod tests {
    //! The collision this inspector produces against revm's own (the target has a nonce
    //! instead of storage): same gas, receipt and caller state. And with the flag off, revm
    //! alone: the database is never asked about storage.

    use super::*;
    use crate::execute_local::block::{
        BlockEnvInput, BlockOutcome, InvalidTxPolicy, PreparedTx, execute_block,
    };
    use crate::execute_local::chain::ChainRules;
    use crate::execute_local::fault::DbFault;
    use crate::execute_local::forks::{Network, network};
    use alloy_consensus::{Signed, TxEnvelope, TxLegacy, transaction::Recovered};
    use alloy_primitives::{B256, Signature, TxKind, U256, keccak256};
    use revm::{Database, bytecode::Bytecode, state::AccountInfo};
    use std::collections::HashMap;

    /// An in-memory database that counts the storage-emptiness questions.
    #[derive(Debug, Default)]
    struct MemDb {
        accounts: HashMap<Address, AccountInfo>,
        storage: HashMap<(Address, U256), U256>,
        codes: HashMap<B256, Bytecode>,
        asked: usize,
    }

    impl Database for MemDb {
        type Error = DbFault;

        fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbFault> {
            Ok(self.accounts.get(&address).cloned())
        }

        fn code_by_hash(&mut self, hash: B256) -> Result<Bytecode, DbFault> {
            self.codes.get(&hash).cloned().ok_or(DbFault::MissingCode { hash })
        }

        fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbFault> {
            Ok(self.storage.get(&(address, index)).copied().unwrap_or_default())
        }

        fn block_hash(&mut self, number: u64) -> Result<B256, DbFault> {
            Ok(keccak256(number.to_be_bytes()))
        }
    }

    impl FaultSlot for MemDb {
        fn take_fault(&mut self) -> Option<DbFault> {
            None
        }

        fn has_storage(&mut self, address: Address) -> Result<bool, DbFault> {
            self.asked += 1;
            Ok(self.storage.iter().any(|((a, _), v)| *a == address && !v.is_zero()))
        }
    }

    const SENDER: Address = Address::repeat_byte(0x51);
    /// CREATE2(value 0, empty init code, salt 0), then SSTORE(0, its result).
    const FACTORY_CODE: [u8; 13] = [0x60, 0, 0x60, 0, 0x60, 0, 0x60, 0, 0xf5, 0x60, 0, 0x55, 0x00];
    const FACTORY: Address = Address::repeat_byte(0xfa);

    /// What the target of the creation holds before it.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Target {
        /// Storage, no code, nonce 0, a balance: EIP-7610's case.
        StorageOnly,
        /// Nonce 1, no storage, a balance: revm's own collision.
        Nonce,
        /// Storage, no code, nonce 0, no balance: empty under EIP-161.
        EmptyWithStorage,
    }

    fn rules(eip7610: bool) -> ChainRules {
        let Network::Supported(schedule) = network("Paris") else { panic!("Paris is supported") };
        let mut rules = ChainRules::new(1, schedule);
        rules.eip7610 = eip7610;
        rules
    }

    fn env() -> BlockEnvInput {
        BlockEnvInput {
            number: 1,
            timestamp: 12,
            beneficiary: Address::repeat_byte(0xc0),
            prev_randao: B256::repeat_byte(7),
            gas_limit: 30_000_000,
            base_fee: 1,
            parent_hash: B256::repeat_byte(1),
            parent_beacon_block_root: None,
            excess_blob_gas: None,
            withdrawals: None,
        }
    }

    fn tx(nonce: u64, to: TxKind, input: &[u8]) -> PreparedTx {
        let tx = TxLegacy {
            chain_id: Some(1),
            nonce,
            gas_price: 2,
            gas_limit: 1_000_000,
            to,
            value: U256::ZERO,
            input: input.to_vec().into(),
        };
        let signature = Signature::new(U256::from(1), U256::from(1), false);
        Ok(Recovered::new_unchecked(
            TxEnvelope::Legacy(Signed::new_unhashed(tx, signature)),
            SENDER,
        ))
    }

    fn db(target: Address, kind: Target) -> MemDb {
        let mut db = MemDb::default();
        let funded = AccountInfo { balance: U256::from(10u64.pow(18)), ..Default::default() };
        db.accounts.insert(SENDER, funded);
        let code = Bytecode::new_raw(FACTORY_CODE.to_vec().into());
        let code_hash = keccak256(FACTORY_CODE);
        db.codes.insert(code_hash, code);
        let factory = AccountInfo { nonce: 1, code_hash, code: None, ..Default::default() };
        db.accounts.insert(FACTORY, factory);
        let balance = if kind == Target::EmptyWithStorage { 0 } else { 10 };
        let nonce = if kind == Target::Nonce { 1 } else { 0 };
        let info = AccountInfo { balance: U256::from(balance), nonce, ..Default::default() };
        db.accounts.insert(target, info);
        if kind != Target::Nonce {
            db.storage.insert((target, U256::ZERO), U256::from(1));
        }
        db
    }

    /// The block's outcome, and nonce and balance of the accounts after it.
    struct Run {
        outcome: BlockOutcome,
        state: State<MemDb>,
    }

    impl Run {
        fn new(eip7610: bool, db: MemDb, txs: &[PreparedTx]) -> Self {
            let mut state = State::builder().with_database(db).with_bundle_update().build();
            let outcome = execute_block(
                &rules(eip7610),
                &env(),
                txs,
                InvalidTxPolicy::RejectBlock,
                &mut state,
            );
            let outcome = outcome.expect("the block executes");
            Self { outcome, state }
        }

        fn account(&mut self, address: Address) -> (u64, U256) {
            let info = self.state.basic(address).expect("cached").unwrap_or_default();
            (info.nonce, info.balance)
        }

        fn slot(&mut self, address: Address) -> U256 {
            self.state.storage(address, U256::ZERO).expect("cached")
        }

        fn statuses(&self) -> Vec<(bool, u64)> {
            let receipts = &self.outcome.receipts;
            receipts.iter().map(|r| (r.status(), r.cumulative_gas_used())).collect()
        }
    }

    #[test]
    fn creation_transaction_collides_like_revm_own_collision() {
        let target = SENDER.create(0);
        let create = [tx(0, TxKind::Create, &[0x60, 1, 0x60, 0, 0x55, 0x00])];
        let mut ours = Run::new(true, db(target, Target::StorageOnly), &create);
        let mut revms = Run::new(true, db(target, Target::Nonce), &create);
        assert_eq!(ours.statuses(), vec![(false, 1_000_000)], "all gas consumed");
        assert_eq!(ours.statuses(), revms.statuses());
        assert_eq!(ours.outcome.gas_used, revms.outcome.gas_used);
        assert_eq!(ours.account(SENDER), revms.account(SENDER));
        assert_eq!(ours.account(SENDER).0, 1, "the sender's nonce is bumped");
        assert_eq!(ours.account(target), (0, U256::from(10)), "the target is untouched");
        assert_eq!(ours.slot(target), U256::from(1));
        assert_eq!(ours.state.database.asked, 1);
    }

    #[test]
    fn create2_collides_like_revm_own_collision() {
        let target = FACTORY.create2(B256::ZERO, keccak256([]));
        let call = [tx(0, TxKind::Call(FACTORY), &[])];
        let mut ours = Run::new(true, db(target, Target::StorageOnly), &call);
        let mut revms = Run::new(true, db(target, Target::Nonce), &call);
        assert_eq!(ours.statuses(), revms.statuses());
        assert!(ours.statuses()[0].0, "the calling transaction succeeds");
        assert_eq!(ours.account(SENDER), revms.account(SENDER));
        assert_eq!(ours.account(FACTORY), revms.account(FACTORY));
        assert_eq!(ours.account(FACTORY).0, 2, "CREATE2 bumped the factory's nonce");
        assert_eq!(ours.slot(FACTORY), U256::ZERO, "CREATE2 pushed 0");
        assert_eq!(ours.account(target), (0, U256::from(10)));
        // Without the storage, the same creation succeeds.
        let mut free = Run::new(true, db(Address::repeat_byte(0xee), Target::StorageOnly), &call);
        assert_eq!(free.slot(FACTORY), U256::from_be_slice(target.as_slice()));
    }

    #[test]
    fn flag_off_is_revm_alone_and_never_asks_about_storage() {
        let target = SENDER.create(0);
        let create = [tx(0, TxKind::Create, &[0x60, 1, 0x60, 0, 0x55, 0x00])];
        let mut off = Run::new(false, db(target, Target::StorageOnly), &create);
        assert!(off.statuses()[0].0, "revm alone lets the creation through");
        assert_eq!(off.account(target).0, 1);
        assert_eq!(off.state.database.asked, 0);
        let call = [tx(0, TxKind::Call(FACTORY), &[])];
        let create2 = FACTORY.create2(B256::ZERO, keccak256([]));
        let mut off = Run::new(false, db(create2, Target::StorageOnly), &call);
        assert_eq!(off.slot(FACTORY), U256::from_be_slice(create2.as_slice()));
        assert_eq!(off.state.database.asked, 0);
    }

    /// An empty account (EIP-161) with storage that a transaction touches is removed with its
    /// storage at the end of that transaction: a later creation there in the same block does
    /// not collide. Untouched, it does.
    #[test]
    fn storage_cleared_earlier_in_the_block_does_not_collide() {
        let target = SENDER.create(1);
        let touch = tx(0, TxKind::Call(target), &[]);
        let create = tx(1, TxKind::Create, &[0x00]);
        let mut run =
            Run::new(true, db(target, Target::EmptyWithStorage), &[touch, create.clone()]);
        assert_eq!(run.statuses().iter().map(|s| s.0).collect::<Vec<_>>(), vec![true, true]);
        assert_eq!(run.account(target).0, 1, "created");
        let other = tx(0, TxKind::Call(Address::repeat_byte(0x99)), &[]);
        let run = Run::new(true, db(target, Target::EmptyWithStorage), &[other, create]);
        assert_eq!(run.statuses().iter().map(|s| s.0).collect::<Vec<_>>(), vec![true, false]);
    }
}
