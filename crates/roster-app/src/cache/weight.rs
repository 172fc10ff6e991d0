//! What a cached entry weighs, roughly, in bytes: the caches are bounded by
//! bytes (moka's weigher), not by their number of entries, so a tenant of a
//! million users with long names and many stores cannot grow them past
//! their budget. The estimate counts the value's own size, its strings and
//! lists, and a fixed overhead per entry for moka's bookkeeping; it leaves
//! out allocator slack, which the per-entry overhead roughly covers.

use std::mem::size_of;
use std::sync::Arc;

use roster_core::permission::{Coverage, Grant, Subject};
use roster_core::{ApiKeyGrant, Session, User};
use roster_store::{ApiKeyIdentity, DeviceIdentity};
use uuid::Uuid;

use super::{Known, OfUser, Place};

/// moka's bookkeeping per entry (its key and value `Arc`s, the access
/// order's node, the timer wheel's), measured in the hundreds of bytes.
const ENTRY_OVERHEAD: usize = 192;

/// Bytes beyond `size_of` a value owns.
pub(super) trait Weigh {
    fn owned(&self) -> usize;
}

/// An entry's weight for moka: key and value, owned bytes and overhead.
pub(super) fn weight<K: Weigh, V: Weigh>(key: &K, value: &V) -> u32 {
    let bytes = size_of::<K>() + key.owned() + size_of::<V>() + value.owned() + ENTRY_OVERHEAD;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

fn text(s: &str) -> usize {
    s.len()
}

fn maybe(s: &Option<String>) -> usize {
    s.as_deref().map_or(0, text)
}

fn texts(list: &[String]) -> usize {
    size_of_val(list) + list.iter().map(|s| text(s)).sum::<usize>()
}

impl Weigh for String {
    fn owned(&self) -> usize {
        text(self)
    }
}

impl Weigh for Uuid {
    fn owned(&self) -> usize {
        0
    }
}

impl Weigh for u64 {
    fn owned(&self) -> usize {
        0
    }
}

impl Weigh for Arc<ApiKeyIdentity> {
    fn owned(&self) -> usize {
        let permissions = match &self.key.grant {
            ApiKeyGrant::Permissions(list) => list.len() * size_of::<roster_core::Permission>(),
            ApiKeyGrant::User(_) => 0,
        };
        size_of::<ApiKeyIdentity>() + text(&self.tenant) + text(&self.key.name) + permissions
    }
}

impl Weigh for Arc<DeviceIdentity> {
    fn owned(&self) -> usize {
        size_of::<DeviceIdentity>()
            + text(&self.tenant)
            + text(&self.device.name)
            + maybe(&self.device.store_id)
    }
}

impl Weigh for Arc<Session> {
    fn owned(&self) -> usize {
        size_of::<Session>() + maybe(&self.tenant)
    }
}

impl Weigh for Place {
    fn owned(&self) -> usize {
        text(&self.tenant) + maybe(&self.store)
    }
}

impl<V: Weigh> Weigh for OfUser<V> {
    fn owned(&self) -> usize {
        text(&self.tenant) + self.value.owned()
    }
}

fn subject(s: &Subject) -> usize {
    let groups: usize = s
        .groups
        .iter()
        .map(|g| {
            size_of_val(g)
                + text(&g.name)
                + g.commerce_roles.len() * size_of::<roster_core::CommerceRole>()
                + texts(&g.store_ids)
        })
        .sum();
    s.commerce_roles.len() * size_of::<roster_core::CommerceRole>() + texts(&s.store_ids) + groups
}

fn grant(g: &Grant) -> usize {
    let coverage = match &g.coverage {
        Coverage::Stores(stores) => texts(stores),
        _ => 0,
    };
    size_of::<Grant>() + text(&g.source) + coverage
}

impl Weigh for Arc<Known> {
    fn owned(&self) -> usize {
        size_of::<Known>() + subject(&self.subject) + self.grants.iter().map(grant).sum::<usize>()
    }
}

impl Weigh for Arc<User> {
    fn owned(&self) -> usize {
        let p = &self.profile;
        let profile: usize = [
            &p.name,
            &p.first_name,
            &p.middle_name,
            &p.last_name,
            &p.display_name,
            &p.email,
            &p.login,
            &p.user_code,
            &p.mobile,
            &p.country_code,
            &p.telephone,
            &p.job_title,
            &p.language_code,
        ]
        .into_iter()
        .map(maybe)
        .sum();
        size_of::<User>()
            + profile
            + maybe(&self.external_id)
            + maybe(&self.default_store_id)
            + self.roles.commerce.len() * size_of::<roster_core::CommerceRole>()
            + texts(&self.store_ids)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use roster_core::{AccountType, Profile, Roles, UserStatus};

    use super::super::{Entry, Kept};
    use super::*;

    fn user(i: usize, name_len: usize) -> Arc<User> {
        let at = chrono::Utc::now();
        Arc::new(User {
            id: Uuid::now_v7(),
            number: i as i64,
            company_id: None,
            parent_id: None,
            profile: Profile {
                name: Some("n".repeat(name_len)),
                email: Some(format!("user-{i}@example.com")),
                ..Profile::default()
            },
            external_id: None,
            source: None,
            status: UserStatus::Active,
            account_type: AccountType::Regular,
            default_store_id: None,
            account_id: None,
            has_password: false,
            roles: Roles::default(),
            store_ids: (0..5).map(|s| format!("store-{s}")).collect(),
            created_at: at,
            updated_at: at,
            last_accessed_at: None,
        })
    }

    #[test]
    fn a_users_weight_grows_with_what_it_holds() {
        let of = |u| OfUser {
            tenant: "acme".to_string(),
            value: u,
        };
        let small = weight(&Uuid::nil(), &of(user(1, 10)));
        let large = weight(&Uuid::nil(), &of(user(1, 10_010)));
        assert!((300..2_000).contains(&small), "a small user weighs {small}");
        assert_eq!(large - small, 10_000, "each byte of a name counts");
    }

    /// However many users pass through, the cache holds its budget's worth:
    /// bigger users mean fewer of them.
    #[test]
    fn a_cache_holds_its_budget_not_a_count() {
        let budget = 256 * 1024;
        let kept: Kept<Uuid, OfUser<Arc<User>>> =
            Kept::new("users", Duration::from_secs(60), budget);
        let mut stored = 0u64;
        for i in 0..5_000 {
            let value = OfUser {
                tenant: "acme".to_string(),
                value: user(i, 1_000),
            };
            stored += u64::from(weight(&Uuid::nil(), &value));
            kept.entries.insert(Uuid::now_v7(), Entry { at: 0, value });
        }
        kept.entries.run_pending_tasks();
        assert!(stored > 10 * budget, "the test stores more than the budget");
        assert!(
            kept.entries.weighted_size() <= budget,
            "{} bytes kept in a budget of {budget}",
            kept.entries.weighted_size()
        );
        let held = kept.entries.entry_count();
        assert!(held > 0 && held < 5_000 / 10, "{held} users kept");
    }
}
