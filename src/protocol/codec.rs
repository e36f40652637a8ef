//! Byte-level primitives shared by the protocol codecs.
//!
//! Input: a byte slice (decoding) or an output vector (encoding).
//! Output: big-endian fixed-width integers, fixed-size hashes, length-prefixed slices.
//! Invariants: no read can panic: every access goes through `get`/`checked_*`; errors carry
//! the absolute offset (`base` + position) so nested decoders report positions in the
//! outermost buffer.

use super::ProtocolError;
use alloy_primitives::{Address, B256};

/// A forward-only cursor over `buf`; `base` is the offset of `buf[0]` in the outer buffer.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// Absolute offset of the next unread byte.
    pub(crate) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Takes the next `n` bytes or fails with `Truncated`.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtocolError> {
        let truncated = ProtocolError::Truncated {
            what,
            offset: self.offset(),
            needed: n,
            remaining: self.remaining(),
        };
        let end = self.pos.checked_add(n).ok_or(truncated.clone())?;
        let out = self.buf.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ProtocolError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, ProtocolError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, ProtocolError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn b256(&mut self, what: &'static str) -> Result<B256, ProtocolError> {
        Ok(B256::new(self.array(what)?))
    }

    pub(crate) fn address(&mut self, what: &'static str) -> Result<Address, ProtocolError> {
        Ok(Address::new(self.array(what)?))
    }

    /// A 32-byte big-endian word that must fit u64 (its 24 high bytes zero).
    pub(crate) fn word_u64(&mut self, what: &'static str) -> Result<u64, ProtocolError> {
        let offset = self.offset();
        let word: [u8; 32] = self.array(what)?;
        let (high, low) = word.split_at(24);
        if high.iter().any(|b| *b != 0) {
            return Err(ProtocolError::IntegerOverflow { what, offset });
        }
        let mut out = [0u8; 8];
        out.copy_from_slice(low);
        Ok(u64::from_be_bytes(out))
    }

    /// A `len u32 | bytes` item; returns the bytes and their absolute start offset.
    pub(crate) fn prefixed(
        &mut self,
        what: &'static str,
    ) -> Result<(&'a [u8], usize), ProtocolError> {
        let len = self.u32(what)?;
        let start = self.offset();
        // u32 -> usize is lossless on every supported target; MAX makes `take` fail cleanly.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        Ok((self.take(len, what)?, start))
    }

    /// Succeeds only if every byte was consumed.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), ProtocolError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(ProtocolError::TrailingBytes { what, offset: self.offset(), count }),
        }
    }
}

/// Checks `n <= max` (a count or length against its prefix width or protocol limit).
pub(crate) fn check_max(n: usize, max: usize, what: &'static str) -> Result<(), ProtocolError> {
    if n > max {
        return Err(ProtocolError::TooLarge { what, found: n, max });
    }
    Ok(())
}

/// `n` as a u32 prefix, or `TooLarge`.
pub(crate) fn u32_len(n: usize, what: &'static str) -> Result<u32, ProtocolError> {
    u32::try_from(n).map_err(|_| ProtocolError::TooLarge { what, found: n, max: u32::MAX as usize })
}

/// Appends `len u32 | bytes`.
pub(crate) fn put_prefixed(
    out: &mut Vec<u8>,
    bytes: &[u8],
    what: &'static str,
) -> Result<(), ProtocolError> {
    let len = u32_len(bytes.len(), what)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// A u64 as a 32-byte big-endian word (Solidity `uint256`).
pub(crate) fn word(value: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[24..].copy_from_slice(&value.to_be_bytes());
    out
}
