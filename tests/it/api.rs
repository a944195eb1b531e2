//! The JSON API for workspaces, members, invites and templates, driven as each role in two
//! workspaces: who can see, change, label and delete what; foreign objects answer 404 and
//! change nothing; stale saves answer 409; diff, rollback, render and export/import.

mod access;
mod members;
mod rules;
mod versions;

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
