//! A few seconds' memory of accounts: processing a burst of activities reads the same actors
//! and mentioned accounts again and again, and on SQLite every read is a round trip to a
//! connection's thread. What this process changes itself (a remote actor's Update, Delete)
//! replaces or drops the entry; other changes show after at most [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrodon_domain::model::Account;
use ferrodon_kernel::Id;

use crate::lock;

/// How long an entry is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(5);
/// Entries kept at most (then the cache starts over).
const MAX: usize = 50_000;

#[derive(Default)]
pub(crate) struct Accounts(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    by_id: HashMap<Id, (Account, Instant)>,
    by_uri: HashMap<String, Id>,
}

impl Accounts {
    pub(crate) fn get(&self, id: Id) -> Option<Account> {
        let inner = lock(&self.0);
        inner.by_id.get(&id).filter(|(_, at)| at.elapsed() < TTL).map(|(a, _)| a.clone())
    }

    pub(crate) fn get_by_uri(&self, uri: &str) -> Option<Account> {
        let id = *lock(&self.0).by_uri.get(uri)?;
        self.get(id)
    }

    pub(crate) fn put(&self, a: &Account) {
        let mut inner = lock(&self.0);
        if inner.by_id.len() >= MAX {
            inner.by_id.clear();
            inner.by_uri.clear();
        }
        inner.by_uri.insert(a.uri.clone(), a.id);
        inner.by_id.insert(a.id, (a.clone(), Instant::now()));
    }

    pub(crate) fn forget(&self, id: Id) {
        let mut inner = lock(&self.0);
        if let Some((a, _)) = inner.by_id.remove(&id) {
            inner.by_uri.remove(&a.uri);
        }
    }
}
