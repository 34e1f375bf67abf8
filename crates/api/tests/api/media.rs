//! Media: uploads through `/api/v1/media` and `/api/v2/media`, processed for real (images
//! decoded, resized, re-encoded), served from `/system/`, attached to statuses and federated.

use std::io::Cursor;

use ferrodon_domain::model::Queue;
use ferrodon_kernel::Id;

use crate::support::*;

/// A `multipart/form-data` body: text fields, and the file (if any) as `file`.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (&'static str, Vec<u8>) {
    let files: Vec<(&str, &str, &[u8])> = file.into_iter().map(|(name, bytes)| ("file", name, bytes)).collect();
    multipart_files(fields, &files)
}

/// Runs the jobs that remove stored files.
async fn remove_dropped_files(app: &TestApp) {
    app.run_jobs(Queue::Default, &["RemoveMediaFiles"]).await;
}

async fn served(app: &TestApp, url: &str) -> RawResponse {
    app.raw(Method::GET, &path_of(url), None::<&str>, None, &[]).await
}

/// Every file under `dir`.
fn files_under(dir: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.path().is_dir() { walk(&e.path(), out) } else { out.push(e.path()) }
        }
    }
    let mut out = Vec::new();
    walk(&dir, &mut out);
    out
}

async fn upload(
    app: &TestApp,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> RawResponse {
    let (content_type, body) = multipart(fields, file);
    app.raw(Method::POST, path, token, Some((content_type, body)), &[]).await
}

/// A photo-like JPEG (a gradient with texture) of `w`×`h`.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, ((x ^ y) & 0xff) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// `jpeg` with an EXIF segment right after the start marker: orientation 6 (rotated 90°) and a
/// GPS latitude, as a phone writes them.
fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
    // TIFF, little endian: IFD0 { Orientation = 6, GPSInfo -> GPS IFD }, GPS IFD { LatitudeRef = "N" }.
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let entry = |tag: u16, kind: u16, count: u32, value: u32| {
        let mut e = tag.to_le_bytes().to_vec();
        e.extend_from_slice(&kind.to_le_bytes());
        e.extend_from_slice(&count.to_le_bytes());
        e.extend_from_slice(&value.to_le_bytes());
        e
    };
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend(entry(0x0112, 3, 1, 6));
    let gps_ifd = 8 + 2 + 2 * 12 + 4;
    tiff.extend(entry(0x8825, 4, 1, gps_ifd));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend(entry(0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0")));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let plain = jpeg(w, h);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

both_engines!(a_photo_is_uploaded_described_focused_posted_and_served, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let photo = jpeg_with_exif(1600, 1200);
    assert!(contains(&photo, b"Exif\0\0"));
    let r = upload(
        &app,
        "/api/v2/media",
        &token,
        &[("description", "A gradient"), ("focus", "0.5,-0.25")],
        Some(("photo.jpg", &photo)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let media = r.json();
    assert_eq!(media["type"], "image");
    assert_eq!(media["description"], "A gradient");
    assert_eq!(media["meta"]["focus"], json!({"x": 0.5, "y": -0.25}));
    // Rotated upright: the stored original is 1200 wide, 1600 high.
    assert_eq!(media["meta"]["original"]["width"], 1200, "{media}");
    assert_eq!(media["meta"]["original"]["height"], 1600, "{media}");
    let (sw, sh) =
        (media["meta"]["small"]["width"].as_u64().unwrap(), media["meta"]["small"]["height"].as_u64().unwrap());
    assert!(sw * sh <= 230_400 && sh > sw, "{media}");
    let blurhash = media["blurhash"].as_str().unwrap();
    assert!(blurhash.len() >= 6, "{blurhash}");
    assert!(media["remote_url"].is_null());
    let id = media["id"].as_str().unwrap().to_string();

    // Served from /system/ with its type, cached, never run as a page; the original has no EXIF
    // left, the preview is smaller.
    let url = media["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{BASE_URL}/system/media_attachments/files/")), "{url}");
    let original = app.raw(Method::GET, &path_of(url), None::<&str>, None, &[]).await;
    assert_eq!(original.status, StatusCode::OK);
    assert_eq!(original.header("content-type").as_deref(), Some("image/jpeg"));
    assert_eq!(original.header("x-content-type-options").as_deref(), Some("nosniff"));
    assert!(original.header("content-security-policy").unwrap().contains("default-src 'none'"));
    assert!(original.header("cache-control").unwrap().contains("max-age=31536000"));
    assert!(!contains(&original.body, b"Exif"), "EXIF is removed");
    let decoded = image::load_from_memory(&original.body).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (1200, 1600));
    let preview = app.raw(Method::GET, &path_of(media["preview_url"].as_str().unwrap()), None::<&str>, None, &[]).await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(preview.body.len() < original.body.len());

    // Described again before posting; GET shows it (200: processed).
    ok(app.put_form(&format!("/api/v1/media/{id}"), &token, &[("description", "A warm gradient")]).await);
    let shown = ok(app.get(&format!("/api/v1/media/{id}"), &token).await);
    assert_eq!(shown["description"], "A warm gradient");

    // Posted without text; attached, it can no longer be changed or deleted on its own.
    let status = post_status(&app, &token, &[("media_ids[]", &id)]).await;
    let attached = &status["media_attachments"][0];
    assert_eq!(attached["id"], id.as_str());
    assert_eq!(attached["description"], "A warm gradient");
    assert_eq!(attached["url"], url);
    assert_eq!(attached["blurhash"], blurhash);
    let (code, _, _) = app.put_form(&format!("/api/v1/media/{id}"), &token, &[("description", "x")]).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _, body) = app.delete(&format!("/api/v1/media/{id}"), &token).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "Media attachment is currently used by a status");

    // On the media-only timelines, and in the Note other servers read.
    let status_id = status["id"].as_str().unwrap();
    let timeline = ok(app.get("/api/v1/timelines/public?only_media=true", &token).await);
    assert_eq!(ids(&timeline), [status_id]);
    let note = app
        .raw(
            Method::GET,
            &path_of(status["uri"].as_str().unwrap()),
            None::<&str>,
            None,
            &[("accept", "application/activity+json")],
        )
        .await;
    assert_eq!(note.status, StatusCode::OK, "{}", note.text());
    let attachment = &note.json()["attachment"][0];
    assert_eq!(attachment["type"], "Document");
    assert_eq!(attachment["mediaType"], "image/jpeg");
    assert_eq!(attachment["url"], url);
    assert_eq!(attachment["name"], "A warm gradient");
    assert_eq!(attachment["blurhash"], blurhash);
    assert_eq!(attachment["focalPoint"], json!([0.5, -0.25]));
    assert_eq!(attachment["width"], 1200);
});

both_engines!(v1_media_and_other_image_types, |app| async move {
    let (_, token) = app.create_user("alice").await;
    // A PNG with transparency stays a PNG.
    let png = {
        let img = image::RgbaImage::from_fn(300, 200, |x, _| image::Rgba([255, 0, 0, (x % 256) as u8]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    // The type is read from the content, not the name.
    let r = upload(&app, "/api/v1/media", &token, &[], Some(("named.jpg", &png))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let media = r.json();
    assert_eq!(media["type"], "image");
    assert!(media["url"].as_str().unwrap().ends_with(".png"), "{media}");
    let served = app.raw(Method::GET, &path_of(media["url"].as_str().unwrap()), None::<&str>, None, &[]).await;
    assert_eq!(served.header("content-type").as_deref(), Some("image/png"));
    // Deleted before use: its files go too.
    let (code, _, _) = app.delete(&format!("/api/v1/media/{}", media["id"].as_str().unwrap()), &token).await;
    assert_eq!(code, StatusCode::OK);
    remove_dropped_files(&app).await;
    let gone = app.raw(Method::GET, &path_of(media["url"].as_str().unwrap()), None::<&str>, None, &[]).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // The instance tells which types it takes.
    let instance = ok(app.get("/api/v2/instance", None::<&str>).await);
    let types = instance["configuration"]["media_attachments"]["supported_mime_types"].as_array().unwrap();
    assert!(types.contains(&json!("image/jpeg")) && types.contains(&json!("image/png")), "{types:?}");
});

both_engines!(bad_uploads_are_refused_and_leave_nothing_behind, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let refused = |r: RawResponse| {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.json()["error"].as_str().unwrap().starts_with("Validation failed"), "{}", r.text());
    };
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    refused(upload(&app, "/api/v2/media", &token, &[], Some(("x.svg", svg))).await);
    refused(upload(&app, "/api/v2/media", &token, &[], Some(("x.png", b"<html><body>hi</body></html>"))).await);
    refused(upload(&app, "/api/v2/media", &token, &[("description", "no file")], None).await);
    // A JPEG marker followed by garbage, and a PNG whose header claims 20000×20000 pixels (never
    // decoded). A JPEG merely cut short is kept, as libvips keeps it, with the missing part grey.
    let photo = jpeg(400, 300);
    let mut garbage = b"\xff\xd8\xff\xe0".to_vec();
    garbage.extend(std::iter::repeat_n(0x5a, 2000));
    refused(upload(&app, "/api/v2/media", &token, &[], Some(("bad.jpg", &garbage))).await);
    let mut bomb = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bomb.extend_from_slice(&20_000u32.to_be_bytes());
    bomb.extend_from_slice(&20_000u32.to_be_bytes());
    bomb.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    refused(upload(&app, "/api/v2/media", &token, &[], Some(("bomb.png", &bomb))).await);
    let long = "x".repeat(1501);
    refused(upload(&app, "/api/v2/media", &token, &[("description", &long)], Some(("ok.jpg", &photo))).await);
    refused(upload(&app, "/api/v2/media", &token, &[("focus", "2,0")], Some(("ok.jpg", &photo))).await);
    // A thumbnail that is no image, and a file under a name uploads do not take.
    let (content_type, body) = multipart_files(&[], &[("file", "ok.jpg", &photo), ("thumbnail", "t.svg", svg)]);
    refused(app.raw(Method::POST, "/api/v2/media", &token, Some((content_type, body)), &[]).await);
    let (content_type, body) = multipart_files(&[], &[("file", "ok.jpg", &photo), ("other", "o.jpg", &photo)]);
    refused(app.raw(Method::POST, "/api/v2/media", &token, Some((content_type, body)), &[]).await);
    // Nothing was kept: no temporary file, no stored file.
    let data = app.svc.config.data_dir.clone();
    assert_eq!(files_under(data.join("tmp")), Vec::<std::path::PathBuf>::new());
    assert_eq!(files_under(data.join("system")), Vec::<std::path::PathBuf>::new());
    // Without a token, or without write:media.
    let (content_type, body) = multipart(&[], Some(("ok.jpg", &photo)));
    let r = app.raw(Method::POST, "/api/v2/media", None::<&str>, Some((content_type, body)), &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});

both_engines!(attaching_follows_mastodons_rules, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    let photo = jpeg(64, 48);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = upload(&app, "/api/v2/media", &token, &[], Some(("p.jpg", &photo))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let bobs = upload(&app, "/api/v2/media", &bob, &[], Some(("p.jpg", &photo))).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let post = |pairs: Vec<(&'static str, String)>| {
        let app = &app;
        let token = token.clone();
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_form("/api/v1/statuses", &token, &pairs).await
        }
    };
    let five: Vec<(&str, String)> = ids.iter().map(|i| ("media_ids[]", i.clone())).collect();
    let (code, _, body) = post(five).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (code, _, body) = post(vec![("media_ids[]", bobs.clone())]).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains(&bobs), "{body}");
    let (code, _, body) = post(vec![
        ("media_ids[]", ids[0].clone()),
        ("poll[options][]", "a".into()),
        ("poll[options][]", "b".into()),
        ("poll[expires_in]", "3600".into()),
    ])
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Four, in the order given, with text.
    let four: Vec<(&str, String)> = [("status", "four".to_string())]
        .into_iter()
        .chain(ids[..4].iter().rev().map(|i| ("media_ids[]", i.clone())))
        .collect();
    let (code, _, status) = post(four).await;
    assert_eq!(code, StatusCode::OK, "{status}");
    let attached: Vec<String> =
        status["media_attachments"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(attached, ids[..4].iter().rev().cloned().collect::<Vec<_>>());
    // Once attached, not again.
    let (code, _, _) = post(vec![("media_ids[]", ids[0].clone())]).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);

    // An edit describes one and drops another; the dropped one can be posted again.
    let sid = status["id"].as_str().unwrap();
    let edited = ok(app
        .put_json(
            &format!("/api/v1/statuses/{sid}"),
            &token,
            &json!({"status": "three", "media_ids": [ids[3], ids[2], ids[1]],
                    "media_attributes": [{"id": ids[2], "description": "described later"}]}),
        )
        .await);
    let described: Vec<Value> = edited["media_attachments"].as_array().unwrap().clone();
    assert_eq!(described.len(), 3, "{edited}");
    assert_eq!(described[1]["description"], "described later");
    let again = ok(post(vec![("media_ids[]", ids[0].clone())]).await);
    assert_eq!(again["media_attachments"][0]["id"], ids[0].as_str());
    // An edit that does not name media keeps them.
    let kept = ok(app.put_form(&format!("/api/v1/statuses/{sid}"), &token, &[("status", "still three")]).await);
    assert_eq!(kept["media_attachments"].as_array().unwrap().len(), 3);
});

both_engines!(a_custom_thumbnail_is_the_preview, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let (photo, cover) = (jpeg(800, 600), jpeg(1200, 1200));
    let (content_type, body) = multipart_files(&[], &[("file", "p.jpg", &photo), ("thumbnail", "c.jpg", &cover)]);
    let r = app.raw(Method::POST, "/api/v2/media", &token, Some((content_type, body)), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let media = r.json();
    let preview = media["preview_url"].as_str().unwrap().to_string();
    assert!(preview.contains("/system/media_attachments/thumbnails/"), "{media}");
    let thumbnail = image::load_from_memory(&served(&app, &preview).await.body).unwrap();
    assert_eq!((thumbnail.width(), thumbnail.height()), (480, 480), "the square cover, at the small size");
    // Replaced before posting: the old one goes.
    let id = media["id"].as_str().unwrap();
    let (content_type, body) = multipart_files(&[], &[("thumbnail", "c2.jpg", &jpeg(300, 200))]);
    let r = app.raw(Method::PUT, &format!("/api/v1/media/{id}"), &token, Some((content_type, body)), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let replaced = r.json()["preview_url"].as_str().unwrap().to_string();
    assert_ne!(replaced, preview);
    remove_dropped_files(&app).await;
    assert_eq!(served(&app, &preview).await.status, StatusCode::NOT_FOUND);
    assert_eq!(served(&app, &replaced).await.status, StatusCode::OK);
});

both_engines!(deleting_a_status_lets_its_media_go_or_removes_it, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let media = upload(&app, "/api/v2/media", &token, &[], Some(("p.jpg", &jpeg(64, 48)))).await.json();
    let (id, url) = (media["id"].as_str().unwrap(), media["url"].as_str().unwrap());
    // Delete and redraft: the deleted status still shows its attachment, which can be posted again.
    let first = post_status(&app, &token, &[("media_ids[]", id)]).await;
    let deleted = ok(app.delete(&format!("/api/v1/statuses/{}", first["id"].as_str().unwrap()), &token).await);
    assert_eq!(deleted["media_attachments"][0]["id"], id);
    let second = post_status(&app, &token, &[("status", "again"), ("media_ids[]", id)]).await;
    assert_eq!(second["media_attachments"][0]["url"], url);
    // With delete_media, the attachment and its files go.
    let sid = second["id"].as_str().unwrap();
    ok(app.delete(&format!("/api/v1/statuses/{sid}?delete_media=true"), &token).await);
    let (code, _, _) = app.get(&format!("/api/v1/media/{id}"), &token).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    remove_dropped_files(&app).await;
    assert_eq!(served(&app, url).await.status, StatusCode::NOT_FOUND);
});

both_engines!(uploads_never_posted_are_removed_after_a_day, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let old = upload(&app, "/api/v2/media", &token, &[], Some(("p.jpg", &jpeg(64, 48)))).await.json();
    let new = upload(&app, "/api/v2/media", &token, &[], Some(("p.jpg", &jpeg(64, 48)))).await.json();
    // The first was uploaded 25 hours ago.
    let db = app.database();
    let mut tx = db.write().await.unwrap();
    let id = Id::parse(old["id"].as_str().unwrap()).unwrap();
    let mut row = tx.media_by_id(id).await.unwrap().unwrap();
    tx.delete_media(&[id]).await.unwrap();
    row.created_at -= 25 * 3600 * 1000;
    tx.insert_media(&row).await.unwrap();
    let policy = ferrodon_domain::ports::RetryPolicy { max_attempts: 1, keep_dead: false };
    ferrodon_service::jobs::enqueue(&mut tx, Queue::Scheduler, "CleanUpMedia", &json!({}), policy).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(app.run_jobs(Queue::Scheduler, &["CleanUpMedia"]).await.len(), 1);
    remove_dropped_files(&app).await;
    let (code, _, _) = app.get(&format!("/api/v1/media/{}", old["id"].as_str().unwrap()), &token).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(served(&app, old["url"].as_str().unwrap()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(served(&app, old["preview_url"].as_str().unwrap()).await.status, StatusCode::NOT_FOUND);
    ok(app.get(&format!("/api/v1/media/{}", new["id"].as_str().unwrap()), &token).await);
    assert_eq!(served(&app, new["url"].as_str().unwrap()).await.status, StatusCode::OK);
});

both_engines!(avatars_and_headers_are_processed_served_and_federated, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let patch = |fields: Vec<(&'static str, &'static str)>, files: Vec<(&'static str, &'static str, Vec<u8>)>| {
        let (app, token) = (&app, token.clone());
        async move {
            let files: Vec<(&str, &str, &[u8])> = files.iter().map(|(f, n, b)| (*f, *n, b.as_slice())).collect();
            let (content_type, body) = multipart_files(&fields, &files);
            app.raw(Method::PATCH, "/api/v1/accounts/update_credentials", &token, Some((content_type, body)), &[]).await
        }
    };
    let wide = {
        let img = image::RgbaImage::from_fn(3000, 1000, |x, _| image::Rgba([0, 0, 255, (x % 200) as u8]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let r = patch(
        vec![("display_name", "Alice")],
        vec![("avatar", "me.jpg", jpeg(600, 300)), ("header", "wide.png", wide)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let me = r.json();
    assert_eq!(me["display_name"], "Alice");
    let avatar = me["avatar"].as_str().unwrap().to_string();
    let header = me["header"].as_str().unwrap().to_string();
    assert!(avatar.starts_with(&format!("{BASE_URL}/system/accounts/avatars/")) && avatar.ends_with(".jpg"), "{me}");
    assert_eq!(me["avatar_static"], avatar.as_str());
    assert!(header.starts_with(&format!("{BASE_URL}/system/accounts/headers/")) && header.ends_with(".png"), "{me}");
    // The avatar is the middle square at 400×400; the header keeps its shape within 1500×500.
    let a = image::load_from_memory(&served(&app, &avatar).await.body).unwrap();
    assert_eq!((a.width(), a.height()), (400, 400));
    let h = image::load_from_memory(&served(&app, &header).await.body).unwrap();
    assert_eq!((h.width(), h.height()), (1500, 500));
    assert!(h.color().has_alpha());
    // Everyone sees them, and so do other servers.
    let shown = ok(app.get(&format!("/api/v1/accounts/{}", me["id"].as_str().unwrap()), None::<&str>).await);
    assert_eq!(shown["avatar"], avatar.as_str());
    let actor =
        app.raw(Method::GET, "/users/alice", None::<&str>, None, &[("accept", "application/activity+json")]).await;
    let actor = actor.json();
    assert_eq!(actor["icon"], json!({"type": "Image", "mediaType": "image/jpeg", "url": avatar}));
    assert_eq!(actor["image"]["url"], header.as_str());
    assert_eq!(actor["image"]["mediaType"], "image/png");

    // A new avatar replaces the old one, whose file goes; the header stays.
    let r = patch(vec![], vec![("avatar", "again.jpg", jpeg(300, 300))]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let avatar2 = r.json()["avatar"].as_str().unwrap().to_string();
    assert_ne!(avatar2, avatar);
    assert_eq!(r.json()["header"], header.as_str());
    remove_dropped_files(&app).await;
    assert_eq!(served(&app, &avatar).await.status, StatusCode::NOT_FOUND);

    // What is no image is refused, and nothing of the request is kept.
    let svg: Vec<u8> = br#"<svg xmlns="http://www.w3.org/2000/svg"/>"#.to_vec();
    let r = patch(vec![("display_name", "Changed")], vec![("header", "h.jpg", jpeg(90, 30)), ("avatar", "x.svg", svg)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = patch(vec![], vec![("banner", "b.jpg", jpeg(90, 30))]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let me = ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    assert_eq!(
        (me["display_name"].as_str(), me["avatar"].as_str(), me["header"].as_str()),
        (Some("Alice"), Some(avatar2.as_str()), Some(header.as_str()))
    );
    let data = app.svc.config.data_dir.clone();
    assert_eq!(files_under(data.join("system")).len(), 2, "only the avatar and the header are stored");
    assert_eq!(files_under(data.join("tmp")), Vec::<std::path::PathBuf>::new());
    // An empty file input is no file.
    let r = patch(vec![("display_name", "Alice B")], vec![("avatar", "", Vec::new())]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["avatar"], avatar2.as_str());

    // Removed: back to the default, the file goes.
    let removed = ok(app.delete("/api/v1/profile/avatar", &token).await);
    assert_eq!(removed["avatar"], format!("{BASE_URL}/avatars/original/missing.png"));
    assert_eq!(removed["header"], header.as_str());
    let removed = ok(app.delete("/api/v1/profile/header", &token).await);
    assert_eq!(removed["header"], format!("{BASE_URL}/headers/original/missing.png"));
    remove_dropped_files(&app).await;
    assert_eq!(files_under(data.join("system")), Vec::<std::path::PathBuf>::new());
    let actor =
        app.raw(Method::GET, "/users/alice", None::<&str>, None, &[("accept", "application/activity+json")]).await;
    assert!(actor.json().get("icon").is_none());
    // Removing what is not there is fine.
    ok(app.delete("/api/v1/profile/avatar", &token).await);
});

/// With `S3_ENABLED`, files go to the bucket and clients load them from its alias; nothing is
/// kept on local disk.
#[tokio::test]
async fn with_s3_files_live_in_the_bucket() {
    let Some(vars) = s3_vars() else { return };
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::configured(TestDb::new(Engine::Sqlite).await.unwrap(), &pairs).await;
    let bucket = ferrodon_media::S3Files::new(app.svc.config.s3.as_ref().unwrap()).unwrap();
    let key_of = |url: &str| url.strip_prefix("https://media.cdn.test/").unwrap_or_else(|| panic!("{url}")).to_string();
    let (_, token) = app.create_user("alice").await;

    let media = upload(&app, "/api/v2/media", &token, &[], Some(("p.jpg", &jpeg(320, 240)))).await;
    assert_eq!(media.status, StatusCode::OK, "{}", media.text());
    let media = media.json();
    let key = key_of(media["url"].as_str().unwrap());
    assert!(key.starts_with("media_attachments/files/"), "{key}");
    let stored = bucket.read(&key).await.unwrap().expect("the original in the bucket");
    assert_eq!(image::load_from_memory(&stored).unwrap().width(), 320);
    assert!(bucket.read(&key_of(media["preview_url"].as_str().unwrap())).await.unwrap().is_some());

    let (content_type, body) = multipart_files(&[], &[("avatar", "me.jpg", &jpeg(500, 500))]);
    let me =
        app.raw(Method::PATCH, "/api/v1/accounts/update_credentials", &token, Some((content_type, body)), &[]).await;
    let avatar = key_of(me.json()["avatar"].as_str().unwrap());
    assert!(avatar.starts_with("accounts/avatars/"), "{avatar}");
    assert!(bucket.read(&avatar).await.unwrap().is_some());
    let data = app.svc.config.data_dir.clone();
    assert_eq!(files_under(data.join("system")), Vec::<std::path::PathBuf>::new());
    assert_eq!(files_under(data.join("tmp")), Vec::<std::path::PathBuf>::new());

    // Deleted: gone from the bucket once the job ran.
    ok(app.delete(&format!("/api/v1/media/{}", media["id"].as_str().unwrap()), &token).await);
    ok(app.delete("/api/v1/profile/avatar", &token).await);
    remove_dropped_files(&app).await;
    assert_eq!(bucket.read(&key).await.unwrap(), None);
    assert_eq!(bucket.read(&avatar).await.unwrap(), None);
}

/// A file ffmpeg makes from its test sources, or `None` without ffmpeg (a failure in CI).
fn ffmpeg_made(inputs: &[&str], args: &[&str], extension: &str) -> Option<Vec<u8>> {
    if std::process::Command::new("ffmpeg").arg("-version").output().is_err() {
        assert!(!in_ci(), "ffmpeg must be installed in CI");
        println!("skipped: ffmpeg is not installed");
        return None;
    }
    let path = std::env::temp_dir().join(format!("ferrodon-made-{}.{extension}", Id::generate().0));
    let mut command = std::process::Command::new("ffmpeg");
    command.args(["-v", "error", "-y"]);
    for input in inputs {
        command.args(["-f", "lavfi", "-i", input]);
    }
    assert!(command.args(args).arg(&path).status().unwrap().success());
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(path);
    Some(bytes)
}

async fn served_image(app: &TestApp, url: &str) -> image::DynamicImage {
    let r = served(app, url).await;
    assert_eq!(r.status, StatusCode::OK, "{url}");
    image::load_from_memory(&r.body).unwrap()
}

both_engines!(video_is_processed_on_a_queue_and_audio_at_once, |app| async move {
    let Some(clip) = ffmpeg_made(
        &["testsrc=duration=1:size=320x240:rate=25", "sine=frequency=440:duration=1"],
        &["-c:v", "mpeg4", "-c:a", "pcm_s16le", "-shortest"],
        "mov",
    ) else {
        return;
    };
    let Some(tone) = ffmpeg_made(&["sine=frequency=220:duration=2"], &[], "wav") else { return };
    let (_, token) = app.create_user("alice").await;

    // v2: answered at once, 202 with no URL; not yet attachable.
    let r = upload(&app, "/api/v2/media", &token, &[("description", "a test card")], Some(("clip.mov", &clip))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let queued = r.json();
    assert!(queued["url"].is_null(), "{queued}");
    assert_eq!(queued["type"], "video");
    let id = queued["id"].as_str().unwrap().to_string();
    let shown = app.raw(Method::GET, &format!("/api/v1/media/{id}"), &token, None, &[]).await;
    assert_eq!(shown.status, StatusCode::PARTIAL_CONTENT);
    let (code, _, body) = app.post_form("/api/v1/statuses", &token, &[("media_ids[]", &id)]).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Processed by its job: H.264 MP4 with a PNG still, the upload as it came gone.
    assert_eq!(app.run_jobs(Queue::Default, &["ProcessMedia"]).await.len(), 1);
    remove_dropped_files(&app).await;
    let done = ok(app.get(&format!("/api/v1/media/{id}"), &token).await);
    assert_eq!(done["type"], "video");
    assert_eq!(done["description"], "a test card");
    assert_eq!(done["meta"]["original"]["width"], 320, "{done}");
    assert_eq!(done["meta"]["length"], "0:00:01.00", "{done}");
    let url = done["url"].as_str().unwrap();
    assert!(url.ends_with(".mp4"), "{url}");
    let mp4 = served(&app, url).await;
    assert_eq!(mp4.header("content-type").as_deref(), Some("video/mp4"));
    let preview = served_image(&app, done["preview_url"].as_str().unwrap()).await;
    assert_eq!((preview.width(), preview.height()), (320, 240));
    assert!(done["blurhash"].as_str().is_some());
    let data = app.svc.config.data_dir.clone();
    assert_eq!(files_under(data.join("system")).len(), 2, "the MP4 and its still; the upload went");
    let status = post_status(&app, &token, &[("media_ids[]", &id)]).await;
    assert_eq!(status["media_attachments"][0]["type"], "video");
    assert_eq!(status["media_attachments"][0]["meta"]["duration"], 1.0);

    // v1 processes before answering; audio becomes MP3.
    let r = upload(&app, "/api/v1/media", &token, &[], Some(("tone.wav", &tone))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let audio = r.json();
    assert_eq!(audio["type"], "audio");
    assert!(audio["url"].as_str().unwrap().ends_with(".mp3"), "{audio}");
    let mp3 = served(&app, audio["url"].as_str().unwrap()).await;
    assert_eq!(mp3.header("content-type").as_deref(), Some("audio/mpeg"));
    // Audio through v2 waits for its job too.
    let r = upload(&app, "/api/v2/media", &token, &[], Some(("tone.wav", &tone))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    app.run_jobs(Queue::Default, &["ProcessMedia"]).await;
    let audio = ok(app.get(&format!("/api/v1/media/{}", r.json()["id"].as_str().unwrap()), &token).await);
    assert_eq!(audio["meta"]["duration"], 2.0, "{audio}");
    let instance = ok(app.get("/api/v2/instance", None::<&str>).await);
    let types = instance["configuration"]["media_attachments"]["supported_mime_types"].as_array().unwrap();
    assert!(types.contains(&json!("video/mp4")) && types.contains(&json!("audio/mpeg")), "{types:?}");
});

both_engines!(animated_gifs_become_gifv_and_broken_video_fails, |app| async move {
    let Some(gif) = ffmpeg_made(&["testsrc=duration=0.5:size=96x64:rate=10"], &[], "gif") else { return };
    let (_, token) = app.create_user("alice").await;
    let r = upload(&app, "/api/v2/media", &token, &[], Some(("loop.gif", &gif))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let gifv = r.json();
    assert_eq!(gifv["type"], "gifv");
    assert!(gifv["url"].as_str().unwrap().ends_with(".mp4"), "{gifv}");
    // A gifv is no image: it goes alone.
    let photo = upload(&app, "/api/v2/media", &token, &[], Some(("p.jpg", &jpeg(64, 48)))).await.json();
    let (code, _, body) = app
        .post_form(
            "/api/v1/statuses",
            &token,
            &[("media_ids[]", gifv["id"].as_str().unwrap()), ("media_ids[]", photo["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A video whose header is right and the rest garbage: accepted, then failed by its job,
    // its upload removed.
    let Some(mut broken) = ffmpeg_made(&["testsrc=duration=1:size=64x48:rate=10"], &["-c:v", "mpeg4"], "mp4") else {
        return;
    };
    broken.truncate(64);
    broken.extend(std::iter::repeat_n(0x42, 4096));
    let r = upload(&app, "/api/v2/media", &token, &[], Some(("broken.mp4", &broken))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    app.run_jobs(Queue::Default, &["ProcessMedia"]).await;
    remove_dropped_files(&app).await;
    let (code, _, body) = app.get(&format!("/api/v1/media/{id}"), &token).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let data = app.svc.config.data_dir.clone();
    assert!(
        files_under(data.join("system")).iter().all(|f| !f.to_string_lossy().contains("/upload/")),
        "the upload went"
    );
    ok(app.delete(&format!("/api/v1/media/{id}"), &token).await);
});

/// A server of files on loopback (a remote server's media), answering 404 for other paths.
async fn file_server(files: Vec<(&'static str, Vec<u8>)>) -> String {
    let mut router = axum::Router::new();
    for (path, bytes) in files {
        router = router.route(path, axum::routing::get(move || async move { bytes.clone() }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// A remote post's attachments are fetched, processed and kept here; clients load the copies
/// and see where they came from in `remote_url`. One that cannot be fetched stays linked;
/// nothing is kept from a domain blocked with `reject_media`.
#[tokio::test]
async fn remote_attachments_are_kept_here() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(db) = TestDb::new(engine).await else { continue };
        let app = TestApp::configured(db, &[("ALLOWED_PRIVATE_ADDRESSES", "127.0.0.0/8")]).await;
        let (_, token) = app.create_user("reader").await;
        let server = file_server(vec![("/photo.jpg", jpeg(400, 300))]).await;
        let with_media = |author: &ferrodon_domain::model::Account| {
            let mut note = remote_note(&format!("{}/statuses/{}", author.uri, Id::generate()), "photos");
            note.media = vec![
                ferrodon_domain::model::StatusMedia {
                    kind: "image".into(),
                    url: format!("{server}/photo.jpg"),
                    description: Some("a gradient".into()),
                    ..Default::default()
                },
                ferrodon_domain::model::StatusMedia {
                    kind: "image".into(),
                    url: format!("{server}/gone.jpg"),
                    ..Default::default()
                },
            ];
            note
        };
        let author = remote_account(&app, "painter", "remote.example").await;
        let status = ferrodon_service::remote::store_post(&app.svc, &author, with_media(&author)).await.unwrap();
        assert_eq!(app.run_jobs(Queue::Pull, &["CacheRemoteMedia"]).await.len(), 1, "{engine:?}");
        let shown = ok(app.get(&format!("/api/v1/statuses/{}", status.id), &token).await);
        let kept = &shown["media_attachments"][0];
        let url = kept["url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{BASE_URL}/system/cache/media_attachments/files/")), "{kept}");
        assert_eq!(kept["remote_url"], format!("{server}/photo.jpg"));
        assert_eq!(kept["description"], "a gradient");
        assert!(kept["blurhash"].as_str().is_some(), "{kept}");
        assert_eq!(kept["meta"]["original"]["width"], 400, "{kept}");
        assert_eq!(served_image(&app, url).await.width(), 400);
        assert_ne!(kept["preview_url"], kept["url"]);
        served_image(&app, kept["preview_url"].as_str().unwrap()).await;
        let linked = &shown["media_attachments"][1];
        assert_eq!(linked["url"], format!("{server}/gone.jpg"), "{linked}");

        // From a domain whose media is rejected, nothing is fetched.
        ferrodon_service::domains::block(&app.svc, "rejected.example", "noop", true, false).await.unwrap();
        let other = remote_account(&app, "shy", "rejected.example").await;
        let status = ferrodon_service::remote::store_post(&app.svc, &other, with_media(&other)).await.unwrap();
        app.run_jobs(Queue::Pull, &["CacheRemoteMedia"]).await;
        let shown = ok(app.get(&format!("/api/v1/statuses/{}", status.id), &token).await);
        assert_eq!(shown["media_attachments"][0]["url"], format!("{server}/photo.jpg"));
        let data = app.svc.config.data_dir.clone();
        assert_eq!(files_under(data.join("system")).len(), 2, "the first post's copy and its preview");

        // The painter's server deletes the account: the copies kept of its media go with it.
        let delete = ferrodon_domain::model::Activity::Delete { object: author.uri.clone() };
        ferrodon_service::inbox::apply(&app.svc, &author, delete).await.unwrap();
        remove_dropped_files(&app).await;
        assert_eq!(files_under(data.join("system")), Vec::<std::path::PathBuf>::new());
    }
}

/// tootctl's media verbs: usage per area, the copies of remote media removed (the post links
/// its server's file again), and files no row names removed, those named left alone.
#[tokio::test]
async fn media_usage_remove_and_remove_orphans() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(db) = TestDb::new(engine).await else { continue };
        let app = TestApp::configured(db, &[("ALLOWED_PRIVATE_ADDRESSES", "127.0.0.0/8")]).await;
        let (_, token) = app.create_user("keeper").await;
        let photo = upload(&app, "/api/v2/media", &token, &[], Some(("p.jpg", &jpeg(64, 48)))).await.json();
        let server = file_server(vec![("/photo.jpg", jpeg(400, 300))]).await;
        let author = remote_account(&app, "painter", "remote.example").await;
        let mut note = remote_note(&format!("{}/statuses/{}", author.uri, Id::generate()), "photo");
        note.media = vec![ferrodon_domain::model::StatusMedia {
            kind: "image".into(),
            url: format!("{server}/photo.jpg"),
            ..Default::default()
        }];
        let status = ferrodon_service::remote::store_post(&app.svc, &author, note).await.unwrap();
        app.run_jobs(Queue::Pull, &["CacheRemoteMedia"]).await;

        let usage = ferrodon_service::media::usage(&app.svc).await.unwrap();
        let files_of = |usage: &[ferrodon_service::media::Usage], area: &str| {
            usage.iter().find(|u| u.area.starts_with(area)).map(|u| u.files).unwrap()
        };
        assert_eq!(files_of(&usage, "attachments"), 2, "{usage:?}");
        assert_eq!(files_of(&usage, "remote attachments"), 2, "{usage:?}");
        assert!(usage.iter().all(|u| (u.files == 0) == (u.bytes == 0)), "{usage:?}");

        // A stray file from two hours ago, and one just written (an upload on its way).
        let system = app.svc.config.data_dir.join("system");
        let stray = system.join("media_attachments/files/000/000/001/original/0123456789abcdef.jpg");
        std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
        std::fs::write(&stray, b"left behind").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options().write(true).open(&stray).unwrap().set_modified(two_hours_ago).unwrap();
        let fresh = system.join("media_attachments/files/000/000/002/original/fedcba9876543210.jpg");
        std::fs::create_dir_all(fresh.parent().unwrap()).unwrap();
        std::fs::write(&fresh, b"arriving").unwrap();
        let counted = ferrodon_service::media::remove_orphans(&app.svc, true, &|_| {}).await.unwrap();
        assert_eq!(counted, (1, 11));
        assert!(stray.exists());
        assert_eq!(ferrodon_service::media::remove_orphans(&app.svc, false, &|_| {}).await.unwrap(), (1, 11));
        assert!(!stray.exists() && fresh.exists());
        served_image(&app, photo["url"].as_str().unwrap()).await;

        // The copies of remote media older than 0 days go; the post links its server's file.
        let removed = ferrodon_service::media::remove_cached(&app.svc, 0, false, false, &|_| {}).await.unwrap();
        assert_eq!((removed.statuses, removed.files), (1, 2));
        let shown = ok(app.get(&format!("/api/v1/statuses/{}", status.id), &token).await);
        assert_eq!(shown["media_attachments"][0]["url"], format!("{server}/photo.jpg"));
        let usage = ferrodon_service::media::usage(&app.svc).await.unwrap();
        assert_eq!(files_of(&usage, "remote attachments"), 0, "{usage:?}");
        assert_eq!(files_of(&usage, "attachments"), 3, "the upload's two and the fresh one: {usage:?}");
    }
}
