//! Subcommands of the binary that are more than a few lines of glue.

pub mod bond;
pub mod demo;
pub mod genesis;
pub mod keys;
pub mod propose;
pub mod replay;
pub mod run;
pub mod snapshot;
pub mod status;
pub mod verify_bundle;
