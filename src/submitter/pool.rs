//! Intents advanced concurrently: each open intent advances in a task of its own, at most
//! `limit` at once, so one waiting for a receipt never holds up the others.
//!
//! Input: open intents (one task per intent key at a time). Output: each intent as its
//! advance left it (already persisted by [`Submitter::advance`] at every step). Aborting
//! cancels the tasks at their next await point; every intent was persisted before each send,
//! so a restart resumes it.

use super::{Intent, Submitter};
use std::collections::{HashMap, HashSet};
use tokio::task::{Id, JoinSet};

const TARGET: &str = "native_challenger::submitter";

/// The intents being advanced. See the module documentation.
#[derive(Debug)]
pub struct Advancing {
    tasks: JoinSet<(Intent, Intent)>,
    keys: HashMap<Id, String>,
    busy: HashSet<String>,
    limit: usize,
}

impl Advancing {
    /// At most `limit` intents in flight (at least one).
    pub fn new(limit: usize) -> Self {
        Self {
            tasks: JoinSet::new(),
            keys: HashMap::new(),
            busy: HashSet::new(),
            limit: limit.max(1),
        }
    }

    /// The keys of the intents being advanced.
    pub fn busy(&self) -> &HashSet<String> {
        &self.busy
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Starts advancing each of `open` not already in flight, oldest first, while fewer than
    /// the limit are; the rest wait for a later call. Returns how many started.
    pub fn start(&mut self, submitter: &Submitter, open: Vec<Intent>) -> usize {
        let mut started = 0;
        for intent in open {
            if self.busy.len() >= self.limit {
                break;
            }
            let key = intent.key();
            if intent.stage.is_final() || self.busy.contains(&key) {
                continue;
            }
            let submitter = submitter.clone();
            let handle = self.tasks.spawn(async move {
                let before = intent.clone();
                let after = submitter.advance(intent).await;
                (before, after)
            });
            self.keys.insert(handle.id(), key.clone());
            self.busy.insert(key);
            started += 1;
        }
        started
    }

    /// The next advance to finish, as `(before, after)`; `None` when none is in flight. A task
    /// that panicked is logged and its intent is free to start again.
    pub async fn next(&mut self) -> Option<(Intent, Intent)> {
        loop {
            let done = self.tasks.join_next_with_id().await?;
            match done {
                Ok((id, pair)) => {
                    self.release(id);
                    return Some(pair);
                }
                Err(err) => {
                    let id = err.id();
                    let key = self.release(id);
                    if !err.is_cancelled() {
                        tracing::error!(target: TARGET, ?key, %err, "advancing a challenge failed");
                    }
                }
            }
        }
    }

    fn release(&mut self, id: Id) -> Option<String> {
        let key = self.keys.remove(&id)?;
        self.busy.remove(&key);
        Some(key)
    }

    /// Cancels every advance in flight and waits until they have stopped.
    pub async fn shutdown(&mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        self.keys.clear();
        self.busy.clear();
    }
}
