//! Mastodon's id-cursor paging: `max_id` / `since_id` / `min_id` / `limit`.

use crate::id::Id;

/// What a client asked for, already clamped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Exclusive upper bound.
    pub max_id: Option<Id>,
    /// Exclusive lower bound, newest first.
    pub since_id: Option<Id>,
    /// Exclusive lower bound, the results just above it (oldest-adjacent), still returned newest first.
    pub min_id: Option<Id>,
    pub limit: u32,
}

impl PageRequest {
    /// Mastodon clamps `limit` to `[1, 2 × default]`; missing or zero means the default.
    pub fn new(max_id: Option<Id>, since_id: Option<Id>, min_id: Option<Id>, limit: Option<i64>, default: u32) -> Self {
        let max = default * 2;
        let limit = match limit {
            None | Some(0) => default,
            Some(l) => (l.unsigned_abs().min(max as u64) as u32).max(1),
        };
        Self { max_id, since_id, min_id, limit }
    }

    /// Lower bound and whether the page hugs it (`min_id`) rather than the top (`since_id`).
    pub fn lower(&self) -> (Option<Id>, bool) {
        match (self.min_id, self.since_id) {
            (Some(min), _) => (Some(min), true),
            (None, since) => (since, false),
        }
    }
}

/// One page of results, newest first, with the cursor ids for the `Link` header.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The `max_id` for `rel="next"` (older), when more may exist.
    pub next_max_id: Option<Id>,
    /// The `min_id` for `rel="prev"` (newer).
    pub prev_min_id: Option<Id>,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `limit` and their cursor keys (newest first). `next`
    /// is given only when the page is full (more may exist); `prev` whenever it is not empty.
    pub fn from_rows(items: Vec<T>, key: impl Fn(&T) -> Id, limit: u32) -> Self {
        let next_max_id = items.last().map(&key).filter(|_| items.len() >= limit as usize);
        let prev_min_id = items.first().map(&key);
        Page { items, next_max_id, prev_min_id }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_max_id: self.next_max_id,
            prev_min_id: self.prev_min_id,
        }
    }

    pub fn empty() -> Self {
        Page { items: Vec::new(), next_max_id: None, prev_min_id: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped_as_mastodon_does() {
        assert_eq!(PageRequest::new(None, None, None, None, 20).limit, 20);
        assert_eq!(PageRequest::new(None, None, None, Some(500), 20).limit, 40);
        assert_eq!(PageRequest::new(None, None, None, Some(5), 20).limit, 5);
    }
}
