//! Who may do what: each role in a workspace, and a member of another workspace.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Team, seed};

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
