//! The admin console's sign-ins (SPEC §8 "Admin console"). The browser
//! holds only a random token (in an `HttpOnly`, `SameSite=Strict` cookie);
//! the store keeps its hash and who signed in: the operator (with the hash
//! of the admin token presented, so a changed admin token ends the
//! sign-in) or a tenant user (one of the user's access sessions, so
//! deactivation, blocking, revocation and deletion end it at once). A
//! sign-in ends on sign-out, after [`Config::console_idle_timeout`]
//! without a request, or [`LIFETIME`] after it began.
//!
//! Forms carry a CSRF token derived from the cookie's token (SHA-256 of a
//! label and the token: only a page served to the cookie's holder can know
//! it, and it needs no storage); every state-changing request must present
//! it.
//!
//! [`Config::console_idle_timeout`]: crate::Config::console_idle_timeout

use chrono::Duration;
use roster_core::{secret, Permission, SessionKind, Target};
use roster_store::{ConsoleSession, ConsoleSignIn, NewSession};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::signin::ClientAddr;
use crate::{App, Caller};

/// The longest a console sign-in lasts, however busy: 12 hours.
pub const LIFETIME: Duration = Duration::hours(12);

/// How stale `last_seen_at` may get before a request records itself: the
/// idle timeout is kept to this precision, and a busy console writes at
/// most once a minute per sign-in.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// The admin console's sign-ins.
pub struct Console<'a> {
    app: &'a App,
}

impl App {
    /// The admin console's sign-ins.
    pub fn console(&self) -> Console<'_> {
        Console { app: self }
    }
}

fn ended() -> AppError {
    AppError::Unauthorized("the console session has ended; sign in again".into())
}

impl Console<'_> {
    /// Signs the operator in with the admin token: the cookie's token.
    pub async fn sign_in_operator(&self, presented: &str) -> AppResult<String> {
        let Some(admin) = &self.app.config.admin_token else {
            return Err(AppError::Unauthorized(
                "the admin token is off on this server; sign in as a tenant user".into(),
            ));
        };
        if !admin.matches(presented) {
            return Err(AppError::Unauthorized(
                "the admin token is not correct".into(),
            ));
        }
        self.begin(ConsoleSignIn::Operator {
            admin_hash: secret::hash_token(presented),
        })
        .await
    }

    /// Signs a tenant user in with email and password: the cookie's token.
    /// 401 for a wrong email or password (or a locked user), 403 for a user
    /// who may not read users (the console shows nothing else).
    pub async fn sign_in_user(
        &self,
        tenant: &str,
        email: &str,
        password: &str,
        client: ClientAddr,
    ) -> AppResult<String> {
        let app = self.app;
        let user = app
            .sign_in()
            .console_user(tenant, email, password, client)
            .await?;
        let probe = Caller::User {
            tenant: tenant.to_string(),
            user: user.id,
            session: Uuid::nil(),
        };
        let scope = app.enter(&probe, tenant).await?;
        let anywhere = Target::default();
        if !scope.holds(Permission::ViewUsers, &anywhere)
            && !scope.holds(Permission::ManageUsers, &anywhere)
        {
            return Err(AppError::Forbidden(
                "the console is for users holding VIEW_USERS or MANAGE_USERS".into(),
            ));
        }
        let now = app.now();
        let session = app
            .store
            .create_session(NewSession {
                kind: SessionKind::Access,
                tenant: Some(tenant.to_string()),
                user_id: Some(user.id),
                account_id: user.account_id,
                device_id: None,
                created_at: now,
                expires_at: now + LIFETIME,
            })
            .await?;
        self.begin(ConsoleSignIn::User {
            session: session.id,
        })
        .await
    }

    async fn begin(&self, who: ConsoleSignIn) -> AppResult<String> {
        let (token, hash) = secret::new_token("rcon");
        let now = self.app.now();
        let session = ConsoleSession {
            who,
            created_at: now,
            last_seen_at: now,
        };
        self.app
            .store
            .create_console_session(&hash, &session)
            .await?;
        Ok(token)
    }

    /// The caller a console cookie's token stands for; 401 once the sign-in
    /// has ended (signed out, idle, past its lifetime, its admin token
    /// changed, or its user's session ended).
    pub async fn caller(&self, token: &str) -> AppResult<Caller> {
        let app = self.app;
        let hash = secret::hash_token(token);
        let found = app
            .store
            .find_console_session(&hash)
            .await?
            .ok_or_else(ended)?;
        let now = app.now();
        let idle = now - found.last_seen_at > app.config.console_idle_timeout;
        if idle || now - found.created_at > LIFETIME {
            self.end(&hash, &found.who).await?;
            return Err(ended());
        }
        let caller = match &found.who {
            ConsoleSignIn::Operator { admin_hash } => {
                let current = app.config.admin_token.as_ref().map(|admin| {
                    secret::constant_time_eq(
                        secret::hash_token(admin.expose()).as_bytes(),
                        admin_hash.as_bytes(),
                    )
                });
                if current != Some(true) {
                    self.end(&hash, &found.who).await?;
                    return Err(ended());
                }
                Caller::Admin
            }
            ConsoleSignIn::User { session } => {
                app.caller_of_session(*session).await.map_err(|e| match e {
                    AppError::Unauthorized(_) => ended(),
                    other => other,
                })?
            }
        };
        if now - found.last_seen_at >= TOUCH_EVERY {
            app.store.touch_console_session(&hash, now).await?;
        }
        Ok(caller)
    }

    /// Signs out: the sign-in ends on the server, and a user's session with
    /// it. Signing out twice is no error.
    pub async fn sign_out(&self, token: &str) -> AppResult<()> {
        let hash = secret::hash_token(token);
        if let Some(found) = self.app.store.find_console_session(&hash).await? {
            self.end(&hash, &found.who).await?;
        }
        Ok(())
    }

    async fn end(&self, hash: &str, who: &ConsoleSignIn) -> AppResult<()> {
        let app = self.app;
        app.store.delete_console_session(hash).await?;
        if let ConsoleSignIn::User { session } = who {
            app.store.revoke_session(*session, app.now()).await?;
        }
        Ok(())
    }

    /// The CSRF token of the forms served to the holder of `token`.
    pub fn csrf_token(token: &str) -> String {
        secret::hash_token(&format!("roster-console-csrf\0{token}"))
    }

    /// Whether `presented` is the CSRF token of `token`'s forms, in
    /// constant time.
    pub fn csrf_matches(token: &str, presented: &str) -> bool {
        secret::constant_time_eq(Self::csrf_token(token).as_bytes(), presented.as_bytes())
    }
}
