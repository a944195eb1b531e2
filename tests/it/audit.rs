//! The audit log after a scripted session: logins and failed logins, admin and member role
//! changes, API key creation and revocation, provider changes, moderation and budget changes
//! all appear on the instance page and in its CSV; a workspace's page and CSV show that
//! workspace's events only, to its admins; filters narrow the list; bad filters are 422.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

const UMA: &str = "uma@example.com";
const UMA_PASSWORD: &str = "uma password 1234";

async fn api(
    client: &reqwest::Client,
    app: &TestApp,
    method: &str,
    path: &str,
    body: Value,
) -> Value {
    let req = match method {
        "POST" => client.post(app.url(path)),
        "PUT" => client.put(app.url(path)),
        _ => client.get(app.url(path)),
    };
    let res = req.json(&body).send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let res = app.get(client, path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_audit_log_lists_a_scripted_session() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    app.create_user(&admin, UMA, UMA_PASSWORD).await;
    let uma_id = app.user_id(UMA).await;

    // Logins: a failure, then a success.
    let res = app
        .post_form(
            &app.browser(),
            "/login",
            &[("email", UMA), ("password", "wrong password!")],
        )
        .await;
    assert_eq!(res.status(), 401);
    let uma = app.login(UMA, UMA_PASSWORD).await;
    let _again = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // The instance admin role, given and taken back.
    for action in ["make-admin", "remove-admin"] {
        let res = app
            .post_form(&admin, &format!("/admin/users/{uma_id}/{action}"), &[])
            .await;
        assert_eq!(res.status(), 303);
    }

    // A shared workspace that Uma joins; her member role changes.
    let ws = api(
        &admin,
        &app,
        "POST",
        "/api/workspaces",
        json!({"name": "Audit team"}),
    )
    .await;
    let ws = ws["id"].as_str().unwrap().to_owned();
    let invite = api(
        &admin,
        &app,
        "POST",
        &format!("/api/workspaces/{ws}/invites"),
        json!({"role": "viewer"}),
    )
    .await;
    let token = invite["token"].as_str().unwrap();
    api(
        &uma,
        &app,
        "POST",
        &format!("/api/invites/{token}/accept"),
        json!({}),
    )
    .await;
    api(
        &admin,
        &app,
        "PUT",
        &format!("/api/workspaces/{ws}/members/{uma_id}"),
        json!({"role": "editor"}),
    )
    .await;

    // A provider connection of the workspace, and a budget.
    let res = app
        .post_form(
            &admin,
            &format!("/w/{ws}/providers"),
            &[
                ("name", "Audit provider"),
                ("kind", "openai"),
                ("base_url", "https://api.openai.com/v1"),
                ("models", "gpt-4o-mini"),
                ("api_key", "sk-audit-secret-do-not-log"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    api(
        &admin,
        &app,
        "PUT",
        &format!("/api/workspaces/{ws}/gateway"),
        json!({"budget_usd": 42.5}),
    )
    .await;

    // An API key for the workspace, then revoked.
    let res = app
        .post_form(
            &uma,
            "/account/api-keys",
            &[("name", "audit key"), ("workspace", &ws)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let key = app.store.list_api_keys(uma_id).await.unwrap().remove(0);
    let res = app
        .post_form(&uma, &format!("/account/api-keys/{}/revoke", key.id), &[])
        .await;
    assert_eq!(res.status(), 303);

    // Moderation: Uma submits, the admin rejects with a reason.
    let prompt = api(
        &uma,
        &app,
        "POST",
        "/api/community/prompts",
        json!({"title": "Audit me", "prompt": "Say {{x}}."}),
    )
    .await;
    let pid = prompt["id"].as_str().unwrap();
    api(
        &admin,
        &app,
        "POST",
        &format!("/api/community/prompts/{pid}/moderation"),
        json!({"action": "reject", "reason": "too short"}),
    )
    .await;

    // The instance page lists every kind of action, with who did it and from where.
    let (status, all) = page(&app, &admin, "/admin/audit").await;
    assert_eq!(status, 200);
    for action in [
        "login.failed",
        "login",
        "user.role",
        "member.role",
        "invite.accept",
        "connection.create",
        "workspace.gateway_settings",
        "api_key.create",
        "api_key.revoke",
        "community.rejected",
    ] {
        let cell = format!("<code>{action}</code>");
        assert!(all.contains(&cell), "the log lacks {action}");
    }
    assert!(
        all.contains("budget $42.50"),
        "the budget change says what it set"
    );
    assert!(all.contains("127.0.0.1"));
    assert!(
        all.contains(&format!("community_prompt:{pid}")),
        "moderation names the prompt"
    );
    assert!(
        !all.contains("sk-audit-secret"),
        "a provider key reached the audit log"
    );

    // Filters: by kind, by who, by days.
    let (_, failed) = page(&app, &admin, "/admin/audit?action=login.failed").await;
    assert!(failed.contains("wrong password") && !failed.contains("<code>user.role</code>"));
    let (_, roles) = page(&app, &admin, "/admin/audit?action=user.").await;
    assert_eq!(
        roles.matches("<code>user.role</code>").count(),
        2,
        "{roles}"
    );
    let (_, by_uma) = page(&app, &admin, &format!("/admin/audit?who={UMA}")).await;
    assert!(
        by_uma.contains("<code>api_key.create</code>")
            && !by_uma.contains("<code>user.role</code>")
    );
    let today = app.clock.now().date();
    let (_, future) = page(
        &app,
        &admin,
        &format!("/admin/audit?from={}", today.next_day().unwrap()),
    )
    .await;
    assert!(future.contains("No events match."));
    let (_, todays) = page(
        &app,
        &admin,
        &format!("/admin/audit?from={today}&to={today}"),
    )
    .await;
    assert!(todays.contains("<code>api_key.revoke</code>"));

    // The CSV holds the same events as the page, formula-safe.
    let res = app.get(&admin, "/admin/audit?format=csv").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let actions: Vec<String> = rows.records().map(|r| r.unwrap()[2].to_owned()).collect();
    let stored = app
        .store
        .list_audit_events(&Default::default(), None, 200)
        .await
        .unwrap()
        .items;
    assert_eq!(actions.len(), stored.len());
    assert_eq!(
        actions,
        stored.iter().map(|e| e.action.clone()).collect::<Vec<_>>()
    );

    // The workspace's own page: its events only (members, budget, provider, keys), for admins.
    let (status, mine) = page(&app, &admin, &format!("/w/{ws}/audit")).await;
    assert_eq!(status, 200);
    for action in [
        "member.role",
        "invite.create",
        "invite.accept",
        "connection.create",
        "workspace.gateway_settings",
        "api_key.create",
        "api_key.revoke",
    ] {
        let cell = format!("<code>{action}</code>");
        assert!(mine.contains(&cell), "the workspace log lacks {action}");
    }
    for other in ["login.failed", "user.role", "community.rejected"] {
        let cell = format!("<code>{other}</code>");
        assert!(!mine.contains(&cell), "the workspace log shows {other}");
    }
    let ws_csv = app
        .get(&admin, &format!("/w/{ws}/audit?format=csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(ws_csv.contains("member.role") && !ws_csv.contains("user.role"));
    // Uma is an editor there: not allowed; a stranger's workspace is not even found.
    assert_eq!(page(&app, &uma, &format!("/w/{ws}/audit")).await.0, 403);
    let personal = app.first_workspace(&uma).await;
    assert_eq!(
        page(&app, &admin, &format!("/w/{personal}/audit")).await.0,
        404
    );
    assert_eq!(page(&app, &uma, "/admin/audit").await.0, 403);

    // Bad filters name the problem.
    for (query, field) in [
        ("from=yesterday", "not a date"),
        ("who=nobody@example.com", "no account has the email"),
        ("from=2026-05-02&to=2026-05-01", "before the first"),
        ("action=drop%20table", "not an action name"),
        ("before=xyz", "page cursor"),
    ] {
        let (status, body) = page(&app, &admin, &format!("/admin/audit?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert!(body.to_lowercase().contains(field), "{query}: {body}");
    }
    app.stop().await;
}
