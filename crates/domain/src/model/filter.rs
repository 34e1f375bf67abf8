use ferrodon_kernel::Id;
use ferrodon_kernel::time::Millis;

/// A user's custom filter (Mastodon's v2 `Filter`): keywords and statuses that, in the chosen
/// contexts, mark a status with a warning or hide it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Filter {
    pub id: Id,
    pub account_id: Id,
    pub title: String,
    /// A JSON array of [`FILTER_CONTEXTS`].
    pub context_json: String,
    /// `warn`, `hide` or `blur`.
    pub action: String,
    pub expires_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    #[cfg_attr(feature = "sqlx", sqlx(skip))]
    pub keywords: Vec<FilterKeyword>,
    #[cfg_attr(feature = "sqlx", sqlx(skip))]
    pub statuses: Vec<FilterStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct FilterKeyword {
    pub id: Id,
    pub filter_id: Id,
    pub keyword: String,
    pub whole_word: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct FilterStatus {
    pub id: Id,
    pub filter_id: Id,
    pub status_id: Id,
}

/// Where a filter applies (Mastodon's `Filter.context`).
pub const FILTER_CONTEXTS: &[&str] = &["home", "notifications", "public", "thread", "account"];
/// What a filter does (Mastodon's `filter_action`; 4.4 added `blur`).
pub const FILTER_ACTIONS: &[&str] = &["warn", "hide", "blur"];
/// Mastodon's limits: a title and a keyword.
pub const MAX_FILTER_TITLE: usize = 256;
pub const MAX_FILTER_KEYWORD: usize = 512;

/// One filter that matched a status: which keywords, and whether the status itself is listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterMatch<'a> {
    pub filter: &'a Filter,
    pub keywords: Vec<&'a str>,
    pub status: bool,
}

impl Filter {
    pub fn contexts(&self) -> Vec<String> {
        serde_json::from_str(&self.context_json).unwrap_or_default()
    }

    pub fn applies_in(&self, context: &str) -> bool {
        self.contexts().iter().any(|c| c == context)
    }

    pub fn expired(&self, now: Millis) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    pub fn hides(&self) -> bool {
        self.action == "hide"
    }

    /// Whether it matches status `id` whose [`filterable_text`] is `text`; `None` if not.
    pub fn matches<'a>(&'a self, id: Id, text: &str) -> Option<FilterMatch<'a>> {
        let keywords: Vec<&str> = self
            .keywords
            .iter()
            .filter(|k| keyword_matches(&k.keyword, k.whole_word, text))
            .map(|k| k.keyword.as_str())
            .collect();
        let status = self.statuses.iter().any(|s| s.status_id == id);
        (status || !keywords.is_empty()).then_some(FilterMatch { filter: self, keywords, status })
    }
}

/// The filters among `filters` that match status `id` (with `text`, see [`filterable_text`]),
/// leaving out expired ones.
pub fn matching_filters<'a>(filters: &'a [Filter], id: Id, text: &str, now: Millis) -> Vec<FilterMatch<'a>> {
    filters.iter().filter(|f| !f.expired(now)).filter_map(|f| f.matches(id, text)).collect()
}

/// What keywords are matched against, as Mastodon does: the content warning, the text without
/// markup, media descriptions and poll options, lowercased.
pub fn filterable_text(spoiler: &str, html: &str, extra: &[String]) -> String {
    let mut out = String::with_capacity(spoiler.len() + html.len());
    out.push_str(spoiler);
    out.push_str("\n\n");
    out.push_str(&strip_tags(html));
    for e in extra {
        out.push_str("\n\n");
        out.push_str(e);
    }
    out.to_lowercase()
}

/// Text of HTML: tags dropped (line and paragraph breaks become spaces), entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end].trim_start_matches('/').to_ascii_lowercase();
        if tag.starts_with("br") || tag.starts_with('p') {
            out.push(' ');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// Whether `keyword` occurs in lowercased `text`; a whole-word keyword must not continue a word
/// on a side where it begins or ends with a word character (Mastodon's `\b` boundaries).
pub fn keyword_matches(keyword: &str, whole_word: bool, text: &str) -> bool {
    let keyword = keyword.trim().to_lowercase();
    if keyword.is_empty() {
        return false;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let (starts_word, ends_word) =
        (keyword.chars().next().is_some_and(word), keyword.chars().next_back().is_some_and(word));
    text.match_indices(&keyword).any(|(at, m)| {
        if !whole_word {
            return true;
        }
        let before = text[..at].chars().next_back();
        let after = text[at + m.len()..].chars().next();
        let continues_before = starts_word && before.is_some_and(word);
        let continues_after = ends_word && after.is_some_and(word);
        !(continues_before || continues_after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(keywords: &[(&str, bool)], statuses: &[i64]) -> Filter {
        Filter {
            id: Id(1),
            account_id: Id(2),
            title: "t".into(),
            context_json: r#"["home","public"]"#.into(),
            action: "warn".into(),
            expires_at: None,
            created_at: 0,
            updated_at: 0,
            keywords: keywords
                .iter()
                .enumerate()
                .map(|(i, (k, w))| FilterKeyword {
                    id: Id(10 + i as i64),
                    filter_id: Id(1),
                    keyword: k.to_string(),
                    whole_word: *w,
                })
                .collect(),
            statuses: statuses
                .iter()
                .map(|s| FilterStatus { id: Id(*s + 100), filter_id: Id(1), status_id: Id(*s) })
                .collect(),
        }
    }

    #[test]
    fn whole_words_match_only_whole_words() {
        let text = filterable_text("", "<p>I like <b>Rust</b>ic bread &amp; C++</p>", &[]);
        assert!(keyword_matches("rust", false, &text));
        assert!(!keyword_matches("rust", true, &text));
        assert!(keyword_matches("Bread", true, &text));
        assert!(keyword_matches("& c++", true, &text), "{text}");
        assert!(keyword_matches("c++", true, &text));
        assert!(!keyword_matches("", false, &text));
        assert!(keyword_matches("like", true, "i like it"));
        assert!(!keyword_matches("like", true, "i liked it"));
    }

    #[test]
    fn filters_match_keywords_statuses_and_expire() {
        let f = filter(&[("spoiler", true), ("cat", false)], &[7]);
        let text = filterable_text("Spoiler inside", "<p>nothing</p>", &[]);
        let m = f.matches(Id(5), &text).unwrap();
        assert_eq!(m.keywords, vec!["spoiler"]);
        assert!(!m.status);
        let m = f.matches(Id(7), "plain").unwrap();
        assert!(m.status && m.keywords.is_empty());
        assert!(f.matches(Id(5), "plain").is_none());
        assert!(filterable_text("", "x", &["A concatenation".into()]).contains("concatenation"));
        assert!(f.matches(Id(5), &filterable_text("", "", &["concatenation".into()])).is_some());
        let mut expired = f.clone();
        expired.expires_at = Some(10);
        let both = [f, expired];
        assert_eq!(matching_filters(&both, Id(7), "", 20).len(), 1);
        assert_eq!(matching_filters(&both, Id(7), "", 5).len(), 2);
        assert!(both[0].applies_in("home") && !both[0].applies_in("thread"));
    }
}
