//! The layout and small view components shared by every page.

use maud::{DOCTYPE, Markup, html};
use time::OffsetDateTime;

use super::PageCtx;
use super::paths;
use crate::error::Error;
use crate::http::assets::head;
use crate::http::cookies::Theme;
use crate::http::error::theme_attr;

/// Which navigation entry is current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Home.
    Home,
    /// The current workspace's templates.
    Templates,
    /// The playground.
    Playground,
    /// Run history, and a run's page.
    History,
    /// The current workspace's settings and members.
    Workspace,
    /// The community library.
    Community,
    /// Search.
    Search,
    /// The context builder.
    Context,
    /// Account.
    Account,
    /// Admin.
    Admin,
    /// None (login, setup, errors).
    None,
}

/// The page frame: header with navigation and the user's menu, flash message, content, and a
/// footer with the theme choice.
pub fn layout(ctx: &PageCtx, title: &str, nav: Nav, content: Markup) -> Markup {
    let user = ctx.auth.as_ref().map(|a| &a.user);
    html! {
        (DOCTYPE)
        html lang="en" data-theme=[theme_attr(ctx.theme)] {
            (head(title, ctx.theme))
            body {
                a.skip href="#main" { "Skip to content" }
                header.topbar {
                    div.topbar-inner {
                        a.brand href=(paths::HOME) { span.brand-mark aria-hidden="true" { "▚" } " Promptyard" }
                        @if let Some(user) = user {
                            (switcher(ctx))
                            nav.mainnav aria-label="Main" {
                                (nav_link(paths::HOME, "Home", nav == Nav::Home))
                                @if let Some(id) = ctx.current_id() {
                                    (nav_link(&paths::ws(paths::WS_TEMPLATES, id), "Templates", nav == Nav::Templates))
                                    (nav_link(&paths::ws(paths::WS_PLAYGROUND, id), "Playground", nav == Nav::Playground))
                                    (nav_link(&paths::ws(paths::WS_HISTORY, id), "History", nav == Nav::History))
                                    (nav_link(&paths::ws(paths::WS_SETTINGS, id), "Workspace", nav == Nav::Workspace))
                                }
                                (nav_link(paths::CONTEXT, "Context", nav == Nav::Context))
                                a href="/community" aria-current=[(nav == Nav::Community).then_some("page")] {
                                    "Community"
                                    @if ctx.moderation_waiting > 0 {
                                        " " span.nav-count #nav-moderation-count title="Submissions waiting for moderation" {
                                            (ctx.moderation_waiting)
                                            span.sr-only { " waiting for moderation" }
                                        }
                                    }
                                }
                                @if user.is_admin() {
                                    (nav_link(paths::ADMIN_USERS, "Admin", nav == Nav::Admin))
                                }
                            }
                            form.topsearch method="get" action=(paths::SEARCH) role="search" {
                                label.sr-only for="top-q" { "Search runs" }
                                input #top-q name="q" type="search" placeholder="Search…" maxlength="500";
                            }
                            (user_menu(user, nav))
                        }
                    }
                }
                main #main.container {
                    @if let Some(flash) = &ctx.flash {
                        @if flash.is_error {
                            div.flash.flash-error role="alert" { (flash.text) }
                        } @else {
                            div.flash.flash-ok role="status" { (flash.text) }
                        }
                    }
                    (content)
                }
                footer.footer {
                    span { "Promptyard " (env!("CARGO_PKG_VERSION")) " · self-hosted prompt engineering" }
                    (theme_form(ctx))
                }
            }
        }
    }
}

/// The user's menu: their name and picture, opening onto account, keys, runs and log out.
fn user_menu(user: &crate::domain::User, nav: Nav) -> Markup {
    html! {
        details.usermenu #user-menu {
            summary title="Your account" {
                (super::profile::avatar(user.id, user.name.as_str(), user.avatar_version(), super::profile::Size::Medium))
                span.sr-only { "Your account " }
                span.username { (user.name) }
            }
            div.usermenu-menu {
                a href=(paths::ACCOUNT) aria-current=[(nav == Nav::Account).then_some("page")] { "Account and profile" }
                a href=(paths::API_KEYS) { "API keys" }
                a href=(paths::MY_HISTORY) { "My runs" }
                form method="post" action=(paths::LOGOUT) {
                    button.button.ghost type="submit" { "Log out" }
                }
            }
        }
    }
}

/// Light, dark or the system's scheme, as three buttons that post the choice and come back.
fn theme_form(ctx: &PageCtx) -> Markup {
    html! {
        form.theme-form method="post" action=(paths::THEME) aria-label="Theme" {
            input type="hidden" name="next" value=(ctx.here);
            span.theme-label aria-hidden="true" { "Theme" }
            @for t in Theme::ALL {
                button.theme-choice type="submit" name="theme" value=(t.as_str())
                    aria-pressed=(if t == ctx.theme { "true" } else { "false" })
                    aria-label=(format!("{} theme", t.label())) { (t.label()) }
            }
        }
    }
}

/// The tabs of a workspace's own pages (members for everyone; the rest for its admins).
pub fn workspace_tabs(ctx: &PageCtx, current: &str) -> Markup {
    html! {
        @if let Some((w, role)) = &ctx.current {
            nav.tabs aria-label="Workspace" {
                @for (pattern, label, admin) in WORKSPACE_PAGES {
                    @if !admin || *role >= crate::domain::Role::Admin {
                        @let href = paths::ws(pattern, w.id);
                        a href=(href) aria-current=[(pattern == current).then_some("page")] { (label) }
                    }
                }
            }
        }
    }
}

/// A workspace's own pages: path pattern, name, whether only its admins see it.
const WORKSPACE_PAGES: [(&str, &str, bool); 5] = [
    (paths::WS_SETTINGS, "Members and settings", false),
    (paths::WS_PROVIDERS, "Provider connections", true),
    (paths::WS_GATEWAY, "Gateway", true),
    (paths::WS_ANALYTICS, "Analytics", true),
    (paths::WS_AUDIT, "Audit log", true),
];

/// The workspace switcher: the current workspace and its pages, and a menu of the others (no
/// script needed).
fn switcher(ctx: &PageCtx) -> Markup {
    html! {
        details.switcher {
            summary title="Switch workspace" {
                span.switcher-label { "Workspace" }
                span.switcher-name {
                    @match &ctx.current {
                        Some((w, _)) => (w.name),
                        None => "None",
                    }
                }
            }
            div.switcher-menu {
                @for (w, role) in &ctx.workspaces {
                    a href=(paths::ws(paths::WS_TEMPLATES, w.id))
                        aria-current=[(ctx.current_id() == Some(w.id)).then_some("true")] {
                        span { (w.name) }
                        span.muted.small { @if w.personal { "Personal" } @else { (role.label()) } }
                    }
                }
                a.switcher-all href=(paths::WORKSPACES) { "All workspaces / new workspace" }
                @if let Some((w, role)) = &ctx.current {
                    div.switcher-section #workspace-pages {
                        p.switcher-heading { (w.name) }
                        @for (pattern, label, admin) in WORKSPACE_PAGES {
                            @if !admin || *role >= crate::domain::Role::Admin {
                                a href=(paths::ws(pattern, w.id)) { (label) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn nav_link(href: &str, label: &str, current: bool) -> Markup {
    html! {
        @if current {
            a href=(href) aria-current="page" { (label) }
        } @else {
            a href=(href) { (label) }
        }
    }
}

/// Up to two initials for the avatar bubble.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// A centered card for the pages shown before login (setup, login, register).
pub fn auth_card(title: &str, lead: &str, content: Markup) -> Markup {
    html! {
        section.auth-card {
            h1 { (title) }
            p.lead { (lead) }
            (content)
        }
    }
}

/// The message of a form error, shown above the form.
pub fn form_errors(error: Option<&Error>) -> Markup {
    html! {
        @if let Some(e) = error {
            div.flash.flash-error role="alert" { (sentence(&e.to_string())) }
        }
    }
}

/// A labelled input; marks itself invalid when `error` concerns it.
pub fn field(
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    autocomplete: &str,
    error: Option<&Error>,
) -> Markup {
    input_field(name, label, kind, value, autocomplete, error, true)
}

/// A labelled input the form can be sent without.
pub fn optional_field(name: &str, label: &str, value: &str, error: Option<&Error>) -> Markup {
    input_field(name, label, "text", value, "off", error, false)
}

fn input_field(
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    autocomplete: &str,
    error: Option<&Error>,
    required: bool,
) -> Markup {
    let invalid = error.and_then(Error::field) == Some(name);
    let max = if kind == "password" { 1024 } else { 254 };
    html! {
        div.field {
            label for=(name) { (label) }
            input #(name) name=(name) type=(kind) value=(value) autocomplete=(autocomplete)
                maxlength=(max) required[required]
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[invalid.then(|| format!("{name}-error"))];
            @if invalid {
                @if let Some(e) = error {
                    p.field-error id=(format!("{name}-error")) { (sentence(&e.to_string())) }
                }
            }
        }
    }
}

/// Capitalises a message and ends it with a full stop.
pub fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A run's cost as people read it: "free" for nothing, two significant digits below a cent
/// ($0.000059), four decimals above; "price unknown" without a price.
pub fn cost(usd: Option<f64>) -> String {
    match usd {
        None => "price unknown".to_owned(),
        Some(0.0) => "free".to_owned(),
        Some(c) if c < 0.01 => {
            let digits = (-c.log10().floor()) as usize + 1;
            format!("${c:.digits$}")
        }
        Some(c) => format!("${c:.4}"),
    }
}

/// A timestamp as `2026-11-25 07:25 UTC`, with the exact time in a `<time>` element.
pub fn when(t: OffsetDateTime) -> Markup {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let text = t.format(&fmt).unwrap_or_default();
    let iso = t
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    html! { time datetime=(iso) { (text) } }
}

/// A read-only text box with a Copy button (for links and keys a person pastes elsewhere). The
/// button needs `copy.js`; without script the box is still selectable.
pub fn copy_field(id: &str, label: &str, value: &str) -> Markup {
    let target =
        html! { input.copy-field id=(id) type="text" readonly value=(value) aria-label=(label); };
    copyable("copy-row", id, label, target)
}

/// A block of code (a command, a snippet) with a Copy button.
pub fn copy_block(id: &str, label: &str, code: &str) -> Markup {
    let target = html! { pre.snippet id=(id) tabindex="0" { code { (code) } } };
    copyable("copy-block", id, label, target)
}

/// `target` (the element with `id`) with its Copy button, the status line that announces the
/// copy, and the script that does it.
fn copyable(class: &str, id: &str, label: &str, target: Markup) -> Markup {
    html! {
        div class=(class) {
            (target)
            button.button.small type="button" data-copy=(id) aria-label=(format!("Copy {}", label.to_lowercase())) { "Copy" }
        }
        span.sr-only id=(format!("{id}-status")) role="status" aria-live="polite" {}
        script type="module" src=(crate::http::assets::asset_url("copy.js")) {}
    }
}

/// An inline SVG-free empty state line.
pub fn empty(text: &str) -> Markup {
    html! { p.empty { (text) } }
}

/// A CSV cell that a spreadsheet will not run as a formula (text starting with `=`, `+`, `-`,
/// `@`, tab or carriage return gets a leading `'`).
pub fn csv_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// The form of a day in forms, URLs and CSV: `YYYY-MM-DD`.
pub const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// A day typed into a form (`YYYY-MM-DD`); empty is `None`, anything else names `field`.
pub fn parse_day(field: &str, s: &str) -> crate::error::Result<Option<time::Date>> {
    match s.trim() {
        "" => Ok(None),
        v => time::Date::parse(v, DATE).map(Some).map_err(|_| {
            crate::error::Error::invalid(field, format!("`{v}` is not a date (YYYY-MM-DD)"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::cost;

    #[test]
    fn costs_show_meaningful_digits() {
        assert_eq!(cost(None), "price unknown");
        assert_eq!(cost(Some(0.0)), "free");
        assert_eq!(cost(Some(0.000_058_7)), "$0.000059");
        assert_eq!(cost(Some(0.003)), "$0.0030");
        assert_eq!(cost(Some(1.5)), "$1.5000");
    }
}
