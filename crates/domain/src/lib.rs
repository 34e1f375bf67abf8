//! The domain: models, pure rules, and the ports (traits) backends implement.
//! Nothing here does I/O.

pub mod model;
pub mod ports;
pub mod rules;
