//! What a request's document passes before the schema runs it, in the HTTP layer rather than
//! as schema extensions: with any extension installed, async-graphql sends every field
//! resolution through the extension chain (a boxed future per field), which cost a response
//! of a thousand users about a fifth of its CPU.
//!
//! - Apollo's automatic persisted queries: a client sends a document's SHA-256 and, the first
//!   time, the document; later requests carry the hash alone. Kept in an LRU of parsed
//!   documents. Same messages as async-graphql's `ApolloPersistedQueries`.
//! - Bounds on the document's shape, checked right after parsing (before validation,
//!   complexity analysis or any resolver): how many fields it selects in all, and how many at
//!   the root (aliases included). Depth and complexity are bounded by async-graphql itself.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, ServerError, ServerResult};
use lru::LruCache;
use sha2::{Digest, Sha256};

use super::plan::{DocumentKey, PlanKey};

/// How many persisted queries are kept (least recently used go first).
const APQ_CACHE_SIZE: usize = 1024;

/// How many plain documents are kept parsed, by their text: clients send the same few
/// documents again and again, and parsing one of a page's size cost more CPU than serving
/// the page from the graph cache (measured with `perf`).
const PARSED_CACHE_SIZE: usize = 256;

/// Longer documents are parsed every time (the key would cost more to hash and to hold).
const PARSED_CACHE_MAX_BYTES: usize = 16 * 1024;

/// `max_fields` selections in the whole document, `max_root_fields` at the root of any
/// operation.
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    pub max_fields: usize,
    pub max_root_fields: usize,
}

/// The checks, with the persisted documents they remember.
pub struct Documents {
    limits: DocumentLimits,
    persisted: Mutex<LruCache<String, ExecutableDocument>>,
    parsed: Mutex<LruCache<String, ExecutableDocument>>,
}

/// The `persistedQuery` request extension.
#[derive(serde::Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

impl Documents {
    pub fn new(limits: DocumentLimits) -> Documents {
        let capacity = NonZeroUsize::new(APQ_CACHE_SIZE).unwrap_or(NonZeroUsize::MIN);
        let parsed = NonZeroUsize::new(PARSED_CACHE_SIZE).unwrap_or(NonZeroUsize::MIN);
        Documents {
            limits,
            persisted: Mutex::new(LruCache::new(capacity)),
            parsed: Mutex::new(LruCache::new(parsed)),
        }
    }

    /// The request with its document parsed (or found by hash) and checked, ready for the
    /// schema; or the request error to answer with.
    pub fn prepare(&self, mut request: Request) -> ServerResult<Request> {
        if let Some(value) = request.extensions.remove("persistedQuery") {
            let document = self.persisted(&request.query, value)?;
            request.query = String::new();
            request.set_parsed_query(document);
        } else if request.query.len() <= PARSED_CACHE_MAX_BYTES {
            let known = lock(&self.parsed).get(&request.query).cloned();
            match known {
                // Checked when it was first parsed.
                Some(document) => request.set_parsed_query(document),
                None => {
                    let document = async_graphql::parser::parse_query(&request.query)?;
                    self.limits.check(&document)?;
                    lock(&self.parsed).put(request.query.clone(), document.clone());
                    request.set_parsed_query(document);
                }
            }
            return Ok(request);
        }
        let document = request.parsed_query()?;
        self.limits.check(document)?;
        Ok(request)
    }

    /// The key of the request's plan (`graphql::plan`): its text, or its persisted-query
    /// hash when it is sent alone and the document is still remembered (a plan must not
    /// answer a hash this server would answer `PersistedQueryNotFound`). None for requests
    /// that register a persisted query (their hash is checked by `prepare`).
    pub fn plan_key(&self, request: &Request) -> Option<PlanKey> {
        let document = match request.extensions.get("persistedQuery") {
            Some(extension) if request.query.is_empty() => {
                let persisted: PersistedQuery =
                    async_graphql::from_value(extension.clone()).ok()?;
                let known = persisted.version == 1
                    && lock(&self.persisted).get(&persisted.sha256_hash).is_some();
                known.then_some(DocumentKey::Persisted(persisted.sha256_hash))?
            }
            Some(_) => return None,
            None if request.query.len() <= PARSED_CACHE_MAX_BYTES => {
                DocumentKey::Text(request.query.clone())
            }
            // A long text is kept by its digest (hashing it costs less than holding it).
            None => DocumentKey::Digest(Sha256::digest(request.query.as_bytes()).into()),
        };
        Some(PlanKey {
            document,
            operation: request.operation_name.clone(),
        })
    }

    /// The document a persisted-query request names: by hash alone, or sent with its text
    /// (checked against the hash, then remembered).
    fn persisted(
        &self,
        query: &str,
        extension: async_graphql::Value,
    ) -> ServerResult<ExecutableDocument> {
        let persisted: PersistedQuery = async_graphql::from_value(extension).map_err(|_| {
            ServerError::new("Invalid \"PersistedQuery\" extension configuration.", None)
        })?;
        if persisted.version != 1 {
            return Err(ServerError::new(
                format!(
                    "Only the \"PersistedQuery\" extension of version \"1\" is supported, and the current version is \"{}\".",
                    persisted.version
                ),
                None,
            ));
        }
        if query.is_empty() {
            return lock(&self.persisted)
                .get(&persisted.sha256_hash)
                .cloned()
                .ok_or_else(|| ServerError::new("PersistedQueryNotFound", None));
        }
        let sha256_hash = hex::encode(Sha256::digest(query.as_bytes()));
        if persisted.sha256_hash != sha256_hash {
            return Err(ServerError::new("provided sha does not match query", None));
        }
        let document = async_graphql::parser::parse_query(query)?;
        // Only a document within the limits is remembered.
        self.limits.check(&document)?;
        lock(&self.persisted).put(sha256_hash, document.clone());
        Ok(document)
    }
}

/// A document cache; a panic elsewhere while it was held leaves it usable (it holds only
/// parsed documents, each complete).
fn lock(
    cache: &Mutex<LruCache<String, ExecutableDocument>>,
) -> std::sync::MutexGuard<'_, LruCache<String, ExecutableDocument>> {
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DocumentLimits {
    fn check(&self, document: &ExecutableDocument) -> ServerResult<()> {
        let mut total = 0;
        for (_, operation) in document.operations.iter() {
            let root = count_fields(&operation.node.selection_set.node, 1);
            if root > self.max_root_fields {
                return Err(limit_error(format!(
                    "An operation may select at most {} root fields (aliases included); this one selects {root}.",
                    self.max_root_fields
                )));
            }
            total += count_fields(&operation.node.selection_set.node, usize::MAX);
        }
        for fragment in document.fragments.values() {
            total += count_fields(&fragment.node.selection_set.node, usize::MAX);
        }
        if total > self.max_fields {
            return Err(limit_error(format!(
                "A document may select at most {} fields; this one selects {total}.",
                self.max_fields
            )));
        }
        Ok(())
    }
}

/// Fields in `set` down to `depth` levels (inline fragments do not count as a level).
/// Iterative: this runs before async-graphql's recursion-depth check, on any document.
fn count_fields(set: &SelectionSet, depth: usize) -> usize {
    let mut count = 0;
    let mut pending = vec![(set, depth)];
    while let Some((set, depth)) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    count += 1;
                    if depth > 1 {
                        pending.push((&field.node.selection_set.node, depth - 1));
                    }
                }
                Selection::InlineFragment(fragment) => {
                    pending.push((&fragment.node.selection_set.node, depth));
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    count
}

fn limit_error(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "QUERY_TOO_LARGE");
    error.extensions = Some(extensions);
    error
}
