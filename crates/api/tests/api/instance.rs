//! The instance documents: `/api/v2/instance` and NodeInfo agree with the configuration and
//! with each other.

use std::sync::Arc;

use tower::ServiceExt;

use crate::support::*;

/// `GET path` through a router of `svc` (an app configured otherwise than the [`TestApp`]).
async fn get_from(svc: ferrodon_service::Services, path: &str) -> Value {
    let request = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
    let response = ferrodon_api::router(svc, None).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

both_engines!(limited_federation_is_reported_as_configured, |app| async move {
    let instance = ok(app.get("/api/v2/instance", ANON).await);
    assert_eq!(instance["configuration"]["limited_federation"], false, "{instance}");
    // The same database, with LIMITED_FEDERATION_MODE on.
    let mut config = (*app.svc.config).clone();
    config.limited_federation_mode = true;
    let limited = ferrodon_service::Services::new(app.database(), app.svc.events.clone(), Arc::new(config));
    let instance = get_from(limited, "/api/v2/instance").await;
    assert_eq!(instance["configuration"]["limited_federation"], true, "{instance}");
});

both_engines!(active_month_counts_who_posted_in_the_last_30_days_as_nodeinfo_does, |app| async move {
    let (_, recent) = app.create_user("recent").await;
    let (lapsed_id, _) = app.create_user("lapsed").await;
    app.create_user("silent").await;
    let recent_post = post(&app, &recent, "posted today").await;
    // `lapsed` last posted (a reblog) 40 days ago.
    const DAY: i64 = 86_400_000;
    let lapsed = ferrodon_kernel::Id::parse(&lapsed_id).unwrap();
    let id = ferrodon_kernel::Id::generate();
    let uri = format!("{BASE_URL}/users/lapsed/statuses/{id}/activity");
    let mut old = ferrodon_domain::model::NewStatus::reblog(
        id,
        lapsed,
        ferrodon_kernel::Id::parse(&recent_post).unwrap(),
        ferrodon_domain::model::Visibility::Public,
        uri.clone(),
        uri,
        ferrodon_kernel::time::now_ms() - 40 * DAY,
    );
    old.local = true;
    let mut tx = app.database().write().await.unwrap();
    tx.insert_status(&old).await.unwrap();
    tx.commit().await.unwrap();

    let nodeinfo = ok(app.get("/nodeinfo/2.0", ANON).await);
    let users = &nodeinfo["usage"]["users"];
    assert_eq!((users["total"].as_i64(), users["activeMonth"].as_i64()), (Some(3), Some(1)), "{nodeinfo}");
    assert_eq!(users["activeHalfyear"], 2, "{nodeinfo}");
    let instance = ok(app.get("/api/v2/instance", ANON).await);
    assert_eq!(instance["usage"]["users"]["active_month"], users["activeMonth"], "{instance}");
});

/// `GET url` (one of ours) answers a PNG image, cacheable for long; returns its width and height.
async fn png_at(app: &TestApp, url: &str) -> (u32, u32) {
    let path = url.strip_prefix(BASE_URL).unwrap_or_else(|| panic!("{url} is not ours"));
    let response = app.raw(Method::GET, path, ANON, None, &[]).await;
    assert_eq!(response.status, StatusCode::OK, "{url}");
    assert_eq!(response.header("content-type").as_deref(), Some("image/png"), "{url}");
    let cache = response.header("cache-control").unwrap_or_default();
    let max_age: u64 = cache
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{url}: Cache-Control {cache:?}"));
    assert!(cache.contains("public") && max_age >= 86_400, "{url}: Cache-Control {cache:?}");
    let png = &response.body;
    assert_eq!(png.get(..8), Some(&b"\x89PNG\r\n\x1a\n"[..]), "{url} is not a PNG");
    assert_eq!(png.get(12..16), Some(&b"IHDR"[..]), "{url}: no IHDR first");
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    let (width, height) = (dimension(16), dimension(20));
    assert!(width > 0 && height > 0, "{url}: {width}x{height}");
    (width, height)
}

both_engines!(the_images_the_instance_and_accounts_advertise_are_served, |app| async move {
    let instance = ok(app.get("/api/v2/instance", ANON).await);
    let thumbnail = instance["thumbnail"]["url"].as_str().unwrap();
    let (width, height) = png_at(&app, thumbnail).await;
    assert!(width > height, "a landscape thumbnail: {width}x{height}");
    // An account without an avatar or header, as others and as itself see it.
    let (id, token) = app.create_user("plain").await;
    for me in [
        ok(app.get(&format!("/api/v1/accounts/{id}"), ANON).await),
        ok(app.get("/api/v1/accounts/verify_credentials", &token).await),
    ] {
        for key in ["avatar", "avatar_static", "header", "header_static"] {
            png_at(&app, me[key].as_str().unwrap()).await;
        }
    }
    // HEAD too (clients and caches check before fetching).
    let path = thumbnail.strip_prefix(BASE_URL).unwrap();
    let head = app.raw(Method::HEAD, path, ANON, None, &[]).await;
    assert_eq!(head.status, StatusCode::OK);
});
