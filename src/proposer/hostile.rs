//! Hostile workloads: blocks built to make their own proof as large as possible, the attack
//! protocol v2's witness budget exists for (docs/protocol.md, "Witness budget").
//!
//! The dev genesis carries the contracts these blocks call ([`genesis_accounts`]), so a
//! proposer in hostile mode needs nothing deployed first. Each class fills one block with
//! transactions that, within the block's gas limit, pull as much witness as the EVM lets
//! them: without the budget their correct proof would not fit one L1 transaction and a lie
//! in that block could not be convicted; with it, the STF cuts the transaction that crosses.

use crate::execute_local::replay::GenesisAccount;
use crate::protocol::MAX_TXS_PER_BLOCK;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// `BALANCE(keccak256(i))` for i = 0, 1, … until out of gas: one cold account path per 2,600
/// gas (a fresh path through the account trie each time).
pub const ACCOUNT_SWEEPER: Address = Address::new([0x5e; 20]);
/// With empty calldata, `SLOAD(i)` for i = 0, 1, … until out of gas; with any calldata,
/// `SSTORE(i, 0)` instead (deletions). Its genesis storage holds [`SWEPT_SLOTS`] non-zero slots.
pub const SLOT_SWEEPER: Address = Address::new([0x5d; 20]);
/// `EXTCODESIZE(CODE_BASE + i)` for i = 0, 1, … until out of gas: the first
/// [`LARGE_CODES`] addresses hold distinct codes of the maximum size, each pulled whole into
/// the witness for 2,600 gas.
pub const CODE_SWEEPER: Address = Address::new([0x5c; 20]);
/// `SSTORE(0, BLOCKHASH(NUMBER - 256))`: 20 gas of `BLOCKHASH` that pull the 256 ancestor
/// headers into the witness (the oldest one asked for up to the parent), and a stored result,
/// so the post-state depends on the oldest header.
pub const BLOCKHASH_READER: Address = Address::new([0x5b; 20]);
/// Where the large codes start (`0x…010000`).
pub const CODE_BASE: u64 = 0x01_0000;
/// Non-zero slots of [`SLOT_SWEEPER`] at genesis.
pub const SWEPT_SLOTS: u64 = 3_000;
/// Distinct codes of EIP-170's maximum size at genesis.
pub const LARGE_CODES: u32 = 8;
/// EIP-170's maximum code size (Osaka).
pub const MAX_CODE_SIZE: usize = 24_576;

// PUSH0 JUMPDEST DUP1 PUSH0 MSTORE PUSH1 32 PUSH0 KECCAK256 BALANCE POP PUSH1 1 ADD PUSH1 1 JUMP
const ACCOUNT_SWEEP_CODE: &[u8] = &[
    0x5f, 0x5b, 0x80, 0x5f, 0x52, 0x60, 0x20, 0x5f, 0x20, 0x31, 0x50, 0x60, 0x01, 0x01, 0x60, 0x01,
    0x56,
];

// CALLDATASIZE PUSH1 0x0f JUMPI
// PUSH0 JUMPDEST(5) DUP1 SLOAD POP PUSH1 1 ADD PUSH1 5 JUMP
// JUMPDEST(0x0f) PUSH0 JUMPDEST(0x11) PUSH0 DUP2 SSTORE PUSH1 1 ADD PUSH1 0x11 JUMP
const SLOT_SWEEP_CODE: &[u8] = &[
    0x36, 0x60, 0x0f, 0x57, 0x5f, 0x5b, 0x80, 0x54, 0x50, 0x60, 0x01, 0x01, 0x60, 0x05, 0x56, 0x5b,
    0x5f, 0x5b, 0x5f, 0x81, 0x55, 0x60, 0x01, 0x01, 0x60, 0x11, 0x56,
];

// PUSH2 0x0100 NUMBER SUB BLOCKHASH PUSH0 SSTORE STOP
const BLOCKHASH_READ_CODE: &[u8] = &[0x61, 0x01, 0x00, 0x43, 0x03, 0x40, 0x5f, 0x55, 0x00];

// PUSH3 0x010000 JUMPDEST(4) DUP1 EXTCODESIZE POP PUSH1 1 ADD PUSH1 4 JUMP
const CODE_SWEEP_CODE: &[u8] =
    &[0x62, 0x01, 0x00, 0x00, 0x5b, 0x80, 0x3b, 0x50, 0x60, 0x01, 0x01, 0x60, 0x04, 0x56];

/// The address of large code `i`.
pub fn large_code_address(i: u32) -> Address {
    Address::from_word(B256::from(U256::from(CODE_BASE + u64::from(i))))
}

/// Large code `i`: `STOP` then filler, distinct per `i`.
pub fn large_code(i: u32) -> Bytes {
    let mut code = vec![0x00; MAX_CODE_SIZE];
    code[1..5].copy_from_slice(&i.to_be_bytes());
    code.into()
}

/// The contracts of the hostile workloads, for the dev genesis.
pub fn genesis_accounts() -> Vec<(Address, GenesisAccount)> {
    let contract = |code: &'static [u8]| GenesisAccount {
        nonce: 1,
        code: Bytes::from_static(code),
        ..Default::default()
    };
    let storage: BTreeMap<U256, U256> =
        (0..SWEPT_SLOTS).map(|i| (U256::from(i), U256::from(i + 1))).collect();
    let mut accounts = vec![
        (ACCOUNT_SWEEPER, contract(ACCOUNT_SWEEP_CODE)),
        (SLOT_SWEEPER, GenesisAccount { storage, ..contract(SLOT_SWEEP_CODE) }),
        (CODE_SWEEPER, contract(CODE_SWEEP_CODE)),
        (BLOCKHASH_READER, contract(BLOCKHASH_READ_CODE)),
    ];
    for i in 0..LARGE_CODES {
        accounts.push((
            large_code_address(i),
            GenesisAccount { nonce: 1, code: large_code(i), ..Default::default() },
        ));
    }
    accounts
}

/// A class of witness-heavy block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hostile {
    /// One transaction sweeping cold accounts.
    Accounts,
    /// One transaction sweeping cold slots of one large storage trie.
    Slots,
    /// One transaction pulling distinct maximum-size codes.
    Codes,
    /// One transaction deleting slots (each deletion may collapse a branch).
    Deletions,
    /// 60 KB of undecodable transaction bytes (no gas, but carried in the trace), then a slot
    /// sweep.
    Garbage,
    /// 560 well-formed EIP-1559 transactions whose signatures are invalid (every other one has
    /// a high `s`, EIP-2; the rest recover a random sender with no funds), then a slot sweep:
    /// no gas, but every one is decoded and its sender recovery attempted, and a recovered
    /// sender's account path is read (and charged) before the transaction is refused, until
    /// the witness budget is spent.
    Signatures,
    /// As many transactions as `propose` allows in one block ([`MAX_TXS_PER_BLOCK`]), in as
    /// many of its bytes as it allows ([`crate::protocol::MAX_BLOCK_INPUT_BYTES`]): the smallest signed
    /// transactions, each from a key that holds nothing, then empty (undecodable) ones, then a
    /// slot sweep. The most EXECUTE can charge per transaction and the most sender recoveries
    /// one block can buy.
    Flood,
    /// Two valid transactions priced by the EIP-7623 calldata floor, sharing the block's gas:
    /// one carrying non-zero calldata (40 gas a byte), one zeros (10 gas a byte), to an empty
    /// account. Executed, not skipped: about 60 KB of block inputs for the block's gas.
    Calldata,
    /// One call of [`BLOCKHASH_READER`]: on a chain past block 256, the 256 ancestor headers
    /// (40,960 bytes) enter the trace for 20 gas.
    Blockhash,
}

impl Hostile {
    pub const ALL: [Hostile; 9] = [
        Self::Accounts,
        Self::Slots,
        Self::Codes,
        Self::Deletions,
        Self::Garbage,
        Self::Signatures,
        Self::Flood,
        Self::Calldata,
        Self::Blockhash,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Self::Accounts => "accounts",
            Self::Slots => "slots",
            Self::Codes => "codes",
            Self::Deletions => "deletions",
            Self::Garbage => "garbage",
            Self::Signatures => "signatures",
            Self::Flood => "flood",
            Self::Calldata => "calldata",
            Self::Blockhash => "blockhash",
        }
    }

    /// The calls a funded user makes in the block, each with its gas limit: for the sweeps,
    /// one call taking all of `gas_limit` (the block's).
    pub fn calls(&self, gas_limit: u64) -> Vec<(Address, Bytes, u64)> {
        let sweep = |to: Address, data: Bytes| vec![(to, data, gas_limit)];
        match self {
            Self::Accounts => sweep(ACCOUNT_SWEEPER, Bytes::new()),
            Self::Slots | Self::Garbage | Self::Signatures | Self::Flood => {
                sweep(SLOT_SWEEPER, Bytes::new())
            }
            Self::Codes => sweep(CODE_SWEEPER, Bytes::new()),
            Self::Deletions => sweep(SLOT_SWEEPER, Bytes::from_static(&[0x01])),
            Self::Blockhash => sweep(BLOCKHASH_READER, Bytes::new()),
            Self::Calldata => floor_priced_calls(gas_limit),
        }
    }

    /// Transactions the STF must skip, put before the calls; `chain_id` is the L2's (so an
    /// invalid signature, not a wrong chain, is what refuses them). `room` is what the block's
    /// inputs have left for them, their 4-byte frames included ([`Self::Flood`] fills it).
    pub fn padding(&self, chain_id: u64, room: usize) -> Vec<Bytes> {
        match self {
            Self::Garbage => garbage_txs(600),
            Self::Signatures => invalid_signature_txs(chain_id, 560),
            Self::Flood => flood_txs(chain_id, MAX_TXS_PER_BLOCK as usize - 1, room),
            _ => Vec::new(),
        }
    }
}

/// The empty account the calldata class calls.
pub const CALLDATA_SINK: Address = Address::new([0xda; 20]);
/// What the calldata class leaves of the block's input bytes for the rest of the block.
const CALLDATA_BYTES: usize = 60_000;

/// Two calls of [`CALLDATA_SINK`] sharing `gas_limit`, each with exactly the gas the EIP-7623
/// floor asks of its calldata (21,000 + 10 per zero byte + 40 per non-zero byte), which is
/// more than its standard cost (4 and 16 per byte, nothing executed): the first with non-zero
/// bytes, the second with zeros, together at most [`CALLDATA_BYTES`].
fn floor_priced_calls(gas_limit: u64) -> Vec<(Address, Bytes, u64)> {
    let half = (gas_limit / 2).saturating_sub(21_000);
    let non_zero = usize::try_from(half / 40).unwrap_or(usize::MAX).min(CALLDATA_BYTES / 2);
    let zeros = usize::try_from(half / 10).unwrap_or(usize::MAX).min(CALLDATA_BYTES - non_zero);
    let data: Vec<u8> = (0..non_zero).map(|i| (i % 255) as u8 + 1).collect();
    vec![
        (CALLDATA_SINK, data.into(), 21_000 + 40 * non_zero as u64),
        (CALLDATA_SINK, vec![0; zeros].into(), 21_000 + 10 * zeros as u64),
    ]
}

/// The smallest signed transaction: an EIP-1559 creation with every field zero, 81 bytes or
/// a few fewer, from key `i` of a family that holds nothing (refused for its gas limit below
/// the intrinsic cost, after its sender was recovered). `None` for the one key in 2^128 that
/// is no valid scalar.
pub fn minimal_signed_tx(chain_id: u64, i: u64) -> Option<Bytes> {
    let key = PrivateKeySigner::from_bytes(&keccak256(format!("hostile-flood-{i}"))).ok()?;
    let tx = TxEip1559 { chain_id, to: TxKind::Create, ..Default::default() };
    let signature = key.sign_hash_sync(&tx.signature_hash()).ok()?;
    Some(TxEnvelope::Eip1559(tx.into_signed(signature)).encoded_2718().into())
}

/// `count` transactions framed in at most `room` bytes of block inputs (each with its 4-byte
/// length): as many [`minimal_signed_tx`]s as fit, then empty ones (undecodable, nothing but
/// their frame).
pub fn flood_txs(chain_id: u64, count: usize, room: usize) -> Vec<Bytes> {
    let mut left = room.saturating_sub(4 * count);
    let mut txs = Vec::with_capacity(count);
    for i in 0..count as u64 {
        let Some(raw) = minimal_signed_tx(chain_id, i) else { continue };
        if raw.len() > left {
            break;
        }
        left -= raw.len();
        txs.push(raw);
    }
    txs.resize(count, Bytes::new());
    txs
}

/// `count` distinct undecodable transactions of 100 bytes, each starting with an unknown
/// transaction type (0x7f): no gas, but carried in the block's inputs and its trace.
pub fn garbage_txs(count: u32) -> Vec<Bytes> {
    (0..count)
        .map(|i| {
            let mut bytes = vec![0x7f; 100];
            bytes[1..5].copy_from_slice(&i.to_be_bytes());
            Bytes::from(bytes)
        })
        .collect()
}

/// secp256k1's group order n: an `s` above n / 2 is refused (EIP-2).
const SECP256K1_N: U256 = U256::from_be_slice(&[
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
]);

/// `count` distinct, well-formed EIP-1559 transfers for `chain_id` whose signatures no key
/// made: even ones carry a high `s` (refused by EIP-2 at sender recovery), odd ones a random
/// low-`s` signature that recovers, almost always, a sender that holds nothing (refused for
/// insufficient funds, after its account was read). 109 bytes each.
pub fn invalid_signature_txs(chain_id: u64, count: u32) -> Vec<Bytes> {
    let half = SECP256K1_N >> 1;
    (0..count)
        .map(|i| {
            let tx = TxEip1559 {
                chain_id,
                nonce: 0,
                gas_limit: 21_000,
                max_fee_per_gas: 1 << 40,
                max_priority_fee_per_gas: 0,
                to: TxKind::Call(Address::repeat_byte(0x51)),
                value: U256::from(1),
                ..Default::default()
            };
            let word =
                |tag: &[u8]| U256::from_be_bytes(keccak256([tag, &i.to_be_bytes()].concat()).0);
            // r and s below n / 2, then s lifted above it for the even ones.
            let r = (word(b"r") % (half - U256::from(1))) + U256::from(1);
            let mut s = (word(b"s") % (half - U256::from(1))) + U256::from(1);
            if i % 2 == 0 {
                s = SECP256K1_N - s;
            }
            let signed = tx.into_signed(Signature::new(r, s, i % 4 < 2));
            Bytes::from(TxEnvelope::Eip1559(signed).encoded_2718())
        })
        .collect()
}

impl fmt::Display for Hostile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hostile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|h| h.name() == s).ok_or_else(|| {
            format!(
                "unknown hostile workload {s:?}: one of accounts, slots, codes, deletions, garbage, signatures, flood, calldata, blockhash"
            )
        })
    }
}
