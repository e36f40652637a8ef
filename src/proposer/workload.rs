//! The L2 transactions a proposer puts in its blocks: transfers, ERC-20 transfers, contract
//! deployments and storage churn, signed by the dev users, in a seeded, reproducible mix.
//!
//! Input: the users' keys, their nonces (read back from the L2 state after a rewind), a
//! [`WorkloadSpec`]. Output: raw EIP-2718 transactions whose gas limits sum to at most the
//! block's gas limit, so every one of them fits its block.

use crate::execute_local::store::{StateStore, StoreError};
use crate::rollup::bindings::Token;
use crate::rollup::genesis::STORAGE_WRITER_ADDRESS;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolConstructor};

const TRANSFER_GAS: u64 = 21_000;
const TOKEN_TRANSFER_GAS: u64 = 80_000;
const DEPLOY_GAS: u64 = 600_000;
const SLOTS_PER_CALL: u64 = 6;
const STORAGE_GAS: u64 = 60_000 + SLOTS_PER_CALL * 25_000;
/// A call of P256VERIFY with a 160-byte input: 21,000, the EIP-7623 floor of the input
/// (at most 6,400) and the precompile's 6,900 under Osaka, with room to spare.
const P256_GAS: u64 = 40_000;
/// The P256VERIFY precompile's address (EIP-7951, Osaka; an empty account before).
pub const P256VERIFY: Address =
    Address::new([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00]);

/// Relative weights of the transaction kinds, and how many transactions a block carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadSpec {
    pub txs_per_block: usize,
    pub transfers: u32,
    pub erc20: u32,
    pub deploys: u32,
    pub storage: u32,
    /// Calls of the P256VERIFY precompile (0x0100): it exists from Osaka on (EIP-7951), so
    /// the same transaction uses 6,900 more gas on the far side of that activation; the
    /// workload of tests that lie across a fork.
    pub p256: u32,
    pub seed: u64,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        Self { txs_per_block: 24, transfers: 6, erc20: 4, deploys: 1, storage: 2, p256: 0, seed: 1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Transfer,
    Erc20,
    Deploy,
    Storage,
    P256,
}

/// Generates signed transactions. See the module documentation.
#[derive(Debug)]
pub struct Workload {
    chain_id: u64,
    spec: WorkloadSpec,
    users: Vec<PrivateKeySigner>,
    nonces: Vec<u64>,
    /// Tokens deployed so far, with the user holding their supply.
    tokens: Vec<(Address, usize)>,
    rng: SplitMix64,
    /// Max fee per gas the transactions offer (at least the blocks' base fee).
    max_fee: u128,
}

impl Workload {
    pub fn new(
        chain_id: u64,
        users: Vec<PrivateKeySigner>,
        spec: WorkloadSpec,
        max_fee: u128,
    ) -> Self {
        let nonces = vec![0; users.len()];
        Self {
            chain_id,
            spec,
            users,
            nonces,
            tokens: Vec::new(),
            rng: SplitMix64(spec.seed),
            max_fee,
        }
    }

    /// Reads every user's nonce from the L2 state, and forgets tokens that no longer exist
    /// (after the proposer rewound its chain).
    pub fn sync(&mut self, store: &StateStore) -> Result<(), StoreError> {
        for (user, nonce) in self.users.iter().zip(self.nonces.iter_mut()) {
            *nonce = store.account(&user.address())?.map_or(0, |a| a.nonce);
        }
        let mut live = Vec::new();
        for (token, holder) in &self.tokens {
            if store
                .account(token)?
                .is_some_and(|a| a.code_hash != alloy_primitives::KECCAK256_EMPTY)
            {
                live.push((*token, *holder));
            }
        }
        self.tokens = live;
        Ok(())
    }

    /// The transactions of one block whose gas limits sum to at most `gas_limit`.
    pub fn block_txs(&mut self, gas_limit: u64) -> Vec<Bytes> {
        let mut txs = Vec::with_capacity(self.spec.txs_per_block);
        let mut budget = gas_limit;
        for _ in 0..self.spec.txs_per_block {
            let kind = self.pick();
            let gas = kind_gas(kind);
            if gas > budget || self.users.is_empty() {
                continue;
            }
            budget -= gas;
            txs.push(self.make(kind));
        }
        txs
    }

    /// The L2 chain id the transactions are signed for.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// A call of `to` with `data` and `gas`, signed by the next user in turn.
    pub fn call_tx(&mut self, to: Address, data: Bytes, gas: u64) -> Bytes {
        let user = self.rng.below(self.users.len().max(1) as u64) as usize;
        if self.users.is_empty() {
            return Bytes::from_static(&[0xff]);
        }
        self.next(user, TxKind::Call(to), U256::ZERO, data, gas)
    }

    /// A contract creation running `initcode` with `gas`, signed by the next user in turn.
    pub fn create_tx(&mut self, initcode: Bytes, gas: u64) -> Bytes {
        let user = self.rng.below(self.users.len().max(1) as u64) as usize;
        if self.users.is_empty() {
            return Bytes::from_static(&[0xff]);
        }
        self.next(user, TxKind::Create, U256::ZERO, initcode, gas)
    }

    /// A transaction the L2 must skip: signed by a user with a nonce far ahead of its own.
    pub fn invalid_nonce_tx(&mut self) -> Bytes {
        let user = self.rng.below(self.users.len().max(1) as u64) as usize;
        let nonce = self.nonces.get(user).copied().unwrap_or(0) + 1_000;
        self.sign(
            user,
            nonce,
            TxKind::Call(Address::repeat_byte(0x11)),
            U256::from(1),
            Bytes::new(),
            TRANSFER_GAS,
        )
    }

    fn pick(&mut self) -> Kind {
        let s = self.spec;
        let total = u64::from(s.transfers + s.erc20 + s.deploys + s.storage + s.p256).max(1);
        let mut roll = self.rng.below(total);
        for (kind, weight) in [
            (Kind::Transfer, s.transfers),
            (Kind::Erc20, s.erc20),
            (Kind::Deploy, s.deploys),
            (Kind::Storage, s.storage),
            (Kind::P256, s.p256),
        ] {
            if roll < u64::from(weight) {
                return if kind == Kind::Erc20 && self.tokens.is_empty() {
                    Kind::Deploy
                } else {
                    kind
                };
            }
            roll -= u64::from(weight);
        }
        Kind::Transfer
    }

    fn make(&mut self, kind: Kind) -> Bytes {
        let user = self.rng.below(self.users.len() as u64) as usize;
        match kind {
            Kind::Transfer => {
                let to = self.fresh_address();
                let value = U256::from(1 + self.rng.below(1_000_000));
                self.next(user, TxKind::Call(to), value, Bytes::new(), TRANSFER_GAS)
            }
            Kind::Erc20 => {
                let (token, holder) =
                    self.tokens[self.rng.below(self.tokens.len() as u64) as usize];
                let call = Token::transferCall {
                    to: self.fresh_address(),
                    value: U256::from(1 + self.rng.below(1_000)),
                };
                self.next(
                    holder,
                    TxKind::Call(token),
                    U256::ZERO,
                    call.abi_encode().into(),
                    TOKEN_TRANSFER_GAS,
                )
            }
            Kind::Deploy => {
                let address = self.users[user].address().create(self.nonces[user]);
                self.tokens.push((address, user));
                let supply = U256::from(10u64).pow(U256::from(27u64));
                let mut code = Token::BYTECODE.to_vec();
                code.extend_from_slice(&Token::constructorCall { supply }.abi_encode());
                self.next(user, TxKind::Create, U256::ZERO, code.into(), DEPLOY_GAS)
            }
            Kind::Storage => {
                let start = self.rng.below(4_096);
                let value = self.rng.below(3); // 0 deletes: churn both ways
                let data: Vec<u8> = [start, SLOTS_PER_CALL, value]
                    .iter()
                    .flat_map(|w| U256::from(*w).to_be_bytes::<32>())
                    .collect();
                self.next(
                    user,
                    TxKind::Call(STORAGE_WRITER_ADDRESS),
                    U256::ZERO,
                    data.into(),
                    STORAGE_GAS,
                )
            }
            Kind::P256 => {
                // Hash, r, s and a public key that do not verify: the precompile charges its
                // gas all the same and returns nothing.
                let input: Vec<u8> = (0..20).flat_map(|_| self.rng.next().to_be_bytes()).collect();
                self.next(user, TxKind::Call(P256VERIFY), U256::ZERO, input.into(), P256_GAS)
            }
        }
    }

    fn fresh_address(&mut self) -> Address {
        let mut bytes = [0u8; 20];
        bytes[..8].copy_from_slice(&self.rng.next().to_be_bytes());
        bytes[8..16].copy_from_slice(&self.rng.next().to_be_bytes());
        bytes[19] = 0x01;
        Address::from(bytes)
    }

    fn next(&mut self, user: usize, to: TxKind, value: U256, input: Bytes, gas: u64) -> Bytes {
        let nonce = self.nonces[user];
        self.nonces[user] += 1;
        self.sign(user, nonce, to, value, input, gas)
    }

    fn sign(
        &self,
        user: usize,
        nonce: u64,
        to: TxKind,
        value: U256,
        input: Bytes,
        gas_limit: u64,
    ) -> Bytes {
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: self.max_fee,
            max_priority_fee_per_gas: 1,
            to,
            value,
            access_list: Default::default(),
            input,
        };
        // Signing a hash with an in-memory key cannot fail for a valid key; a failure yields
        // bytes the L2 skips, which is still a well-formed block input.
        match self.users[user].sign_hash_sync(&tx.signature_hash()) {
            Ok(signature) => TxEnvelope::from(tx.into_signed(signature)).encoded_2718().into(),
            Err(_) => Bytes::from_static(&[0xff]),
        }
    }
}

fn kind_gas(kind: Kind) -> u64 {
    match kind {
        Kind::Transfer => TRANSFER_GAS,
        Kind::Erc20 => TOKEN_TRANSFER_GAS,
        Kind::Deploy => DEPLOY_GAS,
        Kind::Storage => STORAGE_GAS,
        Kind::P256 => P256_GAS,
    }
}

/// SplitMix64: a tiny seeded generator, so a workload is reproducible from its seed.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}
