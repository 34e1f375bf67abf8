//! Collections of other servers (a post's `replies`, an account's `featured`): the ids they list,
//! following `first` and `next` pages, whether embedded or linked.

use ferrodon_domain::ports::SigningKey;
use ferrodon_kernel::Result;
use serde_json::Value;

use crate::Federation;
use crate::protocol::{id_of, items};

/// At most this many pages are read.
const MAX_PAGES: usize = 3;

/// A collection member (embedded or by reference) as a document.
async fn page(fed: &Federation, value: &Value, key: &SigningKey) -> Result<Value> {
    match value {
        Value::String(url) => fed.get(url, key).await,
        other => Ok(other.clone()),
    }
}

/// The ids `collection` lists, at most `max`.
pub(crate) async fn ids(fed: &Federation, collection: &Value, key: &SigningKey, max: usize) -> Result<Vec<String>> {
    let collection = page(fed, collection, key).await?;
    let mut current = match collection.get("first") {
        Some(first) => Some(page(fed, first, key).await?),
        None => Some(collection.clone()), // items right in the collection
    };
    let mut ids = Vec::new();
    for _ in 0..MAX_PAGES {
        let Some(this) = current.take() else { break };
        let listed = this.get("orderedItems").or_else(|| this.get("items"));
        for item in items(listed) {
            if let Some(id) = id_of(item)
                && !ids.iter().any(|u| u == id)
            {
                ids.push(id.to_string());
            }
        }
        if ids.len() >= max {
            break;
        }
        if let Some(next) = this.get("next") {
            current = Some(page(fed, next, key).await?);
        }
    }
    ids.truncate(max);
    Ok(ids)
}
