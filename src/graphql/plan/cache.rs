//! The plans of the documents seen: bounded, by document and operation.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use super::document::Plan;

/// How many plans are kept (least recently used go first). Clients send a few documents
/// again and again; an entry is a copy of one operation's syntax tree.
pub const PLAN_CACHE_SIZE: usize = 512;

/// A document, by its text (its SHA-256 when long) or by its persisted-query hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKey {
    Text(String),
    Digest([u8; 32]),
    Persisted(String),
}

/// A document and the operation a request runs of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlanKey {
    pub document: DocumentKey,
    pub operation: Option<String>,
}

/// What the cache knows of a document.
#[derive(Clone)]
pub enum Known {
    Ready(Arc<Plan>),
    /// The reference answers every request of it (the reason, for the metrics).
    Ineligible(&'static str),
}

/// The plans of the documents seen, bounded.
pub struct Plans {
    entries: Mutex<LruCache<PlanKey, Known>>,
}

impl Default for Plans {
    fn default() -> Self {
        Plans::new(PLAN_CACHE_SIZE)
    }
}

impl Plans {
    pub fn new(capacity: usize) -> Plans {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Plans {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    pub fn get(&self, key: &PlanKey) -> Option<Known> {
        self.lock().get(key).cloned()
    }

    /// Remembers what `document` compiles to for `operation`. Call it only once the
    /// reference validated the document (answered it without a request error): a plan
    /// skips validation.
    pub fn learn(&self, key: PlanKey, known: Known) {
        self.lock().put(key, known);
    }

    /// The cache holds only complete entries: a panic elsewhere while it was held leaves it
    /// usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<PlanKey, Known>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
