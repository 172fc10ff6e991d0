//! The storage conformance suite: one story per test, told through
//! `Arc<dyn Store>` to both engines, on a fresh database each time.
//!
//! SQLite always runs, on a temporary file. PostgreSQL runs when
//! `ROSTER_TEST_DATABASE_URL` names a server (a fresh `roster_conf_<random>`
//! database is created there and dropped afterwards); without it the
//! PostgreSQL half fails naming the variable, unless
//! `ROSTER_TEST_SKIP_POSTGRES=1` asks to skip it (loudly); with it set and the
//! server unreachable, it fails.

use std::sync::Arc;

use chrono::{Duration, Utc};
use roster_core::{
    Actor, ApiKeyGrant, CommerceRole, CompanyKind, CompanyStatus, ContactType, NewUser, Permission,
    Profile, ProfilePatch, QuoteStatus, SessionKind, Source, UserPatch, UserStatus,
};
use roster_store::{
    ConnectOptions, ContactPatch, NewAccount, NewApiKey, NewCompany, NewContact, NewInvitation,
    NewQuote, NewSession, NewStore, NewTenant, Page, QuotePatch, Store, StoreError, UserRef,
};
use sqlx::{Connection, Executor};
use uuid::Uuid;

const ACTOR: Actor = Actor::Admin;

/// A fresh database and the store on it; removes the database when dropped.
struct Fresh {
    store: Arc<dyn Store>,
    _db: Database,
}

enum Database {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async; use a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                rt.unwrap().block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = conn.execute(sql.as_str()).await;
                    }
                });
            })
            .join();
        }
    }
}

fn options(url: String) -> ConnectOptions {
    ConnectOptions {
        url,
        sqlite_synchronous: roster_store::SqliteSynchronous::Full,
        max_connections: 8,
    }
}

async fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("conformance.db").display());
    let store = roster_store::connect(&options(url))
        .await
        .expect("open SQLite");
    Fresh {
        store,
        _db: Database::Sqlite(dir),
    }
}

/// The PostgreSQL server for tests, or `None` (announced loudly) to skip.
fn postgres_url() -> Option<String> {
    match std::env::var("ROSTER_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("ROSTER_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") => {
            eprintln!(
                "\n*** ROSTER_TEST_SKIP_POSTGRES=1: SKIPPING the PostgreSQL half of \
                 the storage conformance suite. ***\n"
            );
            None
        }
        _ => panic!(
            "ROSTER_TEST_DATABASE_URL is not set: set it to a PostgreSQL server, or set \
             ROSTER_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL half"
        ),
    }
}

async fn postgres(admin_url: String) -> Fresh {
    let name = format!("roster_conf_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("ROSTER_TEST_DATABASE_URL is set but the server is unreachable");
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create database");
    let url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("ROSTER_TEST_DATABASE_URL must name a database"),
    };
    let db = Database::Postgres { admin_url, name };
    let store = roster_store::connect(&options(url))
        .await
        .expect("open PostgreSQL");
    Fresh { store, _db: db }
}

/// Runs each named story once per engine, as `sqlite::<name>` and
/// `postgres::<name>`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fresh = super::sqlite().await;
                    super::$name(&fresh.store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = super::postgres_url() else { return };
                    let fresh = super::postgres(url).await;
                    super::$name(&fresh.store).await;
                }
            )*
        }
    };
}

conformance!(
    tenants_are_created_read_and_unique,
    writes_cancelled_at_any_moment_leave_acknowledged_writes_committed,
    creations_in_a_missing_tenant_are_not_found_and_spare_their_neighbours,
    stores_and_companies_are_numbered_per_tenant,
    user_emails_are_unique_case_insensitively,
    tenants_are_isolated,
    contacts_keep_one_primary_per_type,
    hierarchy_moves_follow_the_rules,
    deleting_a_user_reparents_its_children,
    a_deleted_owners_quotes_close_and_lock,
    api_keys_authenticate_by_hash,
    sessions_are_created_and_revoked,
    throttle_counters_count_and_restart,
    invitations_are_accepted_once_by_their_email_before_expiry,
    writes_within_a_company_need_the_user_there,
);

// Concurrent creations number alike on both engines but for gaps: SQLite
// takes the number in the creating transaction (a failed one uses none),
// PostgreSQL in a statement of its own before it (a failed one leaves a
// gap, so that creations need not wait on each other's commits).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_writes_succeed_or_fail_alone_and_number_without_gaps() {
    let fresh = sqlite().await;
    concurrent_writes_succeed_or_fail_alone(&fresh.store, Numbers::Dense).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_writes_succeed_or_fail_alone_and_number_uniquely() {
    let Some(url) = postgres_url() else { return };
    let fresh = postgres(url).await;
    concurrent_writes_succeed_or_fail_alone(&fresh.store, Numbers::MayGap).await;
}

/// How per-tenant numbers of concurrent creations come out.
enum Numbers {
    /// 1..=N for N successes.
    Dense,
    /// Unique and at most one per attempt; failures may leave gaps.
    MayGap,
}

fn page() -> Page {
    Page {
        after: None,
        limit: 50,
    }
}

async fn tenant(store: &Arc<dyn Store>, uid: &str) -> String {
    let new = NewTenant {
        uid: uid.into(),
        name: format!("Tenant {uid}"),
    };
    store
        .create_tenant(new, &ACTOR)
        .await
        .expect("create tenant")
        .uid
}

async fn company(store: &Arc<dyn Store>, t: &str, name: &str) -> Uuid {
    let new = NewCompany {
        kind: CompanyKind::Commerce,
        name: name.into(),
        external_id: None,
        status: CompanyStatus::Active,
    };
    store
        .create_company(t, new, &ACTOR)
        .await
        .expect("create company")
        .id
}

fn new_user(company: Option<Uuid>, parent: Option<Uuid>, email: Option<&str>) -> NewUser {
    NewUser {
        company_id: company,
        parent_id: parent,
        profile: Profile {
            email: email.map(String::from),
            ..Profile::default()
        },
        external_id: None,
        source: None,
        status: UserStatus::Active,
        account_type: roster_core::AccountType::Regular,
        default_store_id: None,
        account_id: None,
        password_hash: None,
        roles: roster_core::Roles::default(),
        store_ids: Vec::new(),
    }
}

async fn user(store: &Arc<dyn Store>, t: &str, company: Uuid, parent: Option<Uuid>) -> Uuid {
    let new = new_user(Some(company), parent, None);
    store
        .create_user(t, new, &ACTOR)
        .await
        .expect("create user")
        .id
}

fn move_to(parent: Option<Uuid>) -> UserPatch {
    UserPatch {
        parent_id: Some(parent),
        ..UserPatch::default()
    }
}

fn invalid_field(result: Result<impl std::fmt::Debug, StoreError>) -> (String, String) {
    match result {
        Err(StoreError::Invalid { field, message }) => (field, message),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn tenants_are_created_read_and_unique(store: &Arc<dyn Store>) {
    store.ping().await.expect("ping");
    let t = tenant(store, "acme").await;
    let read = store.get_tenant(&t).await.unwrap();
    assert_eq!(
        (read.uid.as_str(), read.name.as_str()),
        ("acme", "Tenant acme")
    );
    let again = NewTenant {
        uid: "acme".into(),
        name: "Other".into(),
    };
    match store.create_tenant(again, &ACTOR).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("tenant"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(matches!(
        store.get_tenant("nobody").await,
        Err(StoreError::NotFound("tenant"))
    ));
    let events = store.list_events(&t, &page()).await.unwrap();
    assert_eq!(events.items[0].action, "tenant.created");
}

/// Creations at once in a tenant and in one that does not exist (they may
/// share a batch): those in the missing tenant are not found, the others
/// are created, numbered and audited as if alone.
async fn creations_in_a_missing_tenant_are_not_found_and_spare_their_neighbours(
    store: &Arc<dyn Store>,
) {
    let t = tenant(store, "acme").await;
    let writes = (0..12).map(|i| {
        let store = store.clone();
        let tenant = if i % 2 == 0 {
            t.clone()
        } else {
            "ghost".to_string()
        };
        let new = new_user(None, None, Some(&format!("user{i}@example.com")));
        tokio::spawn(async move {
            (
                tenant.clone(),
                store.create_user(&tenant, new, &ACTOR).await,
            )
        })
    });
    let mut numbers = Vec::new();
    for joined in futures::future::join_all(writes).await {
        match joined.expect("the write task") {
            (tenant, Ok(user)) if tenant == t => numbers.push(user.number),
            (tenant, Err(StoreError::NotFound("tenant"))) if tenant == "ghost" => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    numbers.sort();
    assert_eq!(numbers, (1..=6).collect::<Vec<_>>(), "numbered as if alone");
    let events = store.list_events(&t, &page()).await.unwrap();
    let created = events.items.iter().filter(|e| e.action == "user.created");
    assert_eq!(created.count(), 6, "{:?}", events.items);
    assert!(matches!(
        store
            .create_user("ghost", new_user(None, None, None), &ACTOR)
            .await,
        Err(StoreError::NotFound("tenant"))
    ));
}

/// Writes cut short at random moments (a client hanging up, a request
/// timeout), among writes that finish: every write that was acknowledged
/// is committed, readable through the read pool (which sees only committed
/// data), and the writer keeps working. (The moment that once broke this on
/// SQLite, a cancel inside the driver's `SAVEPOINT`, is too narrow to hit
/// reliably; `sqlite::tests` in the crate makes it deliberately.)
async fn writes_cancelled_at_any_moment_leave_acknowledged_writes_committed(
    store: &Arc<dyn Store>,
) {
    let mut acknowledged = Vec::new();
    for round in 0..150 {
        let writes = (0..8).map(|i| {
            let store = store.clone();
            let uid = format!("r{round}-{i}");
            // Half finish; half are cut off after up to 400 µs.
            let cut = (i % 2 == 1)
                .then(|| std::time::Duration::from_micros((Uuid::new_v4().as_u128() % 400) as u64));
            tokio::spawn(async move {
                let new = NewTenant {
                    uid: uid.clone(),
                    name: uid.clone(),
                };
                let write = store.create_tenant(new, &ACTOR);
                let done = match cut {
                    Some(after) => tokio::time::timeout(after, write).await.ok(),
                    None => Some(write.await),
                };
                done.map(|outcome| (uid, outcome))
            })
        });
        for joined in futures::future::join_all(writes).await {
            if let Some((uid, outcome)) = joined.expect("the write task") {
                outcome.expect("a write that ran to its end succeeds");
                acknowledged.push(uid);
            }
        }
    }
    for uid in &acknowledged {
        store
            .get_tenant(uid)
            .await
            .unwrap_or_else(|e| panic!("acknowledged tenant {uid} is not committed: {e}"));
    }
    let after = NewTenant {
        uid: "after".into(),
        name: "After".into(),
    };
    store
        .create_tenant(after, &ACTOR)
        .await
        .expect("the writer still writes");
}

async fn stores_and_companies_are_numbered_per_tenant(store: &Arc<dyn Store>) {
    let (a, b) = (tenant(store, "a").await, tenant(store, "b").await);
    for (t, code) in [(&a, "S1"), (&a, "S2"), (&b, "S1")] {
        let new = NewStore {
            id: code.into(),
            code: code.into(),
            name: code.into(),
        };
        store
            .create_store(t, new, &ACTOR)
            .await
            .expect("create store");
    }
    let numbers = |l: Vec<roster_core::Store>| l.iter().map(|s| s.number).collect::<Vec<_>>();
    assert_eq!(
        numbers(store.list_stores(&a, &page()).await.unwrap().items),
        [1, 2]
    );
    assert_eq!(
        numbers(store.list_stores(&b, &page()).await.unwrap().items),
        [1]
    );
    assert_eq!(store.get_store_by_code(&a, "S2").await.unwrap().number, 2);

    let c1 = company(store, &a, "One").await;
    let c2 = company(store, &a, "Two").await;
    let d1 = company(store, &b, "One").await;
    assert_eq!(store.get_company(&a, c1).await.unwrap().number, 1);
    assert_eq!(store.get_company(&a, c2).await.unwrap().number, 2);
    assert_eq!(store.get_company(&b, d1).await.unwrap().number, 1);
    assert_eq!(store.get_company_by_number(&a, 2).await.unwrap().id, c2);
    assert_eq!(
        store.tenant_of_company(d1).await.unwrap().as_deref(),
        Some("b")
    );
    let listed = store
        .list_companies(
            &a,
            &Page {
                after: None,
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!((listed.items.len(), listed.next.as_deref()), (1, Some("1")));
}

async fn user_emails_are_unique_case_insensitively(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let first = new_user(None, None, Some("Ana@Example.com"));
    let ana = store.create_user(&t, first, &ACTOR).await.unwrap();
    assert_eq!(ana.number, 1);
    let twin = new_user(None, None, Some("ana@example.COM"));
    match store.create_user(&t, twin, &ACTOR).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("email"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let (found, hash) = store
        .find_user_by_email(&t, "ANA@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, hash), (ana.id, None));
    // Another tenant may have the same email.
    let other = tenant(store, "other").await;
    let same = new_user(None, None, Some("ana@example.com"));
    store
        .create_user(&other, same, &ACTOR)
        .await
        .expect("same email in another tenant");
}

async fn tenants_are_isolated(store: &Arc<dyn Store>) {
    let (a, b) = (tenant(store, "a").await, tenant(store, "b").await);
    let c = company(store, &a, "One").await;
    let u = user(store, &a, c, None).await;
    assert!(store.get_user(&a, u).await.is_ok());
    assert!(matches!(
        store.get_user(&b, u).await,
        Err(StoreError::NotFound("user"))
    ));
    assert!(matches!(
        store.get_company(&b, c).await,
        Err(StoreError::NotFound("company"))
    ));
    let patch = UserPatch {
        status: Some(UserStatus::Inactive),
        ..UserPatch::default()
    };
    assert!(matches!(
        store.update_user(&b, u.into(), patch, &ACTOR).await,
        Err(StoreError::NotFound(_))
    ));
    // A user of tenant b cannot name tenant a's company.
    let stray = new_user(Some(c), None, None);
    assert!(matches!(
        store.create_user(&b, stray, &ACTOR).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store
        .list_users(&b, &Default::default(), &page())
        .await
        .unwrap()
        .items
        .is_empty());
    // Nor its ids, nor a's users read by id (a listing's cache misses).
    assert!(store
        .list_user_ids(&b, &Default::default(), &page())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store.get_users(&b, &[u]).await.unwrap().is_empty());
    let own = store.get_users(&a, &[u, Uuid::now_v7()]).await.unwrap();
    assert_eq!(own.iter().map(|user| user.id).collect::<Vec<_>>(), [u]);
}

async fn contacts_keep_one_primary_per_type(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let u = store
        .create_user(&t, new_user(None, None, None), &ACTOR)
        .await
        .unwrap()
        .id;
    let email = |value: &str, is_primary| NewContact {
        contact_type: ContactType::Email,
        value: value.into(),
        source: Source::Reten,
        is_primary,
    };
    let one = store
        .add_contact(&t, u.into(), email("one@example.com", true), &ACTOR)
        .await
        .unwrap();
    let two = store
        .add_contact(&t, u.into(), email("two@example.com", true), &ACTOR)
        .await
        .unwrap();
    let primaries = |cs: &[roster_core::Contact]| {
        cs.iter()
            .filter(|c| c.is_primary)
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        primaries(&store.contacts_of(&t, &[u]).await.unwrap()),
        [two.id]
    );
    store
        .set_primary_contact(&t, u.into(), one.id, &ACTOR)
        .await
        .unwrap();
    assert_eq!(
        primaries(&store.contacts_of(&t, &[u]).await.unwrap()),
        [one.id]
    );
    // Deactivating drops the flag; an inactive contact cannot become primary.
    let off = ContactPatch {
        is_active: Some(false),
        ..ContactPatch::default()
    };
    let one = store
        .update_contact(&t, u.into(), one.id, off, &ACTOR)
        .await
        .unwrap();
    assert!(!one.is_primary && !one.is_active);
    let again = store
        .set_primary_contact(&t, u.into(), one.id, &ACTOR)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let bad = store
        .add_contact(&t, u.into(), email("not an email", false), &ACTOR)
        .await;
    assert_eq!(invalid_field(bad).0, "value");
}

async fn hierarchy_moves_follow_the_rules(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let (c1, c2) = (
        company(store, &t, "One").await,
        company(store, &t, "Two").await,
    );
    let top = user(store, &t, c1, None).await;
    let mid = user(store, &t, c1, Some(top)).await;
    let low = user(store, &t, c1, Some(mid)).await;
    let other = user(store, &t, c2, None).await;

    let own = store
        .update_user(&t, top.into(), move_to(Some(top)), &ACTOR)
        .await;
    assert_eq!(
        invalid_field(own),
        ("parent_id".into(), "a user cannot be its own parent".into())
    );
    let cycle = store
        .update_user(&t, top.into(), move_to(Some(low)), &ACTOR)
        .await;
    let (field, message) = invalid_field(cycle);
    assert_eq!(
        (field.as_str(), message.as_str()),
        ("parent_id", "would make the company hierarchy a cycle")
    );
    let foreign = store
        .update_user(&t, other.into(), move_to(Some(top)), &ACTOR)
        .await;
    assert_eq!(
        invalid_field(foreign).1,
        "must be a user of the same company"
    );
    let missing = store
        .update_user(&t, low.into(), move_to(Some(Uuid::now_v7())), &ACTOR)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound("parent user"))),
        "{missing:?}"
    );

    // A legal move, and the parent staying put on an unrelated change.
    let low_now = store
        .update_user(&t, low.into(), move_to(Some(top)), &ACTOR)
        .await
        .unwrap();
    assert_eq!(low_now.parent_id, Some(top));
    let renamed = UserPatch {
        profile: ProfilePatch {
            name: Some(Some("Low".into())),
            ..Default::default()
        },
        ..UserPatch::default()
    };
    assert_eq!(
        store
            .update_user(&t, low.into(), renamed, &ACTOR)
            .await
            .unwrap()
            .parent_id,
        Some(top)
    );

    // A chain deeper than the core's bound is refused.
    let mut chain = vec![top];
    for _ in 0..roster_core::rules::hierarchy::MAX_DEPTH {
        chain.push(user(store, &t, c1, chain.last().copied()).await);
    }
    let too_deep = store.create_user(&t, new_user(Some(c1), chain.last().copied(), None), &ACTOR);
    assert_eq!(
        invalid_field(too_deep.await).1,
        "the company hierarchy is too deep"
    );
}

async fn deleting_a_user_reparents_its_children(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let c = company(store, &t, "One").await;
    let top = user(store, &t, c, None).await;
    let mid = user(store, &t, c, Some(top)).await;
    let kids = [
        user(store, &t, c, Some(mid)).await,
        user(store, &t, c, Some(mid)).await,
    ];
    store.delete_user(&t, mid, &ACTOR).await.unwrap();
    assert!(matches!(
        store.get_user(&t, mid).await,
        Err(StoreError::NotFound("user"))
    ));
    for kid in kids {
        assert_eq!(store.get_user(&t, kid).await.unwrap().parent_id, Some(top));
    }
    // Deactivating re-parents too: the kids move up to the top's parent (none).
    let off = UserPatch {
        status: Some(UserStatus::Inactive),
        ..UserPatch::default()
    };
    store
        .update_user(&t, top.into(), off, &ACTOR)
        .await
        .unwrap();
    for kid in kids {
        assert_eq!(store.get_user(&t, kid).await.unwrap().parent_id, None);
    }
}

async fn a_deleted_owners_quotes_close_and_lock(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let c = company(store, &t, "One").await;
    let owner = user(store, &t, c, None).await;
    let new = NewQuote {
        company_id: c,
        owner_user_id: owner,
        reference: "Q-1".into(),
    };
    let quote = store.create_quote(&t, new, &ACTOR).await.unwrap();
    assert_eq!((quote.status, quote.locked), (QuoteStatus::Open, false));
    let renamed = QuotePatch {
        reference: Some("Q-1b".into()),
        status: None,
    };
    assert_eq!(
        store
            .update_quote(&t, quote.id, renamed, &ACTOR)
            .await
            .unwrap()
            .reference,
        "Q-1b"
    );

    store.delete_user(&t, owner, &ACTOR).await.unwrap();
    let closed = store.get_quote(&t, quote.id).await.unwrap();
    assert_eq!((closed.status, closed.locked), (QuoteStatus::Closed, true));
    let reopen = QuotePatch {
        reference: None,
        status: Some(QuoteStatus::Open),
    };
    let refused = store.update_quote(&t, quote.id, reopen, &ACTOR).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    // The company still has the quote, so it cannot be deleted.
    let kept = store.delete_company(&t, c, &ACTOR).await;
    assert!(matches!(kept, Err(StoreError::Conflict(_))), "{kept:?}");
}

async fn api_keys_authenticate_by_hash(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let grant = ApiKeyGrant::Permissions(vec![Permission::ViewUsers, Permission::ManageUsers]);
    let new = NewApiKey {
        name: "ci".into(),
        grant: grant.clone(),
        token_hash: "hash-1".into(),
    };
    let key = store.create_api_key(&t, new, &ACTOR).await.unwrap();
    let found = store
        .authenticate_api_key("hash-1")
        .await
        .unwrap()
        .expect("the key");
    assert_eq!((found.tenant.as_str(), found.key.id), ("acme", key.id));
    assert_eq!(found.key.grant, grant);
    assert!(store
        .authenticate_api_key("hash-2")
        .await
        .unwrap()
        .is_none());
    store.delete_api_key(&t, key.id, &ACTOR).await.unwrap();
    assert!(store
        .authenticate_api_key("hash-1")
        .await
        .unwrap()
        .is_none());
    let gone = store.delete_api_key(&t, key.id, &ACTOR).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");
}

async fn sessions_are_created_and_revoked(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let u = store
        .create_user(&t, new_user(None, None, None), &ACTOR)
        .await
        .unwrap()
        .id;
    let now = Utc::now();
    let new = NewSession {
        kind: SessionKind::Access,
        tenant: Some(t.clone()),
        user_id: Some(u),
        account_id: None,
        device_id: None,
        created_at: now,
        expires_at: now + Duration::hours(1),
    };
    let session = store.create_session(new).await.unwrap();
    let read = store
        .get_session(session.id)
        .await
        .unwrap()
        .expect("the session");
    assert_eq!((read.user_id, read.revoked_at), (Some(u), None));
    store.revoke_session(session.id, now).await.unwrap();
    let revoked = store.get_session(session.id).await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store.get_session(Uuid::now_v7()).await.unwrap().is_none());
}

async fn throttle_counters_count_and_restart(store: &Arc<dyn Store>) {
    let now = Utc::now();
    let window = Some(Duration::minutes(15));
    assert_eq!(
        store
            .record_failure("k", now, window)
            .await
            .unwrap()
            .failures,
        1
    );
    assert_eq!(
        store
            .record_failure("k", now, window)
            .await
            .unwrap()
            .failures,
        2
    );
    let later = now + Duration::minutes(16);
    let restarted = store.record_failure("k", later, window).await.unwrap();
    assert_eq!(restarted.failures, 1);
    store
        .lock_until("k", later + Duration::minutes(5))
        .await
        .unwrap();
    let keys = ["k".to_string(), "absent".to_string()];
    let read = store.throttles(&keys).await.unwrap();
    assert_eq!(read.len(), 1);
    assert!(read[0].locked_until.is_some());
    store.clear_failures("k").await.unwrap();
    assert!(store.throttles(&keys).await.unwrap().is_empty());
}

async fn invitations_are_accepted_once_by_their_email_before_expiry(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let account = |email: &str| NewAccount {
        email: email.into(),
        password_hash: "hash".into(),
        first_name: Some("Ana".into()),
        last_name: None,
    };
    let ana = store
        .create_account(account("ana@example.com"))
        .await
        .unwrap();
    let bob = store
        .create_account(account("bob@example.com"))
        .await
        .unwrap();
    let now = Utc::now();
    let invite = |token_hash: &str| NewInvitation {
        email: "Ana@Example.com".into(),
        tenant_role: roster_core::TenantRole::Backoffice,
        account_type: roster_core::AccountType::Regular,
        token_hash: token_hash.into(),
        created_at: now,
        expires_at: now + Duration::hours(1),
    };
    store
        .create_invitation(&t, invite("inv-1"), &ACTOR)
        .await
        .unwrap();
    let refused = |result: Result<roster_core::User, StoreError>| match result {
        Err(StoreError::Gone(m)) => (410, m),
        Err(StoreError::Forbidden(m)) => (403, m),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let nobody = || async {
        store
            .list_users(&t, &Default::default(), &page())
            .await
            .unwrap()
            .items
            .is_empty()
    };

    let other = store.accept_invitation("inv-1", &bob, now).await;
    assert_eq!(
        refused(other),
        (403, "the invitation is for another email".into())
    );
    let late = store
        .accept_invitation("inv-1", &ana, now + Duration::hours(1))
        .await;
    assert_eq!(refused(late), (410, "the invitation has expired".into()));
    assert!(nobody().await, "a refused acceptance makes no user");

    let user = store.accept_invitation("inv-1", &ana, now).await.unwrap();
    assert_eq!(user.account_id, Some(ana.id));
    assert_eq!(user.profile.email.as_deref(), Some("Ana@Example.com"));
    assert_eq!(user.roles.tenant, Some(roster_core::TenantRole::Backoffice));
    let again = store.accept_invitation("inv-1", &ana, now).await;
    assert_eq!(
        refused(again),
        (410, "the invitation was already used or revoked".into())
    );

    let revoked = store
        .create_invitation(&t, invite("inv-2"), &ACTOR)
        .await
        .unwrap();
    store
        .revoke_invitation(&t, revoked.id, now, &ACTOR)
        .await
        .unwrap();
    let after_revoke = store.accept_invitation("inv-2", &ana, now).await;
    assert_eq!(
        refused(after_revoke),
        (410, "the invitation was already used or revoked".into())
    );
    // Concurrent acceptances: one wins; the others see the locked row used.
    store
        .create_invitation(&t, invite("inv-3"), &ACTOR)
        .await
        .unwrap();
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let (store, ana) = (store.clone(), ana.clone());
            tokio::spawn(async move { store.accept_invitation("inv-3", &ana, now).await })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(user) => {
                assert_eq!(user.account_id, Some(ana.id));
                won += 1;
            }
            refusal => assert_eq!(
                refused(refusal),
                (410, "the invitation was already used or revoked".into())
            ),
        }
    }
    assert_eq!(won, 1);
    let unknown = store.accept_invitation("inv-9", &ana, now).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound("invitation"))),
        "{unknown:?}"
    );
}

fn email_contact(value: &str) -> NewContact {
    NewContact {
        contact_type: ContactType::Email,
        value: value.into(),
        source: Source::Reten,
        is_primary: true,
    }
}

fn renamed(name: &str) -> UserPatch {
    UserPatch {
        profile: ProfilePatch {
            name: Some(Some(name.into())),
            ..ProfilePatch::default()
        },
        ..UserPatch::default()
    }
}

/// What a refused write must leave as it was: the user, its contacts and
/// the tenant's audit trail.
async fn snapshot(
    store: &Arc<dyn Store>,
    t: &str,
    user: Uuid,
) -> (roster_core::User, Vec<roster_core::Contact>, usize) {
    let events = store.list_events(t, &page()).await.unwrap().items.len();
    (
        store.get_user(t, user).await.unwrap(),
        store.contacts_of(t, &[user]).await.unwrap(),
        events,
    )
}

/// Every write made within a company refuses `target` as not found, before
/// looking at anything else, and changes nothing.
async fn each_write_refuses(store: &Arc<dyn Store>, t: &str, target: UserRef, contact: Uuid) {
    let before = snapshot(store, t, target.id).await;
    let off = ContactPatch {
        is_active: Some(false),
        ..ContactPatch::default()
    };
    let results = [
        (
            "update_user",
            store
                .update_user(t, target, renamed("Moved?"), &ACTOR)
                .await
                .map(drop),
        ),
        (
            "add_commerce_role",
            store
                .add_commerce_role(t, target, CommerceRole::Orders, &ACTOR)
                .await
                .map(drop),
        ),
        (
            "remove_commerce_role",
            store
                .remove_commerce_role(t, target, CommerceRole::Owner, &ACTOR)
                .await
                .map(drop),
        ),
        (
            "add_contact",
            store
                .add_contact(t, target, email_contact("new@example.com"), &ACTOR)
                .await
                .map(drop),
        ),
        (
            "update_contact",
            store
                .update_contact(t, target, contact, off, &ACTOR)
                .await
                .map(drop),
        ),
        (
            "set_primary_contact",
            store
                .set_primary_contact(t, target, contact, &ACTOR)
                .await
                .map(drop),
        ),
    ];
    for (write, result) in results {
        assert!(
            matches!(result, Err(StoreError::NotFound("user"))),
            "{write}: {result:?}"
        );
    }
    assert_eq!(
        snapshot(store, t, target.id).await,
        before,
        "nothing changed"
    );
}

async fn writes_within_a_company_need_the_user_there(store: &Arc<dyn Store>) {
    let t = tenant(store, "acme").await;
    let (c1, c2) = (
        company(store, &t, "One").await,
        company(store, &t, "Two").await,
    );
    let u = user(store, &t, c1, None).await;
    let in_one = UserRef::within(u, Some(c1));
    store
        .add_commerce_role(&t, in_one, CommerceRole::Owner, &ACTOR)
        .await
        .unwrap();
    let first = store
        .add_contact(&t, in_one, email_contact("first@example.com"), &ACTOR)
        .await
        .unwrap();

    // Another company's: refused.
    each_write_refuses(store, &t, UserRef::within(u, Some(c2)), first.id).await;
    // A user in no company: refused, whatever contact is named.
    let loner = store
        .create_user(&t, new_user(None, None, None), &ACTOR)
        .await
        .unwrap()
        .id;
    each_write_refuses(store, &t, UserRef::within(loner, Some(c1)), Uuid::now_v7()).await;

    // Moved to company two (by a write within company one): no longer one's.
    let to_two = UserPatch {
        company_id: Some(Some(c2)),
        ..UserPatch::default()
    };
    let moved = store.update_user(&t, in_one, to_two, &ACTOR).await.unwrap();
    assert_eq!(moved.company_id, Some(c2));
    each_write_refuses(store, &t, in_one, first.id).await;

    // Within the company it is in, each write goes through.
    let in_two = UserRef::within(u, Some(c2));
    let named = store
        .update_user(&t, in_two, renamed("Two's"), &ACTOR)
        .await
        .unwrap();
    assert_eq!(named.profile.name.as_deref(), Some("Two's"));
    let granted = store
        .add_commerce_role(&t, in_two, CommerceRole::Finance, &ACTOR)
        .await
        .unwrap();
    assert_eq!(granted.roles.commerce, [CommerceRole::Finance]);
    let taken = store
        .remove_commerce_role(&t, in_two, CommerceRole::Finance, &ACTOR)
        .await
        .unwrap();
    assert!(taken.roles.commerce.is_empty());
    let second = store
        .add_contact(&t, in_two, email_contact("second@example.com"), &ACTOR)
        .await
        .unwrap();
    assert!(second.is_primary);
    let primary = store
        .set_primary_contact(&t, in_two, first.id, &ACTOR)
        .await
        .unwrap();
    assert!(primary.is_primary);
    let off = ContactPatch {
        is_active: Some(false),
        ..ContactPatch::default()
    };
    let retired = store
        .update_contact(&t, in_two, second.id, off, &ACTOR)
        .await
        .unwrap();
    assert!(!retired.is_active);
    // Named by id alone, any company will do.
    store
        .update_user(&t, u.into(), renamed("Anyone's"), &ACTOR)
        .await
        .unwrap();
}

/// Concurrent writes (on SQLite sharing one commit) each succeed or fail on
/// their own: a duplicate among them fails alone, leaving no trace but, on
/// PostgreSQL, the number it took (no audit event), and every success is
/// there after.
async fn concurrent_writes_succeed_or_fail_alone(store: &Arc<dyn Store>, expected: Numbers) {
    let t = tenant(store, "acme").await;
    let emails: Vec<String> = (0..30)
        .map(|i| format!("user{i}@example.com"))
        .chain((0..10).map(|_| "twin@example.com".to_string()))
        .collect();
    let writes = emails.iter().map(|email| {
        let store = store.clone();
        let t = t.clone();
        let new = new_user(None, None, Some(email));
        tokio::spawn(async move { store.create_user(&t, new, &ACTOR).await })
    });
    let outcomes: Vec<_> = futures::future::join_all(writes)
        .await
        .into_iter()
        .map(|joined| joined.expect("the write task"))
        .collect();
    let created: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!((created.len(), conflicts), (31, 9), "{outcomes:?}");
    let mut numbers: Vec<i64> = created.iter().map(|u| u.number).collect();
    numbers.sort();
    match expected {
        Numbers::Dense => assert_eq!(numbers, (1..=31).collect::<Vec<_>>(), "no number lost"),
        Numbers::MayGap => {
            numbers.dedup();
            assert_eq!(numbers.len(), 31, "every number unique: {numbers:?}");
            assert!(numbers.iter().all(|n| (1..=40).contains(n)), "{numbers:?}");
        }
    }
    let listed = store
        .list_users(
            &t,
            &Default::default(),
            &Page {
                after: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 31);
    let events = store
        .list_events(
            &t,
            &Page {
                after: None,
                limit: 500,
            },
        )
        .await
        .unwrap();
    let user_events = events
        .items
        .iter()
        .filter(|e| e.action == "user.created")
        .count();
    assert_eq!(user_events, 31, "failed writes leave no audit event");
}
