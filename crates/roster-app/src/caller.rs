//! Who is calling, and what they hold. A surface turns the presented token
//! into a [`Caller`] once ([`App::authenticate`]), then enters a tenant as a
//! [`Scope`] ([`App::scope`]): the tenant, the actor for the audit log, and
//! the credential's [`Authority`], loaded once per request. Every operation's
//! first line asks its scope for the permission it needs.

use roster_core::rules::authority::{Authority, NotHeld, Place};
use roster_core::{secret, Actor, ApiKeyGrant, Permission, SessionKind, Target};
use std::collections::BTreeSet;
use uuid::Uuid;

use crate::cache::Consistency;
use crate::error::{AppError, AppResult};
use crate::tokens::TokenError;
use crate::App;

/// The authenticated credential of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The platform operator (`ROSTER_ADMIN_TOKEN`): everything, every tenant.
    Admin,
    /// An API key of one tenant.
    ApiKey {
        tenant: String,
        id: Uuid,
        grant: ApiKeyGrant,
    },
    /// A tenant user signed in: an access token.
    User {
        tenant: String,
        user: Uuid,
        session: Uuid,
    },
    /// A global account signed in: an auth token.
    Account { account: Uuid, session: Uuid },
}

/// Whether a token is shaped like a JWT (three dot-separated parts).
pub fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

fn unauthorized(message: &str) -> AppError {
    AppError::Unauthorized(message.into())
}

fn no_such_tenant() -> AppError {
    AppError::NotFound("tenant not found".into())
}

/// A caller inside one tenant, with what it holds there.
#[derive(Debug, Clone)]
pub struct Scope {
    tenant: String,
    actor: Actor,
    authority: Authority,
    /// A credential confined to one company (a company's SCIM token) sees
    /// and writes only that company's users and groups.
    company: Option<Uuid>,
}

impl Scope {
    /// The tenant this scope is in.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// A scope confined to `company`: a company's SCIM token, holding
    /// `permissions` for that company's users and groups only.
    pub(crate) fn confined(
        tenant: String,
        actor: Actor,
        company: Uuid,
        permissions: Vec<Permission>,
    ) -> Scope {
        Scope {
            tenant,
            actor,
            authority: Authority::Permissions(permissions),
            company: Some(company),
        }
    }

    /// 403 for a scope confined to a company: for operations over the
    /// whole tenant.
    pub fn require_whole_tenant(&self) -> AppResult<()> {
        match self.company {
            None => Ok(()),
            Some(_) => Err(AppError::Forbidden(
                "this credential acts only within its company".into(),
            )),
        }
    }

    /// `within` as the scope allows it: a confined scope's own company
    /// (404 for another one), else `within` as asked.
    pub fn within(&self, within: Option<Uuid>) -> AppResult<Option<Uuid>> {
        match (self.company, within) {
            (Some(own), Some(asked)) if own != asked => {
                Err(AppError::NotFound("company not found".into()))
            }
            (Some(own), _) => Ok(Some(own)),
            (None, asked) => Ok(asked),
        }
    }

    /// The company the credential is confined to, if it is.
    pub fn company(&self) -> Option<Uuid> {
        self.company
    }

    /// Who the audit log records.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Whether the credential holds `permission` at `target`.
    pub fn holds(&self, permission: Permission, target: &Target) -> bool {
        self.authority.holds(permission, target)
    }

    /// 403 unless the credential holds `permission` tenant-wide.
    pub fn require(&self, permission: Permission) -> AppResult<()> {
        if self.holds(permission, &Target::default()) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this credential lacks {permission}"
            )))
        }
    }

    /// 403 unless the credential holds `permission` tenant-wide, or
    /// `scoped` at `target` (for example MANAGE_ORG_USERS in one company).
    pub fn require_either(
        &self,
        permission: Permission,
        scoped: Permission,
        target: &Target,
    ) -> AppResult<()> {
        if self.holds(permission, &Target::default()) || self.holds(scoped, target) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this credential lacks {permission} (or {scoped} here)"
            )))
        }
    }

    /// Grant only what you hold (SPEC §7): 403 when a change confers a
    /// permission, at a place, that this credential does not hold there.
    pub fn may_confer(&self, conferred: &BTreeSet<(Permission, Place)>) -> AppResult<()> {
        self.authority
            .may_confer(conferred)
            .map_err(|NotHeld(p, place)| AppError::Forbidden(NotHeld(p, place).to_string()))
    }
}

impl App {
    /// The credential a presented token stands for: the admin token, an
    /// access or auth token (checked against its session on every call), or
    /// an API key.
    pub async fn authenticate(&self, token: &str) -> AppResult<Caller> {
        if let Some(admin) = &self.config.admin_token {
            if admin.matches(token) {
                return Ok(Caller::Admin);
            }
        }
        if is_jwt(token) {
            return self.session_caller(token).await;
        }
        match self.find_api_key(&secret::hash_token(token)).await? {
            Some(identity) => Ok(Caller::ApiKey {
                tenant: identity.tenant,
                id: identity.key.id,
                grant: identity.key.grant,
            }),
            None => Err(self.not_a_credential("the credentials are not valid")),
        }
    }

    /// The 401 for a token that is no credential at all. With no admin
    /// token configured it adds that the admin API is off: a client sending
    /// what it takes for the admin token learns why it fails. It learns
    /// nothing more, since every token that is no credential gets the same
    /// answer, and a server with an admin token never says so.
    fn not_a_credential(&self, message: &str) -> AppError {
        match self.config.admin_token {
            Some(_) => unauthorized(message),
            None => unauthorized(&format!("{message}; the admin API is off on this server")),
        }
    }

    /// Checks a signed token and the session behind it: revoked sessions,
    /// expired tokens, and users deactivated, blocked or deleted since are
    /// refused at once (401), whichever process made the change.
    async fn session_caller(&self, token: &str) -> AppResult<Caller> {
        let now = self.now();
        let claims = self
            .tokens()
            .await?
            .verify(token, now)
            .await
            .map_err(|e| match e {
                TokenError::Invalid => self.not_a_credential(&e.to_string()),
                TokenError::Expired => AppError::Unauthorized(e.to_string()),
            })?;
        self.caller_of_session(claims.sid).await
    }

    /// The caller session `id` stands for while it lasts: revoked or
    /// expired sessions, and users deactivated, blocked or deleted since,
    /// are refused (401).
    pub(crate) async fn caller_of_session(&self, id: Uuid) -> AppResult<Caller> {
        let now = self.now();
        let session = self
            .find_session(id)
            .await?
            .ok_or_else(|| unauthorized("the session has ended"))?;
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(unauthorized("the session has ended"));
        }
        match session.kind {
            SessionKind::Access => {
                let (Some(tenant), Some(user)) = (session.tenant, session.user_id) else {
                    return Err(unauthorized("the token is not valid"));
                };
                let standing = self.user_authority(&tenant, user).await?;
                match standing {
                    None => return Err(unauthorized("the user no longer exists")),
                    Some(subject) if !subject.may_act() => {
                        return Err(unauthorized("the user is deactivated or blocked"))
                    }
                    Some(_) => {}
                }
                Ok(Caller::User {
                    tenant,
                    user,
                    session: session.id,
                })
            }
            SessionKind::Auth => {
                let account = session
                    .account_id
                    .ok_or_else(|| unauthorized("the token is not valid"))?;
                Ok(Caller::Account {
                    account,
                    session: session.id,
                })
            }
        }
    }

    /// Enters `tenant` as `caller`: any credential of the tenant (another
    /// tenant's gets 404, as if the tenant did not exist), with what it
    /// holds there.
    pub async fn enter(&self, caller: &Caller, tenant: &str) -> AppResult<Scope> {
        let (actor, authority) = match caller {
            Caller::Admin => {
                self.store.get_tenant(tenant).await?;
                (Actor::Admin, Authority::Everything)
            }
            Caller::ApiKey {
                tenant: own,
                id,
                grant,
            } if own == tenant => match grant {
                ApiKeyGrant::Permissions(held) => {
                    (Actor::ApiKey(*id), Authority::Permissions(held.clone()))
                }
                ApiKeyGrant::User(user) => {
                    // A key acts exactly as its user: nothing once the user is
                    // deactivated or blocked.
                    let subject = self.user_authority(tenant, *user).await?;
                    let Some(subject) = subject.filter(|s| s.may_act()) else {
                        return Err(AppError::Forbidden(
                            "the key's user is deactivated or blocked".into(),
                        ));
                    };
                    (Actor::User(*user), Authority::User(Box::new(subject)))
                }
            },
            Caller::User {
                tenant: own, user, ..
            } if own == tenant => {
                let subject = self
                    .user_authority(tenant, *user)
                    .await?
                    .ok_or_else(|| unauthorized("the user no longer exists"))?;
                (Actor::User(*user), Authority::User(Box::new(subject)))
            }
            Caller::ApiKey { .. } | Caller::User { .. } => return Err(no_such_tenant()),
            Caller::Account { .. } => {
                return Err(AppError::Forbidden(
                    "an auth token acts only on /account; exchange it for an access token at POST /tenants/{tenantUid}/account".into(),
                ))
            }
        };
        Ok(Scope {
            tenant: tenant.to_string(),
            actor,
            authority,
            company: None,
        })
    }

    /// [`App::enter`], then 403 unless the credential holds `permission`
    /// tenant-wide.
    pub async fn scope(
        &self,
        caller: &Caller,
        tenant: &str,
        permission: Permission,
    ) -> AppResult<Scope> {
        let scope = self.enter(caller, tenant).await?;
        scope.require(permission)?;
        Ok(scope)
    }

    async fn user_authority(
        &self,
        tenant: &str,
        user: Uuid,
    ) -> AppResult<Option<roster_core::Subject>> {
        Ok(self
            .check_facts(tenant, user, None, None, Consistency::Bounded)
            .await?
            .subject
            .map(|known| known.subject.clone()))
    }
}

impl Caller {
    /// 403 unless this is the platform operator.
    pub fn require_admin(&self) -> AppResult<Actor> {
        match self {
            Caller::Admin => Ok(Actor::Admin),
            _ => Err(AppError::Forbidden(
                "only the admin token may do this".into(),
            )),
        }
    }

    /// The tenant a tenant credential belongs to (`None` for the admin
    /// token and auth tokens).
    pub fn own_tenant(&self) -> Option<&str> {
        match self {
            Caller::ApiKey { tenant, .. } | Caller::User { tenant, .. } => Some(tenant),
            Caller::Admin | Caller::Account { .. } => None,
        }
    }
}
