//! Versions and content: stale saves, diff, rollback, render, filters, export/import.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Team, seed};

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
