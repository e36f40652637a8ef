//! A full-size L2 block (docs/protocol.md, "Segments"): transactions that use all of a block's
//! gas limit, as large as the per-transaction cap lets them be, so that the block runs as
//! several segments.
//!
//! Input: the workload (signer and nonces) and the block's gas limit. Output: a 24 KiB
//! contract deployment (the largest code EIP-170 allows, about 5.4M gas: what the per-
//! transaction cap of `SEGMENT_GAS` must admit), then burners: contract creations whose code
//! loops until it runs out of gas, each taking as much of what is left as one segment holds.
//! A 30M-gas block is then five segments: the deployment alone (a burner does not fit beside
//! it), one per 6.9M burner, and the rest.

use super::workload::Workload;
use crate::protocol::SEGMENT_GAS;
use alloy_primitives::Bytes;

/// EIP-170's largest contract code.
pub const MAX_CODE_BYTES: usize = 24_576;
/// Gas limit of the deployment: 21,000 + 32,000 + calldata + 200 per code byte + the copy.
pub const DEPLOY_GAS: u64 = 5_600_000;
/// Gas limit of one burner: a segment's, less room for nothing else.
pub const BURN_GAS: u64 = SEGMENT_GAS - 100_000;
/// Smallest burner worth sending.
const MIN_BURN_GAS: u64 = 60_000;

/// Init code returning `len` bytes of code copied from its own tail (never starting with
/// 0xEF, which EIP-3541 refuses).
pub fn deploy_initcode(len: usize) -> Bytes {
    let len16 = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    // PUSH2 len, PUSH1 14, PUSH1 0, CODECOPY, PUSH2 len, PUSH1 0, RETURN: 14 bytes.
    let mut code = vec![0x61, len16[0], len16[1], 0x60, 14, 0x60, 0, 0x39];
    code.extend_from_slice(&[0x61, len16[0], len16[1], 0x60, 0, 0xf3]);
    code.extend((0..len).map(|i| (i % 250) as u8 + 1));
    code.into()
}

/// Init code that loops until it runs out of gas: JUMPDEST, PUSH1 0, JUMP.
pub fn burner_initcode() -> Bytes {
    Bytes::from_static(&[0x5b, 0x60, 0x00, 0x56])
}

/// The transactions of a block that uses `gas_limit` in full. See the module documentation.
pub fn full_block_txs(workload: &mut Workload, gas_limit: u64) -> Vec<Bytes> {
    let mut txs = Vec::new();
    let mut left = gas_limit;
    if left >= DEPLOY_GAS {
        txs.push(workload.create_tx(deploy_initcode(MAX_CODE_BYTES), DEPLOY_GAS));
        left -= DEPLOY_GAS;
    }
    while left >= MIN_BURN_GAS {
        let gas = left.min(BURN_GAS);
        txs.push(workload.create_tx(burner_initcode(), gas));
        left -= gas;
    }
    txs
}
