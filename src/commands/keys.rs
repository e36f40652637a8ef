//! Where a command's signing key comes from: an environment variable or a dev account. Keys
//! are never command-line arguments (they would show in `ps`) and never printed.

use alloy_primitives::B256;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use native_challenger::devnet::DevnetConfig;

/// `--key-env` names a variable holding a hex private key; `--dev-account` picks an account of
/// the dev mnemonic (anvil's), for the dev L1 only.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArgs {
    /// Environment variable holding the hex private key.
    #[arg(long, conflicts_with = "dev_account")]
    pub key_env: Option<String>,
    /// Index of a dev account of the dev L1's mnemonic (development only).
    #[arg(long)]
    pub dev_account: Option<u32>,
}

impl KeyArgs {
    pub fn signer(&self) -> Result<PrivateKeySigner> {
        match (&self.key_env, self.dev_account) {
            (Some(name), _) => from_env(name),
            (None, Some(index)) => dev_signer(index),
            (None, None) => bail!("no key: give --key-env VAR or --dev-account N"),
        }
    }
}

fn from_env(name: &str) -> Result<PrivateKeySigner> {
    let text =
        std::env::var(name).with_context(|| format!("environment variable {name} is not set"))?;
    let hex = text.trim().trim_start_matches("0x");
    let bytes: B256 =
        hex.parse().with_context(|| format!("{name} does not hold a 32-byte hex key"))?;
    PrivateKeySigner::from_bytes(&bytes)
        .with_context(|| format!("{name} is not a valid secp256k1 key"))
}

/// Dev account `index` of the dev L1's default mnemonic.
pub fn dev_signer(index: u32) -> Result<PrivateKeySigner> {
    let config = DevnetConfig { accounts: index + 1, ..DevnetConfig::default() };
    let accounts = config.dev_accounts().context("deriving dev accounts")?;
    let account = accounts.last().context("no dev account")?;
    PrivateKeySigner::from_bytes(&account.private_key).context("dev key")
}
