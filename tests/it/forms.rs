//! Bad input on every form gets a clear message and never a 500, and changes nothing.

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

/// Bodies that a careless or hostile client might send to a form.
fn bad_bodies(fields: &[&str]) -> Vec<(String, Vec<u8>)> {
    let long = "x".repeat(10 * 1024);
    let mut out = vec![
        ("empty body".to_owned(), Vec::new()),
        ("no fields".to_owned(), b"unrelated=1".to_vec()),
        (
            "not urlencoded".to_owned(),
            b"\x00\x01{\"json\": true}".to_vec(),
        ),
        ("bad utf-8".to_owned(), b"\xff\xfe=\xc3\x28".to_vec()),
    ];
    let all = |value: &str| -> Vec<u8> {
        fields
            .iter()
            .map(|f| format!("{f}={value}"))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes()
    };
    out.push(("empty fields".to_owned(), all("")));
    out.push(("10 kB fields".to_owned(), all(&long)));
    out.push(("percent-encoded bad utf-8".to_owned(), all("%FF%FE%C3%28")));
    out.push(("control characters".to_owned(), all("a%00b%07c")));
    out.push(("array syntax".to_owned(), all("&email[]=1&email[]=2")));
    out
}

async fn assert_refused_cleanly(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[&str],
) {
    for (what, body) in bad_bodies(fields) {
        let res = app.post_raw(client, path, body).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert!(
            (400..500).contains(&status) || status == 303,
            "{path} with {what}: status {status}: {text}"
        );
        assert!(
            !text.contains("internal error"),
            "{path} with {what}: {text}"
        );
        if status != 303 {
            assert!(
                text.contains("role=\"alert\"") || text.contains("\"message\""),
                "{path} with {what}: no message shown: {text}"
            );
        }
    }
}

#[tokio::test]
async fn every_form_refuses_bad_input_with_a_message() {
    let app = TestApp::spawn().await;
    let anon = app.browser();
    assert_refused_cleanly(&app, &anon, "/setup", &["email", "name", "password"]).await;
    assert_eq!(
        app.store.count_users().await.unwrap(),
        0,
        "no bad setup created an account"
    );

    let admin = app.setup_admin().await;
    assert_refused_cleanly(&app, &anon, "/login", &["email", "password"]).await;
    assert_refused_cleanly(&app, &admin, "/admin/users", &["email", "name", "password"]).await;
    assert_refused_cleanly(&app, &admin, "/account/name", &["name"]).await;
    assert_refused_cleanly(
        &app,
        &admin,
        "/account/password",
        &["current_password", "new_password"],
    )
    .await;
    assert_eq!(
        app.store.count_users().await.unwrap(),
        1,
        "no bad form created an account"
    );
    let me = app
        .store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        me.name.as_str(),
        "Ada Admin",
        "no bad form renamed the admin"
    );
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn bad_input_gets_no_500_on_postgres_either() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    let anon = app.browser();
    assert_refused_cleanly(&app, &anon, "/setup", &["email", "name", "password"]).await;
    let admin = app.setup_admin().await;
    assert_refused_cleanly(&app, &anon, "/login", &["email", "password"]).await;
    assert_refused_cleanly(&app, &admin, "/admin/users", &["email", "name", "password"]).await;
    assert_refused_cleanly(&app, &admin, "/account/name", &["name"]).await;
    let res = anon
        .post(app.url("/api/session"))
        .json(&serde_json::json!({"email": "a\u{0}b@x.org", "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.store.count_users().await.unwrap(), 1);
    app.stop().await;
}

#[tokio::test]
async fn field_errors_name_the_field() {
    let app = TestApp::spawn().await;
    let client = app.browser();
    let res = app
        .post_form(
            &client,
            "/setup",
            &[
                ("email", "not-an-email"),
                ("name", "Ada"),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("That does not look like an email address"),
        "{body}"
    );
    assert!(
        body.contains("id=\"email\"") && body.contains("aria-invalid=\"true\""),
        "{body}"
    );
    assert!(
        body.contains("value=\"not-an-email\""),
        "typed values are kept: {body}"
    );
    assert!(
        !body.contains(ADMIN_PASSWORD),
        "a password is never echoed back"
    );

    let res = app
        .post_form(
            &client,
            "/setup",
            &[
                ("email", "a@example.com"),
                ("name", &"n".repeat(101)),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("A name has at most 100 characters.")
    );
}

#[tokio::test]
async fn markup_in_input_is_escaped() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let res = app
        .post_form(
            &admin,
            "/account/name",
            &[("name", "<script>alert(1)</script>")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.get(&admin, "/account").await.text().await.unwrap();
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = TestApp::spawn_with(|c| c.http.body_limit_kib = 16).await;
    let client = app.browser();
    let big = format!("email=a%40b.org&name=A&password={}", "p".repeat(40 * 1024));
    let res = app.post_raw(&client, "/setup", big.into_bytes()).await;
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("larger than 16 KiB"));
    let res = client
        .post(app.url("/api/session"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"email\":\"{}\",\"password\":\"x\"}}",
            "e".repeat(40 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
}

#[tokio::test]
async fn json_errors_name_the_field_and_type() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let client = reqwest::Client::new();
    let cases = [
        (r#"{"email": 5, "password": "x"}"#, Some("email")),
        (r#"{"password": "x"}"#, Some("email")),
        (r#"{"email": "a@b.org", "password": "x""#, None),
        ("[]", None),
    ];
    for (body, field) in cases {
        let res = client
            .post(app.url("/api/session"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{body}");
        let json: serde_json::Value = res.json().await.unwrap();
        assert_eq!(json["error"]["code"], "invalid_input", "{body}");
        assert!(!json["error"]["message"].as_str().unwrap().is_empty());
        if let Some(f) = field {
            assert_eq!(json["error"]["field"], f, "{body}: {json}");
        }
    }
    let res = client
        .post(app.url("/api/session"))
        .body(r#"{"email":"a@b.org","password":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let json: serde_json::Value = res.json().await.unwrap();
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/json"),
        "{json}"
    );
}
