//! Signing in, once for every surface: throttle → password check on the
//! bounded pool → may this user sign in (the core) → session and signed
//! token. Device sign-in (seed 003), account login (`/auth/login`), the B2B
//! customer token (seed 002) and the token exchange all run through here.

use std::net::IpAddr;

use roster_core::rules::standing::may_sign_in_on_device;
use roster_core::throttle::retry_after;
use roster_core::{secret, validate, Permission, SessionKind, Target, User};
use roster_store::NewSession;
use uuid::Uuid;

use crate::cache::Consistency;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};
use crate::tokens::{Claims, ISSUER};
use crate::App;

/// The client's address, as the surface determined it (the TCP peer, or the
/// forwarded address from a trusted proxy).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientAddr(pub Option<IpAddr>);

/// Which sign-in a throttle counts: failures of one never lock another.
#[derive(Debug, Clone, Copy)]
enum Surface {
    Device,
    Login,
    Customer,
    Console,
}

impl Surface {
    fn as_str(self) -> &'static str {
        match self {
            Surface::Device => "pos",
            Surface::Login => "login",
            Surface::Customer => "customer",
            Surface::Console => "console",
        }
    }
}

/// The longest login name a throttle key holds as it is.
const LONGEST_THROTTLED_NAME: usize = 256;

/// Sign-in throttling: a login name (known or not) and a client address,
/// both counted per surface and tenant.
struct Throttle {
    name: String,
    address: String,
    /// Whether the name had failures counted when guarded: a success then
    /// clears them; without any, the success writes nothing for the name.
    name_has_failures: bool,
}

impl Throttle {
    fn new(surface: Surface, tenant: Option<&str>, name: &str, client: ClientAddr) -> Throttle {
        let surface = surface.as_str();
        let tenant = tenant.unwrap_or("-");
        let ip = client
            .0
            .map_or_else(|| "unknown".to_string(), |a| a.to_string());
        // No login is longer (emails are at most 254 bytes, user codes 64);
        // a longer name is counted under its hash, so that the key fits
        // the database's index (PostgreSQL's holds at most 2704 bytes).
        let name = if name.len() > LONGEST_THROTTLED_NAME {
            format!("sha256:{}", secret::hash_token(name))
        } else {
            name.to_string()
        };
        Throttle {
            name: format!("{surface}:{tenant}:{name}"),
            address: format!("addr:{surface}:{tenant}:{ip}"),
            name_has_failures: false,
        }
    }

    /// 429 while the name is locked or the address is over its limit.
    async fn guard(&mut self, app: &App) -> AppResult<()> {
        let now = app.now();
        let policy = app.config.throttle;
        let minute = chrono::Duration::minutes(1);
        for t in app
            .store
            .throttles(&[self.name.clone(), self.address.clone()])
            .await?
        {
            self.name_has_failures |= t.key == self.name;
            if let Some(until) = t.locked_until.filter(|until| *until > now) {
                return Err(AppError::TooManyRequests {
                    retry_after: retry_after(now, until),
                });
            }
            if t.key == self.address
                && t.failures >= policy.address_per_minute
                && now - t.window_start < minute
            {
                return Err(AppError::TooManyRequests {
                    retry_after: retry_after(now, t.window_start + minute),
                });
            }
        }
        Ok(())
    }

    async fn failed(&self, app: &App) -> AppResult<()> {
        let now = app.now();
        let counted = app.store.record_failure(&self.name, now, None).await?;
        if let Some(lock) = app.config.throttle.lock_for(counted.failures) {
            app.store.lock_until(&self.name, now + lock).await?;
        }
        app.store
            .record_failure(&self.address, now, Some(chrono::Duration::minutes(1)))
            .await?;
        Ok(())
    }

    async fn succeeded(&self, app: &App) -> AppResult<()> {
        if !self.name_has_failures {
            return Ok(());
        }
        Ok(app.store.clear_failures(&self.name).await?)
    }

    /// Runs a password check under this throttle: 429 first when throttled,
    /// a failure counted when `found` is `None` or the password is wrong.
    async fn verify<T>(
        &self,
        app: &App,
        found: Option<(T, Option<String>)>,
        password: &str,
    ) -> AppResult<Option<T>> {
        Ok(self
            .verify_keeping_hash(app, found, password)
            .await?
            .map(|(record, _)| record))
    }

    /// [`Self::verify`], answering also the stored hash when it is an
    /// imported one to replace (see [`SignIn::upgrade`]).
    async fn verify_keeping_hash<T>(
        &self,
        app: &App,
        found: Option<(T, Option<String>)>,
        password: &str,
    ) -> AppResult<Option<(T, Option<String>)>> {
        let (record, hash) = match found {
            Some((record, hash)) => (Some(record), hash),
            None => (None, None),
        };
        let imported = hash.clone().filter(|h| secret::needs_rehash(h));
        let matches = app.passwords.matches(hash, password).await?;
        match record.filter(|_| matches) {
            Some(record) => {
                self.succeeded(app).await?;
                Ok(Some((record, imported)))
            }
            None => {
                self.failed(app).await?;
                Ok(None)
            }
        }
    }
}

/// Sign-in for every surface.
pub struct SignIn<'a> {
    app: &'a App,
}

impl App {
    /// Sign-in for every surface.
    pub fn sign_in(&self) -> SignIn<'_> {
        SignIn { app: self }
    }
}

impl SignIn<'_> {
    /// Signs a tenant user in on a device (seed 003): 401 for a wrong code
    /// or password (the same answer, in the same time), 403 for a blocked,
    /// inactive or role-less user or one without USE_POS on the device's
    /// store, 429 when throttled. Answers an access token.
    pub async fn on_device(
        &self,
        device_token: &str,
        user_code: &str,
        password: &str,
        client: ClientAddr,
    ) -> AppResult<String> {
        let app = self.app;
        let device = app
            .find_device(&secret::hash_token(device_token))
            .await?
            .ok_or_else(|| AppError::Unauthorized("the device token is not valid".into()))?;
        let tenant = device.tenant;
        let mut throttle = Throttle::new(Surface::Device, Some(&tenant), user_code, client);
        throttle.guard(app).await?;
        // Only the id and hash before the password is checked: an unknown
        // code and a wrong password read the same (see `password_by_code`).
        let found = app.store.password_by_code(&tenant, user_code).await?;
        let Some((id, imported)) = throttle.verify_keeping_hash(app, found, password).await? else {
            return Err(AppError::Unauthorized("wrong user code or password".into()));
        };
        self.upgrade(&tenant, id, imported, password).await;
        let user = app.store.get_user(&tenant, id).await?;
        let store = device.device.store_id.as_deref();
        let facts = app
            .check_facts(&tenant, user.id, store, None, Consistency::Bounded)
            .await?;
        // A tenant role of the user's own or of one of its groups.
        let tenant_role = match &facts.subject {
            Some(known) => known.subject.held_tenant_role(),
            None => user.roles.tenant,
        };
        may_sign_in_on_device(user.status, tenant_role)
            .map_err(|refusal| AppError::Forbidden(refusal.to_string()))?;
        if let Some(store) = &device.device.store_id {
            let target = Target {
                store_id: Some(store.clone()),
                company_id: None,
            };
            let allowed = facts.subject.is_some_and(|s| {
                roster_core::permission::evaluate_with(
                    &s.subject,
                    &s.grants,
                    Permission::UsePos,
                    &target,
                )
                .allowed
            });
            if !allowed {
                return Err(AppError::Forbidden(
                    "the user may not use this device's store".into(),
                ));
            }
        }
        let (token, _) = self
            .issue(
                SessionKind::Access,
                Some(&tenant),
                user.id,
                user.account_id,
                Some(device.device.id),
            )
            .await?;
        Ok(token)
    }

    /// Signs a global account in: an auth token and its lifetime in seconds.
    pub async fn account(
        &self,
        email: &str,
        password: &str,
        client: ClientAddr,
    ) -> AppResult<(String, i64)> {
        let app = self.app;
        let mut throttle = Throttle::new(Surface::Login, None, &validate::email_key(email), client);
        throttle.guard(app).await?;
        let found = app
            .store
            .account_password(email)
            .await?
            .map(|(id, hash)| (id, Some(hash)));
        let Some(id) = throttle.verify(app, found, password).await? else {
            return Err(AppError::Unauthorized("wrong email or password".into()));
        };
        let account = app.store.get_account(id).await?;
        self.issue(SessionKind::Auth, None, account.id, Some(account.id), None)
            .await
    }

    /// A B2B customer token (seed 002) for a customer's email and password
    /// in `tenant`; a locked (inactive or blocked) customer answers 401.
    pub async fn customer(
        &self,
        tenant: &str,
        username: &str,
        password: &str,
        client: ClientAddr,
    ) -> AppResult<String> {
        let user = self
            .by_password(Surface::Customer, tenant, username, password, client)
            .await?;
        let (token, _) = self
            .issue(
                SessionKind::Access,
                Some(tenant),
                user.id,
                user.account_id,
                None,
            )
            .await?;
        Ok(token)
    }

    /// A tenant user signing in to the console with email and password:
    /// the user, once the password matched (throttled as the customer
    /// sign-in is, on a count of its own); 401 for a wrong email or
    /// password or a locked user.
    pub async fn console_user(
        &self,
        tenant: &str,
        email: &str,
        password: &str,
        client: ClientAddr,
    ) -> AppResult<User> {
        self.by_password(Surface::Console, tenant, email, password, client)
            .await
    }

    /// The user of `tenant` whose email and password these are, under the
    /// surface's throttle; an imported hash is replaced on the way.
    async fn by_password(
        &self,
        surface: Surface,
        tenant: &str,
        username: &str,
        password: &str,
        client: ClientAddr,
    ) -> AppResult<User> {
        let app = self.app;
        app.store.get_tenant(tenant).await?;
        let mut throttle = Throttle::new(
            surface,
            Some(tenant),
            &validate::email_key(username),
            client,
        );
        throttle.guard(app).await?;
        let found = app.store.password_by_email(tenant, username).await?;
        let Some((id, imported)) = throttle.verify_keeping_hash(app, found, password).await? else {
            return Err(AppError::Unauthorized(
                "the email or password is not correct".into(),
            ));
        };
        self.upgrade(tenant, id, imported, password).await;
        let user = app.store.get_user(tenant, id).await?;
        if !user.may_act() {
            return Err(AppError::Unauthorized("the account is locked".into()));
        }
        Ok(user)
    }

    /// Replaces an imported hash (`imported`, when the password just matched
    /// one) with Roster's Argon2id of the password. Best effort: a failure
    /// is logged and the sign-in goes on, the old hash still verifying.
    async fn upgrade(&self, tenant: &str, user: Uuid, imported: Option<String>, password: &str) {
        let Some(old) = imported else { return };
        let app = self.app;
        let outcome = match app.passwords.rehash(password).await {
            Ok(new) => app
                .store
                .replace_password_hash(tenant, user, &old, &new)
                .await
                .map_err(AppError::from),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(true) => tracing::info!(%user, "replaced an imported password hash with Argon2id"),
            // Another sign-in or a password change got there first.
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%user, %error, "could not replace an imported password hash")
            }
        }
    }

    /// Exchanges an auth token for an access token in `tenant`: the
    /// account's user there (404 without one; 403 when it may not act).
    pub async fn exchange(&self, caller: &Caller, tenant: &str) -> AppResult<(User, String)> {
        let app = self.app;
        let Caller::Account { account, .. } = caller else {
            return Err(AppError::Forbidden(
                "send the auth token of POST /auth/login".into(),
            ));
        };
        let user = app
            .store
            .user_of_account(tenant, *account)
            .await?
            .ok_or_else(|| AppError::NotFound("the account has no user in this tenant".into()))?;
        if !user.may_act() {
            return Err(AppError::Forbidden(
                "the user is blocked or inactive in this tenant".into(),
            ));
        }
        let (token, _) = self
            .issue(
                SessionKind::Access,
                Some(tenant),
                user.id,
                Some(*account),
                None,
            )
            .await?;
        let user = app.store.get_user(tenant, user.id).await?;
        Ok((user, token))
    }

    /// Ends the session of the presented access or auth token, at once.
    pub async fn sign_out(&self, caller: &Caller) -> AppResult<()> {
        let session = match caller {
            Caller::User { session, .. } | Caller::Account { session, .. } => *session,
            Caller::Admin | Caller::ApiKey { .. } => {
                return Err(AppError::Forbidden(
                    "only access and auth tokens sign out".into(),
                ));
            }
        };
        Ok(self
            .app
            .store
            .revoke_session(session, self.app.now())
            .await?)
    }

    /// The public keys that verify Roster's tokens (a JSON Web Key Set).
    pub async fn jwks(&self) -> AppResult<serde_json::Value> {
        let config = &self.app.config;
        let longest = config.access_token_ttl.max(config.auth_token_ttl);
        self.app.tokens().await?.jwks(self.app.now(), longest).await
    }

    /// Starts a session and signs its token: the token and its lifetime.
    async fn issue(
        &self,
        kind: SessionKind,
        tenant: Option<&str>,
        sub: Uuid,
        account: Option<Uuid>,
        device: Option<Uuid>,
    ) -> AppResult<(String, i64)> {
        let app = self.app;
        let now = app.now();
        let ttl = match kind {
            SessionKind::Access => app.config.access_token_ttl,
            SessionKind::Auth => app.config.auth_token_ttl,
        };
        let session = app
            .store
            .create_session(NewSession {
                kind,
                tenant: tenant.map(String::from),
                user_id: (kind == SessionKind::Access).then_some(sub),
                account_id: account,
                device_id: device,
                created_at: now,
                expires_at: now + ttl,
            })
            .await?;
        let claims = Claims {
            iss: ISSUER.into(),
            sub: sub.to_string(),
            kind,
            tid: tenant.map(String::from),
            sid: session.id,
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
        };
        let token = app.tokens().await?.sign(&claims, now).await?;
        Ok((token, ttl.num_seconds()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_keys_are_bounded_whatever_the_name() {
        let client = ClientAddr(None);
        let short = Throttle::new(Surface::Device, Some("acme"), "1001", client);
        assert_eq!(short.name, "pos:acme:1001");
        let long = "x".repeat(10_000);
        let keyed = Throttle::new(Surface::Login, None, &long, client);
        assert!(keyed.name.len() < 100, "{}", keyed.name);
        let other = Throttle::new(Surface::Login, None, &format!("{long}y"), client);
        assert_ne!(keyed.name, other.name, "each long name counts on its own");
    }
}
