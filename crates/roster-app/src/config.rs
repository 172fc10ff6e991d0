//! What the application needs to know of the configuration, with every
//! default declared once (the binary's flags take theirs from here), and the
//! redacting types that carry its secrets.

use std::net::IpAddr;

use chrono::Duration;
use roster_core::throttle::ThrottlePolicy;

pub use crate::passwords::PoolSize;
use crate::sealing::KeyEncryptionKey;

/// The defaults, in the units configuration is written in.
pub mod defaults {
    /// Access token (a tenant user's) lifetime: 15 minutes.
    pub const ACCESS_TOKEN_TTL_SECONDS: u32 = 900;
    /// Auth token (an account's) lifetime: a day.
    pub const AUTH_TOKEN_TTL_SECONDS: u32 = 86_400;
    /// How long an invitation can be accepted: 7 days.
    pub const INVITATION_TTL_SECONDS: u32 = 604_800;
    /// How long a cached credential or check fact may be used, in ms.
    pub const CACHE_STALENESS_MS: u32 = 500;
    /// How long a console sign-in lasts without a request: 30 minutes.
    pub const CONSOLE_IDLE_TIMEOUT_SECONDS: u32 = 1_800;
    /// How often expired sessions, invitations and throttles are purged.
    pub const PURGE_INTERVAL_SECONDS: u32 = 3_600;
    /// Consecutive failed sign-ins of one login before it locks.
    pub const LOGIN_MAX_FAILURES: u32 =
        roster_core::throttle::ThrottlePolicy::DEFAULT.max_failures as u32;
    /// Failed sign-ins one client address may make per minute.
    pub const LOGIN_ADDRESS_LIMIT: u32 =
        roster_core::throttle::ThrottlePolicy::DEFAULT.address_per_minute as u32;
    /// The waits before each retry of a failed webhook delivery, in seconds.
    pub const WEBHOOK_RETRY_SECONDS: &str = roster_core::events::RetrySchedule::DEFAULT_SECONDS;
    /// How long one webhook delivery attempt may take, in seconds.
    pub const WEBHOOK_TIMEOUT_SECONDS: u32 = 10;
    /// Deliveries in flight to one webhook at once.
    pub const WEBHOOK_CONCURRENCY: u32 = 8;
}

/// A secret from configuration: compared in constant time, never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Whether `presented` is this secret, in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        roster_core::secret::constant_time_eq(presented.as_bytes(), self.0.as_bytes())
    }

    /// The secret itself, for the one place that must send it on.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What the application layer needs to know of the configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The platform operator's token; `None` disables admin access.
    pub admin_token: Option<Secret>,
    /// How long an access token (a tenant user's) lives.
    pub access_token_ttl: Duration,
    /// How long an auth token (an account's) lives.
    pub auth_token_ttl: Duration,
    /// How long an invitation can be accepted.
    pub invitation_ttl: Duration,
    /// Sign-in throttling.
    pub throttle: ThrottlePolicy,
    /// The proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Seals the token-signing keys in the database; `None` keeps them
    /// as plain PEM (with a warning at start).
    pub key_encryption_key: Option<KeyEncryptionKey>,
    /// The password pool's workers and queue.
    pub password_pool: PoolSize,
    /// How long a cached credential or check fact may be used: the bound on
    /// how late another process's change is honoured. Zero: no cache.
    pub cache_staleness: std::time::Duration,
    /// How events go out (webhooks, NATS).
    pub events: EventsConfig,
    /// How long a console sign-in lasts without a request.
    pub console_idle_timeout: Duration,
}

/// How events go out (SPEC §8).
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// The waits before each retry of a failed webhook delivery.
    pub retry: roster_core::events::RetrySchedule,
    /// Whether webhooks may reach loopback, private and link-local addresses.
    pub allow_private: bool,
    /// How long one delivery attempt may take.
    pub timeout: std::time::Duration,
    /// Deliveries in flight to one webhook at once (back-pressure: a slow
    /// endpoint holds only its own).
    pub concurrency: usize,
    /// NATS JetStream to publish every event to, if any. Its `Debug` hides
    /// credentials in the URL.
    pub nats_url: Option<Secret>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            retry: roster_core::events::RetrySchedule::default(),
            allow_private: false,
            timeout: std::time::Duration::from_secs(u64::from(defaults::WEBHOOK_TIMEOUT_SECONDS)),
            concurrency: defaults::WEBHOOK_CONCURRENCY as usize,
            nats_url: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let seconds = |s: u32| Duration::seconds(i64::from(s));
        Config {
            admin_token: None,
            access_token_ttl: seconds(defaults::ACCESS_TOKEN_TTL_SECONDS),
            auth_token_ttl: seconds(defaults::AUTH_TOKEN_TTL_SECONDS),
            invitation_ttl: seconds(defaults::INVITATION_TTL_SECONDS),
            throttle: ThrottlePolicy::DEFAULT,
            trusted_proxies: TrustedProxies::default(),
            key_encryption_key: None,
            password_pool: PoolSize::default(),
            cache_staleness: std::time::Duration::from_millis(u64::from(
                defaults::CACHE_STALENESS_MS,
            )),
            events: EventsConfig::default(),
            console_idle_timeout: seconds(defaults::CONSOLE_IDLE_TIMEOUT_SECONDS),
        }
    }
}

/// The reverse proxies (CIDR blocks) allowed to say who the client is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Proxies from a comma-separated list of CIDR blocks or addresses
    /// (`10.0.0.0/8, 192.168.1.7, ::1`); empty trusts none.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let net = match item.parse::<ipnet::IpNet>() {
                Ok(net) => net,
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(addr) => ipnet::IpNet::from(addr),
                    Err(_) => {
                        return Err(format!(
                            "'{item}' is not a CIDR block (10.0.0.0/8) or an address"
                        ))
                    }
                },
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether `addr` is one of the proxies.
    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client behind `peer` (the TCP peer), given the `X-Forwarded-For`
    /// entries in the order they arrived (every header's, left to right).
    ///
    /// Walks right to left from the peer: while the hop that handed the
    /// request over is a trusted proxy, the address it forwarded for is the
    /// next hop. The first address not a trusted proxy is the client (every
    /// proxy appends, so entries left of it may be forged). An entry that is
    /// not an address stops the walk at the proxy that wrote it. A peer that
    /// is not trusted is the client, whatever the header says.
    pub fn client_of<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = canonical(peer);
        for entry in forwarded_for.rev() {
            if !self.trusts(client) {
                break;
            }
            match parse_forwarded(entry) {
                Some(addr) => client = canonical(addr),
                None => break,
            }
        }
        client
    }
}

/// An IPv4 address reached over IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port
/// (`1.2.3.4:5678`, `[::1]:80`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(addr);
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn proxies_parse_blocks_and_addresses() {
        let p = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7 ,::1").unwrap();
        assert!(p.trusts(ip("10.1.2.3")));
        assert!(p.trusts(ip("192.168.1.7")));
        assert!(!p.trusts(ip("192.168.1.8")));
        assert!(p.trusts(ip("::1")));
        assert!(p.trusts(ip("::ffff:10.9.9.9")));
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
        let refused = TrustedProxies::parse("10.0.0.0/8,localhost").unwrap_err();
        assert!(refused.contains("'localhost'"), "{refused}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let p = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let peer = ip("10.0.0.1");
        // One proxy: the entry it appended is the client.
        assert_eq!(
            p.client_of(peer, ["203.0.113.5"].into_iter()),
            ip("203.0.113.5")
        );
        // A forged entry left of the real client is ignored.
        assert_eq!(
            p.client_of(peer, ["6.6.6.6", "203.0.113.5", "10.0.0.2"].into_iter()),
            ip("203.0.113.5")
        );
        // Ports and brackets are tolerated.
        assert_eq!(
            p.client_of(peer, ["[2001:db8::1]:443"].into_iter()),
            ip("2001:db8::1")
        );
        assert_eq!(
            p.client_of(peer, ["203.0.113.5:8080"].into_iter()),
            ip("203.0.113.5")
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(p.client_of(peer, std::iter::empty()), peer);
        assert_eq!(p.client_of(peer, ["unknown"].into_iter()), peer);
        // Only proxies all along: the leftmost.
        assert_eq!(p.client_of(peer, ["10.0.0.9"].into_iter()), ip("10.0.0.9"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client() {
        let none = TrustedProxies::default();
        let peer = ip("198.51.100.7");
        assert_eq!(none.client_of(peer, ["203.0.113.5"].into_iter()), peer);
        let p = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(p.client_of(peer, ["203.0.113.5"].into_iter()), peer);
    }
}
