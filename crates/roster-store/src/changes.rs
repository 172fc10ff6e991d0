//! What committed writes touched, entity by entity, so a cache drops only
//! what depended on a change ([`Changes`]).
//!
//! Every cache-relevant write names what it touched ([`Entity`]): a user,
//! an API key, a device, a session, a store, a company, a whole tenant (a
//! change that can affect many entries of it: a store created or deleted
//! moves every user's store count), or [`Entity::Everything`] (a
//! reconnection of the push, another process's commit to the SQLite file:
//! nothing is known about what changed). This process records its own
//! writes as they commit; other processes' arrive through
//! [`crate::watch`], named in the `NOTIFY` payload.
//!
//! A cache notes [`Changes::now`] before it reads, and trusts what it read
//! only while no entity the entry depends on was touched since
//! ([`Changes::untouched_since`]).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// Something a committed write changed, as precisely as a cache needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity<'a> {
    /// Anything at all.
    Everything,
    /// Anything in the tenant.
    Tenant(&'a str),
    /// One user: its row, roles, stores, contacts or sign-in time.
    User(&'a str, Uuid),
    /// One store's row (its existence is a tenant-wide change).
    Store(&'a str, &'a str),
    /// One company's row (its existence is a tenant-wide change).
    Company(&'a str, Uuid),
    /// One API key.
    ApiKey(&'a str, Uuid),
    /// One device (and the sessions signed in through it).
    Device(&'a str, Uuid),
    /// One session.
    Session(Uuid),
}

impl<'a> Entity<'a> {
    /// The entity as one line of a `NOTIFY` payload (tenant uids and store
    /// ids hold no spaces: `^[A-Za-z0-9-_]+$`).
    pub(crate) fn line(&self) -> String {
        match self {
            Entity::Everything => "everything".into(),
            Entity::Tenant(t) => format!("tenant {t}"),
            Entity::User(t, id) => format!("user {t} {id}"),
            Entity::Store(t, id) => format!("store {t} {id}"),
            Entity::Company(t, id) => format!("company {t} {id}"),
            Entity::ApiKey(t, id) => format!("api_key {t} {id}"),
            Entity::Device(t, id) => format!("device {t} {id}"),
            Entity::Session(id) => format!("session {id}"),
        }
    }

    /// The entity a payload line names; `None` for a line this version does
    /// not understand (the caller then assumes everything changed).
    pub(crate) fn parse(line: &'a str) -> Option<Entity<'a>> {
        let mut words = line.split(' ');
        let kind = words.next()?;
        let mut next = || words.next();
        let entity = match kind {
            "everything" => Entity::Everything,
            "tenant" => Entity::Tenant(next()?),
            "session" => Entity::Session(next()?.parse().ok()?),
            "store" => Entity::Store(next()?, next()?),
            _ => {
                let (tenant, id) = (next()?, next()?.parse().ok()?);
                match kind {
                    "user" => Entity::User(tenant, id),
                    "company" => Entity::Company(tenant, id),
                    "api_key" => Entity::ApiKey(tenant, id),
                    "device" => Entity::Device(tenant, id),
                    _ => return None,
                }
            }
        };
        match next() {
            None => Some(entity),
            Some(_) => None,
        }
    }
}

/// How many stripes the entities are spread over: two entities sharing one
/// only cost each other a cache miss, never a stale answer.
const STRIPES: usize = 1 << 14;

/// The record of touched entities: a sequence number for every recorded
/// change, and for each stripe of entities the number of the last change
/// that touched one of them. Fixed size, lock-free, never forgets: a change
/// is never lost however many there are, at the price of a miss for an
/// entity that shares a stripe with a changed one (hand-rolled because no
/// cache crate offers invalidation "since a moment" without races between
/// a read and a concurrent change).
pub struct Changes {
    seq: AtomicU64,
    everything: AtomicU64,
    stripes: Box<[AtomicU64]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Changes {
    fn default() -> Changes {
        Changes {
            seq: AtomicU64::new(0),
            everything: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: Default::default(),
        }
    }
}

impl Changes {
    /// The number of the last change recorded: note it before a read.
    pub fn now(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    fn stripe(&self, entity: &Entity<'_>) -> &AtomicU64 {
        let hash = self.hasher.hash_one(entity) as usize;
        &self.stripes[hash % STRIPES]
    }

    /// Whether none of `entities` was touched by a change recorded after
    /// `at` (what was read after noting `at` is still current).
    pub fn untouched_since<'e>(
        &self,
        at: u64,
        entities: impl IntoIterator<Item = Entity<'e>>,
    ) -> bool {
        self.everything.load(Ordering::SeqCst) <= at
            && entities
                .into_iter()
                .all(|entity| self.stripe(&entity).load(Ordering::SeqCst) <= at)
    }

    /// Records one committed change that touched `entities` (an empty list
    /// touches nothing; a reader that noted `now` before this returns sees
    /// it as a change).
    pub fn record<'e>(&self, entities: impl IntoIterator<Item = Entity<'e>>) {
        let at = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        for entity in entities {
            match entity {
                Entity::Everything => self.everything.fetch_max(at, Ordering::SeqCst),
                other => self.stripe(&other).fetch_max(at, Ordering::SeqCst),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_to_one_entity_leaves_others_untouched() {
        let changes = Changes::default();
        let a = Uuid::now_v7();
        let before = changes.now();
        changes.record([Entity::User("t", a)]);
        assert!(!changes.untouched_since(before, [Entity::User("t", a)]));
        // Others share its stripe only by chance (1 in 16 384 each).
        let untouched = (0..8)
            .filter(|_| changes.untouched_since(before, [Entity::User("t", Uuid::now_v7())]))
            .count();
        assert!(untouched >= 7);
        // What was read after the change is current.
        assert!(changes.untouched_since(changes.now(), [Entity::User("t", a)]));
    }

    #[test]
    fn everything_touches_every_entity() {
        let changes = Changes::default();
        let before = changes.now();
        changes.record([Entity::Everything]);
        assert!(!changes.untouched_since(before, [Entity::Session(Uuid::nil())]));
        assert!(!changes.untouched_since(before, []));
    }

    #[test]
    fn payload_lines_read_back() {
        let id = Uuid::now_v7();
        for entity in [
            Entity::Everything,
            Entity::Tenant("acme"),
            Entity::User("acme", id),
            Entity::Store("acme", "main-1"),
            Entity::Company("acme", id),
            Entity::ApiKey("acme", id),
            Entity::Device("acme", id),
            Entity::Session(id),
        ] {
            assert_eq!(Entity::parse(&entity.line()), Some(entity));
        }
        assert_eq!(Entity::parse("user acme not-an-id"), None);
        assert_eq!(Entity::parse("user acme"), None);
        assert_eq!(Entity::parse("tenant acme extra"), None);
        assert_eq!(Entity::parse("planet mars"), None);
    }
}
