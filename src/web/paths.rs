//! Route paths of the pages, in one place.

/// Home / dashboard.
pub const HOME: &str = "/";
/// First-run setup.
pub const SETUP: &str = "/setup";
/// Log in.
pub const LOGIN: &str = "/login";
/// Log out (POST).
pub const LOGOUT: &str = "/logout";
/// Self-service registration (when open).
pub const REGISTER: &str = "/register";
/// The user's account.
pub const ACCOUNT: &str = "/account";
/// Change name (POST).
pub const ACCOUNT_NAME: &str = "/account/name";
/// Change password (POST).
pub const ACCOUNT_PASSWORD: &str = "/account/password";
/// Revoke one session (POST).
pub const ACCOUNT_SESSION_REVOKE: &str = "/account/sessions/{id}/revoke";
/// Revoke all other sessions (POST).
pub const ACCOUNT_SESSIONS_REVOKE_OTHERS: &str = "/account/sessions/revoke-others";
/// Users admin.
pub const ADMIN_USERS: &str = "/admin/users";
/// Disable/enable/promote a user (POST).
pub const ADMIN_USER_ACTION: &str = "/admin/users/{id}/{action}";
/// Audit log.
pub const ADMIN_AUDIT: &str = "/admin/audit";

/// Fills the `{id}` of a path pattern.
pub fn with_id(pattern: &str, id: impl std::fmt::Display) -> String {
    pattern.replace("{id}", &id.to_string())
}
