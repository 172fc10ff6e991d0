//! Groups: named sets of a tenant's (or one company's) users carrying role
//! grants (SPEC §8), and their members.

use async_trait::async_trait;
use roster_core::rules::group::GroupGrantsDraft;
use roster_core::{Actor, Group, GroupMember};
use uuid::Uuid;

use crate::user_query::{Op, Value};
use crate::{Listed, Page, Result};

/// A group to create, its name and grants already checked by the core.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub company_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub grants: GroupGrantsDraft,
    /// Its first members: users of the tenant, or of the company.
    pub members: Vec<Uuid>,
}

/// A change of members, applied in order within one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// Adds these users (members already are stay, once).
    Add(Vec<Uuid>),
    /// Removes these users (non-members are ignored).
    Remove(Vec<Uuid>),
    /// Makes these users the only members.
    Replace(Vec<Uuid>),
}

/// A change to a group; `None` leaves a field as it is. Applied in one
/// transaction, so a SCIM PATCH of several operations is all or nothing.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
    /// A group's grants, whole (the core checked them).
    pub grants: Option<GroupGrantsDraft>,
    pub members: Vec<MemberChange>,
}

/// Which groups a list shows: all the tenant's, one company's, the one
/// with this id, those named so (without case) or with this external id,
/// or those a user is in; every condition given holds.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    pub company: Option<Uuid>,
    pub id: Option<Uuid>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub member: Option<Uuid>,
    /// A directory's filter (SCIM).
    pub condition: Option<GroupCondition>,
    /// Without a cursor: the order, and how many groups to skip (SCIM's
    /// `sortBy` and `startIndex`). A cursor pages by id.
    pub order: GroupOrder,
    pub descending: bool,
    pub offset: i64,
}

/// A field of a group a condition can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupField {
    Id,
    /// The name, compared without case.
    Name,
    ExternalId,
    CreatedAt,
    UpdatedAt,
}

/// A condition a group meets or not (a SCIM filter on Groups), each one SQL
/// over the groups table and its members, never a filter in memory.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupCondition {
    Const(bool),
    And(Box<GroupCondition>, Box<GroupCondition>),
    Or(Box<GroupCondition>, Box<GroupCondition>),
    Not(Box<GroupCondition>),
    Compare(GroupField, Op, Value),
    /// The field has a non-empty value.
    Present(GroupField),
    /// Some member's user id compares so with the text; `None`: the group
    /// has a member.
    Member(Option<(Op, String)>),
}

/// The order of a list of groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupOrder {
    /// By id: the order they were made in.
    #[default]
    Made,
    /// By name, without case.
    Name,
}

/// A tenant's groups.
#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    /// Creates a group (409 when its name, without case, is taken in its
    /// tenant or company, or its external id in the tenant). Every member
    /// must be a user of the tenant, and of the group's company if it has
    /// one (else `Invalid` on `members`).
    async fn create_group(&self, tenant: &str, new: NewGroup, actor: &Actor) -> Result<Group>;
    async fn get_group(&self, tenant: &str, id: Uuid) -> Result<Group>;
    /// A page of groups, oldest first.
    async fn list_groups(
        &self,
        tenant: &str,
        filter: &GroupFilter,
        page: &Page,
    ) -> Result<Listed<Group>>;
    /// How many groups `filter` matches.
    async fn count_groups(&self, tenant: &str, filter: &GroupFilter) -> Result<i64>;
    /// Changes a group; a change that changes nothing writes nothing. A
    /// member must be a user as for [`GroupStore::create_group`].
    async fn update_group(
        &self,
        tenant: &str,
        id: Uuid,
        patch: GroupPatch,
        actor: &Actor,
    ) -> Result<Group>;
    /// Deletes a group: its members lose what it granted.
    async fn delete_group(&self, tenant: &str, id: Uuid, actor: &Actor) -> Result<()>;
    /// A page of a group's members, in the order they were added.
    async fn group_members(
        &self,
        tenant: &str,
        id: Uuid,
        page: &Page,
    ) -> Result<Listed<GroupMember>>;
}
