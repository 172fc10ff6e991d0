//! Invitations: an email invited into a tenant with a tenant role and
//! account type; a single-use token that expires.

use chrono::SubsecRound;
use roster_core::rules::authority::conferred_by_invitation;
use roster_core::rules::invitation::InvitationRefusal;
use roster_core::{secret, AccountType, Invitation, Permission, TenantRole, User};
use roster_store::{Listed, NewInvitation, Page};
use uuid::Uuid;

use crate::caller::{Caller, Scope};
use crate::credentials::Issued;
use crate::error::{AppError, AppResult};
use crate::App;

/// Invitations.
pub struct Invitations<'a> {
    app: &'a App,
}

impl App {
    /// Invitations.
    pub fn invitations(&self) -> Invitations<'_> {
        Invitations { app: self }
    }
}

/// How an invitation refusal reads.
impl From<InvitationRefusal> for AppError {
    fn from(refusal: InvitationRefusal) -> Self {
        match refusal {
            InvitationRefusal::Used | InvitationRefusal::Expired => {
                AppError::Gone(refusal.to_string())
            }
            InvitationRefusal::OtherEmail => AppError::Forbidden(refusal.to_string()),
        }
    }
}

impl Invitations<'_> {
    /// Invites an email (MANAGE_USERS; 400 for a malformed one); the caller
    /// must hold what the invited role and account type confer.
    pub async fn create(
        &self,
        scope: &Scope,
        email: String,
        tenant_role: Option<TenantRole>,
        account_type: Option<AccountType>,
    ) -> AppResult<Issued<Invitation>> {
        scope.require(Permission::ManageUsers)?;
        let email = roster_core::validate::email(&email)
            .map_err(|message| AppError::field("email", message))?;
        let tenant_role = tenant_role.unwrap_or(TenantRole::Access);
        let account_type = account_type.unwrap_or(AccountType::Regular);
        scope.may_confer(&conferred_by_invitation(tenant_role, account_type))?;
        let (token, token_hash) = secret::new_token("ri");
        let now = self.app.now().trunc_subsecs(3);
        let new = NewInvitation {
            email,
            tenant_role,
            account_type,
            token_hash,
            created_at: now,
            expires_at: now + self.app.config.invitation_ttl,
        };
        let invitation = self
            .app
            .store
            .create_invitation(scope.tenant(), new, scope.actor())
            .await?;
        Ok(Issued {
            record: invitation,
            token,
        })
    }

    /// Lists invitations (VIEW_USERS).
    pub async fn list(&self, scope: &Scope, page: &Page) -> AppResult<Listed<Invitation>> {
        scope.require(Permission::ViewUsers)?;
        Ok(self
            .app
            .store
            .list_invitations(scope.tenant(), page)
            .await?)
    }

    /// Revokes a pending invitation (MANAGE_USERS).
    pub async fn revoke(&self, scope: &Scope, id: Uuid) -> AppResult<()> {
        scope.require(Permission::ManageUsers)?;
        Ok(self
            .app
            .store
            .revoke_invitation(scope.tenant(), id, self.app.now(), scope.actor())
            .await?)
    }

    /// An invitation by its token, and its tenant's name (no sign-in
    /// needed): 404 for an unknown token, 410 for a used, revoked or expired
    /// one.
    pub async fn look_up(&self, token: &str) -> AppResult<(Invitation, String)> {
        let (invitation, tenant_name) = self
            .app
            .store
            .find_invitation(&secret::hash_token(token))
            .await?
            .ok_or_else(|| AppError::NotFound("invitation not found".into()))?;
        invitation.usable_at(self.app.now())?;
        Ok((invitation, tenant_name))
    }

    /// Accepts an invitation with an account's auth token: the tenant's user
    /// it linked or made, and the tenant.
    pub async fn accept(&self, caller: &Caller, token: &str) -> AppResult<(String, User)> {
        let Caller::Account { account, .. } = caller else {
            return Err(AppError::Forbidden(
                "send the auth token of POST /auth/login".into(),
            ));
        };
        let account = self.app.store.get_account(*account).await?;
        let hash = secret::hash_token(token.trim());
        let (invitation, _) = self
            .app
            .store
            .find_invitation(&hash)
            .await?
            .ok_or_else(|| AppError::NotFound("invitation not found".into()))?;
        invitation.acceptable_by(&account.email, self.app.now())?;
        let user = self
            .app
            .store
            .accept_invitation(&hash, &account, self.app.now())
            .await?;
        Ok((invitation.tenant, user))
    }
}
