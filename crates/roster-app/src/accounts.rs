//! Self-service for signed-in users and accounts (seed 003): the global
//! account, its tenants, and the caller's own tenant user.

use roster_core::UserPatch;
use roster_core::{Account, Actor, Tenant, User};

use crate::caller::Caller;
use crate::error::{AppError, AppResult};
use crate::passwords::{context_of, NewPassword};
use crate::App;

/// The caller's global account and the tenants it belongs to.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    /// `None` for a user with no linked account.
    pub account: Option<Account>,
    /// The tenant the caller signed into, for a user's access token.
    pub signed_into: Option<Tenant>,
    /// Every tenant the account has a user in (the user's own tenant when
    /// it has no account).
    pub tenants: Vec<Tenant>,
}

/// Self-service.
pub struct Accounts<'a> {
    app: &'a App,
}

impl App {
    /// Self-service for signed-in users and accounts.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { app: self }
    }
}

fn signed_in_only() -> AppError {
    AppError::Forbidden("this endpoint is for signed-in users: use an access or auth token".into())
}

impl Accounts<'_> {
    /// The account behind a signed-in caller, and the tenant of an access
    /// token.
    async fn account_of(&self, caller: &Caller) -> AppResult<(Option<Account>, Option<String>)> {
        let store = &self.app.store;
        match caller {
            Caller::Account { account, .. } => Ok((Some(store.get_account(*account).await?), None)),
            Caller::User { tenant, user, .. } => {
                let user = store.get_user(tenant, *user).await?;
                let account = match user.account_id {
                    Some(id) => Some(store.get_account(id).await?),
                    None => None,
                };
                Ok((account, Some(tenant.clone())))
            }
            Caller::Admin | Caller::ApiKey { .. } => Err(signed_in_only()),
        }
    }

    async fn info(
        &self,
        account: Option<Account>,
        tenant: Option<String>,
    ) -> AppResult<AccountInfo> {
        let store = &self.app.store;
        let signed_into = match &tenant {
            Some(uid) => Some(store.get_tenant(uid).await?),
            None => None,
        };
        let tenants = match &account {
            Some(account) => store.tenants_of_account(account.id).await?,
            None => signed_into.iter().cloned().collect(),
        };
        Ok(AccountInfo {
            account,
            signed_into,
            tenants,
        })
    }

    /// The caller's account and tenants.
    pub async fn get(&self, caller: &Caller) -> AppResult<AccountInfo> {
        let (account, tenant) = self.account_of(caller).await?;
        self.info(account, tenant).await
    }

    /// Sets the account's default tenant, one it belongs to (404 otherwise;
    /// 403 for a user with no account).
    pub async fn set_default_tenant(
        &self,
        caller: &Caller,
        tenant: &str,
    ) -> AppResult<AccountInfo> {
        let (account, signed_into) = self.account_of(caller).await?;
        let account =
            account.ok_or_else(|| AppError::Forbidden("this user has no global account".into()))?;
        let updated = self
            .app
            .store
            .set_default_tenant(account.id, tenant)
            .await?;
        self.info(Some(updated), signed_into).await
    }

    /// The caller's user in `tenant`: its own (access token) or its
    /// account's there (auth token).
    pub async fn tenant_user(&self, caller: &Caller, tenant: &str) -> AppResult<User> {
        let store = &self.app.store;
        match caller {
            Caller::User {
                tenant: own, user, ..
            } if own == tenant => Ok(store.get_user(tenant, *user).await?),
            Caller::User { .. } => Err(AppError::NotFound("tenant not found".into())),
            Caller::Account { account, .. } => store
                .user_of_account(tenant, *account)
                .await?
                .ok_or_else(|| AppError::NotFound("the account has no user in this tenant".into())),
            Caller::Admin | Caller::ApiKey { .. } => Err(signed_in_only()),
        }
    }

    /// Changes the caller's own user in `tenant`: profile fields, default
    /// store (one the user may use) and password. Grants nothing, so needs
    /// no permission.
    pub async fn update_tenant_user(
        &self,
        caller: &Caller,
        tenant: &str,
        mut patch: UserPatch,
        password: Option<NewPassword>,
    ) -> AppResult<User> {
        let user = self.tenant_user(caller, tenant).await?;
        let actor = match caller {
            Caller::Account { account, .. } => Actor::Account(*account),
            _ => Actor::User(user.id),
        };
        // Self-service changes only the profile, the default store and the
        // password: never roles, stores, status or company.
        let patch_is_self_service = patch.company_id.is_none()
            && patch.parent_id.is_none()
            && patch.status.is_none()
            && patch.account_type.is_none()
            && patch.account_id.is_none()
            && patch.tenant_role.is_none()
            && patch.partner_role.is_none()
            && patch.commerce_roles.is_none()
            && patch.org_role.is_none()
            && patch.store_ids.is_none();
        if !patch_is_self_service {
            return Err(AppError::Forbidden(
                "a user may change only its own profile, default store and password".into(),
            ));
        }
        if let Some(Some(store)) = &patch.default_store_id {
            let usable = self.app.store.get_store(tenant, store).await.is_ok()
                && (user.store_ids.is_empty() || user.store_ids.contains(store));
            if !usable {
                return Err(AppError::field(
                    "defaultStoreUid",
                    "is not a store this user may use",
                ));
            }
        }
        let next = patch.clone().apply_to(&user);
        patch.password_hash = match password {
            Some(password) => Some(
                self.app
                    .passwords
                    .hash_new(password, context_of(&next.profile))
                    .await?,
            ),
            None => None,
        };
        Ok(self
            .app
            .store
            .update_user(tenant, user.id.into(), patch, &actor)
            .await?)
    }
}
