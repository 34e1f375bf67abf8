//! Mastodon entities for filters: `Filter` (v2, with its `FilterKeyword`s and `FilterStatus`es),
//! the older v1 `Filter`, and the `FilterResult`s a status carries.

use ferrodon_domain::model::{Filter, FilterKeyword, FilterMatch, FilterStatus};
use ferrodon_kernel::time::rfc3339;
use ferrodon_mastodon_api as api;

use crate::filters::KeywordFilter;

pub fn filter(f: &Filter) -> api::Filter {
    api::Filter {
        id: f.id.to_string(),
        title: f.title.clone(),
        context: f.contexts(),
        expires_at: f.expires_at.map(rfc3339),
        filter_action: f.action.clone(),
        keywords: filter_keywords(&f.keywords),
        statuses: filter_statuses(&f.statuses),
    }
}

pub fn filters(all: &[Filter]) -> Vec<api::Filter> {
    all.iter().map(filter).collect()
}

pub fn filter_keyword(k: &FilterKeyword) -> api::FilterKeyword {
    api::FilterKeyword { id: k.id.to_string(), keyword: k.keyword.clone(), whole_word: k.whole_word }
}

pub fn filter_keywords(all: &[FilterKeyword]) -> Vec<api::FilterKeyword> {
    all.iter().map(filter_keyword).collect()
}

pub fn filter_status(s: &FilterStatus) -> api::FilterStatus {
    api::FilterStatus { id: s.id.to_string(), status_id: s.status_id.to_string() }
}

pub fn filter_statuses(all: &[FilterStatus]) -> Vec<api::FilterStatus> {
    all.iter().map(filter_status).collect()
}

/// A keyword as `/api/v1/filters` shows it: a filter of its own, with its filter's settings.
pub fn v1_filter(k: &KeywordFilter) -> api::V1Filter {
    let f = &k.filter;
    api::V1Filter {
        id: k.keyword.id.to_string(),
        phrase: k.keyword.keyword.clone(),
        context: f.contexts(),
        expires_at: f.expires_at.map(rfc3339),
        irreversible: f.hides(),
        whole_word: k.keyword.whole_word,
    }
}

pub fn v1_filters(all: &[KeywordFilter]) -> Vec<api::V1Filter> {
    all.iter().map(v1_filter).collect()
}

/// `Status.filtered`: the results of the filters that matched.
pub(crate) fn filter_results(matches: &[FilterMatch<'_>]) -> Vec<api::FilterResult> {
    matches
        .iter()
        .map(|m| api::FilterResult {
            filter: filter(m.filter),
            keyword_matches: (!m.keywords.is_empty()).then(|| m.keywords.iter().map(|k| k.to_string()).collect()),
            status_matches: m.status.then(|| m.filter.statuses.iter().map(|s| s.status_id.to_string()).collect()),
        })
        .collect()
}
