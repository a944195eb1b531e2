//! The session and flash cookies.
//!
//! The session cookie is HttpOnly and SameSite=Lax; over https it is also Secure and named with
//! the `__Host-` prefix, which browsers only accept from a secure origin, for path `/`, with no
//! domain. The flash cookie carries a one-time message across a redirect.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Edge;
use crate::domain::{SessionToken, WorkspaceId};

const SESSION_SECURE: &str = "__Host-promptyard_session";
const SESSION_PLAIN: &str = "promptyard_session";
const FLASH: &str = "promptyard_flash";
const WORKSPACE: &str = "promptyard_ws";

/// The session cookie's name for this edge.
pub fn session_cookie_name(edge: &Edge) -> &'static str {
    if edge.secure_cookies {
        SESSION_SECURE
    } else {
        SESSION_PLAIN
    }
}

/// The session token in `jar`, if it holds a well-formed one.
pub fn session_token(jar: &CookieJar, edge: &Edge) -> Option<SessionToken> {
    jar.get(session_cookie_name(edge))
        .and_then(|c| SessionToken::from_cookie(c.value()))
}

/// Adds the session cookie for `token`.
pub fn set_session(jar: CookieJar, edge: &Edge, token: &SessionToken) -> CookieJar {
    let cookie = Cookie::build((session_cookie_name(edge), token.expose().to_owned()))
        .path("/")
        .http_only(true)
        .secure(edge.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(edge.session_max_age);
    jar.add(cookie)
}

/// Removes the session cookie.
pub fn clear_session(jar: CookieJar, edge: &Edge) -> CookieJar {
    // Browsers ignore a __Host- cookie without Secure, removals included.
    jar.remove(
        Cookie::build(session_cookie_name(edge))
            .path("/")
            .secure(edge.secure_cookies),
    )
}

/// A one-time message shown on the next page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlashMessage {
    /// `true` for errors (`role="alert"`), `false` for confirmations (`role="status"`).
    pub is_error: bool,
    /// The text; escaped when shown.
    pub text: String,
}

/// Sets a flash message for the next page.
pub fn set_flash(jar: CookieJar, edge: &Edge, is_error: bool, text: &str) -> CookieJar {
    let value = format!(
        "{}{}",
        if is_error { 'e' } else { 'i' },
        URL_SAFE_NO_PAD.encode(text.as_bytes())
    );
    jar.add(
        Cookie::build((FLASH, value))
            .path("/")
            .http_only(true)
            .secure(edge.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::minutes(5)),
    )
}

/// The pending flash message, if any.
pub fn flash(jar: &CookieJar) -> Option<FlashMessage> {
    let value = jar.get(FLASH)?.value();
    let (kind, rest) = value.split_at_checked(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(rest).ok()?;
    let text: String = String::from_utf8(bytes).ok()?.chars().take(500).collect();
    Some(FlashMessage {
        is_error: kind == "e",
        text,
    })
}

/// Removes the flash cookie once shown.
pub fn clear_flash(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(FLASH).path("/"))
}

/// Remembers the workspace last worked in, so pages outside any workspace can show it.
pub fn remember_workspace(jar: CookieJar, edge: &Edge, id: WorkspaceId) -> CookieJar {
    jar.add(
        Cookie::build((WORKSPACE, id.to_string()))
            .path("/")
            .http_only(true)
            .secure(edge.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::days(365)),
    )
}

/// The workspace last worked in, if the cookie holds one (membership is checked by the caller).
pub fn last_workspace(jar: &CookieJar) -> Option<WorkspaceId> {
    jar.get(WORKSPACE).and_then(|c| c.value().parse().ok())
}

const THEME: &str = "promptyard_theme";

/// The colour scheme a person chose; `System` follows the browser's preference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    /// Follow `prefers-color-scheme`.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    /// Every choice, in the order the chooser shows them.
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    /// The form and cookie value.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The name shown on the chooser.
    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    /// The choice named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The theme the cookie holds (`System` without one).
pub fn theme(jar: &CookieJar) -> Theme {
    jar.get(THEME)
        .and_then(|c| Theme::parse(c.value()))
        .unwrap_or_default()
}

/// Remembers the chosen theme for a year (on this browser, before and after login).
pub fn set_theme(jar: CookieJar, edge: &Edge, theme: Theme) -> CookieJar {
    jar.add(
        Cookie::build((THEME, theme.as_str()))
            .path("/")
            .http_only(true)
            .secure(edge.secure_cookies)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::days(365)),
    )
}
