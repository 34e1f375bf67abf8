//! ActivityStreams as JSON, read tolerantly: every server shapes documents a little differently
//! (a reference is a string, an object or a list of either; `Public` has three spellings).
//!
//! Received documents are read with serde into the wire types of [`wire`] (made of the
//! forgiving types of [`tolerant`]) and from there into domain types by [`read`]:
//! [`read_activity`], [`read_post`], [`read_actor`]. The helpers below read a document already
//! held as a `serde_json::Value` the same forgiving way.

pub mod read;
pub mod tolerant;
pub mod wire;

pub use read::{
    ACTIVITY_TYPES, ACTOR_TYPES, POST_TYPES, read_activity, read_actor, read_actor_value, read_post, read_post_value,
};

use serde_json::Value;

/// The public collection, however it is written.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

pub fn is_public(iri: &str) -> bool {
    iri == PUBLIC || iri == "as:Public" || iri == "Public"
}

/// The id of a reference: the string itself, or an object's `id` (or `href` for links).
pub fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").or_else(|| o.get("href")).and_then(Value::as_str),
        Value::Array(a) => a.first().and_then(id_of),
        _ => None,
    }
}

/// Every id in a field that may be one reference or a list of them.
pub fn ids_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(id_of).map(str::to_string).collect(),
        Some(other) => id_of(other).map(|s| vec![s.to_string()]).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// The items of a field that may be one value or a list.
pub fn items(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// The types of a document (`type` may be a string or a list).
pub fn types(v: &Value) -> Vec<&str> {
    match v.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

pub fn has_type(v: &Value, wanted: &[&str]) -> bool {
    types(v).iter().any(|t| wanted.contains(t) || t.rsplit(':').next().is_some_and(|short| wanted.contains(&short)))
}

/// A string field (a `…Map` variant's first value when the plain one is missing).
pub fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    match v.get(field) {
        Some(Value::String(s)) => Some(s),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str),
        _ => v.get(format!("{field}Map")).and_then(Value::as_object).and_then(|m| m.values().find_map(Value::as_str)),
    }
}

/// The language of a `contentMap` (its first key), if any.
pub fn language(v: &Value) -> Option<String> {
    v.get("contentMap").and_then(Value::as_object).and_then(|m| m.keys().next()).map(|k| k.to_string())
}

pub fn bool_field(v: &Value, field: &str) -> bool {
    match v.get(field) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// An RFC 3339 timestamp field as milliseconds.
pub fn time(v: &Value, field: &str) -> Option<i64> {
    let s = v.get(field)?.as_str()?;
    ferrodon_kernel::time::parse_rfc3339(s)
}

pub use ferrodon_domain::rules::uri::{authority, same_origin};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_in_every_shape() {
        assert_eq!(id_of(&json!("https://a/1")), Some("https://a/1"));
        assert_eq!(id_of(&json!({"id": "https://a/2"})), Some("https://a/2"));
        assert_eq!(id_of(&json!({"type": "Link", "href": "https://a/3"})), Some("https://a/3"));
        assert_eq!(ids_of(Some(&json!(["https://a/1", {"id": "https://a/2"}]))), vec!["https://a/1", "https://a/2"]);
        assert_eq!(ids_of(Some(&json!("as:Public"))), vec!["as:Public"]);
        assert!(ids_of(None).is_empty());
    }

    #[test]
    fn public_has_three_spellings() {
        assert!(is_public(PUBLIC) && is_public("as:Public") && is_public("Public"));
        assert!(!is_public("https://a/followers"));
        // The spelling the domain types use.
        assert_eq!(PUBLIC, ferrodon_domain::model::PUBLIC_AUDIENCE);
    }

    #[test]
    fn types_and_maps() {
        let v = json!({"type": ["Note", "as:Article"], "contentMap": {"de": "<p>Hallo</p>"}});
        assert!(has_type(&v, &["Article"]));
        assert_eq!(text(&v, "content"), Some("<p>Hallo</p>"));
        assert_eq!(language(&v).as_deref(), Some("de"));
    }
}
