//! native-challenger: keeps an Ethereum native rollup honest.
//!
//! Data flows one way: L1 source -> batch decode -> local replay -> compare -> plan ->
//! witness -> submit. This crate holds [`execute_local`] (execution, witness recording,
//! stateless verification), [`conformance`] (the Ethereum BlockchainTests runner that proves
//! it), the EXECUTE [`precompile`] and the embedded dev L1 ([`devnet`]) that hosts it, the L1
//! [`rollup`] contract's bindings and client, and a [`proposer`] that can lie on purpose.

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
pub mod submitter;
pub mod watcher;
