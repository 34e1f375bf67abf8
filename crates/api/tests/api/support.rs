//! Helpers shared by the API tests.

#![allow(dead_code)]

pub use ferrodon_testkit::*;

/// The `Link` header's target for `rel` (`next` / `prev`).
pub fn link(headers: &HeaderMap, rel: &str) -> Option<String> {
    let value = headers.get("link")?.to_str().ok()?;
    value.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .contains(&format!("rel=\"{rel}\""))
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

/// `http://localhost:3000/api/…` → `/api/…`.
pub fn path_of(url: &str) -> String {
    url.strip_prefix(BASE_URL).unwrap_or(url).to_string()
}

/// The `id`s of a JSON array.
pub fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect()
}

/// Posts a status; panics unless it is created. Returns the status.
pub async fn post_status(app: &TestApp, token: &str, pairs: &[(&str, &str)]) -> Value {
    let (status, _, body) = app.post_form("/api/v1/statuses", token, pairs).await;
    assert_eq!(status, StatusCode::OK, "posting {pairs:?}: {body}");
    body
}

/// Posts `text` publicly; returns its id.
pub async fn post(app: &TestApp, token: &str, text: &str) -> String {
    post_status(app, token, &[("status", text)]).await["id"].as_str().unwrap().to_string()
}

/// Asserts the status and returns the body.
#[track_caller]
pub fn ok(r: Response) -> Value {
    assert_eq!(r.0, StatusCode::OK, "{}", r.2);
    r.2
}

/// `POST …/follow`; panics unless it succeeds.
pub async fn follow(app: &TestApp, token: &str, account_id: &str) -> Value {
    let (status, _, body) = app.post_form(&format!("/api/v1/accounts/{account_id}/follow"), token, &[]).await;
    assert_eq!(status, StatusCode::OK, "follow: {body}");
    body
}

/// A public remote post at `uri` (`<author>/statuses/<n>`), as federation reads one.
pub fn remote_note(uri: &str, text: &str) -> ferrodon_domain::model::ReceivedPost {
    let author = uri.split("/statuses/").next().unwrap_or(uri);
    ferrodon_domain::model::ReceivedPost {
        uri: uri.to_string(),
        url: uri.to_string(),
        author: author.to_string(),
        content: format!("<p>{text}</p>"),
        spoiler_text: String::new(),
        sensitive: false,
        language: None,
        in_reply_to: None,
        to: vec![ferrodon_domain::model::PUBLIC_AUDIENCE.to_string()],
        cc: vec![format!("{author}/followers")],
        mentions: Vec::new(),
        tags: Vec::new(),
        created_at: ferrodon_kernel::time::now_ms(),
        edited_at: None,
        poll: None,
        media: Vec::new(),
        emojis: Vec::new(),
        name: None,
    }
}

/// A remote account on `domain`, stored as federation would.
pub async fn remote_account(app: &TestApp, name: &str, domain: &str) -> ferrodon_domain::model::Account {
    let uri = format!("https://{domain}/users/{name}");
    let mut tx = app.database().write().await.unwrap();
    let a = tx
        .upsert_remote_account(
            &ferrodon_domain::model::RemoteAccount {
                uri: uri.clone(),
                url: uri.clone(),
                username: name.into(),
                domain: domain.into(),
                actor_type: "Person".into(),
                fields_json: "[]".into(),
                inbox_url: format!("{uri}/inbox"),
                followers_url: format!("{uri}/followers"),
                ..Default::default()
            },
            ferrodon_kernel::time::now_ms(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    a
}

/// A `multipart/form-data` body: text fields, and files as (field, file name, content).
pub fn multipart_files(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (&'static str, Vec<u8>) {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--b0undary\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (field, filename, bytes) in files {
        body.extend_from_slice(
            format!(
                "--b0undary\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b0undary--\r\n");
    ("multipart/form-data; boundary=b0undary", body)
}
