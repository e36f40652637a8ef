//! Subcommands of the binary that are more than a few lines of glue.

pub mod keys;
pub mod propose;
