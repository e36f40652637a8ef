//! Ethereum L1 blocks as the executor sees them ([`BlockSpec`]), and Ethereum headers as the
//! stateless verifier's ancestry format ([`HeaderFormat`]).

use crate::execute_local::block::{BlockEnvInput, BlockOutcome, InvalidTxPolicy, PreparedTx};
use crate::execute_local::chunk::{BlockSpec, Sealed};
use crate::execute_local::stateless::{HeaderFormat, HeaderLink};
use crate::execute_local::txs::prepare_envelope;
use alloy_consensus::{Block, Header, TxEnvelope};
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::{Decodable, Encodable};

/// A decoded Ethereum block with its transactions prepared.
#[derive(Debug, Clone)]
pub struct EthBlock {
    pub header: Header,
    pub hash: B256,
    pub txs: Vec<PreparedTx>,
    pub withdrawals: Option<Vec<Withdrawal>>,
}

impl EthBlock {
    pub fn new(block: Block<TxEnvelope>) -> Self {
        let hash = block.header.hash_slow();
        let txs = block.body.transactions.into_iter().map(prepare_envelope).collect();
        let withdrawals = block.body.withdrawals.map(|w| w.into_inner());
        Self { header: block.header, hash, txs, withdrawals }
    }
}

impl BlockSpec for EthBlock {
    fn number(&self) -> u64 {
        self.header.number
    }

    fn env(&self, _parent_hash: B256) -> BlockEnvInput {
        BlockEnvInput::from_header(&self.header, self.withdrawals.clone())
    }

    fn txs(&self) -> &[PreparedTx] {
        &self.txs
    }

    fn policy(&self) -> InvalidTxPolicy {
        InvalidTxPolicy::RejectBlock
    }

    /// Never asked: Ethereum L1 has no trace budget ([`ethereum_rules`](super::runner::ethereum_rules)).
    fn encoded_len(&self) -> usize {
        0
    }

    fn seal(&self, _parent_hash: B256, _post_state_root: B256, _outcome: &BlockOutcome) -> Sealed {
        Sealed { hash: self.hash, header: encode_header(&self.header) }
    }
}

/// RLP of a header.
pub fn encode_header(header: &Header) -> Bytes {
    let mut out = Vec::with_capacity(header.length());
    header.encode(&mut out);
    out.into()
}

/// Ethereum headers in a witness: RLP, hashed with keccak256.
#[derive(Debug, Clone, Copy)]
pub struct EthHeaders;

impl HeaderFormat for EthHeaders {
    fn link(bytes: &[u8]) -> Result<HeaderLink, String> {
        let mut buf = bytes;
        let header = Header::decode(&mut buf).map_err(|err| err.to_string())?;
        if !buf.is_empty() {
            return Err(format!("{} trailing bytes", buf.len()));
        }
        Ok(HeaderLink {
            number: header.number,
            parent_hash: header.parent_hash,
            hash: keccak256(bytes),
            state_root: header.state_root,
        })
    }
}
