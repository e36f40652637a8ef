//! Runs one BlockchainTest through both paths.
//!
//! Stateful: genesis into a fresh rocksdb store, then every block: header rules against the
//! parent, body rules, execution, and the header's gas used, receipts root, logs bloom, blob
//! gas, requests hash and state root against what execution produced. A valid block is
//! committed; a block with `expectException` must fail one of these checks (and is then not
//! committed). At the end the head must be `lastblockhash` and the state must be `postState`
//! (compared by state root, and account by account against the flat store).
//!
//! Stateless: for every valid block, the witness is recorded from the stateful pre-state and
//! the block is verified from the witness alone; the root must be the header's stateRoot.
//!
//! Both run under Ethereum L1's rules ([`ethereum_rules`]): the test's forks, plus EIP-7610's
//! collision of a creation onto an account with storage, which revm lacks
//! ([`crate::execute_local::eip7610`]).

use super::eth_block::{EthBlock, EthHeaders};
use super::fixture::{BlockchainTest, FixtureBlock, GenesisAccount as FixtureAccount};
use super::forks::{ForkSchedule, Network};
use super::header_rules::{validate_body, validate_header_against_parent};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::replay::{GenesisAccount, GenesisState, PendingBlock, execute_on_store};
use crate::execute_local::stateless::verify_chunk;
use crate::execute_local::store::StateStore;
use crate::execute_local::witness::record_witness;
use alloy_consensus::{Block, Header, TxEnvelope};
use alloy_primitives::{Address, B256, keccak256};
use alloy_rlp::Decodable;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Chain id of the BlockchainTests.
pub const TEST_CHAIN_ID: u64 = 1;

/// The verdict on one test.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Passed { blocks: usize, witness_bytes: usize },
    Failed { mode: Mode, reason: String },
    Skipped { reason: String },
}

/// Which path found the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Setup,
    Stateful,
    Stateless,
}

fn fail(mode: Mode, reason: impl Into<String>) -> Outcome {
    Outcome::Failed { mode, reason: reason.into() }
}

/// Runs `test`, keeping its state in a rocksdb store under `scratch`.
pub fn run_test(test: &BlockchainTest, scratch: &Path) -> Outcome {
    run_under(test, scratch, true)
}

/// Ethereum L1's rules for a test's forks: EIP-7610's storage collisions included
/// ([`crate::execute_local::eip7610`]; the L2 leaves them off).
pub fn ethereum_rules(schedule: ForkSchedule) -> ChainRules {
    let mut rules = ChainRules::new(TEST_CHAIN_ID, schedule).without_trace_budget();
    rules.eip7610 = true;
    rules
}

/// [`run_test`], with EIP-7610's storage collisions on or (in tests, to show what revm alone
/// does) off.
fn run_under(test: &BlockchainTest, scratch: &Path, eip7610: bool) -> Outcome {
    let schedule = match super::forks::network(&test.network) {
        Network::Supported(schedule) => schedule,
        Network::Skipped { reason } => return Outcome::Skipped { reason },
    };
    let store = match StateStore::open_in_memory(scratch) {
        Ok(store) => store,
        Err(err) => return fail(Mode::Setup, format!("opening the state store: {err}")),
    };
    let mut rules = ethereum_rules(schedule);
    rules.eip7610 = eip7610;
    let outcome = TestRun::new(test, rules, &store).run();
    drop(store);
    let _ = std::fs::remove_dir_all(scratch);
    outcome
}

struct TestRun<'a> {
    test: &'a BlockchainTest,
    rules: ChainRules,
    store: &'a StateStore,
    /// Every accepted block by hash (genesis has no body).
    known: HashMap<B256, (Header, Option<EthBlock>)>,
    /// The chain the store holds, genesis first.
    canonical: Vec<B256>,
    witness_bytes: usize,
    valid_blocks: usize,
}

impl<'a> TestRun<'a> {
    fn new(test: &'a BlockchainTest, rules: ChainRules, store: &'a StateStore) -> Self {
        Self {
            test,
            rules,
            store,
            known: HashMap::new(),
            canonical: Vec::new(),
            witness_bytes: 0,
            valid_blocks: 0,
        }
    }

    fn run(mut self) -> Outcome {
        if let Err(reason) = self.genesis() {
            return fail(Mode::Setup, reason);
        }
        for (index, block) in self.test.blocks.iter().enumerate() {
            if let Err(outcome) = self.block(index, block) {
                return outcome;
            }
        }
        match self.post_checks() {
            Ok(()) => {
                Outcome::Passed { blocks: self.valid_blocks, witness_bytes: self.witness_bytes }
            }
            Err(reason) => fail(Mode::Stateful, reason),
        }
    }

    fn genesis(&mut self) -> Result<(), String> {
        let genesis = &self.test.genesis_header;
        let state = GenesisState::build(&to_alloc(&self.test.pre))
            .map_err(|e| format!("genesis state: {e}"))?;
        if state.state_root != genesis.state_root {
            return Err(format!(
                "genesis state root {} != header {}",
                state.state_root, genesis.state_root
            ));
        }
        let sealed = crate::execute_local::chunk::Sealed {
            hash: genesis.hash_slow(),
            header: super::eth_block::encode_header(genesis),
        };
        state
            .write(self.store, genesis.number, &sealed)
            .map_err(|e| format!("writing genesis: {e}"))?;
        self.known.insert(sealed.hash, (genesis.clone(), None));
        self.canonical.push(sealed.hash);
        Ok(())
    }

    /// `Err` carries the test's verdict when this block decides it.
    fn block(&mut self, index: usize, fixture: &FixtureBlock) -> Result<(), Outcome> {
        let expected_failure = fixture.expect_exception.as_deref();
        let attempt = self.decode(fixture).and_then(|block| {
            self.switch_to_parent(block.header.parent_hash)?;
            self.try_block(block)
        });
        match (attempt, expected_failure) {
            (Ok(pending), None) => self.accept(index, pending),
            (Ok(_), Some(exception)) => Err(fail(
                Mode::Stateful,
                format!("block {index} expected to fail ({exception}) was accepted"),
            )),
            (Err(_), Some(_)) => Ok(()),
            (Err(reason), None) => Err(fail(Mode::Stateful, format!("block {index}: {reason}"))),
        }
    }

    fn decode(&self, fixture: &FixtureBlock) -> Result<Block<TxEnvelope>, String> {
        let mut rlp = &fixture.rlp[..];
        let block = Block::<TxEnvelope>::decode(&mut rlp).map_err(|e| format!("block RLP: {e}"))?;
        if !rlp.is_empty() {
            return Err(format!("{} bytes after the block RLP", rlp.len()));
        }
        Ok(block)
    }

    /// Makes the store's head the block's parent: a side chain is entered by rolling the
    /// store back to the common ancestor and replaying the branch's accepted blocks.
    fn switch_to_parent(&mut self, parent: B256) -> Result<(), String> {
        if self.canonical.last() == Some(&parent) {
            return Ok(());
        }
        let mut branch = Vec::new();
        let mut cursor = parent;
        while !self.canonical.contains(&cursor) {
            let (header, _) = self.known.get(&cursor).ok_or(format!("unknown parent {parent}"))?;
            branch.push(cursor);
            cursor = header.parent_hash;
        }
        let ancestor = self.known.get(&cursor).map(|(h, _)| h.number).ok_or("unknown ancestor")?;
        self.store.rollback_to(ancestor).map_err(|e| format!("rollback: {e}"))?;
        let keep = self.canonical.iter().position(|h| *h == cursor).map_or(0, |i| i + 1);
        self.canonical.truncate(keep);
        for hash in branch.into_iter().rev() {
            let Some((_, Some(block))) = self.known.get(&hash) else {
                return Err("branch block missing".into());
            };
            let pending =
                execute_on_store(self.store, &self.rules, block).map_err(|e| e.to_string())?;
            pending.commit(self.store).map_err(|e| format!("replaying branch: {e}"))?;
            self.canonical.push(hash);
        }
        Ok(())
    }

    /// Checks and executes a block on the store's head without committing it.
    fn try_block(&self, block: Block<TxEnvelope>) -> Result<(EthBlock, PendingBlock), String> {
        let head = self.canonical.last().ok_or("empty chain")?;
        let (parent, _) = self.known.get(head).ok_or("no parent header")?;
        validate_header_against_parent(&block.header, parent, self.rules.spec())
            .map_err(|e| e.to_string())?;
        validate_body(&block, self.rules.spec()).map_err(|e| e.to_string())?;
        let block = EthBlock::new(block);
        let pending =
            execute_on_store(self.store, &self.rules, &block).map_err(|e| e.to_string())?;
        check_results(&block.header, &pending)?;
        Ok((block, pending))
    }

    fn accept(
        &mut self,
        index: usize,
        (block, pending): (EthBlock, PendingBlock),
    ) -> Result<(), Outcome> {
        self.stateless(&block)
            .map_err(|reason| fail(Mode::Stateless, format!("block {index}: {reason}")))?;
        pending
            .commit(self.store)
            .map_err(|e| fail(Mode::Stateful, format!("block {index}: commit: {e}")))?;
        self.canonical.push(block.hash);
        self.known.insert(block.hash, (block.header.clone(), Some(block)));
        self.valid_blocks += 1;
        Ok(())
    }

    /// Records the block's witness from the stored pre-state and verifies it statelessly.
    fn stateless(&mut self, block: &EthBlock) -> Result<(), String> {
        let blocks = std::slice::from_ref(block);
        let (witness, _) = record_witness(self.store, &self.rules, blocks)
            .map_err(|e| format!("recording: {e}"))?;
        let head = self.canonical.last().ok_or("empty chain")?;
        let (parent, _) = self.known.get(head).ok_or("no parent header")?;
        let steps = verify_chunk::<_, EthHeaders>(
            &self.rules,
            parent.state_root,
            block.header.parent_hash,
            blocks,
            &witness,
        )
        .map_err(|e| format!("verifying: {e}"))?;
        let root = steps.last().map(|s| s.post_state_root).ok_or("no result")?;
        if root != block.header.state_root {
            return Err(format!("stateless root {root} != header {}", block.header.state_root));
        }
        self.witness_bytes += witness.byte_size();
        Ok(())
    }

    fn post_checks(&self) -> Result<(), String> {
        let head = self.store.head().map_err(|e| e.to_string())?.ok_or("store has no head")?;
        if head.hash != self.test.last_block_hash {
            return Err(format!(
                "head {} != lastblockhash {}",
                head.hash, self.test.last_block_hash
            ));
        }
        if let Some(expected) = self.test.post_state_hash
            && head.state_root != expected
        {
            return Err(format!("state root {} != postStateHash {expected}", head.state_root));
        }
        let Some(post) = &self.test.post_state else {
            return Ok(());
        };
        let expected = GenesisState::build(&to_alloc(post)).map_err(|e| e.to_string())?;
        if head.state_root != expected.state_root {
            return Err(format!(
                "state root {} != root of postState {}",
                head.state_root, expected.state_root
            ));
        }
        post.iter().try_for_each(|(address, account)| self.check_flat(address, account))
    }

    /// The flat store (what execution reads) agrees with postState.
    fn check_flat(&self, address: &Address, expected: &FixtureAccount) -> Result<(), String> {
        let err = |e: crate::execute_local::store::StoreError| e.to_string();
        let account =
            self.store.account(address).map_err(err)?.ok_or(format!("{address} missing"))?;
        if account.nonce != expected.nonce || account.balance != expected.balance {
            return Err(format!(
                "{address}: nonce/balance {}/{} != {}/{}",
                account.nonce, account.balance, expected.nonce, expected.balance
            ));
        }
        if account.code_hash != keccak256(&expected.code) {
            return Err(format!("{address}: code hash differs"));
        }
        let stored: BTreeMap<_, _> =
            self.store.storage_of(address).map_err(err)?.into_iter().collect();
        let wanted: BTreeMap<_, _> =
            expected.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (*k, *v)).collect();
        if stored != wanted {
            return Err(format!(
                "{address}: storage differs ({} slots stored, {} expected)",
                stored.len(),
                wanted.len()
            ));
        }
        Ok(())
    }
}

/// Post-execution header checks: what only execution can tell.
fn check_results(header: &Header, pending: &PendingBlock) -> Result<(), String> {
    let out = &pending.outcome;
    let checks: [(&str, String, String); 4] = [
        ("gas used", out.gas_used.to_string(), header.gas_used.to_string()),
        ("receipts root", out.receipts_root.to_string(), header.receipts_root.to_string()),
        ("logs bloom", out.logs_bloom.to_string(), header.logs_bloom.to_string()),
        ("state root", pending.post_state_root.to_string(), header.state_root.to_string()),
    ];
    for (what, got, expected) in checks {
        if got != expected {
            return Err(format!("{what} {got} != header {expected}"));
        }
    }
    if let Some(blob_gas) = header.blob_gas_used
        && blob_gas != out.blob_gas_used
    {
        return Err(format!("blob gas used {} != header {blob_gas}", out.blob_gas_used));
    }
    if let Some(requests_hash) = header.requests_hash {
        let got = out.requests.requests_hash();
        if got != requests_hash {
            return Err(format!("requests hash {got} != header {requests_hash}"));
        }
    }
    Ok(())
}

fn to_alloc(accounts: &BTreeMap<Address, FixtureAccount>) -> BTreeMap<Address, GenesisAccount> {
    accounts
        .iter()
        .map(|(address, a)| {
            let account = GenesisAccount {
                nonce: a.nonce,
                balance: a.balance,
                code: a.code.clone(),
                storage: a.storage.clone(),
            };
            (*address, account)
        })
        .collect()
}

#[cfg(test)]
mod tests;
