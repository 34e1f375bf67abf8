//! The client API and OAuth, end to end through the router, on SQLite and PostgreSQL.
//!
//! Every test runs twice (`<name>::sqlite`, `<name>::postgres`), each on a database of its own;
//! set `TEST_DATABASE_URL` for the PostgreSQL half (skipped without it, a failure under CI).
//! Users get their tokens through the real OAuth pages (see `ferrodon_testkit`).

mod support;

mod accounts;
mod activitypub;
mod cards;
mod errors;
mod instance;
mod mail;
mod media;
mod notifications;
mod oauth;
mod reports;
mod settings;
mod statuses;
mod streaming;
mod timelines;
mod two_factor;
mod web;
