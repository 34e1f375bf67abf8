//! The error type every layer returns. Only the API crate maps kinds to HTTP statuses.

use std::fmt;

/// What went wrong, in terms a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A required parameter is missing or malformed (400).
    BadRequest,
    /// No valid credentials (401).
    Unauthorized,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// Missing, or not visible to the caller (404).
    NotFound,
    /// Well-formed but unacceptable input (422).
    Validation,
    /// A uniqueness rule was broken (422 in Mastodon).
    Conflict,
    /// Too many requests (429).
    RateLimited,
    /// A dependency is down or busy (503).
    Unavailable,
    /// A bug or an unexpected backend failure (500). The message is logged, never sent.
    Internal,
}

/// An error with a client-facing message (or an internal one for `Internal`).
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Per-field validation details (Mastodon's registration `details`).
    pub details: Vec<FieldError>,
}

/// One failed rule on one input field: `ERR_TAKEN`, `ERR_BLANK`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub description: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), details: Vec::new() }
    }

    /// A validation error on one field, with Mastodon's error code.
    pub fn field(field: &str, code: &str, description: &str) -> Self {
        let label = {
            let mut c = field.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default().replace('_', " ")
        };
        Self {
            kind: ErrorKind::Validation,
            message: format!("Validation failed: {label} {description}"),
            details: vec![FieldError { field: field.into(), code: code.into(), description: description.into() }],
        }
    }
    /// Every field error of `errors` as one (Mastodon reports every invalid field at once);
    /// `Ok` when there is none. Errors that are not about a field are kept as they are.
    pub fn all_fields(errors: Vec<Error>) -> Result<(), Error> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.into_iter().next().unwrap_or_else(|| Error::validation(""))),
            _ => {
                let message = errors
                    .iter()
                    .map(|e| e.message.trim_start_matches("Validation failed: "))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(Self {
                    kind: ErrorKind::Validation,
                    message: format!("Validation failed: {message}"),
                    details: errors.into_iter().flat_map(|e| e.details).collect(),
                })
            }
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, m)
    }
    /// Mastodon's wording for anything missing or invisible.
    pub fn not_found() -> Self {
        Self::new(ErrorKind::NotFound, "Record not found")
    }
    pub fn validation(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, m)
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, m)
    }
    pub fn internal(m: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, m.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}
