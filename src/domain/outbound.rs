//! The outbound allowlist an instance admin keeps in the web UI: private or loopback ranges,
//! host names and ports added to the `[outbound]` configuration (never removing from it), so a
//! local model server can be allowed without editing files or restarting.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Additions to the configured outbound policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundAllowlist {
    /// CIDR ranges or single addresses (`10.0.0.0/8`, `127.0.0.1`).
    #[serde(default)]
    pub allow_cidrs: Vec<String>,
    /// Host names, `*.` for subdomains (`ollama.lan`, `*.corp.example`).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Destination ports.
    #[serde(default)]
    pub allow_ports: Vec<u16>,
}

/// The most entries of each kind.
const MAX_ENTRIES: usize = 64;

impl OutboundAllowlist {
    /// Trims, de-duplicates and checks every entry; errors name the field and the entry.
    pub fn validated(self) -> Result<Self> {
        let mut out = Self::default();
        for raw in self.allow_cidrs {
            let c = raw.trim().to_owned();
            if c.is_empty() {
                continue;
            }
            let ok = c.parse::<ipnet::IpNet>().is_ok() || c.parse::<std::net::IpAddr>().is_ok();
            if !ok {
                return Err(Error::invalid(
                    "allow_cidrs",
                    format!("`{c}` is not an address or a CIDR range (e.g. 192.168.1.0/24)"),
                ));
            }
            if !out.allow_cidrs.contains(&c) {
                out.allow_cidrs.push(c);
            }
        }
        for raw in self.allow_hosts {
            let h = raw.trim().trim_end_matches('.').to_lowercase();
            if h.is_empty() {
                continue;
            }
            let name = h.strip_prefix("*.").unwrap_or(&h);
            let ok = name.len() <= 253
                && name.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                });
            if !ok {
                return Err(Error::invalid(
                    "allow_hosts",
                    format!("`{raw}` is not a host name (e.g. ollama.lan or *.corp.example)"),
                ));
            }
            if !out.allow_hosts.contains(&h) {
                out.allow_hosts.push(h);
            }
        }
        for p in self.allow_ports {
            if p == 0 {
                return Err(Error::invalid("allow_ports", "port 0 is not a port"));
            }
            if !out.allow_ports.contains(&p) {
                out.allow_ports.push(p);
            }
        }
        if out.allow_cidrs.len() > MAX_ENTRIES
            || out.allow_hosts.len() > MAX_ENTRIES
            || out.allow_ports.len() > MAX_ENTRIES
        {
            return Err(Error::invalid(
                "allow_cidrs",
                format!("at most {MAX_ENTRIES} entries of each kind"),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_checked_and_deduplicated() {
        let ok = OutboundAllowlist {
            allow_cidrs: vec![
                " 127.0.0.1 ".into(),
                "10.0.0.0/8".into(),
                "127.0.0.1".into(),
            ],
            allow_hosts: vec!["Ollama.LAN.".into(), "*.corp.example".into()],
            allow_ports: vec![11434, 11434],
        }
        .validated()
        .unwrap();
        assert_eq!(ok.allow_cidrs, ["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(ok.allow_hosts, ["ollama.lan", "*.corp.example"]);
        assert_eq!(ok.allow_ports, [11434]);
        let field = |l: OutboundAllowlist| match l.validated() {
            Err(Error::Invalid { field, .. }) => field.unwrap_or_default(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(OutboundAllowlist {
                allow_cidrs: vec!["10.0.0.0/33".into()],
                ..Default::default()
            }),
            "allow_cidrs"
        );
        assert_eq!(
            field(OutboundAllowlist {
                allow_hosts: vec!["bad host".into()],
                ..Default::default()
            }),
            "allow_hosts"
        );
    }
}
