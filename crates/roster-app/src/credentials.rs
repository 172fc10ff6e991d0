//! Machine credentials (API keys), devices and global accounts.

use roster_core::rules::authority::{conferred_by_key, newly_conferred, user_grants};
use roster_core::{secret, validate, Account, ApiKey, ApiKeyGrant, Device, Permission, Session};
use roster_store::{Listed, NewApiKey, NewDevice, Page};
use uuid::Uuid;

use crate::caller::{Caller, Scope};
use crate::error::{AppError, AppResult};
use crate::passwords::NewPassword;
use crate::App;

/// A credential just made, with its secret token: the only time it is shown.
#[derive(Clone)]
pub struct Issued<T> {
    pub record: T,
    pub token: String,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Issued<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("record", &self.record)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A global account to create.
#[derive(Debug, Clone)]
pub struct AccountDraft {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password: NewPassword,
}

/// API keys, devices and global accounts.
pub struct Credentials<'a> {
    app: &'a App,
}

impl App {
    /// API keys, devices and global accounts.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials { app: self }
    }
}

impl Credentials<'_> {
    /// Makes an API key (MANAGE_API_KEYS). Grant only what you hold: a key
    /// with permissions needs the caller to hold each of them; a key bound to
    /// a user needs the caller to hold everything that user holds.
    pub async fn create_api_key(
        &self,
        scope: &Scope,
        name: String,
        grant: ApiKeyGrant,
    ) -> AppResult<Issued<ApiKey>> {
        scope.require(Permission::ManageApiKeys)?;
        let name = validate::text(&name, 255).map_err(|m| AppError::field("name", m))?;
        let conferred = match &grant {
            ApiKeyGrant::Permissions(permissions) => conferred_by_key(permissions),
            ApiKeyGrant::User(user) => {
                let user = self.app.store.get_user(scope.tenant(), *user).await?;
                newly_conferred(
                    &[],
                    &user_grants(
                        user.status,
                        user.account_type,
                        user.company_id,
                        &user.roles,
                        &user.store_ids,
                    ),
                )
            }
        };
        scope.may_confer(&conferred)?;
        let (token, token_hash) = secret::new_token("rk");
        let key = self
            .app
            .store
            .create_api_key(
                scope.tenant(),
                NewApiKey {
                    name,
                    grant,
                    token_hash,
                },
                scope.actor(),
            )
            .await?;
        Ok(Issued { record: key, token })
    }

    /// Lists API keys, without their tokens (MANAGE_API_KEYS).
    pub async fn list_api_keys(&self, scope: &Scope, page: &Page) -> AppResult<Listed<ApiKey>> {
        scope.require(Permission::ManageApiKeys)?;
        Ok(self.app.store.list_api_keys(scope.tenant(), page).await?)
    }

    /// Revokes an API key at once (MANAGE_API_KEYS).
    pub async fn delete_api_key(&self, scope: &Scope, id: Uuid) -> AppResult<()> {
        scope.require(Permission::ManageApiKeys)?;
        Ok(self
            .app
            .store
            .delete_api_key(scope.tenant(), id, scope.actor())
            .await?)
    }

    /// Onboards a device (MANAGE_DEVICES): a name, and the store it is
    /// bound to, if any.
    pub async fn create_device(
        &self,
        scope: &Scope,
        name: String,
        store_id: Option<String>,
    ) -> AppResult<Issued<Device>> {
        scope.require(Permission::ManageDevices)?;
        let name = validate::text(&name, 255).map_err(|m| AppError::field("name", m))?;
        let store_id = store_id
            .map(|s| validate::identifier(&s).map_err(|m| AppError::field("store_id", m)))
            .transpose()?;
        let (token, token_hash) = secret::new_token("rd");
        let device = self
            .app
            .store
            .create_device(
                scope.tenant(),
                NewDevice {
                    name,
                    store_id,
                    token_hash,
                },
                scope.actor(),
            )
            .await?;
        Ok(Issued {
            record: device,
            token,
        })
    }

    /// Lists devices, revoked ones included (MANAGE_DEVICES).
    pub async fn list_devices(&self, scope: &Scope, page: &Page) -> AppResult<Listed<Device>> {
        scope.require(Permission::ManageDevices)?;
        Ok(self.app.store.list_devices(scope.tenant(), page).await?)
    }

    /// Revokes a device and every session signed in on it (MANAGE_DEVICES).
    pub async fn revoke_device(&self, scope: &Scope, id: Uuid) -> AppResult<()> {
        scope.require(Permission::ManageDevices)?;
        Ok(self
            .app
            .store
            .revoke_device(scope.tenant(), id, self.app.now(), scope.actor())
            .await?)
    }

    /// A user's live sessions (signed in, neither revoked nor expired),
    /// newest first (VIEW_USERS; 404 for a user of another tenant).
    pub async fn sessions_of(&self, scope: &Scope, user: Uuid) -> AppResult<Vec<Session>> {
        scope.require(Permission::ViewUsers)?;
        scope.require_whole_tenant()?;
        let app = self.app;
        app.store.get_user(scope.tenant(), user).await?;
        Ok(app
            .store
            .live_sessions_of(scope.tenant(), user, app.now())
            .await?)
    }

    /// Ends one of a user's sessions at once (MANAGE_USERS; 404 unless the
    /// session is that user's in this tenant).
    pub async fn revoke_session_of(&self, scope: &Scope, user: Uuid, id: Uuid) -> AppResult<()> {
        scope.require(Permission::ManageUsers)?;
        scope.require_whole_tenant()?;
        let app = self.app;
        let session = app.store.get_session(id).await?;
        let theirs = session.is_some_and(|s| {
            s.tenant.as_deref() == Some(scope.tenant()) && s.user_id == Some(user)
        });
        if !theirs {
            return Err(AppError::NotFound("session not found".into()));
        }
        Ok(app.store.revoke_session(id, app.now()).await?)
    }

    /// Creates a global account (admin token).
    pub async fn create_account(&self, caller: &Caller, draft: AccountDraft) -> AppResult<Account> {
        caller.require_admin()?;
        let context = [
            &Some(draft.email.clone()),
            &draft.first_name,
            &draft.last_name,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        let password_hash = self.app.passwords.hash_new(draft.password, context).await?;
        Ok(self
            .app
            .store
            .create_account(roster_store::NewAccount {
                email: draft.email,
                password_hash,
                first_name: draft.first_name,
                last_name: draft.last_name,
            })
            .await?)
    }

    /// Reads a global account (admin token).
    pub async fn get_account(&self, caller: &Caller, id: Uuid) -> AppResult<Account> {
        caller.require_admin()?;
        Ok(self.app.store.get_account(id).await?)
    }
}
