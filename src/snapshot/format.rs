//! The snapshot file: a versioned binary layout with lengths and a checksum.
//!
//! Input/output: a [`Snapshot`] and its bytes. Every integer is big-endian:
//!
//! ```text
//! magic "NCSNAP\r\n" (8) | version u16 = 1 | chain id u64 | rollup (20) | batch id u64
//! header count u32 (1..=257) | headers, 160 bytes each, oldest first, the batch's last last
//! account count u64 | per account, by address ascending:
//!     address (20) | nonce u64 | balance (32) | code hash (32) | slot count u64
//!     | slots by key ascending: key (32) | value (32, never zero)
//! code count u64 | per code, by hash ascending: hash (32) | length u32 | bytecode
//! checksum: keccak256 of every byte before it (32)
//! ```
//!
//! Decoding is strict: a short file, a count larger than what follows, bytes after the
//! checksum, unsorted or repeated keys, a zero slot, a code whose hash is not its keccak256 and
//! a checksum that differs are all refused, with the reason. What the contents mean (roots,
//! hashes, L1) is checked by [`super::verify`].

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

/// The first bytes of every snapshot file (`\r\n` catches text-mode transfers).
pub const MAGIC: [u8; 8] = *b"NCSNAP\r\n";
/// The layout this code writes and reads.
pub const VERSION: u16 = 1;
/// The batch's last header and up to 256 ancestors (what BLOCKHASH reads).
pub const MAX_HEADERS: usize = 257;
/// Bytes of one encoded L2 header.
pub const HEADER_LEN: usize = crate::protocol::L2_HEADER_LEN;

/// Bytes before the header count: magic, version, chain id, rollup, batch id.
pub const PREAMBLE_LEN: usize = 46;

/// The batch id of a file from its first [`PREAMBLE_LEN`] bytes (magic and version checked).
pub fn batch_id_of(preamble: &[u8]) -> Result<u64, FormatError> {
    let mut r = Reader { bytes: preamble, at: 0 };
    if r.take(MAGIC.len(), "the magic")? != MAGIC {
        return Err(FormatError::BadMagic);
    }
    let found = u16::from_be_bytes(r.array("the version")?);
    if found != VERSION {
        return Err(FormatError::Version { found });
    }
    r.take(28, "the chain id and rollup")?;
    r.u64("the batch id")
}

/// Why bytes are not a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not a snapshot file (its first bytes are not the snapshot magic)")]
    BadMagic,
    #[error("snapshot format version {found} is not supported (this build reads {VERSION})")]
    Version { found: u16 },
    #[error("truncated: the file ends at byte {len} while reading {what}")]
    Truncated { what: String, len: usize },
    #[error("{0} bytes after the checksum")]
    Trailing(usize),
    #[error("checksum mismatch: the file is corrupt (computed {computed}, stored {stored})")]
    Checksum { computed: B256, stored: B256 },
    #[error("{0}")]
    Invalid(String),
}

/// One account with its storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotAccount {
    pub address: Address,
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
    /// Non-zero slots, by key.
    pub storage: Vec<(U256, U256)>,
}

/// The L2 state at the end of one batch, with the headers the next blocks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub chain_id: u64,
    pub rollup: Address,
    pub batch_id: u64,
    /// Encoded L2 headers, consecutive, oldest first; the last is the batch's last block.
    pub headers: Vec<Bytes>,
    /// By address.
    pub accounts: Vec<SnapshotAccount>,
    /// By hash.
    pub codes: Vec<(B256, Bytes)>,
}

impl Snapshot {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let slots: usize = self.accounts.iter().map(|a| a.storage.len()).sum();
        let code_bytes: usize = self.codes.iter().map(|(_, c)| c.len() + 36).sum();
        let mut out = Vec::with_capacity(
            72 + self.headers.len() * HEADER_LEN
                + self.accounts.len() * 100
                + slots * 64
                + code_bytes
                + 32,
        );
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&self.chain_id.to_be_bytes());
        out.extend_from_slice(self.rollup.as_slice());
        out.extend_from_slice(&self.batch_id.to_be_bytes());
        out.extend_from_slice(&(self.headers.len() as u32).to_be_bytes());
        for header in &self.headers {
            out.extend_from_slice(header);
        }
        out.extend_from_slice(&(self.accounts.len() as u64).to_be_bytes());
        for account in &self.accounts {
            out.extend_from_slice(account.address.as_slice());
            out.extend_from_slice(&account.nonce.to_be_bytes());
            out.extend_from_slice(&account.balance.to_be_bytes::<32>());
            out.extend_from_slice(account.code_hash.as_slice());
            out.extend_from_slice(&(account.storage.len() as u64).to_be_bytes());
            for (slot, value) in &account.storage {
                out.extend_from_slice(&slot.to_be_bytes::<32>());
                out.extend_from_slice(&value.to_be_bytes::<32>());
            }
        }
        out.extend_from_slice(&(self.codes.len() as u64).to_be_bytes());
        for (hash, code) in &self.codes {
            out.extend_from_slice(hash.as_slice());
            out.extend_from_slice(&(code.len() as u32).to_be_bytes());
            out.extend_from_slice(code);
        }
        let checksum = keccak256(&out);
        out.extend_from_slice(checksum.as_slice());
        out
    }

    /// Parses and checks a file's bytes. See the module documentation.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len(), "the magic")? != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let found = u16::from_be_bytes(r.array("the version")?);
        if found != VERSION {
            return Err(FormatError::Version { found });
        }
        let chain_id = r.u64("the chain id")?;
        let rollup = Address::from(r.array::<20>("the rollup address")?);
        let batch_id = r.u64("the batch id")?;
        let header_count = u32::from_be_bytes(r.array("the header count")?) as usize;
        if header_count == 0 || header_count > MAX_HEADERS {
            return Err(FormatError::Invalid(format!(
                "{header_count} headers: a snapshot holds 1 to {MAX_HEADERS}"
            )));
        }
        let mut headers = Vec::with_capacity(header_count);
        for i in 0..header_count {
            headers.push(Bytes::copy_from_slice(r.take(HEADER_LEN, &format!("header {i}"))?));
        }
        let account_count = r.count("the account count", 100)?;
        let mut accounts: Vec<SnapshotAccount> = Vec::with_capacity(account_count);
        for i in 0..account_count {
            let what = |field: &str| format!("account {i}'s {field}");
            let address = Address::from(r.array::<20>(&what("address"))?);
            if let Some(prev) = accounts.last()
                && prev.address >= address
            {
                return Err(FormatError::Invalid(format!(
                    "account {address} after {}: accounts must be sorted by address, once each",
                    prev.address
                )));
            }
            let nonce = r.u64(&what("nonce"))?;
            let balance = U256::from_be_bytes(r.array::<32>(&what("balance"))?);
            let code_hash = B256::from(r.array::<32>(&what("code hash"))?);
            let slot_count = r.count(&what("slot count"), 64)?;
            let mut storage: Vec<(U256, U256)> = Vec::with_capacity(slot_count);
            for j in 0..slot_count {
                let slot = U256::from_be_bytes(r.array::<32>(&what(&format!("slot {j}")))?);
                let value = U256::from_be_bytes(r.array::<32>(&what(&format!("slot {j}")))?);
                if storage.last().is_some_and(|(prev, _)| *prev >= slot) {
                    return Err(FormatError::Invalid(format!(
                        "account {address}: slot {slot:#x} out of order or repeated"
                    )));
                }
                if value.is_zero() {
                    return Err(FormatError::Invalid(format!(
                        "account {address}: slot {slot:#x} is zero (zero slots are not stored)"
                    )));
                }
                storage.push((slot, value));
            }
            accounts.push(SnapshotAccount { address, nonce, balance, code_hash, storage });
        }
        let code_count = r.count("the code count", 36)?;
        let mut codes: Vec<(B256, Bytes)> = Vec::with_capacity(code_count);
        for i in 0..code_count {
            let hash = B256::from(r.array::<32>(&format!("code {i}'s hash"))?);
            if codes.last().is_some_and(|(prev, _)| *prev >= hash) {
                return Err(FormatError::Invalid(format!(
                    "code {hash} out of order or repeated: codes must be sorted by hash"
                )));
            }
            let len = u32::from_be_bytes(r.array(&format!("code {hash}'s length"))?) as usize;
            let code = Bytes::copy_from_slice(r.take(len, &format!("code {hash}"))?);
            if code.is_empty() || keccak256(&code) != hash {
                return Err(FormatError::Invalid(format!(
                    "code {hash}: its bytes hash to {} (the file is corrupt)",
                    keccak256(&code)
                )));
            }
            codes.push((hash, code));
        }
        let body = r.at;
        let stored = B256::from(r.array::<32>("the checksum")?);
        if r.at != bytes.len() {
            return Err(FormatError::Trailing(bytes.len() - r.at));
        }
        let computed = keccak256(&bytes[..body]);
        if computed != stored {
            return Err(FormatError::Checksum { computed, stored });
        }
        Ok(Self { chain_id, rollup, batch_id, headers, accounts, codes })
    }
}

/// Bounds-checked reads from the front of a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], FormatError> {
        let end = self.at.checked_add(len).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| FormatError::Truncated {
            what: what.to_string(),
            len: self.bytes.len(),
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u64(&mut self, what: &str) -> Result<u64, FormatError> {
        self.array::<8>(what).map(u64::from_be_bytes)
    }

    /// A count of records of at least `min_len` bytes each, bounded by what is left (so a
    /// corrupt count never allocates more than the file holds).
    fn count(&mut self, what: &str, min_len: usize) -> Result<usize, FormatError> {
        let count = self.u64(what)?;
        let left = (self.bytes.len() - self.at) as u64;
        if count.saturating_mul(min_len as u64) > left {
            return Err(FormatError::Truncated {
                what: format!("{count} records announced by {what}"),
                len: self.bytes.len(),
            });
        }
        Ok(count as usize)
    }
}
