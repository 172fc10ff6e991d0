//! Credentials and permission facts from memory: what authenticates a
//! request (API keys, devices, sessions) and what a check reads (a user's standing,
//! roles and stores; whether a store or company exists), kept in bounded
//! in-process caches so the hot path makes no database read on a hit.
//!
//! Coherence: an entry is noted with the store's change count
//! ([`roster_store::CheckStore::changes`]) from before it was read, and is
//! a miss once the count moved.
//! - **This process** counts its own changes as they commit, so it honours
//!   them on the very next request.
//! - **Other processes** on the same PostgreSQL announce their changes with
//!   `NOTIFY`; this process hears them on a connection of its own and counts
//!   them, usually within milliseconds. Whether it is hearing is measured
//!   with a heartbeat ([`roster_store::Horizon`]): when the last one heard
//!   back is older than `staleness` (`ROSTER_CACHE_STALENESS_MS`, default
//!   500 ms), the push connection is lost or late, and every request reads
//!   the database until it is back. So another process's change is honoured
//!   within `staleness` whatever happens to the connection. On SQLite one
//!   process owns the file and its own count is complete.
//! - `Duration::ZERO` turns the cache off: every request reads the database.
//! - A check may ask for `"consistency": "full"`, which reads through.
//! - Entries also expire after [`BACKSTOP`] (or `staleness`, if longer), for
//!   changes made outside Roster (by hand, in SQL), which announce nothing.
//!
//! Only what was found is kept: an unknown key, session, user, store or
//! company is read again every time, so something created by another
//! process is usable there at once. Each cache is bounded by its number of
//! entries, so memory stays flat however many users the tenant has.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use roster_core::{Session, Subject};
use roster_store::{ApiKeyIdentity, CheckFacts, DeviceIdentity, Horizon, Store};
use uuid::Uuid;

use crate::error::AppResult;
use crate::App;

/// The most entries each cache holds.
const CAPACITY: u64 = 50_000;

/// The longest an entry lives, whatever was announced.
pub const BACKSTOP: Duration = Duration::from_secs(60);

/// When a cache lookup happens: the store's change count, and whether
/// entries noted at that count may be trusted (the push is current).
#[derive(Clone, Copy)]
pub(crate) struct Stamp {
    changes: u64,
    trusted: bool,
}

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
    staleness: Duration,
    api_keys: moka::sync::Cache<String, Entry<ApiKeyIdentity>>,
    devices: moka::sync::Cache<String, Entry<DeviceIdentity>>,
    sessions: moka::sync::Cache<Uuid, Entry<Session>>,
    subjects: moka::sync::Cache<(String, Uuid), Entry<Arc<Known>>>,
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
        .time_to_live(staleness.max(BACKSTOP))
        .build()
}

impl Cache {
    /// Caches whose entries live at most `staleness`; zero keeps nothing.
    pub(crate) fn new(staleness: Duration) -> Cache {
        Cache {
            enabled: !staleness.is_zero(),
            staleness,
            api_keys: cache(staleness),
            devices: cache(staleness),
            sessions: cache(staleness),
            subjects: cache(staleness),
            places: cache(staleness),
        }
    }

    /// Whether caching is on; when it is, the heartbeat between this
    /// process and other processes' changes starts with it.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// How often the push connection is checked: a few times per bound, so
    /// a healthy connection never looks late.
    pub(crate) fn heartbeat(&self) -> Duration {
        (self.staleness / 4).clamp(Duration::from_millis(5), Duration::from_secs(5))
    }

    /// The moment of a lookup, for `store`.
    pub(crate) fn stamp(&self, store: &dyn Store) -> Stamp {
        let trusted = self.enabled
            && match store.horizon() {
                Horizon::Complete => true,
                Horizon::Since(heard) => heard.elapsed() <= self.staleness,
                Horizon::Unknown => false,
            };
        Stamp {
            changes: store.changes(),
            trusted,
        }
    }

    fn fresh<K, V>(&self, cache: &moka::sync::Cache<K, Entry<V>>, key: &K, at: Stamp) -> Option<V>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if !at.trusted {
            return None;
        }
        cache
            .get(key)
            .filter(|entry| entry.changes == at.changes)
            .map(|entry| entry.value)
    }

    /// Keeps what was read at `at`, even while the push is not trusted:
    /// a change committed after the read is counted before the next
    /// heartbeat is heard, and a reconnection counts one, so the entry is
    /// never used stale.
    fn keep<K, V>(&self, cache: &moka::sync::Cache<K, Entry<V>>, key: K, at: Stamp, value: V)
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if self.enabled {
            let changes = at.changes;
            cache.insert(key, Entry { changes, value });
        }
    }

    /// `load`'s answer for `key`, from `cache` when fresh; what it found is
    /// kept, noted at the store's change count from before the read.
    async fn through<K, V>(
        &self,
        cache: &moka::sync::Cache<K, Entry<V>>,
        key: K,
        store: &dyn Store,
        load: impl std::future::Future<Output = roster_store::Result<Option<V>>>,
    ) -> AppResult<Option<V>>
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let at = self.stamp(store);
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
        now: Stamp,
    ) -> Option<Facts> {
        let subject = self.fresh(&self.subjects, &(tenant.to_string(), user), now)?;
        let exists = |place: Place| self.fresh(&self.places, &(tenant.to_string(), place), now);
        if let Some(store) = store {
            exists(Place::Store(store.to_string()))?;
        }
        if let Some(company) = company {
            exists(Place::Company(company))?;
        }
        Some(Facts {
            subject: Some(subject),
            store_exists: store.is_some(),
            company_exists: company.is_some(),
        })
    }

    /// Keeps what a read found at `at`: users, and stores and companies
    /// that exist (absence is never kept).
    fn keep_found<'a>(
        &self,
        tenant: &str,
        at: Stamp,
        subjects: impl IntoIterator<Item = (Uuid, &'a Arc<Known>)>,
        stores: impl IntoIterator<Item = &'a str>,
        companies: impl IntoIterator<Item = Uuid>,
    ) {
        for (user, subject) in subjects {
            let key = (tenant.to_string(), user);
            self.keep(&self.subjects, key, at, subject.clone());
        }
        let places = stores
            .into_iter()
            .map(|store| Place::Store(store.to_string()))
            .chain(companies.into_iter().map(Place::Company));
        for place in places {
            self.keep(&self.places, (tenant.to_string(), place), at, ());
        }
    }
}

/// A user as the check sees it: its facts and the grants they confer,
/// worked out once per read rather than once per question.
#[derive(Debug)]
pub(crate) struct Known {
    pub(crate) subject: Subject,
    pub(crate) grants: Vec<roster_core::permission::Grant>,
}

impl Known {
    pub(crate) fn new(subject: Subject) -> Arc<Known> {
        let grants = roster_core::permission::grants_of(&subject);
        Arc::new(Known { subject, grants })
    }
}

/// What a check needs about one user and the place asked about, as the
/// cache keeps it (the user shared, not copied, per question).
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// `None` when the user is not in the tenant.
    pub(crate) subject: Option<Arc<Known>>,
    pub(crate) store_exists: bool,
    pub(crate) company_exists: bool,
}

impl From<CheckFacts> for Facts {
    fn from(read: CheckFacts) -> Facts {
        Facts {
            subject: read.subject.map(Known::new),
            store_exists: read.store_exists,
            company_exists: read.company_exists,
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
            .through(&cache.api_keys, hash.to_string(), &**store, load)
            .await
    }

    /// The live device whose token hashes to `hash`, from the cache when
    /// fresh.
    pub(crate) async fn find_device(&self, hash: &str) -> AppResult<Option<DeviceIdentity>> {
        let (cache, store) = (&self.cache, &self.store);
        let load = store.authenticate_device(hash);
        cache
            .through(&cache.devices, hash.to_string(), &**store, load)
            .await
    }

    /// The session `id`, from the cache when fresh.
    pub(crate) async fn find_session(&self, id: Uuid) -> AppResult<Option<Session>> {
        let (cache, store) = (&self.cache, &self.store);
        cache
            .through(&cache.sessions, id, &**store, store.get_session(id))
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
    ) -> AppResult<Facts> {
        let at = self.cache.stamp(&*self.store);
        if consistency == Consistency::Bounded {
            if let Some(facts) = self.cache.facts(tenant, user, store, company, at) {
                return Ok(facts);
            }
        }
        let facts: Facts = self
            .store
            .check_facts(tenant, user, store, company)
            .await?
            .into();
        self.cache.keep_found(
            tenant,
            at,
            facts.subject.as_ref().map(|subject| (user, subject)),
            store.filter(|_| facts.store_exists),
            company.filter(|_| facts.company_exists),
        );
        Ok(facts)
    }
}

/// Facts read for a batch's cache misses.
pub(crate) struct ReadFacts {
    subjects: std::collections::HashMap<Uuid, Arc<Known>>,
    stores: std::collections::HashSet<String>,
    companies: std::collections::HashSet<Uuid>,
}

impl ReadFacts {
    /// The facts of one question, out of the batch's.
    pub(crate) fn of(&self, question: &crate::check::Question) -> Facts {
        Facts {
            subject: self.subjects.get(&question.user_id).cloned(),
            store_exists: question
                .store_id
                .as_ref()
                .is_some_and(|s| self.stores.contains(s)),
            company_exists: question
                .company_id
                .is_some_and(|c| self.companies.contains(&c)),
        }
    }
}

impl App {
    /// For each question, its facts if the cache has them fresh (and the
    /// question allows the cache).
    pub(crate) fn cached_facts(
        &self,
        tenant: &str,
        questions: &[crate::check::Question],
    ) -> Vec<Option<Facts>> {
        let at = self.cache.stamp(&*self.store);
        questions
            .iter()
            .map(|q| match q.consistency {
                Consistency::Bounded => {
                    self.cache
                        .facts(tenant, q.user_id, q.store_id.as_deref(), q.company_id, at)
                }
                Consistency::Full => None,
            })
            .collect()
    }

    /// The facts of `questions`, in one read (none without questions);
    /// what was found is kept.
    pub(crate) async fn read_facts(
        &self,
        tenant: &str,
        questions: &[&crate::check::Question],
    ) -> AppResult<ReadFacts> {
        if questions.is_empty() {
            return Ok(ReadFacts {
                subjects: Default::default(),
                stores: Default::default(),
                companies: Default::default(),
            });
        }
        let at = self.cache.stamp(&*self.store);
        let mut users: Vec<Uuid> = questions.iter().map(|q| q.user_id).collect();
        let mut stores: Vec<String> = questions
            .iter()
            .filter_map(|q| q.store_id.clone())
            .collect();
        let mut companies: Vec<Uuid> = questions.iter().filter_map(|q| q.company_id).collect();
        for list in [&mut users, &mut companies] {
            list.sort_unstable();
            list.dedup();
        }
        stores.sort_unstable();
        stores.dedup();
        let facts = self
            .store
            .check_facts_of(tenant, &users, &stores, &companies)
            .await?;
        let facts = ReadFacts {
            subjects: facts
                .subjects
                .into_iter()
                .map(|(user, subject)| (user, Known::new(subject)))
                .collect(),
            stores: facts.stores,
            companies: facts.companies,
        };
        self.cache.keep_found(
            tenant,
            at,
            facts
                .subjects
                .iter()
                .map(|(user, subject)| (*user, subject)),
            facts.stores.iter().map(String::as_str),
            facts.companies.iter().copied(),
        );
        Ok(facts)
    }
}
