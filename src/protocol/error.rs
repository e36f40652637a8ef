//! The one error type of the protocol codecs.
//!
//! Input: nothing; every codec in [`crate::protocol`] returns [`ProtocolError`].
//! Output: a typed error with named fields. Offsets are absolute byte positions in the
//! outermost buffer handed to the decoder (a block inside a trace reports trace offsets).
//! Invariant: [`ProtocolError::kind`] is a stable snake_case name; the test vectors
//! (`tests/vectors/*.json`, field `error`) name the expected kind with it.

use alloy_primitives::B256;

/// Everything that can make a protocol byte string unacceptable, or a value unencodable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Fewer bytes remain than the field needs.
    #[error("{what}: need {needed} bytes at offset {offset}, only {remaining} remain")]
    Truncated { what: &'static str, offset: usize, needed: usize, remaining: usize },
    /// Bytes left over after a complete value.
    #[error("{what}: {count} trailing bytes at offset {offset}")]
    TrailingBytes { what: &'static str, offset: usize, count: usize },
    /// A fixed-size value of the wrong length.
    #[error("{what}: expected {expected} bytes, found {found}")]
    BadLength { what: &'static str, expected: usize, found: usize },
    /// A 32-byte integer word whose value does not fit u64.
    #[error("{what}: 256-bit word at offset {offset} does not fit u64")]
    IntegerOverflow { what: &'static str, offset: usize },
    /// Trace version byte other than the supported one.
    #[error("unsupported trace version {found}, expected {expected}")]
    UnsupportedVersion { expected: u8, found: u8 },
    /// A trace must carry at least one block.
    #[error("trace has no blocks")]
    NoBlocks,
    /// A list too long for its count prefix, or an item too long for its length prefix.
    #[error("{what}: {found} exceeds the maximum {max}")]
    TooLarge { what: &'static str, found: usize, max: usize },
    /// Witness items not strictly ascending by keccak256.
    #[error(
        "{what} #{index} at offset {offset} is not ordered after the previous one by keccak256"
    )]
    Unsorted { what: &'static str, index: usize, offset: usize },
    /// A witness item equal to the previous one.
    #[error("{what} #{index} at offset {offset} duplicates the previous one")]
    Duplicate { what: &'static str, index: usize, offset: usize },
    /// Empty bytecode in the witness (the empty code hash needs no preimage).
    #[error("code #{index} at offset {offset} is empty")]
    EmptyCode { index: usize, offset: usize },
    /// The witness carries no header; the parent header is mandatory.
    #[error("witness has no headers, the parent header is required")]
    NoHeaders,
    /// headers[index].parent_hash is not the block hash of headers[index - 1].
    #[error("header #{index}: parent_hash {found} is not the previous block hash {expected}")]
    HeaderParentMismatch { index: usize, expected: B256, found: B256 },
    /// headers[index].number is not headers[index - 1].number + 1.
    #[error("header #{index}: number {found}, expected {expected}")]
    HeaderNumberGap { index: usize, expected: u64, found: u64 },
    /// The last header (the parent) does not hash to the trace's parent_hash.
    #[error("last header hashes to {found}, trace parent_hash is {expected}")]
    ParentHashMismatch { expected: B256, found: B256 },
    /// ABI head: the dynamic `bytes` offset is not the canonical one.
    #[error("abi: bytes offset must be {expected}, found {found}")]
    AbiOffset { expected: usize, found: B256 },
    /// ABI tail: padding after the `bytes` payload is not zero.
    #[error("abi: nonzero padding byte at offset {offset}")]
    AbiPadding { offset: usize },
    /// EXECUTE output word other than 0 (no match) or 1 (valid).
    #[error("EXECUTE output must be the word 0 or 1, found {found}")]
    InvalidOutput { found: B256 },
    /// Summing gas overflowed u64.
    #[error("gas cost overflows u64")]
    GasOverflow,
}

impl ProtocolError {
    /// Stable snake_case name of the variant, as written in the test vectors.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::BadLength { .. } => "bad_length",
            Self::IntegerOverflow { .. } => "integer_overflow",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::NoBlocks => "no_blocks",
            Self::TooLarge { .. } => "too_large",
            Self::Unsorted { .. } => "unsorted",
            Self::Duplicate { .. } => "duplicate",
            Self::EmptyCode { .. } => "empty_code",
            Self::NoHeaders => "no_headers",
            Self::HeaderParentMismatch { .. } => "header_parent_mismatch",
            Self::HeaderNumberGap { .. } => "header_number_gap",
            Self::ParentHashMismatch { .. } => "parent_hash_mismatch",
            Self::AbiOffset { .. } => "abi_offset",
            Self::AbiPadding { .. } => "abi_padding",
            Self::InvalidOutput { .. } => "invalid_output",
            Self::GasOverflow => "gas_overflow",
        }
    }
}
