//! Groups (SPEC §8): a tenant's or one company's named set of users
//! carrying role grants. Reads need VIEW_USERS, writes MANAGE_USERS, and a
//! group's grants follow *grant only what you hold*: making or changing a
//! group, or adding a member, needs everything the group confers
//! (`conferred_by_group`). A scope confined to a company (a company's SCIM
//! token) sees and writes only that company's groups.

use roster_core::permission::GroupGrants;
use roster_core::rules::authority::conferred_by_group;
use roster_core::rules::group::{self, GroupGrantsDraft};
use roster_core::{CommerceRole, FieldError, Group, GroupMember, Permission, TenantRole};
use roster_store::{GroupFilter, GroupPatch, Listed, MemberChange, NewGroup, Page};
use uuid::Uuid;

use crate::caller::Scope;
use crate::error::{AppError, AppResult};
use crate::App;

/// The most members one request may add, remove or set.
pub const MAX_MEMBERS_PER_CHANGE: usize = 10_000;

/// A group to make, as a surface parsed it.
#[derive(Debug, Clone, Default)]
pub struct GroupDraft {
    pub name: String,
    pub company_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub tenant_role: Option<TenantRole>,
    pub roles: Vec<CommerceRole>,
    pub store_ids: Vec<String>,
    pub members: Vec<Uuid>,
}

/// A change to a group; `None` leaves a field as it is, member changes
/// apply in order.
#[derive(Debug, Clone, Default)]
pub struct GroupChange {
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
    pub tenant_role: Option<Option<TenantRole>>,
    pub roles: Option<Vec<CommerceRole>>,
    pub store_ids: Option<Vec<String>>,
    pub members: Vec<MemberChange>,
}

impl GroupChange {
    fn adds_members(&self) -> bool {
        self.members.iter().any(|c| match c {
            MemberChange::Add(users) | MemberChange::Replace(users) => !users.is_empty(),
            MemberChange::Remove(_) => false,
        })
    }

    fn changes_grants(&self) -> bool {
        self.tenant_role.is_some() || self.roles.is_some() || self.store_ids.is_some()
    }
}

/// A tenant's groups.
pub struct Groups<'a> {
    app: &'a App,
}

impl App {
    /// A tenant's groups and their members.
    pub fn groups(&self) -> Groups<'_> {
        Groups { app: self }
    }
}

fn checked_name(name: &str) -> AppResult<String> {
    group::name(name).map_err(|m| AppError::field("name", m))
}

fn checked_members(changes: &[MemberChange]) -> AppResult<()> {
    let total: usize = changes
        .iter()
        .map(|c| match c {
            MemberChange::Add(u) | MemberChange::Remove(u) | MemberChange::Replace(u) => u.len(),
        })
        .sum();
    if total > MAX_MEMBERS_PER_CHANGE {
        return Err(AppError::field(
            "members",
            format!("at most {MAX_MEMBERS_PER_CHANGE} members per request"),
        ));
    }
    Ok(())
}

fn grants_of(name: &str, company_id: Option<Uuid>, draft: &GroupGrantsDraft) -> GroupGrants {
    GroupGrants {
        name: name.to_string(),
        company_id,
        tenant_role: draft.tenant_role,
        commerce_roles: draft.roles.clone(),
        store_ids: draft.store_ids.clone(),
    }
}

impl Groups<'_> {
    /// Makes a group (MANAGE_USERS), with its first members.
    pub async fn create(&self, scope: &Scope, draft: GroupDraft) -> AppResult<Group> {
        scope.require(Permission::ManageUsers)?;
        let company_id = match (scope.company(), draft.company_id) {
            (Some(own), Some(asked)) if own != asked => {
                return Err(AppError::NotFound("company not found".into()))
            }
            (Some(own), _) => Some(own),
            (None, asked) => asked,
        };
        checked_members(&[MemberChange::Add(draft.members.clone())])?;
        let mut errors = Vec::new();
        let name = group::name(&draft.name)
            .map_err(|m| errors.push(FieldError::new("name", m)))
            .ok();
        let external_id = match draft.external_id.as_deref().map(group::external_id) {
            Some(Err(m)) => {
                errors.push(FieldError::new("external_id", m));
                None
            }
            Some(Ok(id)) => Some(id),
            None => None,
        };
        let grants = group::grants(GroupGrantsDraft {
            tenant_role: draft.tenant_role,
            roles: draft.roles,
            store_ids: draft.store_ids,
        })
        .map_err(|e| errors.extend(e))
        .ok();
        let (Some(name), Some(grants)) = (name, grants) else {
            return Err(AppError::Invalid(errors));
        };
        scope.may_confer(&conferred_by_group(&grants_of(&name, company_id, &grants)))?;
        Ok(self
            .app
            .store
            .create_group(
                scope.tenant(),
                NewGroup {
                    name,
                    company_id,
                    external_id,
                    grants,
                    members: draft.members,
                },
                scope.actor(),
            )
            .await?)
    }

    /// A group (VIEW_USERS); outside the scope's company it is not found.
    pub async fn get(&self, scope: &Scope, id: Uuid) -> AppResult<Group> {
        scope.require(Permission::ViewUsers)?;
        self.visible(scope, id).await
    }

    async fn visible(&self, scope: &Scope, id: Uuid) -> AppResult<Group> {
        let group = self.app.store.get_group(scope.tenant(), id).await?;
        match scope.company() {
            Some(own) if group.company_id != Some(own) => {
                Err(AppError::NotFound("group not found".into()))
            }
            _ => Ok(group),
        }
    }

    /// A page of groups (VIEW_USERS), confined to the scope's company.
    pub async fn list(
        &self,
        scope: &Scope,
        mut filter: GroupFilter,
        page: &Page,
    ) -> AppResult<Listed<Group>> {
        scope.require(Permission::ViewUsers)?;
        if !self.confine(scope, &mut filter) {
            return Ok(Listed {
                items: Vec::new(),
                next: None,
            });
        }
        Ok(self
            .app
            .store
            .list_groups(scope.tenant(), &filter, page)
            .await?)
    }

    /// How many groups `filter` matches (VIEW_USERS), within the scope.
    pub async fn count(&self, scope: &Scope, mut filter: GroupFilter) -> AppResult<i64> {
        scope.require(Permission::ViewUsers)?;
        if !self.confine(scope, &mut filter) {
            return Ok(0);
        }
        Ok(self.app.store.count_groups(scope.tenant(), &filter).await?)
    }

    /// Confines `filter` to the scope's company; false when it asks for
    /// another company's groups (none are visible).
    fn confine(&self, scope: &Scope, filter: &mut GroupFilter) -> bool {
        match (scope.company(), filter.company) {
            (Some(own), Some(asked)) if own != asked => false,
            (Some(own), _) => {
                filter.company = Some(own);
                true
            }
            (None, _) => true,
        }
    }

    /// Changes a group (MANAGE_USERS). New grants, or new members, need
    /// everything the group then confers.
    pub async fn update(&self, scope: &Scope, id: Uuid, change: GroupChange) -> AppResult<Group> {
        scope.require(Permission::ManageUsers)?;
        let current = self.visible(scope, id).await?;
        checked_members(&change.members)?;
        let name = change.name.as_deref().map(checked_name).transpose()?;
        let external_id = match change.external_id.clone() {
            Some(Some(id)) => Some(Some(
                group::external_id(&id).map_err(|m| AppError::field("external_id", m))?,
            )),
            other => other,
        };
        let grants = if change.changes_grants() {
            let draft = GroupGrantsDraft {
                tenant_role: change.tenant_role.unwrap_or(current.tenant_role),
                roles: change
                    .roles
                    .clone()
                    .unwrap_or_else(|| current.roles.clone()),
                store_ids: change
                    .store_ids
                    .clone()
                    .unwrap_or_else(|| current.store_ids.clone()),
            };
            Some(group::grants(draft).map_err(AppError::Invalid)?)
        } else {
            None
        };
        if grants.is_some() || change.adds_members() {
            let next = grants.clone().unwrap_or_else(|| GroupGrantsDraft {
                tenant_role: current.tenant_role,
                roles: current.roles.clone(),
                store_ids: current.store_ids.clone(),
            });
            let name = name.as_deref().unwrap_or(&current.name);
            scope.may_confer(&conferred_by_group(&grants_of(
                name,
                current.company_id,
                &next,
            )))?;
        }
        Ok(self
            .app
            .store
            .update_group(
                scope.tenant(),
                id,
                GroupPatch {
                    name,
                    external_id,
                    grants,
                    members: change.members,
                },
                scope.actor(),
            )
            .await?)
    }

    /// Deletes a group (MANAGE_USERS): its members lose what it granted on
    /// their next request.
    pub async fn delete(&self, scope: &Scope, id: Uuid) -> AppResult<()> {
        scope.require(Permission::ManageUsers)?;
        self.visible(scope, id).await?;
        Ok(self
            .app
            .store
            .delete_group(scope.tenant(), id, scope.actor())
            .await?)
    }

    /// A page of a group's members (VIEW_USERS).
    pub async fn members(
        &self,
        scope: &Scope,
        id: Uuid,
        page: &Page,
    ) -> AppResult<Listed<GroupMember>> {
        scope.require(Permission::ViewUsers)?;
        self.visible(scope, id).await?;
        Ok(self
            .app
            .store
            .group_members(scope.tenant(), id, page)
            .await?)
    }
}
