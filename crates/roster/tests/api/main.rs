//! Roster's HTTP test suite: one binary, every case on SQLite and on
//! PostgreSQL (see `support.rs`).

mod support;

mod b2b;
mod bad_input;
mod cache;
mod check;
mod commerce;
mod credentials;
mod errors;
mod fuzz_bodies;
mod grants;
mod hierarchy;
mod isolation;
mod keys_at_rest;
mod limits;
mod log_hygiene;
mod no_op;
mod ops;
mod partner;
mod pos;
mod proxies;
mod purge;
mod records;
mod retail_media;
mod tenants;
mod trace_log;
mod users;
