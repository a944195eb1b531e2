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
/// Choose light, dark or the system's scheme (POST).
pub const THEME: &str = "/theme";
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
/// Start an OpenID sign-in (GET, `?next=`, `?invite=`).
pub const OIDC_START: &str = "/auth/oidc/{provider}";
/// Where the OpenID provider sends the browser back.
pub const OIDC_CALLBACK: &str = "/auth/oidc/{provider}/callback";
/// Link a provider account to the logged-in user (POST).
pub const ACCOUNT_IDENTITY_LINK: &str = "/account/identities/{provider}/link";
/// Unlink a provider account (POST).
pub const ACCOUNT_IDENTITY_UNLINK: &str = "/account/identities/{provider}/unlink";
/// Upload or remove the profile picture (POST).
pub const ACCOUNT_AVATAR: &str = "/account/avatar";
/// A user's profile picture.
pub const AVATAR: &str = "/avatars/{id}";

/// Fills the `{provider}` of a path pattern.
pub fn with_provider(pattern: &str, provider: &str) -> String {
    pattern.replace("{provider}", provider)
}

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

/// The user's workspaces, and creating one.
pub const WORKSPACES: &str = "/workspaces";
/// A workspace's home (its templates).
pub const WS_HOME: &str = "/w/{ws}";
/// A workspace's settings: name, members, invites, deletion.
pub const WS_SETTINGS: &str = "/w/{ws}/settings";
/// A workspace's run history.
pub const WS_HISTORY: &str = "/w/{ws}/history";
/// The user's own runs across their workspaces.
pub const MY_HISTORY: &str = "/history";
/// A workspace's filtered runs as CSV or JSON lines.
pub const WS_HISTORY_EXPORT: &str = "/w/{ws}/history/export";
/// The user's own filtered runs as CSV or JSON lines.
pub const MY_HISTORY_EXPORT: &str = "/history/export";
/// A workspace's analytics (admins and owners).
pub const WS_ANALYTICS: &str = "/w/{ws}/analytics";
/// A workspace's audit log (admins and owners).
pub const WS_AUDIT: &str = "/w/{ws}/audit";
/// Analytics over every workspace (instance admins).
pub const ADMIN_ANALYTICS: &str = "/admin/analytics";
/// Rename (POST).
pub const WS_RENAME: &str = "/w/{ws}/rename";
/// Delete (POST, typed confirmation).
pub const WS_DELETE: &str = "/w/{ws}/delete";
/// Leave (POST).
pub const WS_LEAVE: &str = "/w/{ws}/leave";
/// Change a member's role (POST).
pub const WS_MEMBER_ROLE: &str = "/w/{ws}/members/{user}/role";
/// Remove a member (POST).
pub const WS_MEMBER_REMOVE: &str = "/w/{ws}/members/{user}/remove";
/// Create an invite (POST).
pub const WS_INVITES: &str = "/w/{ws}/invites";
/// Revoke an invite (POST).
pub const WS_INVITE_REVOKE: &str = "/w/{ws}/invites/{invite}/revoke";
/// An invite link: see and accept it.
pub const INVITE: &str = "/invites/{token}";
/// A workspace's templates.
pub const WS_TEMPLATES: &str = "/w/{ws}/templates";
/// The editor for a new template.
pub const WS_TEMPLATE_NEW: &str = "/w/{ws}/templates/new";
/// Export every template of a workspace (JSON download).
pub const WS_EXPORT: &str = "/w/{ws}/export";
/// Import templates (POST).
pub const WS_IMPORT: &str = "/w/{ws}/import";
/// New system template (admins).
pub const SYSTEM_TEMPLATE_NEW: &str = "/system/templates/new";
/// Create a system template (POST).
pub const SYSTEM_TEMPLATES: &str = "/system/templates";
/// A template.
pub const TEMPLATE: &str = "/templates/{id}";
/// Its editor.
pub const TEMPLATE_EDIT: &str = "/templates/{id}/edit";
/// Save a version (POST).
pub const TEMPLATE_VERSIONS: &str = "/templates/{id}/versions";
/// Version history.
pub const TEMPLATE_HISTORY: &str = "/templates/{id}/history";
/// Diff of two versions.
pub const TEMPLATE_DIFF: &str = "/templates/{id}/diff";
/// Roll back (POST).
pub const TEMPLATE_ROLLBACK: &str = "/templates/{id}/rollback";
/// Set a label (POST).
pub const TEMPLATE_LABELS: &str = "/templates/{id}/labels";
/// Remove a label (POST).
pub const TEMPLATE_LABEL_DELETE: &str = "/templates/{id}/labels/{label}/delete";
/// Duplicate (POST).
pub const TEMPLATE_DUPLICATE: &str = "/templates/{id}/duplicate";
/// Move (POST).
pub const TEMPLATE_MOVE: &str = "/templates/{id}/move";
/// Delete (POST).
pub const TEMPLATE_DELETE: &str = "/templates/{id}/delete";
/// Render a preview (POST).
pub const TEMPLATE_RENDER: &str = "/templates/{id}/render";
/// Export (JSON download).
pub const TEMPLATE_EXPORT: &str = "/templates/{id}/export";
/// Live preview for the editor (POST, JSON).
pub const PREVIEW: &str = "/preview";

/// Fills `{ws}` of a path pattern.
pub fn ws(pattern: &str, id: impl std::fmt::Display) -> String {
    pattern.replace("{ws}", &id.to_string())
}
/// Instance-wide provider connections.
pub const ADMIN_PROVIDERS: &str = "/admin/providers";
/// Instance admins: the outbound policy and what the web UI adds to it.
pub const ADMIN_OUTBOUND: &str = "/admin/outbound";
/// Change, delete or discover models of an instance connection (POST).
pub const ADMIN_PROVIDER_ACTION: &str = "/admin/providers/{conn}/{action}";
/// A workspace's own provider connections.
pub const WS_PROVIDERS: &str = "/w/{ws}/providers";
/// Change, delete or discover models of a workspace connection (POST).
pub const WS_PROVIDER_ACTION: &str = "/w/{ws}/providers/{conn}/{action}";
/// A workspace's gateway settings: retention, cache, budgets, fallbacks, limits.
pub const WS_GATEWAY: &str = "/w/{ws}/gateway";
/// The playground of a workspace.
pub const WS_PLAYGROUND: &str = "/w/{ws}/playground";
/// Start a run (POST, JSON in, newline-delimited JSON events out).
pub const WS_PLAYGROUND_RUN: &str = "/w/{ws}/playground/run";
/// Save the playground's prompt as a new template version (POST).
pub const WS_PLAYGROUND_SAVE: &str = "/w/{ws}/playground/save";
/// One run of a workspace.
pub const WS_RUN: &str = "/w/{ws}/runs/{run}";
/// Deletes a run (its user, or the workspace's admins).
pub const WS_RUN_DELETE: &str = "/w/{ws}/runs/{run}/delete";
/// The context builder, set to compare a folder with a run's context.
pub const WS_RUN_CONTEXT: &str = "/w/{ws}/runs/{run}/context";
/// The context builder.
pub const CONTEXT: &str = "/context";
/// The user's API keys.
pub const API_KEYS: &str = "/account/api-keys";
/// Revoke an API key (POST).
pub const API_KEY_REVOKE: &str = "/account/api-keys/{key}/revoke";

/// The community submission form (`?template=ID` or `?run=ID` prefill it).
pub const COMMUNITY_NEW: &str = "/community/new";

/// The search page.
pub const SEARCH: &str = "/search";
