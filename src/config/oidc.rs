//! The `[oidc]` section: OpenID Connect providers, their presets and validation.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Registration};

/// OpenID Connect login.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The providers offered on the login page, in this order.
    pub providers: Vec<OidcProviderConfig>,
}

/// One OpenID provider (`[[oidc.providers]]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OidcProviderConfig {
    /// Short id used in URLs and stored with linked accounts: lower-case letters, digits, `-`.
    /// Changing it unlinks every account linked through it.
    pub id: String,
    /// `google` fills in the issuer and label; empty for any other provider.
    pub preset: String,
    /// The button text ("Continue with ..."); defaults to the preset's name or the id.
    pub label: String,
    /// The issuer URL; discovery is fetched from `ISSUER/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret; printed as `***`.
    pub client_secret: String,
    /// A file holding the client secret instead (e.g. a systemd credential).
    pub client_secret_file: String,
    /// Scopes to ask for; `openid` is always asked for.
    pub scopes: Vec<String>,
    /// Let a first login through this provider log in to an existing account with the same
    /// email, when the provider says the email is verified.
    pub link_existing_by_email: bool,
    /// Treat every email this provider sends as verified, for providers that vouch for their
    /// addresses but send no `email_verified` claim (Microsoft Entra ID).
    pub trust_email: bool,
    /// Who may get a new account through this provider: `open`, `invite` or `closed`; empty
    /// follows `auth.registration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
    /// When not empty, only emails of these domains may register or log in.
    pub allowed_domains: Vec<String>,
    /// A claim (e.g. `groups`) that decides the instance admin role at each login.
    pub admin_claim: String,
    /// The values of `admin_claim` that make an instance admin.
    pub admin_values: Vec<String>,
}

impl OidcProviderConfig {
    /// The issuer in effect (the preset's when none is set).
    pub fn issuer_url(&self) -> &str {
        match (self.issuer.trim(), self.preset.as_str()) {
            ("", "google") => "https://accounts.google.com",
            (issuer, _) => issuer,
        }
    }

    /// The button label in effect.
    pub fn display_label(&self) -> &str {
        match (self.label.trim(), self.preset.as_str()) {
            ("", "google") => "Google",
            ("", _) => &self.id,
            (label, _) => label,
        }
    }

    /// The scopes in effect: `openid`, then the configured ones (default `email profile`).
    pub fn effective_scopes(&self) -> Vec<String> {
        let mut scopes = vec!["openid".to_owned()];
        let configured: Vec<String> = if self.scopes.is_empty() {
            vec!["email".to_owned(), "profile".to_owned()]
        } else {
            self.scopes.clone()
        };
        for s in configured {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        scopes
    }

    pub(super) fn validate(&self, i: usize) -> Result<(), ConfigError> {
        let key = format!("oidc.providers[{i}]");
        let bad = |field: &str, msg: String| {
            Err(ConfigError::new("config", format!("{key}.{field}"), msg))
        };
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 32
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return bad(
                "id",
                "1 to 32 lower-case letters, digits or `-`, e.g. `google` or `corp-sso`".to_owned(),
            );
        }
        if !matches!(self.preset.as_str(), "" | "google") {
            return bad(
                "preset",
                format!("unknown preset `{}`; known: google", self.preset),
            );
        }
        match url::Url::parse(self.issuer_url()) {
            Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() => {}
            _ => {
                return bad(
                    "issuer",
                    "must be the provider's issuer URL, e.g. https://login.example.com/realm"
                        .to_owned(),
                );
            }
        }
        if self.client_id.trim().is_empty() {
            return bad("client_id", "must be set".to_owned());
        }
        if self.client_secret.is_empty() == self.client_secret_file.trim().is_empty() {
            return bad(
                "client_secret",
                "set exactly one of client_secret and client_secret_file".to_owned(),
            );
        }
        if !self.admin_claim.is_empty() && self.admin_values.is_empty() {
            return bad(
                "admin_values",
                "list the values of admin_claim that make an admin".to_owned(),
            );
        }
        for d in &self.allowed_domains {
            if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
                return bad(
                    "allowed_domains",
                    format!("`{d}` is not a domain like example.com"),
                );
            }
        }
        Ok(())
    }
}
