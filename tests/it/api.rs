//! The JSON API for workspaces, members, invites and templates, driven as each role in two
//! workspaces: who can see, change, label and delete what; foreign objects answer 404 and
//! change nothing; stale saves answer 409; diff, rollback, render and export/import.

use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::helpers::TestApp;

const PASSWORD: &str = "a long enough password";

/// An app with workspace A (Ada the instance admin owns it; Alma is admin, Eddie editor, Vera
/// viewer) and workspace B (owned by Olga, who is in nothing else).
struct Team {
    app: TestApp,
    owner: Client,
    admin: Client,
    editor: Client,
    viewer: Client,
    outsider: Client,
    a: String,
    b: String,
}

impl Team {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let owner = app.setup_admin().await;
        let admin = add_user(&app, &owner, "alma@example.com", "Alma Admin").await;
        let editor = add_user(&app, &owner, "eddie@example.com", "Eddie Editor").await;
        let viewer = add_user(&app, &owner, "vera@example.com", "Vera Viewer").await;
        let outsider = add_user(&app, &owner, "olga@example.com", "Olga Outsider").await;
        let mut team = Self {
            app,
            owner,
            admin,
            editor,
            viewer,
            outsider,
            a: String::new(),
            b: String::new(),
        };
        team.a = team.workspace(&team.owner, "Team A").await;
        team.b = team.workspace(&team.outsider, "Team B").await;
        team.join(&team.owner, &team.a, &team.admin, "admin").await;
        team.join(&team.owner, &team.a, &team.editor, "editor")
            .await;
        team.join(&team.owner, &team.a, &team.viewer, "viewer")
            .await;
        team
    }

    async fn send(&self, c: &Client, method: Method, path: &str, body: Value) -> (u16, Value) {
        let mut req = c.request(method, self.app.url(path));
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, c: &Client, path: &str) -> (u16, Value) {
        self.send(c, Method::GET, path, Value::Null).await
    }

    async fn workspace(&self, c: &Client, name: &str) -> String {
        let (s, ws) = self
            .send(c, Method::POST, "/api/workspaces", json!({"name": name}))
            .await;
        assert_eq!(s, 201, "{ws}");
        assert_eq!(ws["role"], "owner");
        ws["id"].as_str().unwrap().to_owned()
    }

    /// Invites `who` to `ws` as `role` through the API; returns the used token.
    async fn join(&self, inviter: &Client, ws: &str, who: &Client, role: &str) -> String {
        let path = format!("/api/workspaces/{ws}/invites");
        let (s, inv) = self
            .send(inviter, Method::POST, &path, json!({"role": role}))
            .await;
        assert_eq!(s, 201, "{inv}");
        let token = inv["token"].as_str().unwrap().to_owned();
        assert_eq!(inv["url"], format!("/invites/{token}"));
        let accept = format!("/api/invites/{token}/accept");
        let (s, m) = self.send(who, Method::POST, &accept, Value::Null).await;
        assert_eq!(s, 200, "{m}");
        assert_eq!(m["role"], role);
        token
    }

    /// Creates a template in `ws`; returns its id.
    async fn template(&self, c: &Client, ws: &str, body: Value) -> String {
        let path = format!("/api/workspaces/{ws}/templates");
        let (s, created) = self.send(c, Method::POST, &path, body).await;
        assert_eq!(s, 201, "{created}");
        assert_eq!(created["version"]["version"], 1);
        created["template"]["id"].as_str().unwrap().to_owned()
    }
}

async fn add_user(app: &TestApp, admin: &Client, email: &str, name: &str) -> Client {
    let form = [("email", email), ("name", name), ("password", PASSWORD)];
    let res = app.post_form(admin, "/admin/users", &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    app.login(email, PASSWORD).await
}

fn seed(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Reviews a diff for one concern",
        "tags": ["Code", "review"],
        "system_prompt": "You are a careful reviewer.",
        "user_prompt_template": "Review this for {{focus}}:\n{{code}}\nGive {{count}} points.",
        "variables": [
            {"name": "code", "type": "text", "required": true},
            {"name": "focus", "type": "enum", "choices": ["bugs", "style"], "default": "bugs"},
            {"name": "count", "type": "number", "default": 3}
        ],
        "model": {"model": "gpt-4o-mini", "temperature": 0.2, "max_tokens": 500},
        "message": "first"
    })
}

#[tokio::test]
async fn api_each_role_can_do_what_its_role_allows_with_templates() {
    let t = Team::new().await;
    let (a, post, patch, put, delete) = (
        &t.a,
        Method::POST,
        Method::PATCH,
        Method::PUT,
        Method::DELETE,
    );
    let id = t.template(&t.owner, a, seed("Code review")).await;
    let tpl = format!("/api/templates/{id}");
    let list = format!("/api/workspaces/{a}/templates");

    for c in [&t.owner, &t.admin, &t.editor, &t.viewer] {
        let (s, l) = t.get(c, &list).await;
        assert_eq!(s, 200, "{l}");
        assert_eq!(l.as_array().unwrap().len(), 1);
        assert_eq!(l[0]["tags"], json!(["code", "review"]));
    }
    let (s, ws) = t.get(&t.viewer, &format!("/api/workspaces/{a}")).await;
    assert_eq!((s, &ws["role"]), (200, &json!("viewer")));

    // Viewer: reads and renders, changes nothing.
    let (s, d) = t.get(&t.viewer, &tpl).await;
    assert_eq!(
        (s, &d["version"], &d["model"]["max_tokens"]),
        (200, &json!(1), &json!(500))
    );
    let body = json!({"variables": {"code": "x = 1"}});
    let (s, r) = t
        .send(&t.viewer, post.clone(), &format!("{tpl}/render"), body)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["user_prompt"],
        "Review this for bugs:\nx = 1\nGive 3 points."
    );
    let (s, _) = t.send(&t.viewer, post.clone(), &list, seed("Nope")).await;
    assert_eq!(s, 403);
    let edit = json!({"base_version": 1, "name": "Renamed"});
    assert_eq!(
        t.send(&t.viewer, patch.clone(), &tpl, edit.clone()).await.0,
        403
    );
    let staging = format!("{tpl}/labels/staging");
    let production = format!("{tpl}/labels/production");
    assert_eq!(
        t.send(&t.viewer, put.clone(), &staging, json!({"version": 1}))
            .await
            .0,
        403
    );
    assert_eq!(
        t.send(&t.viewer, delete.clone(), &tpl, Value::Null).await.0,
        403
    );
    assert_eq!(t.get(&t.owner, &tpl).await.1["name"], "Code review");

    // Editor: creates, saves, labels staging, but cannot move production.
    let (s, l) = t.send(&t.editor, post.clone(), &list, seed("Second")).await;
    assert_eq!(s, 201, "{l}");
    let (s, d) = t.send(&t.editor, patch.clone(), &tpl, edit).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!((&d["version"], &d["name"]), (&json!(2), &json!("Renamed")));
    assert_eq!(d["system_prompt"], "You are a careful reviewer.");
    let (s, l) = t
        .send(&t.editor, put.clone(), &staging, json!({"version": 2}))
        .await;
    assert_eq!((s, &l["labels"]["staging"]), (200, &json!(2)));
    let (s, e) = t
        .send(&t.editor, put.clone(), &production, json!({"version": 2}))
        .await;
    assert_eq!((s, &e["error"]["code"]), (403, &json!("forbidden")));
    // Case is normalised before the production check, so "Production" is refused too.
    let upper = format!("{tpl}/labels/Production");
    assert_eq!(
        t.send(&t.editor, put.clone(), &upper, json!({"version": 2}))
            .await
            .0,
        403
    );
    assert!(
        t.get(&t.owner, &tpl).await.1["labels"]
            .get("production")
            .is_none()
    );

    // Admin: moves production; then the editor cannot remove it either.
    let (s, l) = t
        .send(&t.admin, put.clone(), &production, json!({"version": 1}))
        .await;
    assert_eq!((s, &l["labels"]["production"]), (200, &json!(1)));
    assert_eq!(
        t.send(&t.editor, delete.clone(), &production, Value::Null)
            .await
            .0,
        403
    );
    let (s, d) = t.get(&t.viewer, &format!("{tpl}?label=production")).await;
    assert_eq!(
        (s, &d["version"], &d["name"]),
        (200, &json!(1), &json!("Code review"))
    );
    assert_eq!(
        t.send(&t.editor, delete.clone(), &staging, Value::Null)
            .await
            .0,
        204
    );

    // Workspace settings: admins rename, only the owner deletes, with the typed name.
    let ws = format!("/api/workspaces/{a}");
    let rename = json!({"name": "Team A2"});
    assert_eq!(
        t.send(&t.editor, patch.clone(), &ws, rename.clone())
            .await
            .0,
        403
    );
    assert_eq!(t.send(&t.admin, patch.clone(), &ws, rename).await.0, 200);
    let confirm = json!({"confirm": "Team A2"});
    assert_eq!(
        t.send(&t.admin, delete.clone(), &ws, confirm.clone())
            .await
            .0,
        403
    );
    let (s, e) = t
        .send(&t.owner, delete.clone(), &ws, json!({"confirm": "Team"}))
        .await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("confirm")));
    assert_eq!(t.get(&t.viewer, &tpl).await.0, 200);

    // Editors delete templates; the owner deletes the workspace and everything goes.
    assert_eq!(
        t.send(&t.editor, delete.clone(), &tpl, Value::Null).await.0,
        204
    );
    assert_eq!(t.get(&t.owner, &tpl).await.0, 404);
    assert_eq!(t.send(&t.owner, delete, &ws, confirm).await.0, 204);
    assert_eq!(t.get(&t.owner, &ws).await.0, 404);
    assert_eq!(t.get(&t.editor, &list).await.0, 404);
}

#[tokio::test]
async fn api_a_foreign_workspace_answers_404_and_changes_nothing() {
    let t = Team::new().await;
    let id = t.template(&t.owner, &t.a, seed("Secret")).await;
    let (ws, tpl) = (
        format!("/api/workspaces/{}", t.a),
        format!("/api/templates/{id}"),
    );
    let o = &t.outsider;
    let calls = [
        (Method::GET, ws.clone(), Value::Null),
        (Method::PATCH, ws.clone(), json!({"name": "Mine"})),
        (Method::DELETE, ws.clone(), json!({"confirm": "Team A"})),
        (Method::GET, format!("{ws}/members"), Value::Null),
        (Method::GET, format!("{ws}/templates"), Value::Null),
        (Method::POST, format!("{ws}/templates"), seed("Planted")),
        (Method::GET, format!("{ws}/export"), Value::Null),
        (Method::GET, tpl.clone(), Value::Null),
        (
            Method::PATCH,
            tpl.clone(),
            json!({"base_version": 1, "name": "Mine"}),
        ),
        (Method::DELETE, tpl.clone(), Value::Null),
        (
            Method::POST,
            format!("{tpl}/render"),
            json!({"variables": {"code": "1"}}),
        ),
        (Method::GET, format!("{tpl}/versions"), Value::Null),
        (
            Method::PUT,
            format!("{tpl}/labels/production"),
            json!({"version": 1}),
        ),
        (
            Method::POST,
            format!("{tpl}/duplicate"),
            json!({"workspace_id": t.b}),
        ),
        (Method::GET, format!("{tpl}/export"), Value::Null),
    ];
    for (method, path, body) in calls {
        let (s, e) = t.send(o, method.clone(), &path, body).await;
        assert_eq!(s, 404, "{method} {path}: {e}");
        assert_eq!(e["error"]["code"], "not_found");
    }
    // A target workspace the caller is not in is a 404 too; a viewer target is a 403.
    let to_b = json!({"workspace_id": t.b});
    let to_a = json!({"workspace_id": t.a});
    assert_eq!(
        t.send(
            &t.owner,
            Method::POST,
            &format!("{tpl}/duplicate"),
            to_b.clone()
        )
        .await
        .0,
        404
    );
    assert_eq!(
        t.send(&t.owner, Method::POST, &format!("{tpl}/move"), to_b)
            .await
            .0,
        404
    );
    assert_eq!(
        t.send(
            &t.viewer,
            Method::POST,
            &format!("{tpl}/duplicate"),
            to_a.clone()
        )
        .await
        .0,
        403
    );
    let (s, copy) = t
        .send(&t.editor, Method::POST, &format!("{tpl}/duplicate"), to_a)
        .await;
    assert_eq!((s, &copy["name"]), (201, &json!("Secret (copy)")));

    let (s, d) = t.get(&t.owner, &tpl).await;
    assert_eq!(
        (s, &d["name"], &d["latest_version"]),
        (200, &json!("Secret"), &json!(1))
    );
    assert_eq!(d["labels"], json!({}));
    assert_eq!(t.get(&t.owner, &ws).await.1["name"], "Team A");
    assert_eq!(
        t.get(&t.owner, &format!("{ws}/templates"))
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, mine) = t.get(o, "/api/workspaces").await;
    let names: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Team B") && !names.contains(&"Team A"),
        "{names:?}"
    );
}

#[tokio::test]
async fn api_a_stale_save_answers_409_naming_who_saved() {
    let t = Team::new().await;
    let id = t.template(&t.owner, &t.a, seed("Shared")).await;
    let versions = format!("/api/templates/{id}/versions");
    let mut edit = seed("Shared");
    edit["base_version"] = json!(1);
    edit["system_prompt"] = json!("Eddie's version.");
    edit["message"] = json!("tone");
    let (s, v) = t
        .send(&t.editor, Method::POST, &versions, edit.clone())
        .await;
    assert_eq!(
        (s, &v["version"], &v["message"]),
        (201, &json!(2), &json!("tone"))
    );

    edit["system_prompt"] = json!("Ada's version.");
    let (s, e) = t.send(&t.owner, Method::POST, &versions, edit).await;
    assert_eq!(s, 409, "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Eddie Editor") && message.contains("reload"),
        "{message}"
    );
    assert_eq!(e["error"]["field"], "base_version");
    let stale = json!({"base_version": 1, "name": "Overwrite"});
    assert_eq!(
        t.send(
            &t.owner,
            Method::PATCH,
            &format!("/api/templates/{id}"),
            stale
        )
        .await
        .0,
        409
    );
    let mut missing = seed("Shared");
    missing["message"] = json!("no base");
    let (s, e) = t.send(&t.owner, Method::POST, &versions, missing).await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("base_version")));

    let (_, list) = t.get(&t.viewer, &versions).await;
    let numbers: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    let (_, d) = t.get(&t.owner, &format!("/api/templates/{id}")).await;
    assert_eq!(d["system_prompt"], "Eddie's version.");
}

#[tokio::test]
async fn api_diff_and_rollback_give_the_right_text() {
    let t = Team::new().await;
    let id = t.template(&t.editor, &t.a, seed("Greeter")).await;
    let tpl = format!("/api/templates/{id}");
    let edit = json!({"base_version": 1, "user_prompt_template": "Say goodbye to {{code}}", "message": "bye"});
    assert_eq!(t.send(&t.editor, Method::PATCH, &tpl, edit).await.0, 200);

    let (s, diff) = t.get(&t.viewer, &format!("{tpl}/diff?from=1&to=2")).await;
    assert_eq!(s, 200, "{diff}");
    assert_eq!((&diff["from"], &diff["to"]), (&json!(1), &json!(2)));
    let rows = diff["rows"].as_array().unwrap();
    let changed: Vec<&Value> = rows.iter().filter(|r| r["changed"] == true).collect();
    assert!(
        changed
            .iter()
            .any(|r| r["left"][1] == "Review this for {{focus}}:"),
        "{diff}"
    );
    assert!(
        changed
            .iter()
            .any(|r| r["right"][1] == "Say goodbye to {{code}}"),
        "{diff}"
    );
    assert!(
        rows.iter()
            .any(|r| r["changed"] == false && r["left"][1] == "Name: Greeter")
    );
    let (s, e) = t.get(&t.viewer, &format!("{tpl}/diff?from=1&to=9")).await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("to")));

    assert_eq!(
        t.send(
            &t.viewer,
            Method::POST,
            &format!("{tpl}/rollback"),
            json!({"version": 1})
        )
        .await
        .0,
        403
    );
    let (s, v3) = t
        .send(
            &t.editor,
            Method::POST,
            &format!("{tpl}/rollback"),
            json!({"version": 1}),
        )
        .await;
    assert_eq!((s, &v3["version"]), (201, &json!(3)), "{v3}");
    let (_, v1) = t.get(&t.viewer, &format!("{tpl}/versions/1")).await;
    for field in [
        "name",
        "user_prompt_template",
        "system_prompt",
        "variables",
        "model",
        "tags",
    ] {
        assert_eq!(v3[field], v1[field], "{field}");
    }
    let (_, d) = t.get(&t.viewer, &tpl).await;
    assert_eq!(
        (&d["version"], &d["user_prompt_template"]),
        (&json!(3), &v1["user_prompt_template"])
    );
    assert_eq!(t.get(&t.viewer, &format!("{tpl}/versions/7")).await.0, 404);
}

#[tokio::test]
async fn api_render_and_input_errors_name_the_field() {
    let t = Team::new().await;
    let id = t.template(&t.editor, &t.a, seed("Render me")).await;
    let render = format!("/api/templates/{id}/render");
    let (s, e) = t
        .send(&t.viewer, Method::POST, &render, json!({"variables": {}}))
        .await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("variables")), "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("`code`"),
        "{e}"
    );
    let wrong = json!({"variables": {"code": "x", "count": "abc"}});
    let (s, e) = t.send(&t.viewer, Method::POST, &render, wrong).await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("variables")), "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("`count`"),
        "{e}"
    );
    let ok = json!({"variables": {"code": "y", "count": 5, "focus": "style"}, "version": 1});
    let (s, r) = t.send(&t.viewer, Method::POST, &render, ok).await;
    assert_eq!(
        (s, &r["user_prompt"]),
        (200, &json!("Review this for style:\ny\nGive 5 points."))
    );
    assert_eq!(r["system_prompt"], "You are a careful reviewer.");

    // Unknown fields are refused by name; so is a bad field value.
    let (s, e) = t
        .send(&t.viewer, Method::POST, &render, json!({"varibles": {}}))
        .await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("varibles")), "{e}");
    let mut typo = seed("Typo");
    typo["user_prompt"] = json!("oops");
    let list = format!("/api/workspaces/{}/templates", t.a);
    let (s, e) = t.send(&t.editor, Method::POST, &list, typo).await;
    assert_eq!(
        (s, &e["error"]["field"]),
        (422, &json!("user_prompt")),
        "{e}"
    );
    let mut hot = seed("Hot");
    hot["model"]["temperature"] = json!(5);
    let (s, e) = t.send(&t.editor, Method::POST, &list, hot).await;
    assert_eq!(
        (s, &e["error"]["field"]),
        (422, &json!("temperature")),
        "{e}"
    );
    let (s, e) = t
        .send(
            &t.editor,
            Method::POST,
            &list,
            json!({"description": "no name"}),
        )
        .await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("name")), "{e}");

    // Search, tag filter and sort.
    t.template(&t.editor, &t.a, json!({"name": "Another", "tags": ["sql"]}))
        .await;
    let (_, l) = t.get(&t.viewer, &format!("{list}?q=REVIEWS")).await;
    assert_eq!(l.as_array().unwrap().len(), 1);
    let (_, l) = t.get(&t.viewer, &format!("{list}?tag=SQL")).await;
    assert_eq!(
        (l.as_array().unwrap().len(), &l[0]["name"]),
        (1, &json!("Another"))
    );
    let (_, l) = t.get(&t.viewer, &format!("{list}?sort=updated")).await;
    assert_eq!(l[0]["name"], "Another");
    assert_eq!(
        t.get(&t.viewer, &format!("{list}?sort=size")).await.1["error"]["field"],
        "sort"
    );

    // System templates: everyone reads them, only instance admins add them.
    let (s, sys) = t.get(&t.viewer, "/api/system/templates").await;
    assert!(s == 200 && sys.as_array().unwrap().len() >= 5, "{sys}");
    let sys_id = sys[0]["id"].as_str().unwrap();
    assert_eq!(
        t.get(&t.viewer, &format!("/api/templates/{sys_id}"))
            .await
            .0,
        200
    );
    assert_eq!(
        t.send(
            &t.viewer,
            Method::POST,
            "/api/system/templates",
            seed("Mine")
        )
        .await
        .0,
        403
    );
    assert_eq!(
        t.send(
            &t.owner,
            Method::POST,
            "/api/system/templates",
            seed("Ours")
        )
        .await
        .0,
        201
    );
}

#[tokio::test]
async fn api_export_then_import_gives_the_same_templates() {
    let t = Team::new().await;
    let id = t.template(&t.owner, &t.a, seed("Portable")).await;
    let tpl = format!("/api/templates/{id}");
    let edit = json!({"base_version": 1, "description": "Second take", "message": "v2"});
    assert_eq!(t.send(&t.owner, Method::PATCH, &tpl, edit).await.0, 200);
    for (label, v) in [("staging", 2), ("production", 1)] {
        let path = format!("{tpl}/labels/{label}");
        assert_eq!(
            t.send(&t.owner, Method::PUT, &path, json!({"version": v}))
                .await
                .0,
            200
        );
    }
    t.template(&t.owner, &t.a, json!({"name": "Tiny"})).await;

    let (s, doc) = t
        .get(&t.viewer, &format!("/api/workspaces/{}/export", t.a))
        .await;
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["templates"].as_array().unwrap().len(), 2);
    let (_, one) = t.get(&t.viewer, &format!("{tpl}/export")).await;
    assert_eq!(
        one["templates"][0]["labels"],
        json!({"production": 1, "staging": 2})
    );

    let import_b = format!("/api/workspaces/{}/import", t.b);
    assert_eq!(
        t.send(&t.owner, Method::POST, &import_b, doc.clone())
            .await
            .0,
        404
    );
    let import_a = format!("/api/workspaces/{}/import", t.a);
    assert_eq!(
        t.send(&t.viewer, Method::POST, &import_a, doc.clone())
            .await
            .0,
        403
    );
    let (s, imported) = t
        .send(&t.outsider, Method::POST, &import_b, doc.clone())
        .await;
    assert_eq!(s, 201, "{imported}");
    assert_eq!(imported["imported"].as_array().unwrap().len(), 2);
    let (_, again) = t
        .get(&t.outsider, &format!("/api/workspaces/{}/export", t.b))
        .await;
    assert_eq!(again, doc);

    let at = doc["templates"]
        .as_array()
        .unwrap()
        .iter()
        .position(|d| d["name"] == "Portable")
        .unwrap();
    let new_id = imported["imported"][at].as_str().unwrap();
    let (_, copy) = t
        .get(&t.outsider, &format!("/api/templates/{new_id}/versions/2"))
        .await;
    let (_, orig) = t.get(&t.owner, &format!("{tpl}/versions/2")).await;
    for field in [
        "name",
        "description",
        "system_prompt",
        "user_prompt_template",
        "variables",
        "model",
    ] {
        assert_eq!(copy[field], orig[field], "{field}");
    }
    let mut bad = doc;
    bad["format"] = json!("something else");
    let (s, e) = t.send(&t.outsider, Method::POST, &import_b, bad).await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("format")));
}

#[tokio::test]
async fn api_members_and_invites_keep_their_rules() {
    let t = Team::new().await;
    let ws = format!("/api/workspaces/{}", t.a);
    let (s, members) = t.get(&t.viewer, &format!("{ws}/members")).await;
    assert_eq!(s, 200, "{members}");
    let find = |email: &str| {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("alma@example.com")["role"], "admin");
    assert!(
        find("eddie@example.com")["joined_at"]
            .as_str()
            .unwrap()
            .contains('T')
    );
    let owner_id = find("admin@example.com")["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let viewer_id = find("vera@example.com")["user_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The last owner can neither leave nor be demoted.
    let (s, e) = t
        .send(&t.owner, Method::POST, &format!("{ws}/leave"), Value::Null)
        .await;
    assert_eq!(s, 409, "{e}");
    let me = format!("{ws}/members/{owner_id}");
    assert_eq!(
        t.send(&t.owner, Method::PUT, &me, json!({"role": "admin"}))
            .await
            .0,
        409
    );
    assert_eq!(
        t.send(&t.admin, Method::PUT, &me, json!({"role": "viewer"}))
            .await
            .0,
        403
    );
    assert_eq!(
        t.send(&t.editor, Method::PUT, &me, json!({"role": "viewer"}))
            .await
            .0,
        403
    );

    // Invites: an existing member is told so; a used link is gone.
    let (s, inv) = t
        .send(
            &t.owner,
            Method::POST,
            &format!("{ws}/invites"),
            json!({"role": "editor", "days": 2}),
        )
        .await;
    assert_eq!(s, 201, "{inv}");
    let accept = format!("/api/invites/{}/accept", inv["token"].as_str().unwrap());
    let (s, e) = t.send(&t.viewer, Method::POST, &accept, Value::Null).await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already a member"),
        "{e}"
    );
    let (s, open) = t.get(&t.admin, &format!("{ws}/invites")).await;
    assert_eq!((s, open.as_array().unwrap().len()), (200, 1));
    assert!(open[0].get("token").is_none() && open[0].get("token_hash").is_none());
    assert_eq!(t.get(&t.editor, &format!("{ws}/invites")).await.0, 403);
    let used = t.join(&t.admin, &t.a, &t.outsider, "viewer").await;
    let revoke = format!("{ws}/invites/{}", inv["id"].as_str().unwrap());
    assert_eq!(
        t.send(&t.admin, Method::DELETE, &revoke, Value::Null)
            .await
            .0,
        204
    );
    assert_eq!(t.get(&t.admin, &format!("{ws}/invites")).await.1, json!([]));
    let (s, e) = t
        .send(
            &t.admin,
            Method::POST,
            &format!("{ws}/invites"),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("role")));

    // Roles change, members leave or are removed, and then see nothing.
    let viewer_path = format!("{ws}/members/{viewer_id}");
    let (s, m) = t
        .send(
            &t.admin,
            Method::PUT,
            &viewer_path,
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!((s, &m["role"]), (200, &json!("editor")));
    assert_eq!(
        t.send(&t.admin, Method::DELETE, &viewer_path, Value::Null)
            .await
            .0,
        204
    );
    assert_eq!(t.get(&t.viewer, &ws).await.0, 404);
    // Not a member any more: a used or revoked link is simply gone.
    let used = format!("/api/invites/{used}/accept");
    assert_eq!(
        t.send(&t.viewer, Method::POST, &used, Value::Null).await.0,
        404
    );
    assert_eq!(
        t.send(&t.viewer, Method::POST, &accept, Value::Null)
            .await
            .0,
        404
    );
    assert_eq!(
        t.send(&t.editor, Method::POST, &format!("{ws}/leave"), Value::Null)
            .await
            .0,
        204
    );
    assert_eq!(t.get(&t.editor, &format!("{ws}/templates")).await.0, 404);
    let (_, list) = t.get(&t.editor, "/api/workspaces").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        (&list[0]["personal"], &list[0]["role"]),
        (&json!(true), &json!("owner"))
    );
}
