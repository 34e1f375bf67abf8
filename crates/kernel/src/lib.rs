//! ferrodon's kernel: identifiers, errors, paging and time. No I/O, no internal dependencies.

pub mod error;
pub mod id;
pub mod page;
pub mod time;

pub use error::{Error, ErrorKind, FieldError, Result};
pub use id::Id;
pub use page::{Page, PageRequest};
