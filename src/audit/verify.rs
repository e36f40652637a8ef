//! Offline re-checking of an audit bundle with the stateless verifier alone.
//!
//! Input: a bundle directory (`manifest.json` and its block files) and a thread count.
//! Output: a [`VerifyReport`]: blocks checked and every disagreement with its reason. Each
//! block file is a self-contained EXECUTE input, so blocks are checked independently, in
//! parallel. Per block: the file's keccak256 must match the manifest; the call must decode
//! and carry the manifest's roots and gas; EXECUTE must return `true`; and for a block the
//! manifest calls invalid, EXECUTE on the claimed root and gas must return `false`.

use super::AuditError;
use super::bundle::{BlockEntry, BlockVerdict, FORMAT, Manifest};
use crate::execute_local::chain::ChainRules;
use crate::execute_local::execute::execute;
use crate::execute_local::forks::{Network, network};
use crate::protocol::ExecuteCall;
use alloy_primitives::keccak256;
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A block the bundle does not prove, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    pub block: u64,
    pub file: String,
    pub reason: String,
}

/// The outcome of [`verify_bundle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub blocks: usize,
    pub disagreements: Vec<Disagreement>,
}

/// Checks every block of the bundle in `dir` on `jobs` threads. See the module docs.
pub fn verify_bundle(dir: &Path, jobs: usize) -> Result<VerifyReport, AuditError> {
    let manifest = Manifest::load(dir)?;
    let bad = |reason: String| AuditError::Format { path: dir.join("manifest.json"), reason };
    if manifest.format != FORMAT {
        return Err(bad(format!("format {:?}, expected {FORMAT:?}", manifest.format)));
    }
    let rules = match network(&manifest.fork) {
        Network::Supported(schedule) => ChainRules::new(manifest.chain_id, schedule),
        Network::Skipped { reason } => {
            return Err(bad(format!("fork {}: {reason}", manifest.fork)));
        }
    };
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while let Some(entry) = manifest.blocks.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(reason) = check_block(dir, &rules, entry) {
                        let d =
                            Disagreement { block: entry.block, file: entry.file.clone(), reason };
                        found.lock().unwrap_or_else(|p| p.into_inner()).push(d);
                    }
                }
            });
        }
    });
    let mut disagreements = found.into_inner().unwrap_or_else(|p| p.into_inner());
    disagreements.sort_by_key(|d| d.block);
    Ok(VerifyReport { blocks: manifest.blocks.len(), disagreements })
}

/// One block; `Err` is the precise reason it does not verify.
fn check_block(dir: &Path, rules: &ChainRules, entry: &BlockEntry) -> Result<(), String> {
    if entry.file.contains('/') || entry.file.contains('\\') || entry.file.starts_with('.') {
        return Err(format!("file name {:?} is not a plain file name", entry.file));
    }
    let bytes = std::fs::read(dir.join(&entry.file)).map_err(|e| format!("reading: {e}"))?;
    let hash = keccak256(&bytes);
    if hash != entry.keccak256 {
        return Err(format!(
            "hash mismatch: the file hashes to {hash}, the manifest says {}",
            entry.keccak256
        ));
    }
    let call = ExecuteCall::abi_decode(&bytes).map_err(|e| format!("not an EXECUTE input: {e}"))?;
    let fields = [
        ("pre_state_root", call.pre_state_root == entry.pre_state_root),
        ("post_state_root", call.post_state_root == entry.post_state_root),
        ("gas_used", call.gas_used == entry.gas_used),
    ];
    if let Some((name, _)) = fields.iter().find(|(_, same)| !same) {
        return Err(format!("{name} in the file differs from the manifest's"));
    }
    match execute(rules, &call) {
        Ok(true) => {}
        Ok(false) => return Err("EXECUTE returned false: the transition does not hold".into()),
        Err(e) => return Err(format!("EXECUTE failed: {e}")),
    }
    if entry.verdict == BlockVerdict::Invalid {
        check_claim_rejected(rules, entry, call)?;
    }
    Ok(())
}

/// For a block judged invalid: EXECUTE must reject the claimed root and gas (when they
/// differ from the correct ones; a lie in the inputs alone is shown by the commitment).
fn check_claim_rejected(
    rules: &ChainRules,
    entry: &BlockEntry,
    call: ExecuteCall,
) -> Result<(), String> {
    let claimed = (entry.claimed.post_state_root, entry.claimed.gas_used);
    if claimed == (call.post_state_root, call.gas_used) {
        return Ok(());
    }
    let lie = ExecuteCall { post_state_root: claimed.0, gas_used: claimed.1, ..call };
    match execute(rules, &lie) {
        Ok(false) => Ok(()),
        Ok(true) => {
            Err("the manifest says invalid, but EXECUTE accepts the claimed root and gas".into())
        }
        Err(e) => Err(format!("EXECUTE on the claimed root failed: {e}")),
    }
}
