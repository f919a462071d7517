//! Bounds on the shape of a document, checked right after parsing (before validation,
//! complexity analysis or any resolver): how many fields it selects in all, and how many at
//! the root (aliases included). Depth and complexity are bounded by async-graphql itself.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// The extension: `max_fields` selections in the whole document, `max_root_fields` at the root
/// of any operation.
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    pub max_fields: usize,
    pub max_root_fields: usize,
}

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.check(&document)?;
        Ok(document)
    }
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
fn count_fields(set: &SelectionSet, depth: usize) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) if depth > 1 => {
                1 + count_fields(&field.node.selection_set.node, depth - 1)
            }
            Selection::Field(_) => 1,
            Selection::InlineFragment(fragment) => {
                count_fields(&fragment.node.selection_set.node, depth)
            }
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn limit_error(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "QUERY_TOO_LARGE");
    error.extensions = Some(extensions);
    error
}
