//! The one place errors become HTTP: kinds map to statuses, bodies are Mastodon's
//! `{"error": "…"}`. Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferrodon_kernel::{Error, ErrorKind};
use ferrodon_service::oauth::OAuthError;

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Validation | ErrorKind::Conflict => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error on its way to a client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match self.0.kind {
            ErrorKind::Internal => {
                tracing::error!(error = %self.0.message, "internal error");
                "Internal server error".to_string()
            }
            ErrorKind::Unavailable => {
                tracing::warn!(error = %self.0.message, "dependency unavailable");
                "Service unavailable".to_string()
            }
            _ => self.0.message,
        };
        let mut body = serde_json::json!({ "error": message });
        if !self.0.details.is_empty() {
            let mut details = serde_json::Map::new();
            for d in &self.0.details {
                let entry = details.entry(d.field.clone()).or_insert_with(|| serde_json::Value::Array(Vec::new()));
                if let Some(list) = entry.as_array_mut() {
                    list.push(serde_json::json!({ "error": d.code, "description": d.description }));
                }
            }
            body["details"] = serde_json::Value::Object(details);
        }
        (status_of(self.0.kind), Json(body)).into_response()
    }
}

/// OAuth protocol errors keep their RFC 6749 shape.
pub struct OAuthApiError(pub OAuthError);

impl From<OAuthError> for OAuthApiError {
    fn from(e: OAuthError) -> Self {
        OAuthApiError(e)
    }
}

impl IntoResponse for OAuthApiError {
    fn into_response(self) -> Response {
        if self.0.code == "server_error" {
            return ApiError(Error::new(self.0.kind, self.0.description)).into_response();
        }
        let body = serde_json::json!({ "error": self.0.code, "error_description": self.0.description });
        (status_of(self.0.kind), Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
