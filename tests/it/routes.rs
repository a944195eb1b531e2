//! Every registered route, walked with every role and from a foreign workspace.
//!
//! The expectations below are written independently of the route table: a route added without
//! an expectation here, or declared with a different permission than expected, fails the suite;
//! so does any route added outside `http::routes` (the source check at the end). For each route
//! and actor the test sends a request and asserts the guard's answer: allowed (not 401/403/404,
//! never 5xx), 403 for a member whose role is too low, 404 for anyone outside the workspace, a
//! login redirect or 401 for visitors. Denied requests must leave the workspace unchanged.

use std::collections::BTreeSet;

use promptyard::auth::Action;
use promptyard::domain::{
    DisplayName, Email, InstanceRole, Invite, InviteId, NewAuditEvent, NewTemplate, NewUser, Role,
    Session, SessionId, SessionToken, TemplateContent, TemplateId, User, WorkspaceId,
    WorkspaceName,
};
use promptyard::http::routes::Permission;
use reqwest::Method;
use time::Duration;

use crate::helpers::TestApp;

/// What a route should require, written down separately from the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Public,
    Login,
    InstanceAdmin,
    /// At least this role in the `{ws}` workspace.
    Ws(Role),
    /// At least this role in the workspace of the `{id}` template.
    Tpl(Role),
    /// A working API key; cookies do not count.
    Bearer,
}

use Need::{Bearer, InstanceAdmin, Login, Public, Tpl, Ws};

const EXPECTED: &[(&str, &str, Need)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/metrics", Public),
    ("POST", "/internal/backup", Public),
    ("GET", "/assets/{file}", Public),
    ("GET", "/assets/m/{tree}/{*path}", Public),
    ("GET", "/", Public),
    ("GET", "/setup", Public),
    ("POST", "/setup", Public),
    ("GET", "/login", Public),
    ("POST", "/login", Public),
    ("POST", "/logout", Public),
    ("POST", "/theme", Public),
    ("GET", "/register", Public),
    ("POST", "/register", Public),
    ("GET", "/account", Login),
    ("POST", "/account/name", Login),
    ("POST", "/account/password", Login),
    ("POST", "/account/sessions/{id}/revoke", Login),
    ("POST", "/account/sessions/revoke-others", Login),
    ("GET", "/admin/users", InstanceAdmin),
    ("POST", "/admin/users", InstanceAdmin),
    ("POST", "/admin/users/{id}/{action}", InstanceAdmin),
    ("GET", "/admin/audit", InstanceAdmin),
    ("GET", "/w/{ws}/audit", Ws(Role::Admin)),
    ("GET", "/auth/oidc/{provider}", Public),
    ("GET", "/auth/oidc/{provider}/callback", Public),
    ("POST", "/account/identities/{provider}/link", Login),
    ("POST", "/account/identities/{provider}/unlink", Login),
    ("POST", "/account/avatar", Login),
    ("GET", "/avatars/{id}", Login),
    ("GET", "/admin/analytics", InstanceAdmin),
    ("GET", "/w/{ws}/analytics", Ws(Role::Admin)),
    ("GET", "/w/{ws}/history", Ws(Role::Viewer)),
    ("GET", "/history", Login),
    ("GET", "/w/{ws}/history/export", Ws(Role::Viewer)),
    ("GET", "/history/export", Login),
    ("GET", "/workspaces", Login),
    ("POST", "/workspaces", Login),
    ("GET", "/w/{ws}", Ws(Role::Viewer)),
    ("GET", "/w/{ws}/settings", Ws(Role::Viewer)),
    ("POST", "/w/{ws}/rename", Ws(Role::Admin)),
    ("POST", "/w/{ws}/delete", Ws(Role::Owner)),
    ("POST", "/w/{ws}/leave", Ws(Role::Viewer)),
    ("POST", "/w/{ws}/members/{user}/role", Ws(Role::Admin)),
    ("POST", "/w/{ws}/members/{user}/remove", Ws(Role::Admin)),
    ("POST", "/w/{ws}/invites", Ws(Role::Admin)),
    ("POST", "/w/{ws}/invites/{invite}/revoke", Ws(Role::Admin)),
    ("GET", "/invites/{token}", Public),
    ("POST", "/invites/{token}", Login),
    ("GET", "/w/{ws}/templates", Ws(Role::Viewer)),
    ("POST", "/w/{ws}/templates", Ws(Role::Editor)),
    ("GET", "/w/{ws}/templates/new", Ws(Role::Editor)),
    ("GET", "/w/{ws}/export", Ws(Role::Viewer)),
    ("POST", "/w/{ws}/import", Ws(Role::Editor)),
    ("GET", "/system/templates/new", InstanceAdmin),
    ("POST", "/system/templates", InstanceAdmin),
    ("POST", "/preview", Login),
    ("GET", "/templates/{id}", Tpl(Role::Viewer)),
    ("GET", "/templates/{id}/edit", Tpl(Role::Editor)),
    ("POST", "/templates/{id}/versions", Tpl(Role::Editor)),
    ("GET", "/templates/{id}/history", Tpl(Role::Viewer)),
    ("GET", "/templates/{id}/diff", Tpl(Role::Viewer)),
    ("POST", "/templates/{id}/rollback", Tpl(Role::Editor)),
    ("POST", "/templates/{id}/labels", Tpl(Role::Editor)),
    (
        "POST",
        "/templates/{id}/labels/{label}/delete",
        Tpl(Role::Editor),
    ),
    ("POST", "/templates/{id}/duplicate", Tpl(Role::Viewer)),
    ("POST", "/templates/{id}/move", Tpl(Role::Editor)),
    ("POST", "/templates/{id}/delete", Tpl(Role::Editor)),
    ("POST", "/templates/{id}/render", Tpl(Role::Viewer)),
    ("GET", "/templates/{id}/export", Tpl(Role::Viewer)),
    ("POST", "/api/session", Public),
    ("DELETE", "/api/session", Public),
    ("GET", "/api/me", Login),
    ("GET", "/admin/providers", InstanceAdmin),
    ("GET", "/admin/outbound", InstanceAdmin),
    ("POST", "/admin/outbound", InstanceAdmin),
    ("GET", "/account/api-keys", Login),
    ("POST", "/account/api-keys", Login),
    ("POST", "/account/api-keys/{key}/revoke", Login),
    ("POST", "/v1/chat/completions", Bearer),
    ("GET", "/v1/models", Bearer),
    ("GET", "/v1/models/{id}", Bearer),
    ("POST", "/v1/embeddings", Bearer),
    ("POST", "/v1/templates/{id}/run", Bearer),
    ("GET", "/w/{ws}/playground", Ws(Role::Viewer)),
    ("POST", "/w/{ws}/playground/run", Ws(Role::Viewer)),
    ("POST", "/w/{ws}/playground/save", Ws(Role::Editor)),
    ("GET", "/w/{ws}/runs/{run}", Ws(Role::Viewer)),
    ("GET", "/w/{ws}/runs/{run}/context", Ws(Role::Viewer)),
    ("POST", "/w/{ws}/runs/{run}/delete", Ws(Role::Viewer)),
    ("GET", "/context", Login),
    ("POST", "/api/tokens/count", Login),
    ("POST", "/admin/providers", InstanceAdmin),
    ("POST", "/admin/providers/{conn}/{action}", InstanceAdmin),
    ("GET", "/w/{ws}/providers", Ws(Role::Admin)),
    ("GET", "/w/{ws}/gateway", Ws(Role::Admin)),
    ("POST", "/w/{ws}/gateway", Ws(Role::Admin)),
    ("POST", "/w/{ws}/providers", Ws(Role::Admin)),
    ("POST", "/w/{ws}/providers/{conn}/{action}", Ws(Role::Admin)),
    ("GET", "/api/workspaces", Login),
    ("POST", "/api/workspaces", Login),
    ("POST", "/api/invites/{token}/accept", Login),
    ("GET", "/api/system/templates", Login),
    ("POST", "/api/system/templates", InstanceAdmin),
    ("GET", "/api/workspaces/{ws}", Ws(Role::Viewer)),
    ("PATCH", "/api/workspaces/{ws}", Ws(Role::Admin)),
    ("GET", "/api/workspaces/{ws}/gateway", Ws(Role::Admin)),
    ("PUT", "/api/workspaces/{ws}/gateway", Ws(Role::Admin)),
    ("DELETE", "/api/workspaces/{ws}", Ws(Role::Owner)),
    ("GET", "/api/workspaces/{ws}/members", Ws(Role::Viewer)),
    (
        "PUT",
        "/api/workspaces/{ws}/members/{user}",
        Ws(Role::Admin),
    ),
    (
        "DELETE",
        "/api/workspaces/{ws}/members/{user}",
        Ws(Role::Admin),
    ),
    ("POST", "/api/workspaces/{ws}/leave", Ws(Role::Viewer)),
    ("GET", "/api/workspaces/{ws}/invites", Ws(Role::Admin)),
    ("POST", "/api/workspaces/{ws}/invites", Ws(Role::Admin)),
    (
        "DELETE",
        "/api/workspaces/{ws}/invites/{invite}",
        Ws(Role::Admin),
    ),
    ("GET", "/api/workspaces/{ws}/templates", Ws(Role::Viewer)),
    ("POST", "/api/workspaces/{ws}/templates", Ws(Role::Editor)),
    ("GET", "/api/workspaces/{ws}/export", Ws(Role::Viewer)),
    ("POST", "/api/workspaces/{ws}/import", Ws(Role::Editor)),
    ("GET", "/api/templates/{id}", Tpl(Role::Viewer)),
    ("PATCH", "/api/templates/{id}", Tpl(Role::Editor)),
    ("DELETE", "/api/templates/{id}", Tpl(Role::Editor)),
    ("GET", "/api/templates/{id}/versions", Tpl(Role::Viewer)),
    ("POST", "/api/templates/{id}/versions", Tpl(Role::Editor)),
    (
        "GET",
        "/api/templates/{id}/versions/{version}",
        Tpl(Role::Viewer),
    ),
    ("GET", "/api/templates/{id}/diff", Tpl(Role::Viewer)),
    ("POST", "/api/templates/{id}/rollback", Tpl(Role::Editor)),
    (
        "PUT",
        "/api/templates/{id}/labels/{label}",
        Tpl(Role::Editor),
    ),
    (
        "DELETE",
        "/api/templates/{id}/labels/{label}",
        Tpl(Role::Editor),
    ),
    ("POST", "/api/templates/{id}/render", Tpl(Role::Viewer)),
    ("POST", "/api/templates/{id}/duplicate", Tpl(Role::Viewer)),
    ("POST", "/api/templates/{id}/move", Tpl(Role::Editor)),
    ("GET", "/api/templates/{id}/export", Tpl(Role::Viewer)),
    ("GET", "/api/community/prompts", Login),
    ("POST", "/api/community/prompts", Login),
    ("GET", "/api/community/prompts/{id}", Login),
    ("POST", "/api/community/prompts/{id}/moderation", Login),
    ("PUT", "/api/community/prompts/{id}/rating", Login),
    ("GET", "/api/community/prompts/{id}/comments", Login),
    ("POST", "/api/community/prompts/{id}/comments", Login),
    ("PATCH", "/api/community/comments/{id}", Login),
    ("DELETE", "/api/community/comments/{id}", Login),
    ("POST", "/api/community/prompts/{id}/flags", Login),
    ("POST", "/api/community/prompts/{id}/fork", Login),
    ("POST", "/api/community/prompts/{id}/uses", Login),
    ("GET", "/api/community/authors/{id}", Login),
    ("PUT", "/api/community/authors/{id}/standing", InstanceAdmin),
    ("GET", "/api/search", Login),
    ("GET", "/search", Login),
    ("GET", "/community", Login),
    ("POST", "/community", Login),
    ("GET", "/community/new", Login),
    ("GET", "/community/queue", Login),
    ("GET", "/community/p/{id}", Login),
    ("POST", "/community/p/{id}/moderate", Login),
    ("POST", "/community/p/{id}/rate", Login),
    ("POST", "/community/p/{id}/comments", Login),
    ("POST", "/community/p/{id}/flag", Login),
    ("POST", "/community/p/{id}/fork", Login),
    ("POST", "/community/comments/{id}/edit", Login),
    ("POST", "/community/comments/{id}/delete", Login),
    ("GET", "/community/authors/{id}", Login),
    ("POST", "/community/authors/{id}/standing", InstanceAdmin),
];

/// The least role each workspace action needs, as the product promises it.
fn min_role(action: Action) -> Option<Role> {
    Some(match action {
        Action::ViewWorkspace | Action::ViewTemplates | Action::LeaveWorkspace => Role::Viewer,
        Action::EditTemplates | Action::LabelTemplates => Role::Editor,
        Action::ManageWorkspace
        | Action::LabelProduction
        | Action::ViewAnalytics
        | Action::ViewAuditLog => Role::Admin,
        Action::DeleteWorkspace => Role::Owner,
        _ => return None,
    })
}

fn declared_need(p: Permission) -> Option<Need> {
    Some(match p {
        Permission::Public => Public,
        Permission::ApiKey => Bearer,
        Permission::Instance(
            Action::ManageUsers
            | Action::ViewAuditLog
            | Action::ManageSystemTemplates
            | Action::ManageProviders
            | Action::ViewAnalytics,
        ) => InstanceAdmin,
        Permission::Instance(
            Action::ManageOwnAccount | Action::UseWorkspaces | Action::UseCommunity,
        ) => Login,
        Permission::Instance(_) => return None,
        Permission::Workspace(a) => Ws(min_role(a)?),
        Permission::Template(a) => Tpl(min_role(a)?),
    })
}

#[tokio::test]
async fn every_route_declares_the_expected_permission() {
    let app = TestApp::spawn().await;
    let mut expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    for r in &app.routes {
        let key = (r.method.to_string(), r.path.to_owned());
        let Some((_, _, need)) = EXPECTED.iter().find(|(m, p, _)| *m == key.0 && *p == key.1)
        else {
            panic!(
                "route {} {} has no expectation in tests/it/routes.rs: decide who may use it",
                key.0, key.1
            );
        };
        assert_eq!(
            declared_need(r.permission),
            Some(*need),
            "{} {} declares {:?}",
            key.0,
            key.1,
            r.permission
        );
        expected.remove(&key);
    }
    assert!(
        expected.is_empty(),
        "expected routes that are not registered: {expected:?}"
    );
}

#[test]
fn no_route_is_added_outside_the_route_table() {
    let mut offenders = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("http/routes.rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains(".route(")
                    || text.contains(".nest(")
                    || text.contains(".route_service(")
                {
                    offenders.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "routes must be added through http::routes::Routes: {offenders:?}"
    );
}

/// A workspace with one member per role, a template with two versions and labels, an open
/// invite; and an outsider who owns another workspace.
struct Fixture {
    ws: WorkspaceId,
    template: TemplateId,
    system_template: TemplateId,
    invite: InviteId,
    invite_token: String,
    member: User,
    actors: Vec<(String, Option<Role>, bool, reqwest::Client)>,
}

async fn user(app: &TestApp, tag: &str, admin: bool) -> (User, reqwest::Client) {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let new = NewUser {
        email: Email::parse(&format!("{tag}-{unique}@example.com")).unwrap(),
        name: DisplayName::parse(tag).unwrap(),
        role: if admin {
            InstanceRole::Admin
        } else {
            InstanceRole::User
        },
        password_hash: None,
    };
    let u = app
        .store
        .create_user(new, NewAuditEvent::new(None, "user.create"))
        .await
        .unwrap();
    let token = SessionToken::generate().unwrap();
    let now = app.clock.now();
    app.store
        .create_session(Session {
            id: SessionId::new(),
            token_hash: token.hash(),
            user_id: u.id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::days(1),
            ip: None,
            user_agent: None,
        })
        .await
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", app.base.parse().unwrap());
    headers.insert(
        "cookie",
        format!("promptyard_session={}", token.expose())
            .parse()
            .unwrap(),
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    (u, client)
}

async fn join(
    app: &TestApp,
    ws: WorkspaceId,
    by: &User,
    who: &User,
    role: Role,
) -> (InviteId, String) {
    let token = SessionToken::generate().unwrap();
    let now = app.clock.now();
    let invite = Invite {
        id: InviteId::new(),
        workspace_id: ws,
        token_hash: token.hash(),
        role,
        created_by: by.id,
        created_at: now,
        expires_at: now + Duration::days(1),
        accepted_by: None,
        accepted_at: None,
    };
    app.store
        .create_invite(invite.clone(), NewAuditEvent::new(None, "invite.create"))
        .await
        .unwrap();
    if who.id != by.id {
        app.store
            .accept_invite(
                token.hash(),
                who.id,
                now,
                NewAuditEvent::new(None, "invite.accept"),
            )
            .await
            .unwrap();
    }
    (invite.id, token.expose().to_owned())
}

async fn fixture(app: &TestApp) -> Fixture {
    let (root, root_c) = user(app, "root", true).await;
    let (owner, owner_c) = user(app, "owner", false).await;
    let (admin, admin_c) = user(app, "admin", false).await;
    let (editor, editor_c) = user(app, "editor", false).await;
    let (viewer, viewer_c) = user(app, "viewer", false).await;
    let (outsider, outsider_c) = user(app, "outsider", false).await;
    let audit = || NewAuditEvent::new(None, "test");
    let ws = app
        .store
        .create_workspace(WorkspaceName::parse("A").unwrap(), owner.id, audit())
        .await
        .unwrap();
    let other = app
        .store
        .create_workspace(WorkspaceName::parse("B").unwrap(), outsider.id, audit())
        .await
        .unwrap();
    let _ = other;
    for (who, role) in [
        (&admin, Role::Admin),
        (&editor, Role::Editor),
        (&viewer, Role::Viewer),
    ] {
        join(app, ws.id, &owner, who, role).await;
    }
    let (invite, invite_token) = join(app, ws.id, &owner, &owner, Role::Viewer).await;
    let content = TemplateContent {
        name: "T".into(),
        user_prompt_template: "Hello {{name}}".into(),
        ..TemplateContent::default()
    };
    let new = |ws: Option<WorkspaceId>| NewTemplate {
        workspace_id: ws,
        content: content.clone(),
        message: String::new(),
        author: Some(owner.id),
    };
    let (t, _) = app
        .store
        .create_template(new(Some(ws.id)), audit())
        .await
        .unwrap();
    app.store
        .save_version(t.id, 1, content.clone(), "v2".into(), Some(owner.id))
        .await
        .unwrap();
    app.store
        .set_label(t.id, "staging", 1, audit())
        .await
        .unwrap();
    app.store
        .set_label(t.id, "production", 2, audit())
        .await
        .unwrap();
    let (system_template, _) = app.store.create_template(new(None), audit()).await.unwrap();
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let _ = root;
    Fixture {
        ws: ws.id,
        template: t.id,
        system_template: system_template.id,
        invite,
        invite_token,
        member: viewer.clone(),
        actors: vec![
            ("visitor".into(), None, false, anon),
            ("instance admin".into(), None, true, root_c),
            ("outsider".into(), None, false, outsider_c),
            ("viewer".into(), Some(Role::Viewer), false, viewer_c),
            ("editor".into(), Some(Role::Editor), false, editor_c),
            ("admin".into(), Some(Role::Admin), false, admin_c),
            ("owner".into(), Some(Role::Owner), false, owner_c),
        ],
    }
}

/// Everything a denied request must leave as it was.
async fn snapshot(app: &TestApp, f: &Fixture) -> String {
    let ws = app.store.get_workspace(f.ws).await.unwrap();
    let members = app.store.list_members(f.ws).await.unwrap();
    let templates = app.store.list_templates(Some(f.ws)).await.unwrap();
    let invites = app
        .store
        .list_open_invites(f.ws, app.clock.now())
        .await
        .unwrap();
    let system = app.store.get_template(f.system_template).await.unwrap();
    format!(
        "{ws:?}\n{members:?}\n{templates:?}\n{}\n{system:?}",
        invites.len()
    )
}

fn fill(path: &str, f: &Fixture, template: TemplateId) -> String {
    let user = f.member.id.to_string();
    path.replace("{ws}", &f.ws.to_string())
        .replace("{id}", &template.to_string())
        .replace("{user}", &user)
        .replace("{invite}", &f.invite.to_string())
        .replace("{label}", "staging")
        .replace("{token}", &f.invite_token)
        .replace("{version}", "1")
        .replace("{file}", "app.css")
        .replace("{action}", "enable")
        .replace("{conn}", &uuid::Uuid::now_v7().to_string())
        .replace("{key}", &uuid::Uuid::now_v7().to_string())
}

/// What the guard must answer `actor` for a route that needs `need`; `None` means allowed.
fn expected_status(
    need: Need,
    role: Option<Role>,
    instance_admin: bool,
    logged_in: bool,
    api: bool,
    system: bool,
) -> Option<u16> {
    let login = if api { 401 } else { 303 };
    match need {
        Public => None,
        // None of these actors holds an API key: a session cookie is not one.
        Bearer => Some(401),
        _ if !logged_in => Some(login),
        Login => None,
        InstanceAdmin => (!instance_admin).then_some(403),
        Ws(min) => match role {
            None => Some(404),
            Some(r) => (r < min).then_some(403),
        },
        Tpl(min) if system => (min > Role::Viewer && !instance_admin).then_some(403),
        Tpl(min) => match role {
            None => Some(404),
            Some(r) => (r < min).then_some(403),
        },
    }
}

#[tokio::test]
async fn every_route_answers_every_role_as_its_policy_says() {
    let app = TestApp::spawn().await;
    let mut checked = 0;
    for spec in &app.routes {
        let (_, _, need) = *EXPECTED
            .iter()
            .find(|(m, p, _)| *m == spec.method.as_str() && *p == spec.path)
            .expect("every route has an expectation (see the other test)");
        if need == Public {
            continue;
        }
        let api = spec.path.starts_with("/api/") || spec.path.starts_with("/v1/");
        let targets: Vec<bool> = if matches!(need, Tpl(_)) {
            vec![false, true]
        } else {
            vec![false]
        };
        for system in targets {
            let shared = fixture(&app).await;
            for i in 0..shared.actors.len() {
                // A request that is allowed may change things: give each such actor a fresh fixture.
                let own;
                let f = if spec.method == Method::GET {
                    &shared
                } else {
                    own = fixture(&app).await;
                    &own
                };
                let (name, role, instance_admin, client) = &f.actors[i];
                let template = if system {
                    f.system_template
                } else {
                    f.template
                };
                let url = app.url(&fill(spec.path, f, template));
                let before = snapshot(&app, f).await;
                let mut req = client.request(spec.method.clone(), &url);
                req = if api {
                    req.header("content-type", "application/json").body("{}")
                } else {
                    req.header("content-type", "application/x-www-form-urlencoded")
                        .body("")
                };
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let logged_in = name != "visitor";
                let context = format!(
                    "{} {} as {name}{}",
                    spec.method,
                    spec.path,
                    if system { " (system template)" } else { "" }
                );
                assert!(status < 500, "{context}: {status}");
                match expected_status(need, *role, *instance_admin, logged_in, api, system) {
                    Some(denied) => {
                        assert_eq!(status, denied, "{context}");
                        if denied == 303 {
                            assert!(
                                res.headers()["location"]
                                    .to_str()
                                    .unwrap()
                                    .starts_with("/login"),
                                "{context}"
                            );
                        }
                        assert_eq!(
                            snapshot(&app, f).await,
                            before,
                            "{context}: a denied request changed something"
                        );
                    }
                    None => assert!(
                        ![401, 403, 404].contains(&status)
                            || (status == 404 && spec.path.contains("{")),
                        "{context}: allowed but got {status}"
                    ),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "only {checked} checks ran");
}
