//! native-challenger: keeps an Ethereum native rollup honest.
//!
//! Data flows one way: L1 source -> batch decode -> local replay -> compare -> plan ->
//! witness -> submit. This crate currently holds the foundation of that pipeline:
//! [`execute_local`] (execution, witness recording, stateless verification) and
//! [`conformance`] (the Ethereum BlockchainTests runner that proves it).

pub mod bench;
pub mod config;
pub mod conformance;
pub mod devnet;
pub mod execute_local;
pub mod precompile;
pub mod protocol;
