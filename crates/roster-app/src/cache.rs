//! Credentials and permission facts from memory: what authenticates a
//! request (API keys, sessions) and what a check reads (a user's standing,
//! roles and stores; whether a store or company exists), kept in bounded
//! in-process caches so the hot path makes no database read on a hit.
//!
//! Coherence:
//! - **This process** honours its own changes on the very next request:
//!   the store counts every committed change a cached fact may depend on
//!   ([`roster_store::CheckStore::changes`]); an entry read before the
//!   count moved is a miss.
//! - **Other processes** on the same database: an entry lives at most
//!   `staleness` (`ROSTER_CACHE_STALENESS_MS`, default 500 ms), so their
//!   changes (a revocation, a deactivation, a role change) are honoured
//!   within that bound. `Duration::ZERO` turns the cache off: every request
//!   reads the database.
//! - A check may ask for `"consistency": "full"`, which reads through.
//!
//! Only what was found is kept: an unknown key, session, user, store or
//! company is read again every time, so something created by another
//! process is usable there at once. Each cache is bounded by its number of
//! entries, so memory stays flat however many users the tenant has.

use std::hash::Hash;
use std::time::Duration;

use roster_core::{Session, Subject};
use roster_store::{ApiKeyIdentity, CheckFacts};
use uuid::Uuid;

use crate::error::AppResult;
use crate::App;

/// The most entries each cache holds.
const CAPACITY: u64 = 50_000;

/// A cached value and the store's change count it was read at.
#[derive(Clone)]
struct Entry<V> {
    changes: u64,
    value: V,
}

/// A store or company of a tenant, for the existence cache.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Place {
    Store(String),
    Company(Uuid),
}

/// The caches; see the module documentation.
pub(crate) struct Cache {
    enabled: bool,
    api_keys: moka::sync::Cache<String, Entry<ApiKeyIdentity>>,
    sessions: moka::sync::Cache<Uuid, Entry<Session>>,
    subjects: moka::sync::Cache<(String, Uuid), Entry<Subject>>,
    /// Stores and companies known to exist (absence is never cached).
    places: moka::sync::Cache<(String, Place), Entry<()>>,
}

fn cache<K, V>(staleness: Duration) -> moka::sync::Cache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(CAPACITY)
        .time_to_live(staleness.max(Duration::from_millis(1)))
        .build()
}

impl Cache {
    /// Caches whose entries live at most `staleness`; zero keeps nothing.
    pub(crate) fn new(staleness: Duration) -> Cache {
        Cache {
            enabled: !staleness.is_zero(),
            api_keys: cache(staleness),
            sessions: cache(staleness),
            subjects: cache(staleness),
            places: cache(staleness),
        }
    }

    fn fresh<K, V>(&self, cache: &moka::sync::Cache<K, Entry<V>>, key: &K, now: u64) -> Option<V>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if !self.enabled {
            return None;
        }
        cache
            .get(key)
            .filter(|entry| entry.changes == now)
            .map(|entry| entry.value)
    }

    fn keep<K, V>(&self, cache: &moka::sync::Cache<K, Entry<V>>, key: K, changes: u64, value: V)
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if self.enabled {
            cache.insert(key, Entry { changes, value });
        }
    }

    /// `load`'s answer for `key`, from `cache` when fresh; what it found is
    /// kept, noted at the store's change count from before the read.
    async fn through<K, V>(
        &self,
        cache: &moka::sync::Cache<K, Entry<V>>,
        key: K,
        changes: impl Fn() -> u64,
        load: impl std::future::Future<Output = roster_store::Result<Option<V>>>,
    ) -> AppResult<Option<V>>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let at = changes();
        if let Some(found) = self.fresh(cache, &key, at) {
            return Ok(Some(found));
        }
        let found = load.await?;
        if let Some(value) = &found {
            self.keep(cache, key, at, value.clone());
        }
        Ok(found)
    }

    /// The facts a check asks for, if every part is cached and fresh.
    pub(crate) fn facts(
        &self,
        tenant: &str,
        user: Uuid,
        store: Option<&str>,
        company: Option<Uuid>,
        now: u64,
    ) -> Option<CheckFacts> {
        let subject = self.fresh(&self.subjects, &(tenant.to_string(), user), now)?;
        let exists = |place: Place| self.fresh(&self.places, &(tenant.to_string(), place), now);
        if let Some(store) = store {
            exists(Place::Store(store.to_string()))?;
        }
        if let Some(company) = company {
            exists(Place::Company(company))?;
        }
        Some(CheckFacts {
            subject: Some(subject),
            store_exists: store.is_some(),
            company_exists: company.is_some(),
        })
    }

    /// Keeps the facts of a check, read at change count `at`.
    pub(crate) fn keep_facts(
        &self,
        tenant: &str,
        user: Uuid,
        store: Option<&str>,
        company: Option<Uuid>,
        at: u64,
        facts: &CheckFacts,
    ) {
        if let Some(subject) = &facts.subject {
            self.keep(
                &self.subjects,
                (tenant.to_string(), user),
                at,
                subject.clone(),
            );
        }
        if let Some(store) = store.filter(|_| facts.store_exists) {
            let place = (tenant.to_string(), Place::Store(store.to_string()));
            self.keep(&self.places, place, at, ());
        }
        if let Some(company) = company.filter(|_| facts.company_exists) {
            let place = (tenant.to_string(), Place::Company(company));
            self.keep(&self.places, place, at, ());
        }
    }
}

/// How fresh a check's facts must be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Consistency {
    /// From the cache when fresh: this process's changes at once, other
    /// processes' within `ROSTER_CACHE_STALENESS_MS`.
    #[default]
    Bounded,
    /// Read from the database, whatever is cached.
    Full,
}

impl App {
    /// The API key whose token hashes to `hash`, from the cache when fresh.
    pub(crate) async fn find_api_key(&self, hash: &str) -> AppResult<Option<ApiKeyIdentity>> {
        let (cache, store) = (&self.cache, &self.store);
        let load = store.authenticate_api_key(hash);
        cache
            .through(&cache.api_keys, hash.to_string(), || store.changes(), load)
            .await
    }

    /// The session `id`, from the cache when fresh.
    pub(crate) async fn find_session(&self, id: Uuid) -> AppResult<Option<Session>> {
        let (cache, store) = (&self.cache, &self.store);
        cache
            .through(
                &cache.sessions,
                id,
                || store.changes(),
                store.get_session(id),
            )
            .await
    }

    /// What a check needs about `user` and the place asked about.
    pub(crate) async fn check_facts(
        &self,
        tenant: &str,
        user: Uuid,
        store: Option<&str>,
        company: Option<Uuid>,
        consistency: Consistency,
    ) -> AppResult<CheckFacts> {
        let at = self.store.changes();
        if consistency == Consistency::Bounded {
            if let Some(facts) = self.cache.facts(tenant, user, store, company, at) {
                return Ok(facts);
            }
        }
        let facts = self.store.check_facts(tenant, user, store, company).await?;
        self.cache
            .keep_facts(tenant, user, store, company, at, &facts);
        Ok(facts)
    }
}
