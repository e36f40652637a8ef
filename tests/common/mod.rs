//! A small L2 chain in a temporary rocksdb store, with real signed transactions.
#![allow(dead_code)]

pub mod attacker;
pub mod chromium;
pub mod e2e;
pub mod red_team;
pub mod rollup;
pub mod rpc_proxy;
pub mod segments;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use native_challenger::execute_local::chain::ChainRules;
use native_challenger::execute_local::chunk::Sealed;
use native_challenger::execute_local::forks::{Network, network};
use native_challenger::execute_local::l2::{L2Block, l2_genesis};
use native_challenger::execute_local::replay::{GenesisAccount, execute_on_store};
use native_challenger::execute_local::store::{Head, StateStore};
use native_challenger::protocol::BlockInputs;
use std::collections::BTreeMap;

pub const CHAIN_ID: u64 = 901;

/// Writes `value` into `count` slots from `start` (calldata: start, count, value).
pub const STORAGE_WRITER: &[u8] = native_challenger::bench::workloads::STORAGE_WRITER;

pub fn storage_writer_address() -> Address {
    Address::repeat_byte(0x5a)
}

pub struct TestChain {
    pub dir: tempfile::TempDir,
    pub store: StateStore,
    pub rules: ChainRules,
    pub keys: Vec<PrivateKeySigner>,
    nonces: Vec<u64>,
    /// The genesis allocation, without the system contracts.
    pub alloc: BTreeMap<Address, GenesisAccount>,
}

pub fn rules() -> ChainRules {
    let Network::Supported(schedule) = network("Osaka") else { panic!("Osaka must be supported") };
    ChainRules::new(CHAIN_ID, schedule)
}

impl TestChain {
    pub fn new() -> Self {
        Self::with_background(0)
    }

    /// The four funded keys, the storage writer, and `background` funded accounts.
    pub fn with_background(background: u64) -> Self {
        Self::with_background_and(background, Vec::new())
    }

    /// [`Self::with_background`] plus `extra` genesis accounts.
    pub fn with_background_and(background: u64, extra: Vec<(Address, GenesisAccount)>) -> Self {
        let keys: Vec<PrivateKeySigner> = (1u8..=4)
            .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).expect("key"))
            .collect();
        let mut alloc = BTreeMap::new();
        for key in &keys {
            let balance = U256::from(1000u64) * U256::from(10u64.pow(18));
            alloc.insert(key.address(), GenesisAccount { balance, ..Default::default() });
        }
        for i in 0..background {
            let address = Address::from_slice(&keccak256(i.to_be_bytes())[12..]);
            alloc.insert(
                address,
                GenesisAccount { balance: U256::from(1 + i), ..Default::default() },
            );
        }
        let storage = (0u64..8).map(|i| (U256::from(i), U256::from(100 + i))).collect();
        alloc.insert(
            storage_writer_address(),
            GenesisAccount {
                nonce: 1,
                code: Bytes::from_static(STORAGE_WRITER),
                storage,
                ..Default::default()
            },
        );
        alloc.extend(extra);
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(dir.path()).expect("open store");
        let (state, header) = l2_genesis(&alloc).expect("genesis");
        let sealed =
            Sealed { hash: header.block_hash(), header: Bytes::copy_from_slice(&header.encode()) };
        state.write(&store, 0, &sealed).expect("write genesis");
        Self { dir, store, rules: rules(), keys, nonces: vec![0; 4], alloc }
    }

    pub fn head(&self) -> Head {
        self.store.head().expect("head").expect("initialised")
    }

    /// A signed EIP-1559 transaction from key `from`, taking its next nonce.
    pub fn tx(
        &mut self,
        from: usize,
        to: TxKind,
        value: U256,
        input: Bytes,
        gas_limit: u64,
    ) -> Bytes {
        let nonce = self.nonces[from];
        self.nonces[from] += 1;
        self.tx_with_nonce(from, nonce, to, value, input, gas_limit)
    }

    pub fn tx_with_nonce(
        &self,
        from: usize,
        nonce: u64,
        to: TxKind,
        value: U256,
        input: Bytes,
        gas_limit: u64,
    ) -> Bytes {
        let tx = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value,
            access_list: Default::default(),
            input,
        };
        let signature = self.keys[from].sign_hash_sync(&tx.signature_hash()).expect("sign");
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into()
    }

    pub fn transfer(&mut self, from: usize, to: Address, wei: u64) -> Bytes {
        self.tx(from, TxKind::Call(to), U256::from(wei), Bytes::new(), 21_000)
    }

    /// Calls the storage writer: `count` slots from `start` set to `value` (0 deletes).
    pub fn write_slots(&mut self, from: usize, start: u64, count: u64, value: u64) -> Bytes {
        let data: Vec<u8> =
            [start, count, value].iter().flat_map(|w| U256::from(*w).to_be_bytes::<32>()).collect();
        self.tx(
            from,
            TxKind::Call(storage_writer_address()),
            U256::ZERO,
            data.into(),
            60_000 + count * 25_000,
        )
    }

    /// Deploys a copy of the storage writer.
    pub fn deploy_writer(&mut self, from: usize) -> Bytes {
        let len = u8::try_from(STORAGE_WRITER.len()).expect("short runtime");
        let mut init = vec![0x60, len, 0x80, 0x60, 0x09, 0x5f, 0x39, 0x5f, 0xf3];
        init.extend_from_slice(STORAGE_WRITER);
        self.tx(from, TxKind::Create, U256::ZERO, init.into(), 200_000)
    }

    pub fn block(&self, number: u64, transactions: Vec<Bytes>) -> L2Block {
        self.block_with_gas_limit(number, transactions, 30_000_000)
    }

    /// A block with a chosen gas limit (EXECUTE charges it, so challengeable blocks are small).
    pub fn block_with_gas_limit(
        &self,
        number: u64,
        transactions: Vec<Bytes>,
        gas_limit: u64,
    ) -> L2Block {
        let inputs = BlockInputs {
            number,
            timestamp: 1_800_000_000 + number * 2,
            fee_recipient: Address::repeat_byte(0xfe),
            prev_randao: keccak256(number.to_be_bytes()),
            gas_limit,
            base_fee: 1_000_000_000,
            l1_anchor: keccak256(b"l1"),
            transactions,
        };
        L2Block::new(inputs).expect("inputs encode")
    }

    /// Executes and commits `block` on the head.
    pub fn apply(&self, block: &L2Block) -> Head {
        let pending = execute_on_store(&self.store, &self.rules, block).expect("execute");
        pending.commit(&self.store).expect("commit")
    }
}
