//! Roster's domain: the model of tenants, stores, companies, users and their
//! credentials, the rules that validate them, and the permission map that
//! `check` evaluates. Nothing here knows about HTTP or SQL.

pub mod events;
pub mod foreign_hash;
pub mod model;
pub mod permission;
pub mod rules;
pub mod secret;
pub mod throttle;
pub mod user_change;
pub mod validate;

pub use model::*;
pub use permission::{Decision, Grant, Permission, PermissionScope, Subject, Target};
pub use user_change::{NewUser, ProfilePatch, UserPatch};
pub use validate::{FieldError, Validation};
