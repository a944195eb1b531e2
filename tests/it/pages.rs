//! Workspaces and templates driven through the HTML pages as a browser would: form posts,
//! redirects, the HTML a user sees, and what the store holds afterwards.

use promptyard::domain::{Role, TemplateId, UserId, WorkspaceId};
use promptyard::error::Error;
use reqwest::Client;

use crate::helpers::{ADMIN_EMAIL, TestApp, location};

const PASSWORD: &str = "a long enough password";

/// One blank variable row, as the editor always posts one last.
const BLANK_ROW: [&str; 6] = ["", "string", "", "", "no", ""];

/// The status and body of a response.
async fn read(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// The page a redirect leads to (status must be 303), fetched with the same client.
async fn follow(app: &TestApp, client: &Client, res: reqwest::Response) -> (String, String) {
    let status = res.status().as_u16();
    let to = location(&res);
    let text = res.text().await.unwrap();
    assert_eq!(status, 303, "expected a redirect, got {status}: {text}");
    let (s, body) = read(app.get(client, &to).await).await;
    assert_eq!(s, 200, "{to}: {body}");
    (to, body)
}

/// The text after `prefix` up to the next `"` (an attribute value).
fn attr_after(body: &str, prefix: &str) -> Option<String> {
    let start = body.find(prefix)? + prefix.len();
    let rest = &body[start..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The user's id, by email.
async fn user_id(app: &TestApp, email: &str) -> UserId {
    app.store
        .find_user_by_email(email)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The user's role in a workspace, if a member.
async fn role_of(app: &TestApp, ws: &str, email: &str) -> Option<Role> {
    let user = user_id(app, email).await;
    app.store
        .find_member(ws.parse().unwrap(), user)
        .await
        .unwrap()
        .map(|m| m.role)
}

/// The id of the user's personal workspace.
async fn personal_ws(app: &TestApp, email: &str) -> String {
    let user = user_id(app, email).await;
    app.store
        .list_workspaces_for(user)
        .await
        .unwrap()
        .into_iter()
        .find(|(w, _)| w.personal && w.created_by == user)
        .map(|(w, _)| w.id.to_string())
        .expect("personal workspace")
}

/// Creates a user through the admin page and logs them in.
async fn add_user(app: &TestApp, admin: &Client, email: &str, name: &str) -> Client {
    let res = app
        .post_form(
            admin,
            "/admin/users",
            &[("email", email), ("name", name), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let client = app.login(email, PASSWORD).await;
    // Visit a page so the personal workspace exists.
    assert_eq!(app.get(&client, "/workspaces").await.status(), 200);
    client
}

/// Creates a shared workspace from /workspaces; returns its id.
async fn create_ws(app: &TestApp, client: &Client, name: &str) -> String {
    let res = app
        .post_form(client, "/workspaces", &[("name", name)])
        .await;
    let to = location(&res);
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let id = to
        .strip_prefix("/w/")
        .and_then(|r| r.strip_suffix("/templates"))
        .unwrap_or_else(|| panic!("unexpected redirect {to}"));
    id.to_owned()
}

/// Creates an invite from the settings page; returns the token from the link shown.
async fn invite(app: &TestApp, owner: &Client, ws: &str, role: &str) -> String {
    let (s, body) = read(
        app.post_form(owner, &format!("/w/{ws}/invites"), &[("role", role)])
            .await,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    // The link is a whole URL on the host the request named, shown in the Copy field.
    let field = &body[body
        .find("id=\"invite-link\"")
        .unwrap_or_else(|| panic!("no invite link: {body}"))..];
    let link = attr_after(field, "value=\"").unwrap();
    let origin = app.url("");
    let origin = origin.trim_end_matches('/');
    link.strip_prefix(&format!("{origin}/invites/"))
        .unwrap_or_else(|| panic!("the invite link {link} is not a full URL on {origin}"))
        .to_owned()
}

/// Invites `client` into `ws` with `role` and accepts.
async fn join(app: &TestApp, owner: &Client, ws: &str, client: &Client, role: &str) {
    let token = invite(app, owner, ws, role).await;
    let res = app
        .post_form(client, &format!("/invites/{token}"), &[])
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}

/// Ada (instance admin) owns "Team A"; Alma is admin there, Eddie editor, Vera viewer.
struct Team {
    app: TestApp,
    ada: Client,
    alma: Client,
    eddie: Client,
    vera: Client,
    a: String,
}

const ALMA: &str = "alma@example.com";
const EDDIE: &str = "eddie@example.com";
const VERA: &str = "vera@example.com";

impl Team {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let ada = app.setup_admin().await;
        let alma = add_user(&app, &ada, ALMA, "Alma Admin").await;
        let eddie = add_user(&app, &ada, EDDIE, "Eddie Editor").await;
        let vera = add_user(&app, &ada, VERA, "Vera Viewer").await;
        let a = create_ws(&app, &ada, "Team A").await;
        join(&app, &ada, &a, &alma, "admin").await;
        join(&app, &ada, &a, &eddie, "editor").await;
        join(&app, &ada, &a, &vera, "viewer").await;
        Self {
            app,
            ada,
            alma,
            eddie,
            vera,
            a,
        }
    }
}

/// An editor form body: single fields, then the variable rows (name, type, choices, default,
/// required, description) as repeated fields, one value per row, like the browser posts them.
fn editor_body(fields: &[(&str, &str)], vars: &[[&str; 6]]) -> Vec<u8> {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.extend_pairs(fields);
    let names = [
        "var_name",
        "var_type",
        "var_choices",
        "var_default",
        "var_required",
        "var_description",
    ];
    for row in vars.iter().chain([&BLANK_ROW]) {
        for (name, value) in names.iter().zip(row) {
            s.append_pair(name, value);
        }
    }
    s.finish().into_bytes()
}

/// The variables of the "Brief" template: an enum with choices and a required text.
const BRIEF_VARS: [[&str; 6]; 2] = [
    [
        "tone",
        "enum",
        "formal\ncasual",
        "formal",
        "no",
        "How it sounds",
    ],
    ["topic", "text", "", "", "yes", "What to write about"],
];
const BRIEF_PROMPT: &str = "Write about {{topic}}.\nKeep a {{tone}} tone.";

/// Creates a template through the editor; returns its id.
async fn create_template(
    app: &TestApp,
    client: &Client,
    ws: &str,
    name: &str,
    prompt: &str,
    vars: &[[&str; 6]],
) -> String {
    let body = editor_body(
        &[
            ("base_version", ""),
            ("name", name),
            ("description", "A test template"),
            ("tags", "test, docs"),
            ("system_prompt", "You are a careful writer."),
            ("user_prompt_template", prompt),
            ("model", ""),
            ("temperature", ""),
            ("max_tokens", ""),
            ("message", "first"),
        ],
        vars,
    );
    let res = app
        .post_raw(client, &format!("/w/{ws}/templates"), body)
        .await;
    let to = location(&res);
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    to.strip_prefix("/templates/")
        .unwrap_or_else(|| panic!("unexpected redirect {to}"))
        .to_owned()
}

/// Saves a new version through the editor.
async fn save_version(
    app: &TestApp,
    client: &Client,
    id: &str,
    base: &str,
    prompt: &str,
) -> reqwest::Response {
    let body = editor_body(
        &[
            ("base_version", base),
            ("name", "Brief"),
            ("description", "A test template"),
            ("tags", "test, docs"),
            ("system_prompt", "You are a careful writer."),
            ("user_prompt_template", prompt),
            ("message", "edit"),
        ],
        &BRIEF_VARS,
    );
    app.post_raw(client, &format!("/templates/{id}/versions"), body)
        .await
}

fn tid(id: &str) -> TemplateId {
    id.parse().unwrap()
}

fn wid(id: &str) -> WorkspaceId {
    id.parse().unwrap()
}

/// The name the header's switcher shows as the current workspace.
fn current_ws(body: &str) -> String {
    let start = body
        .find("<span class=\"switcher-name\">")
        .unwrap_or_else(|| panic!("no switcher: {body}"))
        + "<span class=\"switcher-name\">".len();
    let rest = &body[start..];
    rest[..rest.find("</span>").unwrap()].to_owned()
}

/// The switcher's menu (between its opening and the "All workspaces" link).
fn switcher_menu(body: &str) -> &str {
    let start = body.find("switcher-menu").expect("switcher menu");
    let end = body[start..].find("switcher-all").expect("switcher end") + start;
    &body[start..end]
}

#[tokio::test]
async fn pages_workspace_creation_and_the_switcher() {
    let app = TestApp::spawn().await;
    let ada = app.setup_admin().await;
    let (s, body) = read(app.get(&ada, "/workspaces").await).await;
    assert_eq!(s, 200);
    assert!(body.contains("Create workspace"), "{body}");

    // A blank name is refused and creates nothing.
    let (s, body) = read(app.post_form(&ada, "/workspaces", &[("name", "  ")]).await).await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("role=\"alert\""), "{body}");
    let me = user_id(&app, ADMIN_EMAIL).await;
    assert_eq!(app.store.list_workspaces_for(me).await.unwrap().len(), 1);

    let res = app
        .post_form(&ada, "/workspaces", &[("name", "Rocket Team")])
        .await;
    let (to, body) = follow(&app, &ada, res).await;
    let ws = to
        .strip_prefix("/w/")
        .and_then(|r| r.strip_suffix("/templates"))
        .unwrap()
        .to_owned();
    assert!(body.contains("Created Rocket Team."), "{body}");
    assert_eq!(current_ws(&body), "Rocket Team");
    let menu = switcher_menu(&body);
    assert!(menu.contains("Rocket Team"), "{menu}");
    assert!(menu.contains("Ada's workspace"), "{menu}");
    assert!(menu.contains("Personal"), "{menu}");
    assert!(menu.contains("Owner"), "{menu}");
    assert!(
        menu.contains(&format!("href=\"/w/{ws}/templates\" aria-current=\"true\"")),
        "{menu}"
    );
    let stored = app.store.get_workspace(wid(&ws)).await.unwrap();
    assert_eq!(stored.name.as_str(), "Rocket Team");
    assert!(!stored.personal);
    assert_eq!(role_of(&app, &ws, ADMIN_EMAIL).await, Some(Role::Owner));

    // The list of workspaces shows both.
    let (_, body) = read(app.get(&ada, "/workspaces").await).await;
    assert!(body.contains("Rocket Team") && body.contains("Ada's workspace"));

    // The workspace last visited is remembered on pages outside any workspace.
    let (s, body) = read(app.get(&ada, "/account").await).await;
    assert_eq!(s, 200);
    assert_eq!(current_ws(&body), "Rocket Team");
    let personal = personal_ws(&app, ADMIN_EMAIL).await;
    let (s, body) = read(app.get(&ada, &format!("/w/{personal}/templates")).await).await;
    assert_eq!(s, 200);
    assert_eq!(current_ws(&body), "Ada's workspace");
    let (_, body) = read(app.get(&ada, "/account").await).await;
    assert_eq!(current_ws(&body), "Ada's workspace");
    // The settings page of a workspace shows that workspace as well.
    let (_, body) = read(app.get(&ada, &format!("/w/{ws}/settings")).await).await;
    assert_eq!(current_ws(&body), "Rocket Team");
    assert!(body.contains("<h1>Rocket Team</h1>"), "{body}");
}

#[tokio::test]
async fn pages_invite_flow_through_the_settings_page() {
    let app = TestApp::spawn().await;
    let ada = app.setup_admin().await;
    let uma = add_user(&app, &ada, "uma@example.com", "Uma User").await;
    let ws = create_ws(&app, &ada, "Team A").await;

    let (s, page) = read(app.get(&ada, &format!("/w/{ws}/settings")).await).await;
    assert_eq!(s, 200);
    assert!(page.contains("Create invite link"), "{page}");
    let token = invite(&app, &ada, &ws, "editor").await;
    assert!(token.len() >= 20, "{token}");
    // The link is shown once: the settings page does not show it again, only the open invite.
    let (_, page) = read(app.get(&ada, &format!("/w/{ws}/settings")).await).await;
    assert!(!page.contains(&token), "token shown again");
    assert!(page.contains("Revoke"), "{page}");

    let link = format!("/invites/{token}");
    let (s, page) = read(app.get(&uma, &link).await).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Join Team A"), "{page}");
    assert!(page.contains("as editor"), "{page}");
    // A visitor who is not logged in is asked to log in first.
    let (s, page) = read(app.get(&app.browser(), &link).await).await;
    assert_eq!(s, 200);
    assert!(page.contains("Log in to accept") && !page.contains("Join Team A"));

    let res = app.post_form(&uma, &link, &[]).await;
    let (to, page) = follow(&app, &uma, res).await;
    assert_eq!(to, format!("/w/{ws}/templates"));
    assert!(
        page.contains("Welcome to Team A! You joined as editor."),
        "{page}"
    );
    assert_eq!(current_ws(&page), "Team A");
    assert_eq!(
        role_of(&app, &ws, "uma@example.com").await,
        Some(Role::Editor)
    );

    // The used link is gone.
    assert_eq!(app.get(&uma, &link).await.status(), 404);
    assert_eq!(app.get(&ada, &link).await.status(), 404);
    assert_eq!(app.post_form(&ada, &link, &[]).await.status(), 404);

    // A new link, opened by someone who is already a member, says so and changes nothing.
    let token = invite(&app, &ada, &ws, "viewer").await;
    let (s, page) = read(app.post_form(&uma, &format!("/invites/{token}"), &[]).await).await;
    assert_eq!(s, 409, "{page}");
    assert!(page.contains("already a member of Team A"), "{page}");
    assert_eq!(
        role_of(&app, &ws, "uma@example.com").await,
        Some(Role::Editor)
    );
    // The settings page lists the new member.
    let (_, page) = read(app.get(&ada, &format!("/w/{ws}/settings")).await).await;
    assert!(page.contains("uma@example.com"), "{page}");
}

#[tokio::test]
async fn pages_roles_on_the_settings_page() {
    let t = Team::new().await;
    let app = &t.app;
    let settings = format!("/w/{}/settings", t.a);

    // A viewer sees the members but no forms to rename, invite or change roles.
    let (s, page) = read(app.get(&t.vera, &settings).await).await;
    assert_eq!(s, 200);
    assert!(page.contains("eddie@example.com"), "{page}");
    assert!(
        page.contains("You are <strong>viewer</strong> here."),
        "{page}"
    );
    for action in [
        "/rename\"",
        "/invites\"",
        "/role\"",
        "/remove\"",
        "/delete\"",
    ] {
        assert!(!page.contains(action), "viewer sees {action}: {page}");
    }
    assert!(!page.contains("Create invite link") && !page.contains(">Rename<"));
    // Posting anyway is refused and changes nothing.
    let res = app
        .post_form(
            &t.vera,
            &format!("/w/{}/rename", t.a),
            &[("name", "Vera's")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let ws = app.store.get_workspace(wid(&t.a)).await.unwrap();
    assert_eq!(ws.name.as_str(), "Team A");

    // An admin manages editors and viewers, but is not offered owner and cannot grant it.
    let (s, page) = read(app.get(&t.alma, &settings).await).await;
    assert_eq!(s, 200);
    assert!(page.contains("Create invite link"), "{page}");
    assert!(!page.contains("value=\"owner\""), "{page}");
    let eddie = user_id(app, EDDIE).await;
    let role_path = format!("/w/{}/members/{eddie}/role", t.a);
    assert!(page.contains(&role_path), "{page}");
    let (s, page) = read(
        app.post_form(&t.alma, &role_path, &[("role", "owner")])
            .await,
    )
    .await;
    assert_eq!(s, 403, "{page}");
    assert!(page.contains("You are not allowed to do that."), "{page}");
    assert_eq!(role_of(app, &t.a, EDDIE).await, Some(Role::Editor));
    // ...and what an admin may do works.
    let res = app
        .post_form(&t.alma, &role_path, &[("role", "viewer")])
        .await;
    let (_, page) = follow(app, &t.alma, res).await;
    assert!(page.contains("Role changed to viewer."), "{page}");
    assert_eq!(role_of(app, &t.a, EDDIE).await, Some(Role::Viewer));

    // The last owner cannot leave.
    let (s, page) = read(
        app.post_form(&t.ada, &format!("/w/{}/leave", t.a), &[])
            .await,
    )
    .await;
    assert_eq!(s, 409, "{page}");
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("at least one owner"), "{page}");
    assert_eq!(role_of(app, &t.a, ADMIN_EMAIL).await, Some(Role::Owner));
    // Nor demote themselves while the last owner.
    let ada = user_id(app, ADMIN_EMAIL).await;
    let own = format!("/w/{}/members/{ada}/role", t.a);
    let (s, _) = read(app.post_form(&t.ada, &own, &[("role", "editor")]).await).await;
    assert!((400..500).contains(&s), "{s}");
    assert_eq!(role_of(app, &t.a, ADMIN_EMAIL).await, Some(Role::Owner));

    // Anyone else can leave.
    let res = app
        .post_form(&t.eddie, &format!("/w/{}/leave", t.a), &[])
        .await;
    let (to, page) = follow(app, &t.eddie, res).await;
    assert_eq!(to, "/workspaces");
    assert!(page.contains("You left Team A."), "{page}");
    assert_eq!(role_of(app, &t.a, EDDIE).await, None);
    assert_eq!(app.get(&t.eddie, &settings).await.status(), 404);
}

#[tokio::test]
async fn pages_delete_needs_the_typed_name() {
    let t = Team::new().await;
    let app = &t.app;
    let id = create_template(app, &t.eddie, &t.a, "Doomed", "Hi", &[]).await;
    let delete = format!("/w/{}/delete", t.a);

    // Only the owner sees the form.
    let (_, page) = read(app.get(&t.alma, &format!("/w/{}/settings", t.a)).await).await;
    assert!(!page.contains(&delete), "{page}");
    let (_, page) = read(app.get(&t.ada, &format!("/w/{}/settings", t.a)).await).await;
    assert!(page.contains(&delete), "{page}");
    assert_eq!(
        app.post_form(&t.alma, &delete, &[("confirm", "Team A")])
            .await
            .status(),
        403
    );

    let (s, page) = read(
        app.post_form(&t.ada, &delete, &[("confirm", "Team B")])
            .await,
    )
    .await;
    assert_eq!(s, 422, "{page}");
    assert!(
        page.contains("Type the workspace name, Team A, to confirm."),
        "{page}"
    );
    assert!(
        page.contains("value=\"Team B\""),
        "the typed text is kept: {page}"
    );
    assert!(app.store.get_workspace(wid(&t.a)).await.is_ok());
    assert!(app.store.get_template(tid(&id)).await.is_ok());

    let res = app
        .post_form(&t.ada, &delete, &[("confirm", "Team A")])
        .await;
    let (to, page) = follow(app, &t.ada, res).await;
    assert_eq!(to, "/workspaces");
    assert!(page.contains("Deleted Team A."), "{page}");
    assert!(matches!(
        app.store.get_workspace(wid(&t.a)).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        app.store.get_template(tid(&id)).await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        app.get(&t.ada, &format!("/w/{}/templates", t.a))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&t.eddie, &format!("/templates/{id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn pages_template_editor_creates_and_validates() {
    let t = Team::new().await;
    let app = &t.app;
    let (s, page) = read(
        app.get(&t.eddie, &format!("/w/{}/templates/new", t.a))
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert!(page.contains("Save version"), "{page}");
    // A viewer gets no editor.
    assert_eq!(
        app.get(&t.vera, &format!("/w/{}/templates/new", t.a))
            .await
            .status(),
        403
    );

    let body = editor_body(
        &[
            ("base_version", ""),
            ("name", "Brief"),
            ("description", "Writes a brief"),
            ("tags", "Writing, docs"),
            ("system_prompt", "You are a careful writer."),
            ("user_prompt_template", BRIEF_PROMPT),
            ("model", "llama3.1:8b"),
            ("temperature", "0.5"),
            ("max_tokens", "400"),
            ("message", "first draft"),
        ],
        &BRIEF_VARS,
    );
    let res = app
        .post_raw(&t.eddie, &format!("/w/{}/templates", t.a), body)
        .await;
    let (to, page) = follow(app, &t.eddie, res).await;
    let id = to.strip_prefix("/templates/").unwrap().to_owned();
    assert!(page.contains("Created Brief (version 1)."), "{page}");
    assert!(page.contains("Version 1 of 1"), "{page}");
    assert!(page.contains("first draft"), "{page}");
    assert_eq!(current_ws(&page), "Team A");
    // The render form is generated from the variables.
    assert!(
        page.contains("<option value=\"formal\" selected>formal</option>"),
        "{page}"
    );
    assert!(
        page.contains("<textarea id=\"var-topic\" name=\"topic\""),
        "{page}"
    );
    let tpl = app.store.get_template(tid(&id)).await.unwrap();
    assert_eq!(tpl.workspace_id, Some(wid(&t.a)));
    assert_eq!(tpl.latest_version, 1);
    assert_eq!(tpl.tags, ["writing", "docs"]);
    let v1 = app.store.get_version(tid(&id), 1).await.unwrap();
    assert_eq!(v1.content.user_prompt_template, BRIEF_PROMPT);
    assert_eq!(v1.content.model.model.as_deref(), Some("llama3.1:8b"));
    assert_eq!(v1.content.model.max_tokens, Some(400));
    let vars = serde_json::to_value(&v1.content.variables).unwrap();
    assert_eq!(vars[0]["name"], "tone");
    assert_eq!(vars[0]["default"], "formal");
    assert_eq!(vars[1]["name"], "topic");
    assert_eq!(vars[1]["required"], true);
    assert_eq!(
        vars.as_array().unwrap().len(),
        2,
        "the blank row is skipped"
    );

    // The template appears in the list.
    let (_, list) = read(app.get(&t.vera, &format!("/w/{}/templates", t.a)).await).await;
    assert!(
        list.contains(&format!("href=\"/templates/{id}\"")),
        "{list}"
    );

    // An undeclared {{x}} is offered on the editor: a prefilled row and a "Declare x" button.
    let res = save_version(
        app,
        &t.eddie,
        &id,
        "1",
        "Write about {{topic}} for {{x}}.\nKeep a {{tone}} tone.",
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let (s, page) = read(app.get(&t.eddie, &format!("/templates/{id}/edit")).await).await;
    assert_eq!(s, 200);
    assert!(page.contains("Used but not declared"), "{page}");
    assert!(
        page.contains("data-declare=\"x\">Declare x</button>"),
        "{page}"
    );
    assert!(
        page.contains("<input name=\"var_name\" value=\"x\""),
        "{page}"
    );
    assert!(!page.contains("data-declare=\"topic\""), "{page}");
    assert!(page.contains("name=\"base_version\" value=\"2\""), "{page}");

    // A bad variable: the enum default is not one of the choices. Nothing is saved.
    let mut bad = BRIEF_VARS;
    bad[0][3] = "sarcastic";
    let body = editor_body(
        &[
            ("base_version", "2"),
            ("name", "Brief"),
            ("user_prompt_template", BRIEF_PROMPT),
            ("message", "bad"),
        ],
        &bad,
    );
    let (s, page) = read(
        app.post_raw(&t.eddie, &format!("/templates/{id}/versions"), body)
            .await,
    )
    .await;
    assert_eq!(s, 422, "{page}");
    assert!(
        page.contains("Variable `tone`: the default `sarcastic` is not one of the choices."),
        "{page}"
    );
    assert!(
        page.contains("value=\"sarcastic\""),
        "the input is kept: {page}"
    );
    assert_eq!(
        app.store
            .get_template(tid(&id))
            .await
            .unwrap()
            .latest_version,
        2
    );
    // The same on a new template: nothing is created.
    let before = app
        .store
        .list_templates(Some(wid(&t.a)))
        .await
        .unwrap()
        .len();
    let body = editor_body(
        &[("name", "Other"), ("user_prompt_template", BRIEF_PROMPT)],
        &bad,
    );
    let (s, page) = read(
        app.post_raw(&t.eddie, &format!("/w/{}/templates", t.a), body)
            .await,
    )
    .await;
    assert_eq!(s, 422, "{page}");
    assert!(page.contains("Variable `tone`"), "{page}");
    assert_eq!(
        app.store
            .list_templates(Some(wid(&t.a)))
            .await
            .unwrap()
            .len(),
        before
    );
    // The system template editor's error page cancels to a page that exists (not the
    // POST-only /system/templates).
    let body = editor_body(&[("name", ""), ("user_prompt_template", "x")], &[]);
    let (s, page) = read(app.post_raw(&t.ada, "/system/templates", body).await).await;
    assert_eq!(s, 422, "{page}");
    assert!(page.contains("Enter a template name."), "{page}");
    assert!(!page.contains("href=\"/system/templates\""), "{page}");
    // A viewer cannot create one either.
    let body = editor_body(&[("name", "Sneaky"), ("user_prompt_template", "x")], &[]);
    let res = app
        .post_raw(&t.vera, &format!("/w/{}/templates", t.a), body)
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.store
            .list_templates(Some(wid(&t.a)))
            .await
            .unwrap()
            .len(),
        before
    );
}

#[tokio::test]
async fn pages_render_form_names_missing_variables_and_escapes_values() {
    let t = Team::new().await;
    let app = &t.app;
    let id = create_template(app, &t.eddie, &t.a, "Brief", BRIEF_PROMPT, &BRIEF_VARS).await;
    let render = format!("/templates/{id}/render");

    let (s, page) = read(
        app.post_form(
            &t.vera,
            &render,
            &[("render-version", "1"), ("tone", "casual"), ("topic", "")],
        )
        .await,
    )
    .await;
    assert_eq!(s, 422, "{page}");
    assert!(page.contains("Variable `topic` is required."), "{page}");
    assert!(!page.contains("Rendered prompt"), "{page}");
    // What was chosen stays chosen.
    assert!(
        page.contains("<option value=\"casual\" selected>"),
        "{page}"
    );

    // A value of the wrong kind names the variable too.
    let (s, page) = read(
        app.post_form(
            &t.vera,
            &render,
            &[
                ("render-version", "1"),
                ("tone", "angry"),
                ("topic", "cats"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, 422, "{page}");
    assert!(page.contains("Variable `tone`"), "{page}");

    let (s, page) = read(
        app.post_form(
            &t.vera,
            &render,
            &[
                ("render-version", "1"),
                ("tone", "casual"),
                ("topic", "<b>bold</b> & \"quoted\""),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Rendered prompt"), "{page}");
    assert!(
        page.contains(
            "<pre class=\"prompt\" id=\"rendered-user\">Write about &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;.\nKeep a casual tone.</pre>"
        ),
        "{page}"
    );
    assert!(!page.contains("<b>bold</b>"), "unescaped value: {page}");
    assert!(page.contains("You are a careful writer."), "{page}");

    // The default applies when the field is left blank.
    let (s, page) = read(
        app.post_form(
            &t.vera,
            &render,
            &[("render-version", "1"), ("tone", ""), ("topic", "dogs")],
        )
        .await,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Keep a formal tone."), "{page}");
}

#[tokio::test]
async fn pages_a_stale_save_answers_409_and_says_who() {
    let t = Team::new().await;
    let app = &t.app;
    let id = create_template(app, &t.eddie, &t.a, "Brief", BRIEF_PROMPT, &BRIEF_VARS).await;
    let edit = format!("/templates/{id}/edit");
    // Two people open the editor on version 1.
    for c in [&t.ada, &t.eddie] {
        let (s, page) = read(app.get(c, &edit).await).await;
        assert_eq!(s, 200);
        assert!(page.contains("name=\"base_version\" value=\"1\""), "{page}");
    }
    let res = save_version(
        app,
        &t.eddie,
        &id,
        "1",
        "Eddie's text about {{topic}} {{tone}}",
    )
    .await;
    assert_eq!(res.status(), 303);

    let (s, page) =
        read(save_version(app, &t.ada, &id, "1", "Ada's text about {{topic}} {{tone}}").await)
            .await;
    assert_eq!(s, 409, "{page}");
    assert!(page.contains("Changed by Eddie Editor"), "{page}");
    assert!(page.contains("reload to see the changes"), "{page}");
    assert!(page.contains("now version 2"), "{page}");
    // Ada's text is still in the form so nothing typed is lost.
    assert!(
        page.contains("Ada&#39;s text") || page.contains("Ada's text"),
        "{page}"
    );

    let tpl = app.store.get_template(tid(&id)).await.unwrap();
    assert_eq!(tpl.latest_version, 2);
    let v2 = app.store.get_version(tid(&id), 2).await.unwrap();
    assert_eq!(
        v2.content.user_prompt_template,
        "Eddie's text about {{topic}} {{tone}}"
    );
    assert_eq!(app.store.list_versions(tid(&id)).await.unwrap().len(), 2);

    // After reloading, the save goes through.
    let res = save_version(app, &t.ada, &id, "2", "Ada's text about {{topic}} {{tone}}").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.store
            .get_template(tid(&id))
            .await
            .unwrap()
            .latest_version,
        3
    );
}

#[tokio::test]
async fn pages_history_diff_and_rollback() {
    let t = Team::new().await;
    let app = &t.app;
    let id = create_template(app, &t.eddie, &t.a, "Brief", BRIEF_PROMPT, &BRIEF_VARS).await;
    let edited = "Write about {{topic}}.\nKeep a cheerful {{tone}} tone.";
    let res = save_version(app, &t.eddie, &id, "1", edited).await;
    let (_, page) = follow(app, &t.eddie, res).await;
    assert!(page.contains("Saved version 2."), "{page}");
    assert!(page.contains("Version 2 of 2"), "{page}");

    let (s, page) = read(app.get(&t.vera, &format!("/templates/{id}/history")).await).await;
    assert_eq!(s, 200);
    assert!(page.contains("Eddie Editor"), "{page}");
    assert!(
        page.contains(&format!("/templates/{id}/diff?from=1&amp;to=2")),
        "{page}"
    );
    assert!(
        !page.contains("Roll back"),
        "a viewer cannot roll back: {page}"
    );

    let (s, page) = read(
        app.get(&t.vera, &format!("/templates/{id}/diff?from=1&to=2"))
            .await,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("Version 1 → 2"), "{page}");
    assert!(
        page.contains("1 changed line(s), 0 changed variable(s)."),
        "{page}"
    );
    assert!(
        page.contains("<td class=\"old\">Keep a {{tone}} tone.</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td class=\"new\">Keep a cheerful {{tone}} tone.</td>"),
        "{page}"
    );
    // An unchanged line is on both sides, unmarked.
    assert_eq!(
        page.matches(">Write about {{topic}}.</td>").count(),
        2,
        "{page}"
    );

    // Roll back to version 1: a new version 3 with the old text.
    let (_, page) = read(app.get(&t.eddie, &format!("/templates/{id}/history")).await).await;
    assert!(page.contains("Roll back to version 1"), "{page}");
    let res = app
        .post_form(
            &t.eddie,
            &format!("/templates/{id}/rollback"),
            &[("version", "1")],
        )
        .await;
    let (to, page) = follow(app, &t.eddie, res).await;
    assert_eq!(to, format!("/templates/{id}"));
    assert!(
        page.contains("Rolled back: version 3 has the text of version 1."),
        "{page}"
    );
    let tpl = app.store.get_template(tid(&id)).await.unwrap();
    assert_eq!(tpl.latest_version, 3);
    let v3 = app.store.get_version(tid(&id), 3).await.unwrap();
    let v1 = app.store.get_version(tid(&id), 1).await.unwrap();
    assert_eq!(v3.content, v1.content);
    assert_eq!(v3.message, "Rolled back to version 1");
    // A viewer's rollback is refused and changes nothing.
    let res = app
        .post_form(
            &t.vera,
            &format!("/templates/{id}/rollback"),
            &[("version", "2")],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.store
            .get_template(tid(&id))
            .await
            .unwrap()
            .latest_version,
        3
    );
}

#[tokio::test]
async fn pages_labels_production_needs_an_admin() {
    let t = Team::new().await;
    let app = &t.app;
    let id = create_template(app, &t.eddie, &t.a, "Brief", BRIEF_PROMPT, &BRIEF_VARS).await;
    let res = save_version(app, &t.eddie, &id, "1", "v2 {{topic}} {{tone}}").await;
    assert_eq!(res.status(), 303);
    let labels = format!("/templates/{id}/labels");

    let (_, page) = read(app.get(&t.eddie, &format!("/templates/{id}")).await).await;
    assert!(page.contains("Set label"), "{page}");
    assert!(page.contains("Only workspace admins move"), "{page}");
    let (_, page) = read(app.get(&t.vera, &format!("/templates/{id}")).await).await;
    assert!(!page.contains("Set label"), "{page}");

    let res = app
        .post_form(&t.eddie, &labels, &[("label", "staging"), ("version", "2")])
        .await;
    let (_, page) = follow(app, &t.eddie, res).await;
    assert!(
        page.contains("Label staging now points at version 2."),
        "{page}"
    );
    let tpl = app.store.get_template(tid(&id)).await.unwrap();
    assert_eq!(tpl.labels.get("staging"), Some(&2));

    let res = app
        .post_form(
            &t.eddie,
            &labels,
            &[("label", "production"), ("version", "2")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(
            &t.eddie,
            &labels,
            &[("label", "Production"), ("version", "2")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let tpl = app.store.get_template(tid(&id)).await.unwrap();
    assert_eq!(tpl.labels.get("production"), None);
    assert_eq!(tpl.labels.len(), 1);
    // A viewer cannot set any label.
    let res = app
        .post_form(&t.vera, &labels, &[("label", "staging"), ("version", "1")])
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.store
            .get_template(tid(&id))
            .await
            .unwrap()
            .labels
            .get("staging"),
        Some(&2)
    );

    let res = app
        .post_form(
            &t.alma,
            &labels,
            &[("label", "production"), ("version", "1")],
        )
        .await;
    let (_, page) = follow(app, &t.alma, res).await;
    assert!(
        page.contains("Label production now points at version 1."),
        "{page}"
    );
    let tpl = app.store.get_template(tid(&id)).await.unwrap();
    assert_eq!(tpl.labels.get("production"), Some(&1));
    // The page of a labelled version answers by label.
    let (s, page) = read(
        app.get(&t.vera, &format!("/templates/{id}?version=production"))
            .await,
    )
    .await;
    assert_eq!(s, 200);
    assert!(page.contains("Version 1 of 2"), "{page}");
    // The editor cannot remove production either; the admin can.
    let delete = format!("/templates/{id}/labels/production/delete");
    assert_eq!(app.post_form(&t.eddie, &delete, &[]).await.status(), 403);
    assert!(
        app.store
            .get_template(tid(&id))
            .await
            .unwrap()
            .labels
            .contains_key("production")
    );
    let res = app.post_form(&t.alma, &delete, &[]).await;
    assert_eq!(res.status(), 303);
    assert!(
        !app.store
            .get_template(tid(&id))
            .await
            .unwrap()
            .labels
            .contains_key("production")
    );
}

#[tokio::test]
async fn pages_duplicate_and_move_between_workspaces() {
    let t = Team::new().await;
    let app = &t.app;
    let id = create_template(app, &t.eddie, &t.a, "Brief", BRIEF_PROMPT, &BRIEF_VARS).await;
    let personal = personal_ws(app, EDDIE).await;

    // The page offers the personal workspace as a target.
    let (_, page) = read(app.get(&t.eddie, &format!("/templates/{id}")).await).await;
    assert!(
        page.contains(&format!("<option value=\"{personal}\"")),
        "{page}"
    );

    let res = app
        .post_form(
            &t.eddie,
            &format!("/templates/{id}/duplicate"),
            &[("workspace", personal.as_str())],
        )
        .await;
    let (to, page) = follow(app, &t.eddie, res).await;
    let copy = to.strip_prefix("/templates/").unwrap().to_owned();
    assert_ne!(copy, id);
    assert!(page.contains("Created Brief (copy)."), "{page}");
    assert_eq!(current_ws(&page), "Eddie's workspace");
    let (_, list) = read(app.get(&t.eddie, &format!("/w/{personal}/templates")).await).await;
    assert!(
        list.contains(&format!("href=\"/templates/{copy}\">Brief (copy)</a>")),
        "{list}"
    );
    let c = app.store.get_template(tid(&copy)).await.unwrap();
    assert_eq!(c.workspace_id, Some(wid(&personal)));
    let cv = app.store.get_version(tid(&copy), 1).await.unwrap();
    assert_eq!(cv.content.user_prompt_template, BRIEF_PROMPT);
    // The original is untouched.
    assert_eq!(
        app.store.get_template(tid(&id)).await.unwrap().workspace_id,
        Some(wid(&t.a))
    );
    // Nobody else sees the copy in a personal workspace.
    assert_eq!(
        app.get(&t.ada, &format!("/templates/{copy}"))
            .await
            .status(),
        404
    );

    // Move the copy from the personal workspace into Team A.
    let res = app
        .post_form(
            &t.eddie,
            &format!("/templates/{copy}/move"),
            &[("workspace", t.a.as_str())],
        )
        .await;
    let (_, page) = follow(app, &t.eddie, res).await;
    assert!(page.contains("Moved."), "{page}");
    assert_eq!(current_ws(&page), "Team A");
    let (_, list) = read(app.get(&t.vera, &format!("/w/{}/templates", t.a)).await).await;
    assert!(
        list.contains(&format!("href=\"/templates/{copy}\"")),
        "{list}"
    );
    let (_, list) = read(app.get(&t.eddie, &format!("/w/{personal}/templates")).await).await;
    assert!(
        !list.contains(&format!("href=\"/templates/{copy}\"")),
        "{list}"
    );
    assert_eq!(
        app.store
            .get_template(tid(&copy))
            .await
            .unwrap()
            .workspace_id,
        Some(wid(&t.a))
    );

    // A viewer cannot move or duplicate into a workspace where they are only a viewer.
    let res = app
        .post_form(
            &t.vera,
            &format!("/templates/{id}/move"),
            &[("workspace", personal.as_str())],
        )
        .await;
    assert!(matches!(res.status().as_u16(), 403 | 404));
    let res = app
        .post_form(
            &t.vera,
            &format!("/templates/{id}/duplicate"),
            &[("workspace", t.a.as_str())],
        )
        .await;
    assert_eq!(res.status(), 403);
    // A workspace one is not in answers 404.
    let res = app
        .post_form(
            &t.ada,
            &format!("/templates/{id}/duplicate"),
            &[("workspace", personal.as_str())],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        app.store
            .list_templates(Some(wid(&personal)))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        app.store
            .list_templates(Some(wid(&t.a)))
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn pages_export_then_import_gives_the_same_templates() {
    let t = Team::new().await;
    let app = &t.app;
    let id = create_template(app, &t.eddie, &t.a, "Brief", BRIEF_PROMPT, &BRIEF_VARS).await;
    let res = save_version(app, &t.eddie, &id, "1", "Second {{topic}} {{tone}}").await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            &t.alma,
            &format!("/templates/{id}/labels"),
            &[("label", "production"), ("version", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    create_template(app, &t.eddie, &t.a, "Plain", "No variables here.", &[]).await;
    let b = create_ws(app, &t.ada, "Team B").await;

    let res = app.get(&t.vera, &format!("/w/{}/export", t.a)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("attachment") && disposition.contains("team-a-templates.json"),
        "{disposition}"
    );
    let json = res.text().await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["format"], "promptyard.templates.v1");
    assert_eq!(doc["templates"].as_array().unwrap().len(), 2);

    // The list page links the export and offers the import form.
    let (_, list) = read(app.get(&t.ada, &format!("/w/{b}/templates")).await).await;
    assert!(list.contains(&format!("href=\"/w/{b}/export\"")), "{list}");
    assert!(
        list.contains(&format!("action=\"/w/{b}/import\"")),
        "{list}"
    );

    // Garbage is refused with a message and imports nothing.
    for garbage in [
        "not json at all",
        "{\"format\": \"something else\", \"templates\": []}",
        "{}",
    ] {
        let (s, page) = read(
            app.post_form(&t.ada, &format!("/w/{b}/import"), &[("import", garbage)])
                .await,
        )
        .await;
        assert_eq!(s, 422, "{garbage}: {page}");
        assert!(page.contains("role=\"alert\""), "{garbage}: {page}");
        assert_eq!(
            app.store.list_templates(Some(wid(&b))).await.unwrap().len(),
            0
        );
    }
    let (_, page) = read(
        app.post_form(
            &t.ada,
            &format!("/w/{b}/import"),
            &[("import", "not json at all")],
        )
        .await,
    )
    .await;
    assert!(page.contains("That is not an export file"), "{page}");

    let res = app
        .post_form(
            &t.ada,
            &format!("/w/{b}/import"),
            &[("import", json.as_str())],
        )
        .await;
    let (to, page) = follow(app, &t.ada, res).await;
    assert_eq!(to, format!("/w/{b}/templates"));
    assert!(page.contains("Imported 2 template(s)."), "{page}");
    assert!(
        page.contains(">Brief</a>") && page.contains(">Plain</a>"),
        "{page}"
    );

    // Same templates: names, every version's content and message, labels.
    let mut from = app.store.list_templates(Some(wid(&t.a))).await.unwrap();
    let mut to = app.store.list_templates(Some(wid(&b))).await.unwrap();
    from.sort_by(|x, y| x.name.cmp(&y.name));
    to.sort_by(|x, y| x.name.cmp(&y.name));
    assert_eq!(from.len(), to.len());
    for (x, y) in from.iter().zip(&to) {
        assert_ne!(x.id, y.id);
        assert_eq!(
            (&x.name, x.latest_version, &x.labels),
            (&y.name, y.latest_version, &y.labels)
        );
        let xv = app.store.list_versions(x.id).await.unwrap();
        let yv = app.store.list_versions(y.id).await.unwrap();
        assert_eq!(xv.len(), yv.len());
        for (a, b) in xv.iter().zip(&yv) {
            assert_eq!(
                (a.version, &a.content, &a.message),
                (b.version, &b.content, &b.message)
            );
        }
    }
    // And exporting B gives the same document.
    let again = app
        .get(&t.ada, &format!("/w/{b}/export"))
        .await
        .text()
        .await
        .unwrap();
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    let names = |d: &serde_json::Value| {
        let mut v: Vec<serde_json::Value> = d["templates"].as_array().unwrap().clone();
        v.sort_by_key(|t| t["name"].as_str().unwrap().to_owned());
        v
    };
    assert_eq!(names(&doc), names(&again));

    // A viewer cannot import.
    let res = app
        .post_form(
            &t.vera,
            &format!("/w/{}/import", t.a),
            &[("import", json.as_str())],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.store
            .list_templates(Some(wid(&t.a)))
            .await
            .unwrap()
            .len(),
        2
    );
}
