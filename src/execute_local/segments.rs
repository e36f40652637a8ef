//! A block as its segments (docs/protocol.md, "Segments"), over any state source.
//!
//! Input: chain rules, the block's pre-state root and parent hash, the block, and the
//! [`WitnessSources`] of the block's pre-state (the store, for replay and recording).
//! Output: each segment's [`SegmentStep`], the block's whole state change, and the trie nodes
//! and codes its segments created.
//!
//! Each segment runs exactly as its verifier runs it ([`run_segment`]): a fresh trie database
//! from the state root the previous segment ended at, with a fresh witness meter. That state
//! is in no store yet, so a later segment reads through an [`Overlay`] of what the earlier
//! ones created (their new trie nodes and codes) on top of the block's pre-state sources.
//! Recording segment `j` ([`record_segment`]) runs segments `0..j` this way and then segment
//! `j` through a [`Recorder`], which notes every node, code and ancestor hash it hands out,
//! from the overlay or from below: exactly what segment `j`'s verifier will ask its witness.

use super::block::{ExecError, SegmentStart};
use super::chain::ChainRules;
use super::chunk::{BlockSpec, SegmentStep, run_segment};
use super::db::WitnessSources;
use super::fault::DbFault;
use super::trie::{MemNodes, NodeSource, NodeSourceError, RecordingSource};
use super::tries::StateDiff;
use alloy_primitives::{B256, Bytes};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// What a block's earlier segments created: trie nodes and codes not yet in any store.
#[derive(Debug, Default)]
pub struct Overlay {
    pub nodes: MemNodes,
    pub codes: BTreeMap<B256, Bytes>,
}

/// Trie nodes from the overlay first, then from below.
pub struct Layered<'a, N> {
    overlay: &'a MemNodes,
    inner: &'a N,
}

impl<N: NodeSource> NodeSource for Layered<'_, N> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, NodeSourceError> {
        match self.overlay.0.get(hash) {
            Some(node) => Ok(Some(node.clone())),
            None => self.inner.node(hash),
        }
    }
}

/// The sources of a segment: the overlay of the block's earlier segments over the sources of
/// the block's pre-state.
pub struct AfterSegments<'a, S: WitnessSources> {
    inner: &'a S,
    nodes: Layered<'a, S::Nodes>,
    codes: &'a BTreeMap<B256, Bytes>,
}

impl<'a, S: WitnessSources> AfterSegments<'a, S> {
    pub fn new(inner: &'a S, overlay: &'a Overlay) -> Self {
        Self {
            inner,
            nodes: Layered { overlay: &overlay.nodes, inner: inner.nodes() },
            codes: &overlay.codes,
        }
    }
}

impl<'a, S: WitnessSources> WitnessSources for AfterSegments<'a, S> {
    type Nodes = Layered<'a, S::Nodes>;

    fn nodes(&self) -> &Self::Nodes {
        &self.nodes
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, DbFault> {
        match self.codes.get(hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.inner.code(hash),
        }
    }

    fn ancestor_hash(&self, number: u64) -> Result<Option<B256>, DbFault> {
        self.inner.ancestor_hash(number)
    }
}

/// Sources that note every node, code and ancestor number they hand out: a witness.
pub struct Recorder<'a, S: WitnessSources> {
    inner: &'a S,
    nodes: RecordingSource<'a, S::Nodes>,
    codes: RefCell<BTreeMap<B256, Bytes>>,
    numbers: RefCell<BTreeSet<u64>>,
}

/// What a [`Recorder`] noted.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub nodes: Vec<Bytes>,
    pub codes: Vec<Bytes>,
    /// Ancestor numbers BLOCKHASH asked for (only numbers the sources knew).
    pub numbers: BTreeSet<u64>,
}

impl<'a, S: WitnessSources> Recorder<'a, S> {
    pub fn new(inner: &'a S) -> Self {
        Self {
            inner,
            nodes: RecordingSource::new(inner.nodes()),
            codes: RefCell::default(),
            numbers: RefCell::default(),
        }
    }

    pub fn into_recorded(self) -> Recorded {
        Recorded {
            nodes: self.nodes.into_recorded().into_values().collect(),
            codes: self.codes.into_inner().into_values().collect(),
            numbers: self.numbers.into_inner(),
        }
    }
}

impl<'a, S: WitnessSources> WitnessSources for Recorder<'a, S> {
    type Nodes = RecordingSource<'a, S::Nodes>;

    fn nodes(&self) -> &Self::Nodes {
        &self.nodes
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, DbFault> {
        let code = self.inner.code(hash)?;
        if let Some(code) = &code {
            self.codes.borrow_mut().insert(*hash, code.clone());
        }
        Ok(code)
    }

    fn ancestor_hash(&self, number: u64) -> Result<Option<B256>, DbFault> {
        let hash = self.inner.ancestor_hash(number)?;
        if hash.is_some() {
            self.numbers.borrow_mut().insert(number);
        }
        Ok(hash)
    }
}

/// A block run segment by segment.
#[derive(Debug)]
pub struct SegmentedBlock {
    /// The segments run, in order; the last one ended the block unless the run was asked to
    /// stop before it.
    pub steps: Vec<SegmentStep>,
    /// The block's state change (all segments run).
    pub diff: StateDiff,
    /// Nodes and codes the segments run created.
    pub overlay: Overlay,
    /// Where the next segment would start, and from which state root.
    pub next: SegmentStart,
    pub root: B256,
}

/// Runs `block`'s segments from its start until one ends the block, or until segment
/// `stop_before` would start. See the module documentation.
pub fn run_segments<S: WitnessSources, B: BlockSpec>(
    rules: &ChainRules,
    pre_state_root: B256,
    parent_hash: B256,
    block: &B,
    sources: &S,
    stop_before: Option<u16>,
) -> Result<SegmentedBlock, ExecError> {
    let mut out = SegmentedBlock {
        steps: Vec::new(),
        diff: StateDiff::default(),
        overlay: Overlay::default(),
        next: SegmentStart::FIRST,
        root: pre_state_root,
    };
    while stop_before != Some(out.next.index) {
        let layered = AfterSegments::new(sources, &out.overlay);
        let (step, mut tries) =
            run_segment(rules, out.root, parent_hash, block, out.next, &layered)?;
        tries.commit(&mut |hash, node| {
            out.overlay.nodes.0.insert(hash, node);
        });
        for (hash, code) in &step.diff.codes {
            out.overlay.codes.insert(*hash, code.clone());
        }
        out.diff = std::mem::take(&mut out.diff).then(&step.diff);
        out.root = step.post_state_root;
        let end = step.end;
        out.steps.push(step);
        if end.last {
            break;
        }
        // A segment that does not end the block ends before its last transaction, and
        // execute_segment refuses a start past the block's segment count: this cannot loop.
        let index = out.next.index.checked_add(1).ok_or_else(|| ExecError::InvalidBlock {
            reason: "segment index overflow".to_string(),
        })?;
        out.next = SegmentStart { index, start_tx: end.end_tx, gas_before: end.gas_used };
    }
    Ok(out)
}

/// A segment's witness, recorded over `sources` (the block's pre-state).
#[derive(Debug)]
pub struct RecordedSegment {
    pub step: SegmentStep,
    /// The state root the segment starts from.
    pub pre_state_root: B256,
    pub recorded: Recorded,
}

/// Why a segment could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("block {number} has {segments} segments, not a segment {index}")]
    NoSuchSegment { number: u64, index: u16, segments: usize },
}

/// Runs segments `0..index` of `block` and records segment `index`. See the module
/// documentation.
pub fn record_segment<S: WitnessSources, B: BlockSpec>(
    rules: &ChainRules,
    pre_state_root: B256,
    parent_hash: B256,
    block: &B,
    sources: &S,
    index: u16,
) -> Result<RecordedSegment, SegmentError> {
    let before = run_segments(rules, pre_state_root, parent_hash, block, sources, Some(index))?;
    if before.steps.last().is_some_and(|step| step.end.last) {
        return Err(SegmentError::NoSuchSegment {
            number: block.number(),
            index,
            segments: before.steps.len(),
        });
    }
    let layered = AfterSegments::new(sources, &before.overlay);
    let recorder = Recorder::new(&layered);
    let (step, _) = run_segment(rules, before.root, parent_hash, block, before.next, &recorder)?;
    Ok(RecordedSegment { step, pre_state_root: before.root, recorded: recorder.into_recorded() })
}
