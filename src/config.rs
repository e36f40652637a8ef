//! The operator's configuration: one struct from `config.toml`, one section per stage,
//! unknown keys rejected, values validated into typed errors. Secrets never live here.

use crate::execute_local::forks::{Network, network};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Errors reading or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("parsing {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("[chain] fork = {fork:?}: {reason}")]
    UnsupportedFork { fork: String, reason: String },
    #[error("[chain] chain_id must be non-zero")]
    ZeroChainId,
    #[error("[log] level {level:?} is not one of error, warn, info, debug, trace")]
    BadLogLevel { level: String },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub chain: ChainConfig,
    pub store: StoreConfig,
    #[serde(default)]
    pub log: LogConfig,
}

/// The L2 chain's execution rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// The L2's chain id (EIP-155).
    pub chain_id: u64,
    /// The L1 fork whose EVM the L2 runs, active from genesis.
    #[serde(default = "default_fork")]
    pub fork: String,
}

/// Where the L2 state lives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// rocksdb directory (created if missing).
    pub path: PathBuf,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default = "default_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: default_level(), format: LogFormat::default() }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The newest fork revm supports that mainnet has activated (Fusaka, December 2025).
pub const DEFAULT_FORK: &str = "Osaka";

fn default_fork() -> String {
    DEFAULT_FORK.to_string()
}

fn default_level() -> String {
    "info".to_string()
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: err.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.chain.chain_id == 0 {
            return Err(ConfigError::ZeroChainId);
        }
        if let Network::Skipped { reason } = network(&self.chain.fork) {
            return Err(ConfigError::UnsupportedFork { fork: self.chain.fork.clone(), reason });
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err(ConfigError::BadLogLevel { level: self.log.level.clone() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn checked_in_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let config = Config::load(&path).expect("config.toml must parse");
        assert_eq!(config.chain.fork, DEFAULT_FORK);
        assert_ne!(config.chain.chain_id, 0);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse("[chain]\nchain_id = 1\ncolour = 2\n[store]\npath = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = parse("[chain]\nchain_id = 1\n[store]\npath = \"x\"\n[extra]\n").unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }

    #[test]
    fn bad_values_get_typed_errors() {
        let base = "[store]\npath = \"x\"\n";
        assert!(matches!(
            parse(&format!("[chain]\nchain_id = 0\n{base}")),
            Err(ConfigError::ZeroChainId)
        ));
        assert!(matches!(
            parse(&format!("[chain]\nchain_id = 5\nfork = \"London\"\n{base}")),
            Err(ConfigError::UnsupportedFork { .. })
        ));
        assert!(matches!(
            parse(&format!("[chain]\nchain_id = 5\n{base}[log]\nlevel = \"loud\"\n")),
            Err(ConfigError::BadLogLevel { .. })
        ));
        assert!(matches!(parse("[chain]\nchain_id = \"five\"\n"), Err(ConfigError::Parse { .. })));
    }
}
