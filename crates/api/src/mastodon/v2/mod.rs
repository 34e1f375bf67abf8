//! `/api/v2/*` handlers.

pub mod filters;
pub mod instance;
pub mod media;
pub mod notifications;
pub mod search;
