//! The rollup's L2 blocks as the executor sees them, the L2 header as ancestry, and the L2
//! genesis.
//!
//! Input: [`BlockInputs`] (docs/protocol.md, "Block inputs"). Output: a [`BlockSpec`] whose
//! environment is built from the inputs and the L2 parent hash, whose invalid transactions are
//! skipped (the totality rule), and whose seal is the 160-byte [`L2Header`].

use super::block::{BlockEnvInput, BlockOutcome, InvalidTxPolicy, PreparedTx};
use super::chunk::{BlockSpec, Sealed};
use super::fault::DbFault;
use super::replay::{GenesisAccount, GenesisState};
use super::stateless::{HeaderFormat, HeaderLink};
use super::store::{StateStore, StoreError};
use super::txs::prepare_l2_tx;
use crate::protocol::{BlockInputs, L2Header, ProtocolError};
use alloy_eips::{eip2935, eip4788, eip7002, eip7251};
use alloy_primitives::{Address, B256, Bytes, U256};
use std::collections::BTreeMap;

/// One L2 block: its inputs, their commitment, and its transactions prepared.
#[derive(Debug, Clone)]
pub struct L2Block {
    pub inputs: BlockInputs,
    pub input_commitment: B256,
    txs: Vec<PreparedTx>,
}

impl L2Block {
    pub fn new(inputs: BlockInputs) -> Result<Self, ProtocolError> {
        let input_commitment = inputs.commitment()?;
        let txs = inputs.transactions.iter().map(|raw| prepare_l2_tx(raw)).collect();
        Ok(Self { inputs, input_commitment, txs })
    }

    /// The header this block gets once executed.
    pub fn header(&self, parent_hash: B256, post_state_root: B256, gas_used: u64) -> L2Header {
        L2Header {
            parent_hash,
            number: self.inputs.number,
            input_commitment: self.input_commitment,
            state_root: post_state_root,
            gas_used,
        }
    }
}

impl BlockSpec for L2Block {
    fn number(&self) -> u64 {
        self.inputs.number
    }

    fn env(&self, parent_hash: B256) -> BlockEnvInput {
        let inputs = &self.inputs;
        BlockEnvInput {
            number: inputs.number,
            timestamp: inputs.timestamp,
            beneficiary: inputs.fee_recipient,
            prev_randao: inputs.prev_randao,
            gas_limit: inputs.gas_limit,
            base_fee: inputs.base_fee,
            parent_hash,
            parent_beacon_block_root: Some(inputs.l1_anchor),
            excess_blob_gas: Some(0),
            withdrawals: None,
        }
    }

    fn txs(&self) -> &[PreparedTx] {
        &self.txs
    }

    fn policy(&self) -> InvalidTxPolicy {
        InvalidTxPolicy::Skip
    }

    fn encoded_len(&self) -> usize {
        self.inputs.encoded_len()
    }

    fn seal(&self, parent_hash: B256, post_state_root: B256, outcome: &BlockOutcome) -> Sealed {
        let header = self.header(parent_hash, post_state_root, outcome.gas_used);
        Sealed { hash: header.block_hash(), header: Bytes::copy_from_slice(&header.encode()) }
    }
}

/// The L2 header of block `number` as `store` holds it; a stored header that does not decode
/// is a corrupt store.
pub fn stored_header(store: &StateStore, number: u64) -> Result<Option<L2Header>, StoreError> {
    let Some((_, bytes)) = store.header(number)? else { return Ok(None) };
    L2Header::decode(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Corrupt { what: "header", reason: e.to_string() })
}

/// L2 headers in a witness.
#[derive(Debug, Clone, Copy)]
pub struct L2Headers;

impl HeaderFormat for L2Headers {
    fn link(bytes: &[u8]) -> Result<HeaderLink, String> {
        let header = L2Header::decode(bytes).map_err(|err| err.to_string())?;
        Ok(HeaderLink {
            number: header.number,
            parent_hash: header.parent_hash,
            hash: header.block_hash(),
            state_root: header.state_root,
        })
    }
}

/// Why an L2 genesis allocation is refused.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error(
        "{address} has storage but no code and nonce 0: such an account makes EIP-7610's collision rule observable, which revm does not implement"
    )]
    StorageWithoutCode { address: Address },
    #[error("{address} is a system contract address; the genesis builder places those itself")]
    SystemAddress { address: Address },
    #[error(transparent)]
    State(#[from] DbFault),
}

/// The four system contracts Ethereum's block execution calls, with their mainnet code (the
/// dev L1's genesis).
pub fn system_contracts() -> [(Address, Bytes); 4] {
    [
        (eip4788::BEACON_ROOTS_ADDRESS, eip4788::BEACON_ROOTS_CODE.clone()),
        (eip2935::HISTORY_STORAGE_ADDRESS, eip2935::HISTORY_STORAGE_CODE.clone()),
        (
            eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
            eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_CODE.clone(),
        ),
        (
            eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
            eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_CODE.clone(),
        ),
    ]
}

/// Code the L2 places at the EIP-7002 and EIP-7251 addresses (protocol v2): called by the
/// system address it stops with empty output (no requests), called by anyone else it reverts.
///
/// `CALLER PUSH20 0xff…fe EQ PUSH1 0x1d JUMPI PUSH0 PUSH0 REVERT JUMPDEST STOP`
///
/// *Why not the mainnet code:* requests mean nothing on the L2, and the mainnet contracts'
/// end-of-block system calls read queue entries that users enqueued in earlier blocks (up to
/// 16 withdrawal and 2 consolidation requests, 3 to 4 storage slots each, every block). Those
/// reads cannot be skipped, so no witness budget could bound them; the inert code makes the
/// epilogue read two fixed accounts and one 31-byte code, which the STF loads at the start of
/// the block (docs/protocol.md, "Witness budget").
pub const INERT_REQUEST_CONTRACT: [u8; 31] = [
    0x33, 0x73, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x14, 0x60, 0x1d, 0x57, 0x5f, 0x5f, 0xfd, 0x5b, 0x00,
];

/// The accounts the block's epilogue (the EIP-7002 and EIP-7251 system calls) reads; the L2
/// STF loads them before the first transaction.
pub const EPILOGUE_ACCOUNTS: [Address; 2] = [
    eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
    eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
];

/// The four system contracts the L2's block execution calls: EIP-4788 and EIP-2935 with their
/// mainnet code, EIP-7002 and EIP-7251 with [`INERT_REQUEST_CONTRACT`].
pub fn l2_system_contracts() -> [(Address, Bytes); 4] {
    let inert = Bytes::from_static(&INERT_REQUEST_CONTRACT);
    [
        (eip4788::BEACON_ROOTS_ADDRESS, eip4788::BEACON_ROOTS_CODE.clone()),
        (eip2935::HISTORY_STORAGE_ADDRESS, eip2935::HISTORY_STORAGE_CODE.clone()),
        (eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, inert.clone()),
        (eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS, inert),
    ]
}

/// The L2 genesis: `alloc` plus the system contracts, and its header.
pub fn l2_genesis(
    alloc: &BTreeMap<Address, GenesisAccount>,
) -> Result<(GenesisState, L2Header), GenesisError> {
    let mut full = alloc.clone();
    for (address, account) in alloc {
        if !account.storage.is_empty() && account.code.is_empty() && account.nonce == 0 {
            return Err(GenesisError::StorageWithoutCode { address: *address });
        }
    }
    for (address, code) in l2_system_contracts() {
        if full.contains_key(&address) {
            return Err(GenesisError::SystemAddress { address });
        }
        full.insert(
            address,
            GenesisAccount { nonce: 1, balance: U256::ZERO, code, storage: BTreeMap::new() },
        );
    }
    let state = GenesisState::build(&full)?;
    let header = L2Header::genesis(state.state_root);
    Ok((state, header))
}
