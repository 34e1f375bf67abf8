//! A multipart form with files (`file` of an upload, `avatar` and `header` of a profile), each
//! streamed to a temporary file as it arrives: never held in memory, and cut off as soon as it
//! passes the limit of any upload.

use axum::extract::{FromRequest, Multipart, Request};
use ferrodon_kernel::Error;
use ferrodon_service::media::{self, Upload};
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

use crate::AppState;
use crate::error::ApiError;
use crate::params::Params;

/// A body without files may be this large (axum's default), whatever the route allows uploads.
const FORM_LIMIT: usize = 2 * 1024 * 1024;
/// A text field of a multipart form may be this long.
const FIELD_LIMIT: usize = 64 * 1024;

/// The file parts as [`Upload`]s, by field name, and the other fields as [`Params`]. A request
/// that is no multipart form has no files and its parameters as any request gives them.
pub struct WithFiles {
    files: Vec<(String, Upload)>,
    pub params: Params,
}

impl WithFiles {
    /// The file sent as `name`, if one was.
    pub fn take(&mut self, name: &str) -> Option<Upload> {
        let i = self.files.iter().position(|(n, _)| n == name)?;
        Some(self.files.swap_remove(i).1)
    }

    /// Refuses files sent under names the endpoint does not take (after it took its own).
    pub fn no_other_files(&self) -> Result<(), ApiError> {
        match self.files.first() {
            None => Ok(()),
            Some((name, _)) => {
                Err(Error::validation(format!("Validation failed: {name} as a file is not supported")).into())
            }
        }
    }
}

impl FromRequest<AppState> for WithFiles {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        if !is_multipart {
            // The routes' body limit is an upload's; a body without files gets the usual one.
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, FORM_LIMIT)
                .await
                .map_err(|_| Error::bad_request("Request body could not be read (at most 2 MB without files)"))?;
            let req = Request::from_parts(parts, axum::body::Body::from(bytes));
            return Ok(WithFiles { files: Vec::new(), params: Params::from_request(req, state).await? });
        }
        let query = req.uri().query().unwrap_or("").to_string();
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| Error::bad_request(format!("Error occurred while parsing request parameters: {e}")))?;
        let mut params = Params(Map::new());
        params.merge_form(&query);
        let mut files: Vec<(String, Upload)> = Vec::new();
        while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or("").to_string();
            match field.file_name() {
                // A file input left empty is no file (as Rack reads it).
                Some("") => continue,
                Some(_) => {
                    let path = media::scratch_file(&state.svc).await?;
                    // Owned from here: removed when dropped, whatever happens next.
                    let mut upload = Upload { path, size: 0 };
                    let mut out = tokio::fs::File::create(&upload.path).await.map_err(Error::internal)?;
                    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                        upload.size += chunk.len() as u64;
                        if upload.size > media::UPLOAD_LIMIT {
                            return Err(Error::validation(format!(
                                "Validation failed: File file size must be less than {} MB",
                                media::UPLOAD_LIMIT / 1024 / 1024
                            ))
                            .into());
                        }
                        out.write_all(&chunk).await.map_err(Error::internal)?;
                    }
                    out.flush().await.map_err(Error::internal)?;
                    // A name sent twice keeps its first file, as a form's first value is kept.
                    if !files.iter().any(|(n, _)| *n == name) {
                        files.push((name, upload));
                    }
                }
                None => {
                    let mut text = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                        if text.len() + chunk.len() > FIELD_LIMIT {
                            return Err(Error::bad_request(format!("The field {name} is too long")).into());
                        }
                        text.extend_from_slice(&chunk);
                    }
                    params.insert(&name, Value::String(String::from_utf8_lossy(&text).into_owned()));
                }
            }
        }
        Ok(WithFiles { files, params })
    }
}

fn unreadable(e: axum::extract::multipart::MultipartError) -> ApiError {
    Error::bad_request(format!("Error occurred while parsing request parameters: {e}")).into()
}
