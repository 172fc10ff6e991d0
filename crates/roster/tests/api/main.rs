//! Roster's HTTP test suite: one binary, every case on SQLite and on
//! PostgreSQL (see `support.rs`).

mod process;
mod support;

mod b2b;
mod bad_input;
mod cache;
mod cache_entities;
mod check;
mod commerce;
mod console;
mod console_browser;
mod credentials;
mod durability;
mod enumeration;
mod errors;
mod fuzz_bodies;
mod grants;
mod groups;
mod hierarchy;
mod import;
mod isolation;
mod keys_at_rest;
mod limits;
mod log_hygiene;
mod nats;
mod no_op;
mod ops;
mod partner;
mod pos;
mod proxies;
mod purge;
mod readme;
mod records;
mod retail_media;
mod scim;
mod scim_company;
mod scim_groups;
mod shutdown;
mod slow_clients;
mod tenants;
mod trace_log;
mod user_listing;
mod users;
mod webhooks;
mod writers;
