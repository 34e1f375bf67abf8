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
    let limited = ferrodon_service::Services::new(app.svc.db.clone(), app.svc.events.clone(), Arc::new(config));
    let instance = get_from(limited, "/api/v2/instance").await;
    assert_eq!(instance["configuration"]["limited_federation"], true, "{instance}");
});
