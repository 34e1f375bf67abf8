//! Link preview cards: the first link of a public post read on the `pull` queue (OpenGraph or
//! oEmbed, from a real HTTP server on loopback), kept once per address with its picture, and
//! shown as the status' `card`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::header::CONTENT_TYPE;
use ferrodon_domain::model::{Queue, ReceivedPost, Visibility};
use ferrodon_kernel::Id;

use crate::support::*;

/// A site on loopback: an article with OpenGraph tags and a picture, a video page with an
/// oEmbed document, and a text file. Returns its address and how often the article was read.
async fn site() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let reads = Arc::new(AtomicUsize::new(0));
    let article = format!(
        r#"<!doctype html><html lang="en"><head><title>Fallback</title>
        <meta property="og:title" content="Crabs &amp; servers">
        <meta property="og:description" content="Why the fediverse runs on small machines.">
        <meta property="og:image" content="/cover.jpg"><meta property="og:image:alt" content="A crab">
        <meta property="og:site_name" content="The Paper"><meta property="og:url" content="{base}/articles/1">
        </head><body><script>document.write('<meta property="og:title" content="no">')</script></body></html>"#
    );
    let clip = format!(
        r#"<html><head><title>A clip</title>
        <link rel="alternate" type="application/json+oembed" href="{base}/oembed?url=clip"></head></html>"#
    );
    let oembed = serde_json::json!({
        "version": "1.0", "type": "video", "title": "A clip", "provider_name": "Tube",
        "width": 640, "height": 360,
        "html": "<iframe src=\"https://tube.example/embed/1\" onload=\"alert(1)\"></iframe><script>x</script>"
    })
    .to_string();
    let html = |body: String| ([(CONTENT_TYPE, "text/html; charset=utf-8")], body);
    let counter = reads.clone();
    let router = axum::Router::new()
        .route(
            "/article",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let page = article.clone();
                async move { html(page) }
            }),
        )
        .route("/cover.jpg", axum::routing::get(|| async { ([(CONTENT_TYPE, "image/jpeg")], jpeg(1200, 630)) }))
        .route("/clip", axum::routing::get(move || async move { html(clip) }))
        .route("/oembed", axum::routing::get(move || async move { ([(CONTENT_TYPE, "application/json")], oembed) }))
        .route("/notes.txt", axum::routing::get(|| async { "<title>not a page</title>" }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, reads)
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A remote post by `author` whose text links `href` after a mention and a hashtag.
fn linking(author: &ferrodon_domain::model::Account, href: &str) -> ReceivedPost {
    let mut note = remote_note(&format!("{}/statuses/{}", author.uri, Id::generate()), "");
    note.content = format!(
        "<p><span class=\"h-card\"><a href=\"https://remote.example/@x\" class=\"u-url mention\">@<span>x</span></a></span> \
         <a href=\"https://remote.example/tags/news\" class=\"mention hashtag\" rel=\"tag\">#<span>news</span></a> \
         read <a href=\"{href}\" rel=\"nofollow noopener\">{href}</a></p>"
    );
    note
}

#[tokio::test]
async fn the_first_link_of_a_public_post_shows_its_card() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(db) = TestDb::new(engine).await else { continue };
        let app = TestApp::configured(db, &[("ALLOWED_PRIVATE_ADDRESSES", "127.0.0.0/8")]).await;
        let (_, token) = app.create_user("reader").await;
        let (site, reads) = site().await;
        let author = remote_account(&app, "writer", "remote.example").await;
        let store = |note| ferrodon_service::remote::store_post(&app.svc, &author, note);

        // OpenGraph: the canonical address, texts, and the picture kept here.
        let first = store(linking(&author, &format!("{site}/article?utm_source=x"))).await.unwrap();
        assert_eq!(app.run_jobs(Queue::Pull, &["FetchLinkCard"]).await.len(), 1, "{engine:?}");
        let shown = ok(app.get(&format!("/api/v1/statuses/{}", first.id), &token).await);
        let card = &shown["card"];
        assert_eq!(card["type"], "link", "{card}");
        assert_eq!(card["url"], format!("{site}/articles/1"));
        assert_eq!(card["title"], "Crabs & servers");
        assert_eq!(card["description"], "Why the fediverse runs on small machines.");
        assert_eq!(card["provider_name"], "The Paper");
        assert_eq!(card["image_description"], "A crab");
        assert_eq!(card["language"], "en");
        assert_eq!(card["authors"].as_array().map(Vec::len), Some(1));
        assert!(card["blurhash"].as_str().is_some_and(|b| b.len() > 6), "{card}");
        let image = card["image"].as_str().unwrap();
        assert!(image.starts_with(&format!("{BASE_URL}/system/preview_cards/images/")), "{image}");
        let served = app.raw(Method::GET, &path_of(image), None::<&str>, None, &[]).await;
        assert_eq!(served.status, StatusCode::OK);
        let picture = image::load_from_memory(&served.body).unwrap();
        assert!(picture.width() < 1200, "the picture is kept small: {}", picture.width());
        assert_eq!(
            (card["width"].as_u64(), card["height"].as_u64()),
            (Some(picture.width().into()), Some(picture.height().into()))
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        // The same address again: the card kept is shown, the page is not read again.
        let second = store(linking(&author, &format!("{site}/article?utm_source=x"))).await.unwrap();
        app.run_jobs(Queue::Pull, &["FetchLinkCard"]).await;
        let shown = ok(app.get(&format!("/api/v1/statuses/{}", second.id), &token).await);
        assert_eq!(shown["card"]["image"], image, "{shown}");
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // Timelines show it too (loaded with the page of statuses).
        let timeline = ok(app.get(&format!("/api/v1/accounts/{}/statuses", author.id), &token).await);
        assert!(timeline.as_array().unwrap().iter().all(|s| s["card"]["title"] == "Crabs & servers"), "{timeline}");

        // oEmbed: a player, written here from the player's address only.
        let video = store(linking(&author, &format!("{site}/clip"))).await.unwrap();
        app.run_jobs(Queue::Pull, &["FetchLinkCard"]).await;
        let card = ok(app.get(&format!("/api/v1/statuses/{}", video.id), &token).await)["card"].clone();
        assert_eq!((card["type"].as_str(), card["width"].as_i64()), (Some("video"), Some(640)), "{card}");
        let player = card["html"].as_str().unwrap();
        assert!(player.starts_with("<iframe src=\"https://tube.example/embed/1\""), "{player}");
        assert!(!player.contains("alert") && !player.contains("script"), "{player}");

        // No card: a page that is no HTML; a post behind a content warning; a followers-only
        // post; a link to this server.
        let text = store(linking(&author, &format!("{site}/notes.txt"))).await.unwrap();
        store(linking(&author, &format!("{BASE_URL}/@reader"))).await.unwrap();
        let mut warned = linking(&author, &format!("{site}/article"));
        warned.spoiler_text = "spoilers".into();
        let warned = store(warned).await.unwrap();
        let mut private = linking(&author, &format!("{site}/article"));
        private.to = vec![format!("{}/followers", author.uri)];
        private.cc = Vec::new();
        let private = store(private).await.unwrap();
        assert_eq!(private.visibility, Visibility::Private);
        assert_eq!(app.run_jobs(Queue::Pull, &["FetchLinkCard"]).await.len(), 1, "only the text file's post is read");
        let shown = ok(app.get(&format!("/api/v1/statuses/{}", text.id), &token).await);
        assert!(shown["card"].is_null(), "{shown}");
        let shown = ok(app.get(&format!("/api/v1/statuses/{}", warned.id), &token).await);
        assert!(shown["card"].is_null(), "{shown}");

        // The picture is named by its card: orphan removal leaves it, however old.
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        let picture_file = app.svc.config.data_dir.join("system").join(path_of(image).trim_start_matches("/system/"));
        std::fs::File::options().write(true).open(&picture_file).unwrap().set_modified(two_hours_ago).unwrap();
        let counted = ferrodon_service::media::remove_orphans(&app.svc, false, &|_| {}).await.unwrap();
        assert_eq!(counted.0, 0, "{counted:?}");
        let usage = ferrodon_service::media::usage(&app.svc).await.unwrap();
        assert!(usage.iter().any(|u| u.area == "preview cards" && u.files == 1), "{usage:?}");
    }
}

both_engines!(a_local_post_reads_its_first_link_to_another_server, |app| async move {
    let (_, token) = app.create_user("alice").await;
    app.create_user("bob").await;
    // Mentions and hashtags are no card's link.
    post_status(&app, &token, &[("status", "@bob #news and nothing else")]).await;
    assert!(app.run_jobs(Queue::Pull, &["FetchLinkCard"]).await.is_empty());
    // Nor is a post that is not public or unlisted.
    post_status(&app, &token, &[("status", "see https://news.example.com/a"), ("visibility", "private")]).await;
    assert!(app.run_jobs(Queue::Pull, &["FetchLinkCard"]).await.is_empty());
    // A page that cannot be reached leaves the post without a card, and the job done.
    let posted =
        post_status(&app, &token, &[("status", "@bob see https://news.example.com/a and https://b.example.com/")])
            .await;
    assert_eq!(app.run_jobs(Queue::Pull, &["FetchLinkCard"]).await.len(), 1, "{posted}");
    let shown = ok(app.get(&format!("/api/v1/statuses/{}", posted["id"].as_str().unwrap()), &token).await);
    assert!(shown["card"].is_null(), "{shown}");
});
