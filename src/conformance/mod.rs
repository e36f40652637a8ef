//! Conformance against the official Ethereum BlockchainTests.
//!
//! Input: BlockchainTests JSON files. Output: a verdict per test, through both the stateful
//! path (rocksdb replay) and the stateless path (witness recorded, then verified alone).
//! Pre-merge networks are skipped with their reason; nothing post-merge is.

pub mod eth_block;
pub mod fixture;
pub mod header_rules;
pub mod runner;
pub mod suite;

pub use crate::execute_local::forks;
