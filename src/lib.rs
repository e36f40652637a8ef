//! native-challenger: keeps an Ethereum native rollup honest.
//!
//! The daemon ([`daemon`]) runs the pipeline as two tasks joined by a bounded queue:
//!
//! 1. The watcher ([`watcher`]) follows L1 through an [`watcher::L1Source`] (JSON-RPC
//!    endpoints, retried, distrusted when they answer inconsistently), confirmations or
//!    finality behind the head. Each `BatchProposed` comes with its `BatchData` log (blocks and
//!    claimed checkpoints, [`protocol`] encodings), and every batch id is checked against the
//!    contract's `batchCount`, so no batch can be hidden. It replays each batch block by block
//!    on the L2 state in RocksDB with [`execute_local`] (revm), compares each block's
//!    checkpoint with the claim, and at the first wrong one records that block's trace (the
//!    stateless witness) and reports a lie. L1 reorgs rewind the cursor and the L2 store.
//! 2. The submitter ([`submitter`]) takes each lie: it self-checks the trace with the stateless
//!    verifier (the code the EXECUTE [`precompile`] runs), plans the challenge against every
//!    budget with [`bisect`] (EXECUTE gas, the 2^24 per-transaction cap with calldata pricing,
//!    transaction size), then commits and reveals it on the [`rollup`] contract, repricing,
//!    waiting for confirmations, standing down or retrying as L1 answers, and claims rewards.
//!    Each open challenge advances in a task of its own (a bounded number at once), so a
//!    confirmation that never comes holds up no other challenge.
//!
//! Failures at these seams are typed and carry a [`severity`] (retry, rewind, fatal) that
//! decides what the daemon does; a failure that keeps recurring raises one alarm.
//!
//! The L2 state starts from the rollup's genesis (the dev genesis or a geth genesis file,
//! checked against the contract's batch 0, [`rollup`]) or from a [`snapshot`] of a finalized
//! batch, checked against the contract's finalized root before anything is written.
//!
//! Around it: [`audit`] replays a range of history read-only and writes portable proof
//! bundles; [`proposer`] builds and proposes L2 blocks, honestly or with chosen lies;
//! [`devnet`] is the embedded dev L1 that hosts EXECUTE; [`conformance`] runs the Ethereum
//! BlockchainTests through the execution core; [`bench`] measures it; [`config`] reads the
//! operator's configuration.

pub mod audit;
pub mod bench;
pub mod bisect;
pub mod config;
pub mod conformance;
pub mod daemon;
pub mod devnet;
pub mod execute_local;
pub mod precompile;
pub mod proposer;
pub mod protocol;
pub mod rollup;
pub mod severity;
pub mod snapshot;
pub mod submitter;
pub mod watcher;
