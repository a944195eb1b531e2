//! The HTTP edge shared by the web pages and the JSON API: middleware (request id, security
//! headers, origin check, limits, tracing), extractors (session user, client address, forms
//! and JSON that reject in our error format), embedded assets, cookies and error rendering.
//!
//! It knows `auth` and `error`, never `web` or `api`.

pub mod assets;
pub mod cookies;
pub mod error;
pub mod extract;
pub mod markdown;
pub mod middleware;
pub mod routes;

/// Settings of the edge that requests need, from the configuration.
#[derive(Clone, Debug)]
pub struct Edge {
    /// `scheme://host[:port]` of `public_url`, when configured.
    pub public_origin: Option<String>,
    /// Serve cookies `Secure` with the `__Host-` prefix.
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Body limit in KiB.
    pub body_limit_kib: usize,
    /// Absolute session lifetime, for the cookie's Max-Age.
    pub session_max_age: time::Duration,
}

impl Edge {
    /// The origin people reach this server at: `public_url`'s, else `scheme://Host` of the
    /// request (`None` when the Host header is missing or not a plain host name).
    pub fn origin(&self, headers: &axum::http::HeaderMap) -> Option<String> {
        if let Some(origin) = &self.public_origin {
            return Some(origin.clone());
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })?;
        let scheme = if self.secure_cookies { "https" } else { "http" };
        Some(format!("{scheme}://{host}"))
    }

    /// The edge settings for `config`.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let public_origin = url::Url::parse(&config.public_url)
            .ok()
            .map(|u| u.origin().ascii_serialization());
        Self {
            public_origin,
            secure_cookies: config.is_https(),
            trust_forwarded_for: config.http.trust_forwarded_for,
            body_limit_kib: config.http.body_limit_kib,
            session_max_age: time::Duration::hours(
                i64::try_from(config.auth.session_absolute_hours).unwrap_or(24 * 365),
            ),
        }
    }
}
