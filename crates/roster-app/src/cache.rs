//! Credentials and permission facts from memory: what authenticates a
//! request (API keys, devices, sessions) and what a check reads (a user's standing,
//! roles and stores; whether a store or company exists), kept in bounded
//! in-process caches so the hot path makes no database read on a hit.
//!
//! Coherence: an entry is noted with the store's change number
//! ([`roster_store::Changes::now`]) from before it was read, and names the
//! entities it depends on ([`Entity`]: its user, key, device, session,
//! tenant); it is a miss once a change recorded since touched one of them
//! (or touched everything). A change to one user leaves every other user's
//! entries alone.
//! - **This process** records its own changes as they commit, so it
//!   honours them on the very next request.
//! - **Other processes** on the same PostgreSQL announce their changes,
//!   naming what they touched, with `NOTIFY`; this process hears them on a
//!   connection of its own and records them, usually within milliseconds.
//!   Whether it is hearing is measured with a heartbeat
//!   ([`roster_store::Horizon`]): when the last one heard back is older
//!   than `staleness` (`ROSTER_CACHE_STALENESS_MS`, default 500 ms), the
//!   push connection is lost or late, and every request reads the database
//!   until it is back (a reconnection touches everything). So another
//!   process's change is honoured within `staleness` whatever happens to
//!   the connection. On SQLite one process owns the file and its own record
//!   is complete (another process's commit to it touches everything).
//! - `Duration::ZERO` turns the cache off: every request reads the database.
//! - A check may ask for `"consistency": "full"`, which reads through.
//! - A user listing reads which users are on the page from the database
//!   every time, and takes the users themselves from the users cache: what
//!   it shows of each is as fresh as `GET …/users/{id}`.
//! - Entries also expire after [`BACKSTOP`] (or `staleness`, if longer), for
//!   changes made outside Roster (by hand, in SQL), which announce nothing.
//!
//! Only what was found is kept: an unknown key, session, user, store or
//! company is read again every time, so something created by another
//! process is usable there at once. Each cache is bounded by bytes (a
//! budget each, below; entries weighed by [`weight`]), so memory stays flat
//! however many users the tenant has and however large each of them is.
//! Lookups allocate nothing: keys are ids, token hashes looked up by
//! `&str`, or a hash of tenant and store id, and an entry keeps its tenant
//! (and store id), which a lookup compares, so ids never cross tenants.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roster_core::{Session, Subject, User};
use roster_store::{
    ApiKeyIdentity, CheckFacts, DeviceIdentity, Entity, Horizon, Listed, Page, Store, UserFilter,
};
use uuid::Uuid;

use crate::error::AppResult;
use crate::App;

mod weight;

use weight::Weigh;

const MIB: u64 = 1024 * 1024;

/// The caches' byte budgets, 47 MiB in all: room for some 20,000 users'
/// standing and as many whole users (a few hundred bytes each), which is a
/// busy platform's working set; past it the least used go first.
const API_KEYS_BYTES: u64 = 2 * MIB;
const DEVICES_BYTES: u64 = 2 * MIB;
const SESSIONS_BYTES: u64 = 8 * MIB;
const SUBJECTS_BYTES: u64 = 16 * MIB;
const USERS_BYTES: u64 = 16 * MIB;
const STORES_BYTES: u64 = MIB;
const COMPANIES_BYTES: u64 = 2 * MIB;

/// The longest an entry lives, whatever was announced.
pub const BACKSTOP: Duration = Duration::from_secs(60);

/// When a cache lookup happens: the store's change number, and whether
/// entries may be trusted at all (the push is current).
#[derive(Clone, Copy)]
pub(crate) struct Stamp {
    at: u64,
    trusted: bool,
}

/// A cached value and the store's change number it was read at.
#[derive(Clone)]
struct Entry<V> {
    at: u64,
    value: V,
}

/// What a cached value depends on, beyond everything: the entities a
/// change to which makes it stale.
trait Depends {
    fn entities(&self) -> impl Iterator<Item = Entity<'_>>;
}

impl Depends for Arc<ApiKeyIdentity> {
    /// A key bound to a user goes with it (deleting the user deletes it).
    fn entities(&self) -> impl Iterator<Item = Entity<'_>> {
        let tenant = self.tenant.as_str();
        let user = match self.key.grant {
            roster_core::ApiKeyGrant::User(user) => Some(Entity::User(tenant, user)),
            roster_core::ApiKeyGrant::Permissions(_) => None,
        };
        [
            Some(Entity::Tenant(tenant)),
            Some(Entity::ApiKey(tenant, self.key.id)),
            user,
        ]
        .into_iter()
        .flatten()
    }
}

impl Depends for Arc<DeviceIdentity> {
    fn entities(&self) -> impl Iterator<Item = Entity<'_>> {
        let tenant = self.tenant.as_str();
        [
            Entity::Tenant(tenant),
            Entity::Device(tenant, self.device.id),
        ]
        .into_iter()
    }
}

impl Depends for Arc<Session> {
    fn entities(&self) -> impl Iterator<Item = Entity<'_>> {
        let tenant = self.tenant.as_deref();
        let device = tenant.zip(self.device_id);
        [Some(Entity::Session(self.id))]
            .into_iter()
            .chain([tenant.map(Entity::Tenant)])
            .chain([device.map(|(t, d)| Entity::Device(t, d))])
            .flatten()
    }
}

/// A value of one tenant's user (its standing, or the whole user).
#[derive(Clone)]
struct OfUser<V> {
    tenant: String,
    value: V,
}

impl<V> OfUser<V> {
    fn entities(&self, user: Uuid) -> impl Iterator<Item = Entity<'_>> {
        [
            Entity::Tenant(&self.tenant),
            Entity::User(&self.tenant, user),
        ]
        .into_iter()
    }
}

/// A store or company of a tenant known to exist: only its tenant's
/// changes (creations and deletions are tenant-wide) touch that.
#[derive(Clone)]
struct Place {
    tenant: String,
    store: Option<String>,
}

/// Hits and misses of one cache, for `/metrics`.
#[derive(Default)]
struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Counts {
    fn count<T>(&self, found: Option<T>) -> Option<T> {
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }
}

/// One bounded cache and its counts.
struct Kept<K, V> {
    name: &'static str,
    entries: moka::sync::Cache<K, Entry<V>>,
    counts: Counts,
}

impl<K, V> Kept<K, V>
where
    K: Hash + Eq + Send + Sync + Weigh + 'static,
    V: Clone + Send + Sync + Weigh + 'static,
{
    /// A cache of at most `budget` bytes (by [`weight::weight`]).
    fn new(name: &'static str, staleness: Duration, budget: u64) -> Kept<K, V> {
        Kept {
            name,
            entries: moka::sync::Cache::builder()
                .weigher(|key: &K, entry: &Entry<V>| weight::weight(key, &entry.value))
                .max_capacity(budget)
                .time_to_live(staleness.max(BACKSTOP))
                .build(),
            counts: Counts::default(),
        }
    }
}

/// How one cache did since the process started.
#[derive(Debug, Clone, Copy)]
pub struct CacheCounts {
    /// The cache's name in `/metrics`.
    pub name: &'static str,
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that read the database (absent, stale or not trusted).
    pub misses: u64,
}

/// The caches; see the module documentation.
pub(crate) struct Cache {
    enabled: bool,
    staleness: Duration,
    api_keys: Kept<String, Arc<ApiKeyIdentity>>,
    devices: Kept<String, Arc<DeviceIdentity>>,
    sessions: Kept<Uuid, Arc<Session>>,
    /// Users' standing, roles and stores, with their grants.
    subjects: Kept<Uuid, OfUser<Arc<Known>>>,
    /// Whole users, as `GET …/users/{id}` shows them.
    users: Kept<Uuid, OfUser<Arc<User>>>,
    /// Stores known to exist, by a hash of tenant and store id (absence is
    /// never cached).
    stores: Kept<u64, Place>,
    /// Companies known to exist.
    companies: Kept<Uuid, Place>,
    hasher: std::collections::hash_map::RandomState,
}

impl Cache {
    /// Caches whose entries live at most `staleness`; zero keeps nothing.
    pub(crate) fn new(staleness: Duration) -> Cache {
        Cache {
            enabled: !staleness.is_zero(),
            staleness,
            api_keys: Kept::new("api_keys", staleness, API_KEYS_BYTES),
            devices: Kept::new("devices", staleness, DEVICES_BYTES),
            sessions: Kept::new("sessions", staleness, SESSIONS_BYTES),
            subjects: Kept::new("subjects", staleness, SUBJECTS_BYTES),
            users: Kept::new("users", staleness, USERS_BYTES),
            stores: Kept::new("stores", staleness, STORES_BYTES),
            companies: Kept::new("companies", staleness, COMPANIES_BYTES),
            hasher: Default::default(),
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

    /// Every cache's hits and misses.
    pub(crate) fn counts(&self) -> Vec<CacheCounts> {
        fn of<K, V>(kept: &Kept<K, V>) -> CacheCounts {
            CacheCounts {
                name: kept.name,
                hits: kept.counts.hits.load(Ordering::Relaxed),
                misses: kept.counts.misses.load(Ordering::Relaxed),
            }
        }
        vec![
            of(&self.api_keys),
            of(&self.devices),
            of(&self.sessions),
            of(&self.subjects),
            of(&self.users),
            of(&self.stores),
            of(&self.companies),
        ]
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
            at: store.changes().now(),
            trusted,
        }
    }

    /// The value kept for `key` if `current` says it still holds: nothing
    /// it depends on was touched since it was read.
    fn fresh<K, Q, V>(
        &self,
        kept: &Kept<K, V>,
        key: &Q,
        at: Stamp,
        current: impl Fn(&V, u64) -> bool,
    ) -> Option<V>
    where
        K: Hash + Eq + Send + Sync + 'static + std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone + Send + Sync + 'static,
    {
        let found = if at.trusted {
            kept.entries
                .get(key)
                .filter(|entry| current(&entry.value, entry.at))
                .map(|entry| entry.value)
        } else {
            None
        };
        kept.counts.count(found)
    }

    /// Keeps what was read at `at`, even while the push is not trusted:
    /// a change committed after the read is recorded before the next
    /// heartbeat is heard, and a reconnection touches everything, so the
    /// entry is never used stale.
    fn keep<K, V>(&self, kept: &Kept<K, V>, key: K, at: Stamp, value: V)
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if self.enabled {
            kept.entries.insert(key, Entry { at: at.at, value });
        }
    }

    fn store_key(&self, tenant: &str, store: &str) -> u64 {
        self.hasher.hash_one((tenant, store))
    }

    fn subject(
        &self,
        tenant: &str,
        user: Uuid,
        at: Stamp,
        store: &dyn Store,
    ) -> Option<Arc<Known>> {
        let changes = store.changes();
        self.fresh(&self.subjects, &user, at, |kept, read| {
            kept.tenant == tenant && changes.untouched_since(read, kept.entities(user))
        })
        .map(|kept| kept.value)
    }

    /// The whole user `id` of `tenant`, if kept and untouched since.
    fn whole_user(
        &self,
        tenant: &str,
        id: Uuid,
        at: Stamp,
        store: &dyn Store,
    ) -> Option<Arc<User>> {
        let changes = store.changes();
        self.fresh(&self.users, &id, at, |kept, read| {
            kept.tenant == tenant && changes.untouched_since(read, kept.entities(id))
        })
        .map(|kept| kept.value)
    }

    /// Keeps a whole user of `tenant` as read at `at`.
    fn keep_user(&self, tenant: &str, at: Stamp, user: &Arc<User>) {
        let kept = OfUser {
            tenant: tenant.to_string(),
            value: user.clone(),
        };
        self.keep(&self.users, user.id, at, kept);
    }

    fn store_exists(&self, tenant: &str, id: &str, at: Stamp, store: &dyn Store) -> bool {
        let changes = store.changes();
        let key = self.store_key(tenant, id);
        self.fresh(&self.stores, &key, at, |place, read| {
            place.tenant == tenant
                && place.store.as_deref() == Some(id)
                && changes.untouched_since(read, [Entity::Tenant(tenant)])
        })
        .is_some()
    }

    fn company_exists(&self, tenant: &str, id: Uuid, at: Stamp, store: &dyn Store) -> bool {
        let changes = store.changes();
        self.fresh(&self.companies, &id, at, |place, read| {
            place.tenant == tenant && changes.untouched_since(read, [Entity::Tenant(tenant)])
        })
        .is_some()
    }

    /// The facts a check asks for, if every part is cached and fresh.
    pub(crate) fn facts(
        &self,
        tenant: &str,
        user: Uuid,
        place: (Option<&str>, Option<Uuid>),
        at: Stamp,
        store: &dyn Store,
    ) -> Option<Facts> {
        let subject = self.subject(tenant, user, at, store)?;
        let (store_id, company) = place;
        if let Some(id) = store_id {
            self.store_exists(tenant, id, at, store).then_some(())?;
        }
        if let Some(id) = company {
            self.company_exists(tenant, id, at, store).then_some(())?;
        }
        Some(Facts {
            subject: Some(subject),
            store_exists: store_id.is_some(),
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
        if !self.enabled {
            return;
        }
        for (user, subject) in subjects {
            let kept = OfUser {
                tenant: tenant.to_string(),
                value: subject.clone(),
            };
            self.keep(&self.subjects, user, at, kept);
        }
        for id in stores {
            let place = Place {
                tenant: tenant.to_string(),
                store: Some(id.to_string()),
            };
            self.keep(&self.stores, self.store_key(tenant, id), at, place);
        }
        for id in companies {
            let place = Place {
                tenant: tenant.to_string(),
                store: None,
            };
            self.keep(&self.companies, id, at, place);
        }
    }

    /// A credential kept by its lookup key (a token hash or a session id),
    /// from `load` when not fresh.
    async fn credential<K, Q, V>(
        &self,
        kept: &Kept<K, Arc<V>>,
        key: &Q,
        store: &dyn Store,
        load: impl std::future::Future<Output = roster_store::Result<Option<V>>>,
    ) -> AppResult<Option<Arc<V>>>
    where
        K: Hash + Eq + Send + Sync + 'static + std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized + ToOwned<Owned = K>,
        V: Send + Sync + 'static,
        Arc<V>: Depends,
    {
        let at = self.stamp(store);
        let changes = store.changes();
        let current = |value: &Arc<V>, read| changes.untouched_since(read, value.entities());
        if let Some(found) = self.fresh(kept, key, at, current) {
            return Ok(Some(found));
        }
        let found = load.await?.map(Arc::new);
        if let Some(value) = &found {
            self.keep(kept, key.to_owned(), at, value.clone());
        }
        Ok(found)
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
        let (cache, store) = (&self.cache, &*self.store);
        let load = store.authenticate_api_key(hash);
        let found = cache.credential(&cache.api_keys, hash, store, load).await?;
        Ok(found.map(|identity| ApiKeyIdentity::clone(&identity)))
    }

    /// The live device whose token hashes to `hash`, from the cache when
    /// fresh.
    pub(crate) async fn find_device(&self, hash: &str) -> AppResult<Option<DeviceIdentity>> {
        let (cache, store) = (&self.cache, &*self.store);
        let load = store.authenticate_device(hash);
        let found = cache.credential(&cache.devices, hash, store, load).await?;
        Ok(found.map(|identity| DeviceIdentity::clone(&identity)))
    }

    /// The session `id`, from the cache when fresh.
    pub(crate) async fn find_session(&self, id: Uuid) -> AppResult<Option<Session>> {
        let (cache, store) = (&self.cache, &*self.store);
        let load = store.get_session(id);
        let found = cache.credential(&cache.sessions, &id, store, load).await?;
        Ok(found.map(|session| Session::clone(&session)))
    }

    /// The user `id` of `tenant` as its reads show it, from the cache when
    /// fresh (an unknown user is read every time).
    pub(crate) async fn find_user(&self, tenant: &str, id: Uuid) -> AppResult<Arc<User>> {
        let (cache, store) = (&self.cache, &*self.store);
        let at = cache.stamp(store);
        if let Some(user) = cache.whole_user(tenant, id, at, store) {
            return Ok(user);
        }
        let user = Arc::new(store.get_user(tenant, id).await?);
        cache.keep_user(tenant, at, &user);
        Ok(user)
    }

    /// The listing `filter` and `page` select, its users from the cache
    /// when fresh: the page's ids are read (a walk by store reads no user
    /// row), then, in one statement, the users the cache misses. A user
    /// deleted between the two is left out of the page.
    pub(crate) async fn list_users_cached(
        &self,
        tenant: &str,
        filter: &UserFilter,
        page: &Page,
    ) -> AppResult<Listed<User>> {
        let (cache, store) = (&self.cache, &*self.store);
        if !cache.enabled {
            return Ok(store.list_users(tenant, filter, page).await?);
        }
        let at = cache.stamp(store);
        let Listed { items: ids, next } = store.list_user_ids(tenant, filter, page).await?;
        let mut found: Vec<(Uuid, Option<Arc<User>>)> = ids
            .into_iter()
            .map(|id| (id, cache.whole_user(tenant, id, at, store)))
            .collect();
        let missed: Vec<Uuid> = found
            .iter()
            .filter(|(_, user)| user.is_none())
            .map(|(id, _)| *id)
            .collect();
        if !missed.is_empty() {
            let mut read: HashMap<Uuid, Arc<User>> = store
                .get_users(tenant, &missed)
                .await?
                .into_iter()
                .map(|user| (user.id, Arc::new(user)))
                .collect();
            for (id, user) in found.iter_mut().filter(|(_, user)| user.is_none()) {
                if let Some(read) = read.remove(id) {
                    cache.keep_user(tenant, at, &read);
                    *user = Some(read);
                }
            }
        }
        let items = found
            .into_iter()
            .filter_map(|(_, user)| user.map(|user| User::clone(&user)))
            .collect();
        Ok(Listed { items, next })
    }

    /// Every cache's hits and misses since this application started.
    pub fn cache_counts(&self) -> Vec<CacheCounts> {
        self.cache.counts()
    }

    /// How many shared transactions user creations ran in, and how many
    /// creations they held, since this application's store opened.
    pub fn creation_batches(&self) -> roster_store::BatchCounts {
        self.store.creation_batches()
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
            let cached = self
                .cache
                .facts(tenant, user, (store, company), at, &*self.store);
            if let Some(facts) = cached {
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
                Consistency::Bounded => self.cache.facts(
                    tenant,
                    q.user_id,
                    (q.store_id.as_deref(), q.company_id),
                    at,
                    &*self.store,
                ),
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
