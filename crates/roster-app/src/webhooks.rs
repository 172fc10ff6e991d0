//! Webhooks (SPEC §8): a tenant's subscriptions to its events
//! (MANAGE_WEBHOOKS), their signing secrets, and which URLs they may name.
//!
//! A secret is `whsec_<base64 of 32 random bytes>`, shown once. At rest it
//! is sealed with the key-encryption key (`ROSTER_KEY_ENCRYPTION_KEY`,
//! `sealing.rs`, bound to the webhook's id) when one is configured, so a copy
//! of the database alone cannot sign a delivery; without one it is stored
//! as it is, as the signing keys are.

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use roster_core::events::{is_public_address, EventTypeFilter, MAX_FILTERS};
use roster_core::{DeliveryAttempt, Permission, Webhook};
use roster_store::{Listed, NewWebhook, Page, WebhookPatch};
use uuid::Uuid;

use crate::caller::Scope;
use crate::credentials::Issued;
use crate::error::{AppError, AppResult};
use crate::App;

const SECRET_PREFIX: &str = "whsec_";

/// A webhook to make, as a surface parsed it.
#[derive(Debug, Clone)]
pub struct WebhookDraft {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

/// A change to a webhook; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A tenant's webhooks.
pub struct Webhooks<'a> {
    app: &'a App,
}

impl App {
    /// A tenant's webhooks (MANAGE_WEBHOOKS).
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks { app: self }
    }
}

impl Webhooks<'_> {
    /// Subscribes `draft.url` to the tenant's events; the answer holds the
    /// signing secret, the only time it is shown.
    pub async fn create(&self, scope: &Scope, draft: WebhookDraft) -> AppResult<Issued<Webhook>> {
        scope.require(Permission::ManageWebhooks)?;
        let url = checked_url(&draft.url, self.app.config.events.allow_private).await?;
        let event_types = checked_filters(draft.event_types)?;
        let id = Uuid::now_v7();
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes));
        let stored = match &self.app.config.key_encryption_key {
            Some(kek) => kek.seal(&sealing_context(id), &secret),
            None => secret.clone(),
        };
        let webhook = self
            .app
            .store
            .create_webhook(
                scope.tenant(),
                NewWebhook {
                    id,
                    url,
                    description: draft.description,
                    event_types,
                    secret: stored,
                },
                scope.actor(),
            )
            .await?;
        Ok(Issued {
            record: webhook,
            token: secret,
        })
    }

    pub async fn get(&self, scope: &Scope, id: Uuid) -> AppResult<Webhook> {
        scope.require(Permission::ManageWebhooks)?;
        Ok(self.app.store.get_webhook(scope.tenant(), id).await?)
    }

    pub async fn list(&self, scope: &Scope, page: &Page) -> AppResult<Listed<Webhook>> {
        scope.require(Permission::ManageWebhooks)?;
        Ok(self.app.store.list_webhooks(scope.tenant(), page).await?)
    }

    /// Changes a webhook; enabling one Roster disabled clears the reason,
    /// and its waiting deliveries go out again.
    pub async fn update(
        &self,
        scope: &Scope,
        id: Uuid,
        change: WebhookChange,
    ) -> AppResult<Webhook> {
        scope.require(Permission::ManageWebhooks)?;
        let url = match change.url {
            Some(url) => Some(checked_url(&url, self.app.config.events.allow_private).await?),
            None => None,
        };
        let event_types = change.event_types.map(checked_filters).transpose()?;
        let patch = WebhookPatch {
            url,
            description: change.description,
            event_types,
            enabled: change.enabled,
        };
        Ok(self
            .app
            .store
            .update_webhook(scope.tenant(), id, patch, scope.actor())
            .await?)
    }

    pub async fn delete(&self, scope: &Scope, id: Uuid) -> AppResult<()> {
        scope.require(Permission::ManageWebhooks)?;
        Ok(self
            .app
            .store
            .delete_webhook(scope.tenant(), id, scope.actor())
            .await?)
    }

    /// A webhook's delivery attempts, newest first.
    pub async fn deliveries(
        &self,
        scope: &Scope,
        id: Uuid,
        page: &Page,
    ) -> AppResult<Listed<DeliveryAttempt>> {
        scope.require(Permission::ManageWebhooks)?;
        Ok(self
            .app
            .store
            .list_attempts(scope.tenant(), id, page)
            .await?)
    }
}

/// What a sealed secret is bound to: its webhook.
fn sealing_context(id: Uuid) -> String {
    format!("webhook:{id}")
}

/// The signing key of a stored secret: opened with the key-encryption key
/// when sealed, then the bytes after `whsec_`.
pub(crate) fn signing_key(
    kek: Option<&crate::sealing::KeyEncryptionKey>,
    webhook: Uuid,
    stored: &str,
) -> AppResult<Vec<u8>> {
    let secret = crate::sealing::open(kek, &sealing_context(webhook), stored)
        .map_err(|e| AppError::Internal(format!("webhook {webhook}'s secret: {e}")))?;
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(&secret);
    STANDARD
        .decode(encoded)
        .map_err(|_| AppError::Internal(format!("webhook {webhook}'s secret is not base64")))
}

/// The Standard Webhooks signature of a message: `v1,<base64 of
/// HMAC-SHA256("{id}.{timestamp}.{body}")>`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn checked_filters(filters: Vec<String>) -> AppResult<Vec<String>> {
    if filters.len() > MAX_FILTERS {
        return Err(AppError::field(
            "event_types",
            format!("at most {MAX_FILTERS} entries"),
        ));
    }
    let mut parsed = Vec::with_capacity(filters.len());
    for filter in filters {
        let filter =
            EventTypeFilter::parse(&filter).map_err(|m| AppError::field("event_types", m))?;
        parsed.push(filter.as_str().to_string());
    }
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

/// Refused unless `ROSTER_WEBHOOK_ALLOW_PRIVATE=true`.
const PRIVATE: &str = "resolves to a loopback, private or link-local address, which webhooks may \
                       not reach (ROSTER_WEBHOOK_ALLOW_PRIVATE=true allows them)";

/// An absolute `http` or `https` URL whose host resolves only to public
/// addresses (unless `allow_private`). Delivery checks the addresses again
/// as it connects, since DNS may answer otherwise by then.
async fn checked_url(text: &str, allow_private: bool) -> AppResult<String> {
    let bad = |m: &str| AppError::field("url", m);
    if text.len() > 2048 {
        return Err(bad("must be at most 2048 characters"));
    }
    let url = url::Url::parse(text).map_err(|_| bad("is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be an http or https URL"));
    }
    let addresses = resolve(&url).await.map_err(|m| AppError::field("url", m))?;
    if !allow_private && addresses.iter().any(|a| !is_public_address(*a)) {
        return Err(bad(PRIVATE));
    }
    Ok(url.to_string())
}

/// The addresses a URL's host stands for.
pub(crate) async fn resolve(url: &url::Url) -> Result<Vec<IpAddr>, String> {
    let port = url.port_or_known_default().unwrap_or(443);
    match url.host() {
        Some(url::Host::Ipv4(v4)) => Ok(vec![IpAddr::V4(v4)]),
        Some(url::Host::Ipv6(v6)) => Ok(vec![IpAddr::V6(v6)]),
        Some(url::Host::Domain(domain)) => {
            let found: Vec<IpAddr> = tokio::net::lookup_host((domain, port))
                .await
                .map_err(|_| format!("host '{domain}' does not resolve"))?
                .map(|a| a.ip())
                .collect();
            if found.is_empty() {
                return Err(format!("host '{domain}' does not resolve"));
            }
            Ok(found)
        }
        None => Err("must name a host".into()),
    }
}

/// The addresses a delivery may connect to: reqwest's resolver, so the
/// check holds for the addresses actually dialled (DNS rebinding).
pub(crate) struct PublicResolver {
    pub(crate) allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public_address(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(PRIVATE.into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[tokio::test]
    async fn urls_must_be_public_http() {
        for bad in [
            "ftp://example.com/x",
            "not a url",
            "http://127.0.0.1/hook",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.8/",
            "http://localhost:9/",
        ] {
            assert!(checked_url(bad, false).await.is_err(), "{bad}");
        }
        assert!(checked_url("http://127.0.0.1:9/hook", true).await.is_ok());
        assert!(checked_url("https://93.184.216.34/hook", false)
            .await
            .is_ok());
    }
}
