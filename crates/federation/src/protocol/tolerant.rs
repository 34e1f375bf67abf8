//! Building blocks for reading ActivityStreams JSON the way servers really write it, with serde
//! and without a `serde_json::Value` in between. Every type here accepts any JSON value and keeps
//! what fits: a reference may be a string, an object with `id` (or `href`), or a list of either;
//! a number may come as a string; a field may be missing or `null`. What does not fit reads as
//! the type's default instead of failing the whole document, so a struct made only of these
//! types (with `#[serde(default)]`) reads any JSON object.
//!
//! They work with any serde deserializer: straight from bytes (`serde_json::from_slice`), or from
//! a `&serde_json::Value` a caller already has.

use std::fmt;
use std::marker::PhantomData;

use ferrodon_kernel::time::Millis;
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A value read from whatever JSON shape it comes in. Each method reads one shape; the
/// defaults give `Self::default()` (a list gives its first element).
trait Lenient: Default + Sized {
    fn from_str(_: &str) -> Self {
        Self::default()
    }
    fn from_string(s: String) -> Self {
        Self::from_str(&s)
    }
    fn from_bool(_: bool) -> Self {
        Self::default()
    }
    fn from_i64(_: i64) -> Self {
        Self::default()
    }
    fn from_u64(n: u64) -> Self {
        i64::try_from(n).map(Self::from_i64).unwrap_or_default()
    }
    fn from_f64(_: f64) -> Self {
        Self::default()
    }
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        drain_map(map)?;
        Ok(Self::default())
    }
    /// A list: its first element.
    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error>
    where
        Self: Deserialize<'de>,
    {
        let first = seq.next_element::<Self>()?.unwrap_or_default();
        drain_seq(seq)?;
        Ok(first)
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Lenient + Deserialize<'de>> Visitor<'de> for LenientVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<T, E> {
        Ok(T::from_bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<T, E> {
        Ok(T::from_i64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<T, E> {
        Ok(T::from_u64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<T, E> {
        Ok(T::from_f64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok(T::from_str(v))
    }
    fn visit_string<E>(self, v: String) -> Result<T, E> {
        Ok(T::from_string(v))
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map)
    }
}

macro_rules! lenient {
    ($($t:ty),+) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(LenientVisitor(PhantomData))
            }
        }
    )+};
}

lenient!(Text, Ref, Link, Image, Bool, Int, Time, LangMap);

/// A string (a list's first element); anything else is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text(pub Option<String>);

impl Lenient for Text {
    fn from_str(s: &str) -> Self {
        Text(Some(s.to_string()))
    }
    fn from_string(s: String) -> Self {
        Text(Some(s))
    }
}

/// A reference to an object: a string, an object's `id` (or a link's `href`), a list's first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ref(pub Option<String>);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum LinkField {
    Id,
    Href,
    Url,
    #[serde(other)]
    Other,
}

impl Lenient for Ref {
    fn from_str(s: &str) -> Self {
        Ref(Some(s.to_string()))
    }
    fn from_string(s: String) -> Self {
        Ref(Some(s))
    }
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let (mut id, mut href) = (None, None);
        while let Some(field) = map.next_key::<LinkField>()? {
            match field {
                LinkField::Id => id = map.next_value::<Text>()?.0,
                LinkField::Href => href = map.next_value::<Text>()?.0,
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Ref(id.or(href)))
    }
}

/// Every reference of a field that may hold one or a list (unreadable entries are left out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refs(pub Vec<String>);

impl<'de> Deserialize<'de> for Refs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let all = OneOrMany::<Ref>::deserialize(d)?;
        Ok(Refs(all.0.into_iter().filter_map(|r| r.0).collect()))
    }
}

/// An http(s) link to fetch (media, an icon): a string, a `Link`'s `href` or an object's `url`;
/// of a list, the first such link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link(pub Option<String>);

fn http(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

impl Lenient for Link {
    fn from_str(s: &str) -> Self {
        Link(http(s).then(|| s.to_string()))
    }
    fn from_string(s: String) -> Self {
        Link(http(&s).then_some(s))
    }
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let (mut href, mut url) = (None, None);
        while let Some(field) = map.next_key::<LinkField>()? {
            match field {
                LinkField::Href => href = map.next_value::<Text>()?.0,
                LinkField::Url => url = map.next_value::<Link>()?.0,
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Link(href.filter(|h| http(h)).or(url)))
    }
    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut found = None;
        while let Some(Link(l)) = seq.next_element::<Link>()? {
            if found.is_none() {
                found = l;
            }
        }
        Ok(Link(found))
    }
}

/// An actor's `icon` or `image`: an object's `url` (itself a reference), else its `id` or
/// `href`; a string; a list's first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image(pub Option<String>);

impl Lenient for Image {
    fn from_str(s: &str) -> Self {
        Image(Some(s.to_string()))
    }
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let (mut url, mut id, mut href) = (None, None, None);
        while let Some(field) = map.next_key::<LinkField>()? {
            match field {
                LinkField::Url => url = map.next_value::<Ref>()?.0,
                LinkField::Id => id = map.next_value::<Text>()?.0,
                LinkField::Href => href = map.next_value::<Text>()?.0,
                LinkField::Other => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Image(url.or(id).or(href)))
    }
}

/// `true`, or the string `"true"`; anything else is false.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bool(pub bool);

impl Lenient for Bool {
    fn from_bool(b: bool) -> Self {
        Bool(b)
    }
    fn from_str(s: &str) -> Self {
        Bool(s == "true")
    }
}

/// An integer, also written as a float or as a string (`"12"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Int(pub Option<i64>);

impl Lenient for Int {
    fn from_i64(n: i64) -> Self {
        Int(Some(n))
    }
    fn from_f64(f: f64) -> Self {
        // `as` saturates at the bounds of i64.
        Int(f.is_finite().then_some(f as i64))
    }
    fn from_str(s: &str) -> Self {
        let s = s.trim();
        match s.parse::<i64>() {
            Ok(n) => Int(Some(n)),
            Err(_) => s.parse::<f64>().map(Int::from_f64).unwrap_or_default(),
        }
    }
}

/// An RFC 3339 timestamp, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time(pub Option<Millis>);

impl Lenient for Time {
    fn from_str(s: &str) -> Self {
        Time(ferrodon_kernel::time::parse_rfc3339(s))
    }
}

/// A language map (`contentMap`, `nameMap`, `summaryMap`): its string entries, in the order
/// of the document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LangMap(pub Vec<(String, String)>);

impl LangMap {
    /// The first entry's text.
    pub fn first_text(&self) -> Option<&str> {
        self.0.first().map(|(_, text)| text.as_str())
    }
    /// The first entry's language.
    pub fn first_language(&self) -> Option<&str> {
        self.0.first().map(|(lang, _)| lang.as_str())
    }
}

impl Lenient for LangMap {
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut out = Vec::new();
        while let Some(lang) = map.next_key::<String>()? {
            if let Text(Some(text)) = map.next_value::<Text>()? {
                out.push((lang, text));
            }
        }
        Ok(LangMap(out))
    }
}

/// A document's types (`type` is a string or a list of them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Types(pub Vec<String>);

impl Types {
    pub fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }
    /// Whether one of the types is in `wanted`, also when written with a prefix (`as:Note`).
    pub fn is_any(&self, wanted: &[&str]) -> bool {
        self.0.iter().any(|t| wanted.contains(&short(t)))
    }
    /// The first type in `wanted` (prefix dropped).
    pub fn find<'a>(&'a self, wanted: &[&str]) -> Option<&'a str> {
        self.0.iter().map(|t| short(t)).find(|t| wanted.contains(t))
    }
}

/// A type without its prefix (`as:Note` is `Note`).
fn short(t: &str) -> &str {
    t.rsplit(':').next().unwrap_or(t)
}

impl<'de> Deserialize<'de> for Types {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let all = OneOrMany::<Text>::deserialize(d)?;
        Ok(Types(all.0.into_iter().filter_map(|t| t.0).collect()))
    }
}

/// A field that may hold one value or a list of them; `null` is an empty list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(OneOrMany(out))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                OneOrMany::deserialize(d)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Ok(OneOrMany(vec![T::deserialize(MapAccessDeserializer::new(map))?]))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(v.into_deserializer())?]))
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(serde::de::value::BorrowedStrDeserializer::new(v))?]))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(v.into_deserializer())?]))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(v.into_deserializer())?]))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(v.into_deserializer())?]))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(v.into_deserializer())?]))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(OneOrMany(vec![T::deserialize(v.into_deserializer())?]))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A node of the graph where an object is expected: a reference (a string), the object
/// itself (read as `T`), or nothing usable. Of a list, the first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Node<T> {
    Link(String),
    Object(T),
    #[default]
    Absent,
}

impl<T> Node<T> {
    pub fn object(&self) -> Option<&T> {
        match self {
            Node::Object(o) => Some(o),
            _ => None,
        }
    }
}

impl<T: DeserializeOwned> Lenient for Node<T> {
    fn from_str(s: &str) -> Self {
        Node::Link(s.to_string())
    }
    fn from_string(s: String) -> Self {
        Node::Link(s)
    }
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Node::Object)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Node<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Reads `json` both ways a document is read (from bytes, and from a `Value` already
    /// parsed), which must agree.
    fn read<T: DeserializeOwned + PartialEq + fmt::Debug>(json: &str) -> T {
        let from_bytes = serde_json::from_str::<T>(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let from_value = T::deserialize(&value).unwrap_or_else(|e| panic!("{json} as a Value: {e}"));
        assert_eq!(from_bytes, from_value, "{json}");
        from_bytes
    }

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Doc {
        r: Ref,
        rs: Refs,
        t: Text,
        b: Bool,
        n: Int,
        at: Time,
        m: LangMap,
        l: Link,
        i: Image,
        #[serde(rename = "type")]
        kind: Types,
        many: OneOrMany<Node<Doc>>,
    }

    #[test]
    fn a_reference_in_every_shape() {
        for (json, id) in [
            (r#""https://a/1""#, Some("https://a/1")),
            (r#"{"id": "https://a/2", "type": "Note", "content": "x"}"#, Some("https://a/2")),
            (r#"{"type": "Link", "href": "https://a/3"}"#, Some("https://a/3")),
            (r#"[{"id": "https://a/4"}, "https://a/5"]"#, Some("https://a/4")),
            (r#"[["https://a/6"]]"#, Some("https://a/6")),
            (r#"{"id": 7}"#, None),
            ("null", None),
            ("12", None),
            ("[]", None),
        ] {
            assert_eq!(read::<Ref>(json).0.as_deref(), id, "{json}");
        }
    }

    #[test]
    fn every_reference_of_a_list() {
        let json = r#"["https://a/1", {"id": "https://a/2"}, 3, {"name": "no id"}, {"href": "https://a/4"}]"#;
        assert_eq!(read::<Refs>(json).0, ["https://a/1", "https://a/2", "https://a/4"]);
        assert_eq!(read::<Refs>(r#""as:Public""#).0, ["as:Public"]);
        assert!(read::<Refs>("null").0.is_empty());
        assert!(read::<Refs>("{}").0.is_empty());
    }

    #[test]
    fn scalars_read_leniently() {
        assert_eq!(read::<Text>(r#"["first", "second"]"#).0.as_deref(), Some("first"));
        assert_eq!(read::<Text>(r#"{"en": "a map is no text"}"#).0, None);
        assert_eq!(read::<Bool>("true"), Bool(true));
        assert_eq!(read::<Bool>(r#""true""#), Bool(true));
        assert_eq!(read::<Bool>(r#""yes""#), Bool(false));
        assert_eq!(read::<Bool>("null"), Bool(false));
        assert_eq!(read::<Int>("12"), Int(Some(12)));
        assert_eq!(read::<Int>(r#""12""#), Int(Some(12)));
        assert_eq!(read::<Int>(r#"" 7.0 ""#), Int(Some(7)));
        assert_eq!(read::<Int>("3.9"), Int(Some(3)));
        assert_eq!(read::<Int>("18446744073709551615"), Int(None));
        assert_eq!(read::<Int>(r#""many""#), Int(None));
        assert_eq!(read::<Time>(r#""2024-01-02T03:04:05Z""#).0, Some(1_704_164_645_000));
        assert_eq!(read::<Time>(r#""yesterday""#).0, None);
        assert_eq!(read::<Time>("true").0, None);
    }

    #[test]
    fn language_maps_keep_the_document_order() {
        // From bytes (a `Value` has already sorted its keys).
        let m: LangMap = serde_json::from_str(r#"{"fr": "<p>Salut</p>", "de": "<p>Hallo</p>", "xx": 3}"#).unwrap();
        assert_eq!(m.first_language(), Some("fr"));
        assert_eq!(m.first_text(), Some("<p>Salut</p>"));
        assert_eq!(m.0.len(), 2);
        assert_eq!(read::<LangMap>(r#""not a map""#), LangMap::default());
    }

    #[test]
    fn links_are_http_only() {
        assert_eq!(read::<Link>(r#""https://a/x.png""#).0.as_deref(), Some("https://a/x.png"));
        assert_eq!(read::<Link>(r#""javascript:alert(1)""#).0, None);
        assert_eq!(read::<Link>(r#"{"type": "Link", "href": "https://a/h"}"#).0.as_deref(), Some("https://a/h"));
        assert_eq!(read::<Link>(r#"{"type": "Image", "url": "https://a/u"}"#).0.as_deref(), Some("https://a/u"));
        assert_eq!(
            read::<Link>(r#"{"type": "Image", "url": {"href": "https://a/n"}}"#).0.as_deref(),
            Some("https://a/n")
        );
        // Of a list, the first usable one.
        let list = r#"[{"href": "magnet:?x"}, "ftp://a/b", {"href": "https://a/2"}, "https://a/3"]"#;
        assert_eq!(read::<Link>(list).0.as_deref(), Some("https://a/2"));
    }

    #[test]
    fn images_are_an_objects_url_or_its_id() {
        assert_eq!(
            read::<Image>(r#"{"type": "Image", "url": "https://a/i.png"}"#).0.as_deref(),
            Some("https://a/i.png")
        );
        assert_eq!(
            read::<Image>(r#"{"type": "Image", "url": [{"href": "https://a/l.png"}]}"#).0.as_deref(),
            Some("https://a/l.png")
        );
        assert_eq!(read::<Image>(r#"{"id": "https://a/id.png"}"#).0.as_deref(), Some("https://a/id.png"));
        assert_eq!(read::<Image>(r#""https://a/s.png""#).0.as_deref(), Some("https://a/s.png"));
        assert_eq!(
            read::<Image>(r#"[{"url": "https://a/1.png"}, {"url": "https://a/2.png"}]"#).0.as_deref(),
            Some("https://a/1.png")
        );
    }

    #[test]
    fn types_with_and_without_prefix() {
        let t = read::<Types>(r#"["as:Note", "Article"]"#);
        assert!(t.is_any(&["Note"]) && t.is_any(&["Article"]) && !t.is_any(&["Page"]));
        assert_eq!(t.first(), Some("as:Note"));
        assert_eq!(t.find(&["Article", "Note"]), Some("Note"));
        assert_eq!(read::<Types>(r#""Create""#).0, ["Create"]);
        assert!(read::<Types>("42").0.is_empty());
    }

    #[test]
    fn one_or_many_nodes() {
        let d: Doc = read(r#"{"many": [{"t": "a"}, "https://a/b", 3, [{"t": "c"}]]}"#);
        assert_eq!(d.many.0.len(), 4);
        assert_eq!(d.many.0[0].object().unwrap().t.0.as_deref(), Some("a"));
        assert_eq!(d.many.0[1], Node::Link("https://a/b".into()));
        assert_eq!(d.many.0[2], Node::Absent);
        assert_eq!(d.many.0[3].object().unwrap().t.0.as_deref(), Some("c"));
        let one: Doc = read(r#"{"many": {"t": "only"}}"#);
        assert_eq!(one.many.0.len(), 1);
        let none: Doc = read(r#"{"many": null}"#);
        assert!(none.many.0.is_empty());
    }

    #[test]
    fn a_document_of_wrong_shapes_still_reads() {
        // Every field has a shape its type does not expect; the document reads as defaults.
        let json = json!({
            "r": 3, "rs": true, "t": {"x": [1, 2]}, "b": [], "n": {"value": 1}, "at": 12,
            "m": ["x"], "l": 5, "i": false, "type": {"a": 1}, "many": "https://a/x", "unknown": {"deep": [1]}
        })
        .to_string();
        let d: Doc = read(&json);
        assert_eq!((d.r.0, d.t.0, d.b.0, d.n.0, d.at.0, d.l.0, d.i.0), (None, None, false, None, None, None, None));
        assert!(d.rs.0.is_empty() && d.m.0.is_empty() && d.kind.0.is_empty());
        assert_eq!(d.many.0, [Node::Link("https://a/x".into())]);
    }
}
