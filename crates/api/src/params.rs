//! Request parameters the way Rails reads them: the query string, an urlencoded form or a JSON
//! body, all merged into one JSON object. Bracket keys nest (`poll[options][]=a`,
//! `fields_attributes[0][name]=x`), and typed getters read strings, Rails truthy booleans,
//! numbers and lists, with Mastodon's errors for bad values.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use ferrodon_kernel::Error;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Merged request parameters.
#[derive(Debug, Default, Clone)]
pub struct Params(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().unwrap_or("").to_string();
        let content_type =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let body =
            Bytes::from_request(req, state).await.map_err(|_| Error::bad_request("Request body could not be read"))?;
        let mut params = Params::default();
        params.merge_form(&query);
        if content_type.starts_with("application/json") {
            if !body.is_empty() {
                let v: Value = serde_json::from_slice(&body)
                    .map_err(|e| Error::bad_request(format!("Error occurred while parsing request parameters: {e}")))?;
                match v {
                    Value::Object(m) => params.0.extend(m),
                    _ => {
                        return Err(Error::bad_request("Error occurred while parsing request parameters").into());
                    }
                }
            }
        } else if content_type.starts_with("multipart/form-data") {
            params.merge_multipart(&content_type, &body)?;
        } else {
            params.merge_form(&String::from_utf8_lossy(&body));
        }
        Ok(params)
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Inserts `value` at a Rails-style key path (`a[b][]`).
fn insert(root: &mut Map<String, Value>, key: &str, value: Value) {
    let (head, rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    let mut segments: Vec<&str> = Vec::new();
    let mut r = rest;
    while let Some(stripped) = r.strip_prefix('[') {
        match stripped.find(']') {
            Some(end) => {
                segments.push(&stripped[..end]);
                r = &stripped[end + 1..];
            }
            None => break,
        }
    }
    fn place(slot: &mut Value, segments: &[&str], value: Value) {
        match segments.split_first() {
            None => *slot = value,
            Some((&"", rest)) => {
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let arr = slot.as_array_mut().expect("array");
                if rest.is_empty() {
                    arr.push(value);
                } else {
                    // `a[][b]=…`: start a new element when the last one already has `b`.
                    let need_new = match (arr.last(), rest.first()) {
                        (Some(Value::Object(o)), Some(k)) => o.contains_key(*k),
                        _ => true,
                    };
                    if need_new {
                        arr.push(Value::Object(Map::new()));
                    }
                    place(arr.last_mut().expect("element"), rest, value);
                }
            }
            Some((key, rest)) => {
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let obj = slot.as_object_mut().expect("object");
                place(obj.entry(key.to_string()).or_insert(Value::Null), rest, value);
            }
        }
    }
    if head.is_empty() {
        return;
    }
    let slot = root.entry(head.to_string()).or_insert(Value::Null);
    place(slot, &segments, value);
}

impl Params {
    pub fn merge_form(&mut self, s: &str) {
        for pair in s.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            insert(&mut self.0, &decode(k), Value::String(decode(v)));
        }
    }

    /// Text fields of a multipart body. A file part is refused with 422 until media uploads
    /// exist: taking the rest of the request and dropping the file would answer as if the
    /// avatar (or attachment) had been saved. A file input left empty (a part with
    /// `filename=""`, as browsers send it) is no file and is skipped, as Rack does.
    fn merge_multipart(&mut self, content_type: &str, body: &[u8]) -> Result<(), ApiError> {
        let Some(boundary) = content_type.split("boundary=").nth(1).map(|b| b.trim_matches('"').to_string()) else {
            return Ok(());
        };
        let delimiter = format!("--{boundary}");
        let text = String::from_utf8_lossy(body);
        for part in text.split(delimiter.as_str()).skip(1) {
            let Some((headers, content)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let Some(disposition) = headers.split("\r\n").find_map(|line| {
                let (header, value) = line.split_once(':')?;
                header.trim().eq_ignore_ascii_case("content-disposition").then_some(value)
            }) else {
                continue;
            };
            let disposition = disposition_params(disposition);
            let param = |key: &str| disposition.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v);
            let Some(name) = param("name") else {
                continue;
            };
            match param("filename").or_else(|| param("filename*")) {
                Some(filename) if filename.is_empty() => continue,
                Some(_) => {
                    return Err(Error::validation(format!(
                        "Validation failed: File uploads are not supported yet ({name} is a file)"
                    ))
                    .into());
                }
                None => {}
            }
            let value = content.strip_suffix("\r\n").unwrap_or(content);
            insert(&mut self.0, name, Value::String(value.to_string()));
        }
        Ok(())
    }

    /// Sets a value at a Rails-style key path (`a[b][]`).
    pub fn insert(&mut self, key: &str, value: Value) {
        insert(&mut self.0, key, value);
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A string value (numbers and booleans are accepted as their text).
    pub fn str(&self, key: &str) -> Option<String> {
        value_str(self.get(key)?)
    }

    /// A required, non-blank string: 400 "Missing parameter" otherwise, as Rails' `params.require`.
    pub fn required(&self, key: &str) -> Result<String, ApiError> {
        self.str(key)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::bad_request(format!("Missing required parameter: {key}")).into())
    }

    /// Rails truthiness: "1", "true", "t", "on" (and JSON true) are true.
    pub fn bool(&self, key: &str) -> Option<bool> {
        value_bool(self.get(key)?)
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid(key)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid(key)),
            Some(_) => Err(invalid(key)),
        }
    }

    /// `key[]` values (also a single value, or a JSON array).
    pub fn list(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(a)) => a.iter().filter_map(value_str).collect(),
            Some(Value::Object(o)) => o.values().filter_map(value_str).collect(),
            Some(v) => value_str(v).into_iter().collect(),
            None => Vec::new(),
        }
    }

    pub fn object(&self, key: &str) -> Option<Params> {
        match self.get(key) {
            Some(Value::Object(o)) => Some(Params(o.clone())),
            _ => None,
        }
    }
}

/// The parameters of a `Content-Disposition` value (`form-data; name="a"; filename="b;c.png"`),
/// lower-cased keys with their values unquoted; the disposition type itself is left out.
fn disposition_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    // Skip the disposition type.
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ';').is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ';')).collect();
        if key.trim().is_empty() {
            if chars.peek().is_none() {
                return out;
            }
            chars.next();
            continue;
        }
        let mut val = String::new();
        if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => val.extend(chars.next()),
                        c => val.push(c),
                    }
                }
                while chars.next_if(|c| *c != ';').is_some() {}
            } else {
                val = std::iter::from_fn(|| chars.next_if(|c| *c != ';')).collect::<String>().trim().to_string();
            }
        }
        out.push((key.trim().to_ascii_lowercase(), val));
    }
}

fn invalid(key: &str) -> ApiError {
    Error::bad_request(format!("Invalid value for parameter: {key}")).into()
}

pub fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn value_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => None,
            "0" | "f" | "false" | "off" | "no" => Some(false),
            _ => Some(true),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rails_brackets_nest() {
        let mut p = Params::default();
        p.merge_form("status=hi+there&poll[options][]=a&poll[options][]=b&poll[expires_in]=300&media_ids[]=1&fields_attributes[0][name]=x%20y&fields_attributes[0][value]=z");
        assert_eq!(p.str("status").as_deref(), Some("hi there"));
        let poll = p.object("poll").unwrap();
        assert_eq!(poll.list("options"), vec!["a", "b"]);
        assert_eq!(poll.int("expires_in").unwrap(), Some(300));
        assert_eq!(p.list("media_ids"), vec!["1"]);
        let fields = p.object("fields_attributes").unwrap();
        assert_eq!(fields.object("0").unwrap().str("name").as_deref(), Some("x y"));
    }

    fn multipart(parts: &[(&str, &str)]) -> (String, Vec<u8>) {
        let mut body = String::new();
        for (disposition, content) in parts {
            body.push_str(&format!("--XyZ\r\nContent-Disposition: {disposition}\r\n\r\n{content}\r\n"));
        }
        body.push_str("--XyZ--\r\n");
        ("multipart/form-data; boundary=XyZ".to_string(), body.into_bytes())
    }

    #[test]
    fn multipart_text_fields_are_read_and_empty_file_inputs_skipped() {
        let (content_type, body) = multipart(&[
            (r#"form-data; name="display_name""#, "Al; ice"),
            (r#"form-data; name="fields_attributes[0][name]""#, "site"),
            (r#"form-data; name="avatar"; filename="""#, ""),
        ]);
        let mut p = Params::default();
        p.merge_multipart(&content_type, &body).unwrap();
        assert_eq!(p.str("display_name").as_deref(), Some("Al; ice"));
        assert_eq!(p.object("fields_attributes").unwrap().object("0").unwrap().str("name").as_deref(), Some("site"));
        assert_eq!(p.get("avatar"), None);
    }

    #[test]
    fn multipart_files_are_refused() {
        for disposition in [
            r#"form-data; name="avatar"; filename="me.png""#,
            r#"form-data; filename="a;b.png"; name="header""#,
            r#"form-data; name="file"; filename*=UTF-8''%C3%A9.png"#,
        ] {
            let (content_type, body) = multipart(&[(r#"form-data; name="note""#, "hi"), (disposition, "\u{89}PNG")]);
            let err = Params::default().merge_multipart(&content_type, &body).unwrap_err().0;
            assert_eq!(err.kind, ferrodon_kernel::ErrorKind::Validation, "{disposition}");
            assert!(err.message.contains("File uploads are not supported yet"), "{}", err.message);
        }
    }

    #[test]
    fn content_disposition_parameters() {
        assert_eq!(
            disposition_params(r#"form-data; name="a\"b"; filename=plain.txt ;x="1;2""#),
            vec![
                ("name".to_string(), "a\"b".to_string()),
                ("filename".to_string(), "plain.txt".to_string()),
                ("x".to_string(), "1;2".to_string())
            ]
        );
    }

    #[test]
    fn truthy_values() {
        let mut p = Params::default();
        p.merge_form("a=1&b=false&c=true&d=0&e=");
        assert_eq!(p.bool("a"), Some(true));
        assert_eq!(p.bool("b"), Some(false));
        assert_eq!(p.bool("c"), Some(true));
        assert_eq!(p.bool("d"), Some(false));
        assert_eq!(p.bool("e"), None);
    }
}
