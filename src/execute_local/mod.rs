//! Local execution: the one block-execution function and the three things built on it.
//!
//! - **Stateful replay** ([`replay`]): apply a block to the L2 state in rocksdb ([`store`]),
//!   computing the post-state root incrementally, one atomic write per block, with rollback
//!   ([`commit`]).
//! - **Witness recording** ([`witness`]): the minimal witness of a block or chunk.
//! - **Stateless verification** ([`stateless`]): re-derive the post-state root from a
//!   pre-state root, the blocks and a witness alone; the code the EXECUTE precompile runs.
//!
//! All three call [`block::execute_block`]; the last two share [`chunk::run_chunk`] and the
//! trie-backed database [`db::TrieDb`], so what recording writes down is exactly what
//! verification reads.

pub mod block;
pub mod block_segment;
pub mod chain;
pub mod chunk;
pub mod commit;
pub mod db;
pub mod eip7610;
pub mod execute;
pub mod fault;
pub mod forks;
pub mod l2;
pub mod meter;
pub mod replay;
pub mod segments;
pub mod stateless;
pub mod store;
pub mod trie;
pub mod tries;
pub mod txs;
pub mod witness;
