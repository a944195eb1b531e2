//! The HTTP edge: headers, request ids, assets, health, error faces, origin check, cookies.

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, location};

#[tokio::test]
async fn every_response_has_security_headers_and_a_request_id() {
    let app = TestApp::spawn().await;
    let client = app.browser();
    for path in ["/", "/setup", "/nope", "/api/nope", "/healthz"] {
        let res = app.get(&client, path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["x-request-id"].to_str().unwrap().len(), 36, "{path}");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let client = app.browser();
    let res = app.get(&client, "/healthz").await;
    assert_eq!(res.status(), 200);
    let res = app.get(&client, "/readyz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ready");
}

#[tokio::test]
async fn assets_are_served_at_hashed_urls_with_immutable_caching() {
    let app = TestApp::spawn().await;
    let client = app.browser();
    let page = app.get(&client, "/setup").await.text().await.unwrap();
    let start = page.find("/assets/app.").unwrap();
    let end = start + page[start..].find('"').unwrap();
    let href = &page[start..end];
    let res = app.get(&client, href).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    // The stylesheet carries both schemes (colours as light-dark() pairs).
    assert!(res.text().await.unwrap().contains("light-dark("));
    assert_eq!(app.get(&client, "/assets/app.css").await.status(), 404);
    assert_eq!(
        app.get(&client, "/assets/app.000000000000.css")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn errors_render_in_the_face_of_their_path() {
    let app = TestApp::spawn().await;
    let client = app.browser();
    let res = app.get(&client, "/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Page not found") && body.contains("Request id"),
        "{body}"
    );

    let res = app.get(&client, "/api/no/such").await;
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let res = app.get(&client, "/api/me").await;
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(body["error"].get("field").is_some());
}

#[tokio::test]
async fn cross_origin_posts_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A login form posted from another site: refused before any credentials are checked.
    let res = plain
        .post(app.url("/login"))
        .header("origin", "http://evil.example")
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("set-cookie").is_none());
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Cross-origin request refused")
    );

    // The admin's browser tricked into posting from another site keeps its session.
    let res = admin
        .post(app.url("/logout"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = admin
        .post(app.url("/admin/users"))
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("email", "evil@example.com"),
            ("name", "Evil"),
            ("password", "evil password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.store.count_users().await.unwrap(), 1);
    assert!(app.is_logged_in(&admin).await);

    // The JSON face answers in JSON.
    let res = plain
        .post(app.url("/api/session"))
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "cross_origin");
}

#[tokio::test]
async fn session_cookie_flags_follow_the_scheme() {
    let app = TestApp::spawn().await;
    let client = app.browser();
    let res = app
        .post_form(
            &client,
            "/setup",
            &[
                ("email", ADMIN_EMAIL),
                ("name", "Ada"),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("promptyard_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(res.headers().get("strict-transport-security").is_none());
    // The token in the cookie is not what the store keeps.
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let user = app
        .store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    let sessions = app.store.list_sessions(user.id).await.unwrap();
    assert_ne!(hex::encode(sessions[0].token_hash.0), token);

    let https = TestApp::spawn_with(|c| c.public_url = "https://prompts.example.com".into()).await;
    let client = https.browser();
    let res = client
        .post(https.url("/setup"))
        .header("origin", "https://prompts.example.com")
        .form(&[
            ("email", ADMIN_EMAIL),
            ("name", "Ada"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.contains("_session="))
        .unwrap();
    assert!(cookie.starts_with("__Host-promptyard_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let hsts = res.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.contains("max-age="), "{hsts}");
}

#[tokio::test]
async fn login_redirects_back_to_a_local_page_only() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    for (next, expected) in [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ] {
        let client = app.browser();
        let res = app
            .post_form(
                &client,
                "/login",
                &[
                    ("email", ADMIN_EMAIL),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&res), expected, "next={next}");
    }
}

#[tokio::test]
async fn the_json_api_logs_in_and_out() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = client
        .post(app.url("/api/session"))
        .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["user"]["email"], ADMIN_EMAIL);
    assert!(body["user"].get("password_hash").is_none());
    let me: serde_json::Value = client
        .get(app.url("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["role"], "admin");
    let res = client.delete(app.url("/api/session")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        client
            .get(app.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn setup_refuses_a_host_name_dns_rebinding_could_forge() {
    let app = TestApp::spawn().await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = plain
        .post(app.url("/setup"))
        .header("host", "attacker.example:8099")
        .header("origin", "http://attacker.example:8099")
        .form(&[
            ("email", "evil@attacker.example"),
            ("name", "Evil"),
            ("password", "evil password 1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("only works at an IP address or localhost")
    );
    assert_eq!(app.store.count_users().await.unwrap(), 0);
    for host in ["localhost:8080", "[::1]:8080", "192.168.1.20:8080"] {
        let res = plain
            .get(app.url("/setup"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn wrong_methods_queries_and_ids_answer_in_our_format() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let res = app.get(&admin, "/logout").await;
    assert_eq!(res.status(), 405);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("does not accept that kind of request")
    );
    let res = admin.put(app.url("/api/session")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let res = app.get(&admin, "/admin/users?after=a&after=b").await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("role=\"alert\""));
    let res = app.post_form(&admin, "/admin/users/%FF/disable", &[]).await;
    assert_eq!(res.status(), 404);
    let res = app.get(&app.browser(), "/login?next=a&next=b").await;
    assert_eq!(res.status(), 422);
}
