//! The one outbound HTTP client: rustls, connect and read timeouts, no redirects, TCP_NODELAY,
//! and the operator's allowlist checked against the addresses actually connected to.
//!
//! Host names resolve through [`PolicyResolver`], which drops every address the policy refuses,
//! so a name that resolves (or re-resolves) to a private address cannot be used to reach
//! internal services. URLs with an IP literal skip DNS, so [`Outbound::request`] checks them
//! before sending. Building a `reqwest::Client` anywhere else is a clippy error.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, RequestBuilder};
use url::Url;

use crate::config::OutboundConfig;
use crate::domain::outbound::OutboundAllowlist;
use crate::error::{Error, Result};

/// Which destinations the server may connect to.
#[derive(Clone, Debug)]
pub struct Policy {
    cidrs: Vec<IpNet>,
    hosts: Vec<String>,
    ports: Vec<u16>,
    block_public: bool,
}

/// Whether an address is not on the public internet: private, loopback, link-local,
/// carrier-grade NAT, unspecified, multicast, broadcast, documentation or reserved.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            // IPv4-compatible (::a.b.c.d) and 6to4 (2002:a.b::) addresses carry an IPv4 one.
            if seg[..6].iter().all(|s| *s == 0) {
                return true;
            }
            if seg[0] == 0x2002 {
                let v4 = std::net::Ipv4Addr::new(
                    (seg[1] >> 8) as u8,
                    seg[1] as u8,
                    (seg[2] >> 8) as u8,
                    seg[2] as u8,
                );
                return is_internal(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                // NAT64, documentation, Teredo and the deprecated site-local ranges.
                || (seg[0] == 0x64 && seg[1] == 0xff9b)
                || (seg[0] == 0x2001 && (seg[1] == 0x0db8 || seg[1] == 0))
                || (seg[0] & 0xffc0) == 0xfec0
        }
    }
}

impl Policy {
    /// The policy of the `[outbound]` configuration (already validated).
    pub fn from_config(c: &OutboundConfig) -> Self {
        let cidrs = c
            .allow_cidrs
            .iter()
            .filter_map(|s| {
                s.parse::<IpNet>()
                    .ok()
                    .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
            })
            .collect();
        Self {
            cidrs,
            hosts: c.allow_hosts.iter().map(|h| h.to_lowercase()).collect(),
            ports: c.allow_ports.clone(),
            block_public: c.block_public,
        }
    }

    /// Whether the host name itself is on the allowlist.
    fn host_listed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_lowercase();
        self.hosts.iter().any(|h| match h.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => *h == host,
        })
    }

    /// Whether connecting to `ip` is allowed (for a host named `host`, if any).
    pub fn allows_ip(&self, ip: IpAddr, host: Option<&str>) -> bool {
        if self.cidrs.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        if host.is_some_and(|h| self.host_listed(h)) {
            return true;
        }
        !is_internal(ip) && !self.block_public
    }

    /// Checks a URL before sending: scheme, port, and (for IP literals) the address.
    pub fn check_url(&self, url: &Url) -> Result<()> {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(refused(url, &["only http and https are allowed".into()]));
        }
        // Every setting that stands in the way, at once, so one change to the config suffices.
        let mut missing: Vec<String> = Vec::new();
        let port = url.port_or_known_default().unwrap_or(0);
        if !self.ports.contains(&port) {
            missing.push(format!(
                "add port {port} to outbound.allow_ports (PROMPTYARD_OUTBOUND__ALLOW_PORTS)"
            ));
        }
        let refused_ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            None => return Err(refused(url, &["the URL has no host".into()])),
            Some(url::Host::Domain(_)) => None,
        }
        .filter(|ip| !self.allows_ip(*ip, None));
        if let Some(ip) = refused_ip {
            missing.push(if is_internal(ip) {
                format!(
                    "that address is private: add {ip} to outbound.allow_cidrs \
                     (PROMPTYARD_OUTBOUND__ALLOW_CIDRS)"
                )
            } else {
                "outbound.block_public refuses public addresses".to_owned()
            });
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(refused(url, &missing))
        }
    }
}

fn refused(url: &Url, why: &[String]) -> Error {
    let host = url.host_str().unwrap_or("?");
    Error::invalid(
        "base_url",
        format!(
            "the outbound policy does not allow {host}: {}",
            why.join("; and ")
        ),
    )
}

/// Resolves host names and keeps only the addresses the policy allows.
#[derive(Clone, Debug)]
pub struct PolicyResolver {
    policy: Arc<Policy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.allows_ip(a.ip(), Some(&host)))
                .collect();
            if allowed.is_empty() {
                // The addresses are not named: that would let a workspace admin map internal
                // host names through error messages.
                let msg = format!(
                    "the outbound policy does not allow {host}; an operator can list it in \
                     outbound.allow_hosts or outbound.allow_cidrs"
                );
                return Err(msg.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The outbound client: every request to a provider is built here. Clones share one client
/// and policy, which [`Outbound::apply`] replaces at run time (a new client, so no pooled
/// connection outlives the policy it was opened under).
#[derive(Clone, Debug)]
pub struct Outbound {
    config: Arc<OutboundConfig>,
    inner: Arc<RwLock<Inner>>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    policy: Arc<Policy>,
}

fn build(config: &OutboundConfig) -> Result<Inner> {
    let policy = Arc::new(Policy::from_config(config));
    #[allow(clippy::disallowed_methods)]
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
        .read_timeout(Duration::from_secs(config.read_timeout_secs))
        .pool_idle_timeout(Duration::from_secs(60))
        .no_proxy()
        .user_agent(concat!("promptyard/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(PolicyResolver {
            policy: policy.clone(),
        }))
        .build()
        .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
    Ok(Inner { client, policy })
}

impl Outbound {
    /// The client for the `[outbound]` configuration.
    pub fn new(config: &OutboundConfig) -> Result<Self> {
        Ok(Self {
            config: Arc::new(config.clone()),
            inner: Arc::new(RwLock::new(build(config)?)),
        })
    }

    /// Puts the configured policy plus `extra` (the web UI's allowlist) in force for every
    /// later request.
    pub fn apply(&self, extra: &OutboundAllowlist) -> Result<()> {
        let mut merged = (*self.config).clone();
        for c in &extra.allow_cidrs {
            if !merged.allow_cidrs.contains(c) {
                merged.allow_cidrs.push(c.clone());
            }
        }
        for h in &extra.allow_hosts {
            if !merged.allow_hosts.contains(h) {
                merged.allow_hosts.push(h.clone());
            }
        }
        for p in &extra.allow_ports {
            if !merged.allow_ports.contains(p) {
                merged.allow_ports.push(*p);
            }
        }
        let fresh = build(&merged)?;
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The configuration the server started with (before the web UI's additions).
    pub fn configured(&self) -> &OutboundConfig {
        &self.config
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .policy
            .clone()
    }

    /// A request to `url`, refused up front when the URL itself breaks the policy.
    pub fn request(&self, method: Method, url: &Url) -> Result<RequestBuilder> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        inner.policy.check_url(url)?;
        Ok(inner.client.request(method, url.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(cidrs: &[&str], hosts: &[&str], block_public: bool) -> Policy {
        Policy::from_config(&OutboundConfig {
            allow_cidrs: cidrs.iter().map(|s| s.to_string()).collect(),
            allow_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            allow_ports: vec![443, 80, 11434],
            block_public,
            ..OutboundConfig::default()
        })
    }

    #[test]
    fn a_refusal_names_every_setting_in_the_way() {
        let p = policy(&[], &[], false);
        let e = p
            .check_url(&Url::parse("http://127.0.0.1:61999/v1").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("add port 61999 to outbound.allow_ports"), "{e}");
        assert!(e.contains("add 127.0.0.1 to outbound.allow_cidrs"), "{e}");
        let e = p
            .check_url(&Url::parse("http://[::1]:443/v1").unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("add ::1 to outbound.allow_cidrs") && !e.contains("port"),
            "{e}"
        );
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "104.18.0.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn embedded_and_reserved_ranges_are_internal() {
        for ip in [
            "192.0.0.1",
            "::127.0.0.2",
            "fec0::1",
            "2002:7f00:1::1",
            "2001:0::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        assert!(
            !is_internal("2002:0808:0808::1".parse().unwrap()),
            "6to4 of a public address"
        );
    }

    #[test]
    fn private_needs_a_listing_and_public_can_be_blocked() {
        let p = policy(&[], &[], false);
        let meta: IpAddr = "169.254.169.254".parse().unwrap();
        assert!(!p.allows_ip(meta, None));
        assert!(!p.allows_ip("127.0.0.1".parse().unwrap(), Some("localhost")));
        assert!(p.allows_ip("1.1.1.1".parse().unwrap(), Some("api.openai.com")));

        let p = policy(&["127.0.0.1", "10.0.0.0/8"], &["*.corp.example"], false);
        assert!(p.allows_ip("127.0.0.1".parse().unwrap(), None));
        assert!(!p.allows_ip("127.0.0.2".parse().unwrap(), None));
        assert!(p.allows_ip("10.9.9.9".parse().unwrap(), None));
        assert!(p.allows_ip("192.168.0.5".parse().unwrap(), Some("llm.corp.example")));
        assert!(!p.allows_ip("192.168.0.5".parse().unwrap(), Some("corp.example.evil")));
        assert!(!p.allows_ip(meta, None));

        let p = policy(&["127.0.0.1"], &[], true);
        assert!(!p.allows_ip("1.1.1.1".parse().unwrap(), None));
        assert!(p.allows_ip("127.0.0.1".parse().unwrap(), None));
    }

    #[test]
    fn urls_are_checked_for_scheme_port_and_literal_addresses() {
        let p = policy(&[], &[], false);
        let ok = |u: &str| p.check_url(&Url::parse(u).unwrap()).is_ok();
        assert!(ok("https://api.openai.com/v1"));
        assert!(!ok("http://169.254.169.254/latest/meta-data"));
        assert!(!ok("http://127.0.0.1:11434/v1"));
        assert!(!ok("http://[::1]:11434/v1"));
        assert!(!ok("https://api.openai.com:8443/v1"), "port not listed");
        assert!(!ok("ftp://example.com/"));
        assert!(!ok("file:///etc/passwd"));
        let p = policy(&["127.0.0.1"], &[], false);
        assert!(
            p.check_url(&Url::parse("http://127.0.0.1:11434/v1").unwrap())
                .is_ok()
        );
    }
}
