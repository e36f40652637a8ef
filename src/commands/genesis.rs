//! `native-challenger genesis FILE`: the L2 genesis of a geth genesis file, as a rollup
//! deployed over it records it.
//!
//! Input: the file, the L2 chain id (its `config.chainId`, if any, must match) and optionally
//! the timestamp to deploy with. Output on stdout: the state root, the genesis block hash, the
//! timestamp and the counts of accounts, contracts and storage slots. With `--write-dev`, the
//! dev genesis is first written to the file (how `genesis/dev.json` is made).

use anyhow::{Context, Result, bail};
use native_challenger::execute_local::l2::l2_system_contracts;
use native_challenger::rollup::{L2Genesis, dev_users};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct GenesisArgs {
    /// The geth genesis JSON file.
    file: PathBuf,
    /// The L2 chain id.
    #[arg(long, default_value_t = 901)]
    chain_id: u64,
    /// The rollup's genesis timestamp, for a file whose `timestamp` is 0 or absent.
    #[arg(long)]
    timestamp: Option<u64>,
    /// Write the dev genesis (`--users` dev users, timestamp 0) to FILE first.
    #[arg(long)]
    write_dev: bool,
    /// Dev users of `--write-dev`.
    #[arg(long, default_value_t = native_challenger::config::DEFAULT_DEV_USERS, requires = "write_dev")]
    users: usize,
}

pub fn run(args: GenesisArgs) -> Result<()> {
    if args.write_dev {
        let users: Vec<_> = dev_users(args.users).iter().map(|u| u.address()).collect();
        let dev = L2Genesis::dev(args.chain_id, 0, &users).to_geth_json();
        let mut text = serde_json::to_string_pretty(&dev)?;
        text.push('\n');
        std::fs::write(&args.file, text)
            .with_context(|| format!("writing {}", args.file.display()))?;
    }
    let genesis = L2Genesis::load(&args.file, args.chain_id)?;
    let timestamp = match (genesis.timestamp, args.timestamp) {
        (0, None) => "not fixed (0): a deployment takes its L1 block's time".to_string(),
        (0, Some(given)) => format!("{given} (--timestamp)"),
        (file, None) => format!("{file} (the file's)"),
        (file, Some(given)) if file == given => format!("{file} (the file's)"),
        (file, Some(given)) => {
            bail!("--timestamp {given}: {} fixes timestamp {file}", args.file.display())
        }
    };
    let (_, header) = genesis.build()?;
    let counts = genesis.counts();
    println!("state root:  {}", header.state_root);
    println!("block hash:  {}", header.block_hash());
    println!("timestamp:   {timestamp}");
    println!("chain id:    {}", args.chain_id);
    println!(
        "accounts:    {} (and {} system contracts)",
        counts.accounts,
        l2_system_contracts().len()
    );
    println!("contracts:   {}", counts.contracts);
    println!("slots:       {}", counts.slots);
    Ok(())
}
