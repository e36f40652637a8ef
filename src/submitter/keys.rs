//! Where the submitter's key comes from. Never from the configuration file and never logged:
//! an environment variable holding the hex key, an encrypted keystore file (the Web3 Secret
//! Storage format geth and foundry write) with its password in a separate file, or a remote
//! signer that keeps the key in its own process ([`super::remote`]).

use super::remote::RemoteSigner;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use std::path::{Path, PathBuf};

/// The key transactions are signed with: held here, or by a remote signer.
#[derive(Debug, Clone)]
pub enum TxKey {
    Local(PrivateKeySigner),
    Remote(RemoteSigner),
}

impl From<PrivateKeySigner> for TxKey {
    fn from(signer: PrivateKeySigner) -> Self {
        Self::Local(signer)
    }
}

impl TxKey {
    pub fn address(&self) -> Address {
        match self {
            Self::Local(signer) => signer.address(),
            Self::Remote(remote) => remote.address(),
        }
    }

    /// Signs `tx`; `Err` says why not (a remote signer's answer is checked, see
    /// [`RemoteSigner::sign`]).
    pub async fn sign(&self, tx: TxEip1559) -> Result<TxEnvelope, String> {
        match self {
            Self::Local(signer) => {
                let signature =
                    signer.sign_hash_sync(&tx.signature_hash()).map_err(|e| e.to_string())?;
                Ok(TxEnvelope::from(tx.into_signed(signature)))
            }
            Self::Remote(remote) => remote.sign(&tx).await,
        }
    }
}

/// A key source, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable holding a hex private key.
    Env(String),
    /// A keystore file and a file holding its password.
    Keystore { path: PathBuf, password_file: PathBuf },
    /// A remote signer's JSON-RPC URL and the address it signs as.
    Remote { url: String, address: Address },
}

/// Why no signer could be made. Messages name the source, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("environment variable {0} does not hold a 32-byte hex private key")]
    EnvMalformed(String),
    #[error("reading the keystore password file {path}: {reason}")]
    Password { path: PathBuf, reason: String },
    #[error("decrypting keystore {path}: {reason}")]
    Keystore { path: PathBuf, reason: String },
    #[error("{0}")]
    Remote(String),
}

impl KeySource {
    /// The key. A remote signer is not contacted here: see [`RemoteSigner::check`].
    pub fn signer(&self) -> Result<TxKey, KeyError> {
        match self {
            Self::Env(name) => from_env(name).map(TxKey::Local),
            Self::Keystore { path, password_file } => {
                from_keystore(path, password_file).map(TxKey::Local)
            }
            Self::Remote { url, address } => {
                RemoteSigner::new(url, *address).map(TxKey::Remote).map_err(KeyError::Remote)
            }
        }
    }
}

fn from_env(name: &str) -> Result<PrivateKeySigner, KeyError> {
    let text = std::env::var(name).map_err(|_| KeyError::EnvMissing(name.to_string()))?;
    let hex = text.trim().trim_start_matches("0x");
    let bytes: B256 = hex.parse().map_err(|_| KeyError::EnvMalformed(name.to_string()))?;
    PrivateKeySigner::from_bytes(&bytes).map_err(|_| KeyError::EnvMalformed(name.to_string()))
}

fn from_keystore(path: &Path, password_file: &Path) -> Result<PrivateKeySigner, KeyError> {
    let password = std::fs::read_to_string(password_file).map_err(|e| KeyError::Password {
        path: password_file.to_path_buf(),
        reason: e.to_string(),
    })?;
    // A trailing newline is how most editors and `echo` write the file; it is not part of it.
    let password = password.trim_end_matches(['\n', '\r']);
    PrivateKeySigner::decrypt_keystore(path, password)
        .map_err(|e| KeyError::Keystore { path: path.to_path_buf(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keystore_round_trips_and_a_wrong_password_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rng = alloy_signer::k256::elliptic_curve::rand_core::OsRng;
        let (signer, name) =
            PrivateKeySigner::new_keystore(dir.path(), &mut rng, "correct horse", None)
                .expect("create");
        let password = dir.path().join("password");
        std::fs::write(&password, "correct horse\n").expect("write");
        let source =
            KeySource::Keystore { path: dir.path().join(&name), password_file: password.clone() };
        assert_eq!(source.signer().expect("decrypt").address(), signer.address());
        std::fs::write(&password, "wrong").expect("write");
        let err = source.signer().expect_err("wrong password");
        assert!(matches!(err, KeyError::Keystore { .. }), "{err}");
        assert!(
            !err.to_string().contains("wrong"),
            "the message never carries the password: {err}"
        );
    }

    #[test]
    fn env_keys_are_parsed_and_errors_name_only_the_variable() {
        let var = "NC_TEST_KEY_FOR_KEYS_RS";
        // SAFETY: the variable is unique to this test; no other thread reads it.
        unsafe { std::env::set_var(var, "0xnot-a-key") };
        let err = KeySource::Env(var.into()).signer().expect_err("malformed");
        assert_eq!(
            err.to_string(),
            format!("environment variable {var} does not hold a 32-byte hex private key")
        );
        let key = "0x0101010101010101010101010101010101010101010101010101010101010101";
        unsafe { std::env::set_var(var, key) };
        let TxKey::Local(signer) = KeySource::Env(var.into()).signer().expect("key") else {
            panic!("an environment key is local");
        };
        assert_eq!(signer.to_bytes(), B256::repeat_byte(1));
        assert!(matches!(
            KeySource::Env("NC_TEST_UNSET_VAR".into()).signer(),
            Err(KeyError::EnvMissing(_))
        ));
    }
}
