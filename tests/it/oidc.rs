//! OIDC configuration as the server applies it (the full flow against a real provider is the
//! browser test `tests/browser/oidc.test.mjs`): the login page's buttons, password login
//! turned off, a provider the outbound policy does not allow, unknown providers, and callbacks
//! that belong to no sign-in.

use promptyard::config::OidcProviderConfig;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

fn corp(issuer: &str) -> OidcProviderConfig {
    OidcProviderConfig {
        id: "corp".into(),
        label: "Corp SSO".into(),
        issuer: issuer.into(),
        client_id: "promptyard".into(),
        client_secret: "s3cret-client".into(),
        ..OidcProviderConfig::default()
    }
}

#[tokio::test]
async fn password_login_off_leaves_only_the_providers() {
    // 127.0.0.1:9 is not in the outbound allowlist: discovery is refused before any connection.
    let app = TestApp::spawn_with(|c| {
        c.oidc.providers = vec![corp("http://127.0.0.1:9")];
        c.auth.password_login = false;
        c.auth.registration = promptyard::config::Registration::Open;
    })
    .await;
    let admin = app.setup_admin().await;
    let visitor = app.browser();

    let page = app.get(&visitor, "/login").await.text().await.unwrap();
    assert!(page.contains("Continue with Corp SSO"), "{page}");
    assert!(page.contains("href=\"/auth/oidc/corp\""), "{page}");
    assert!(
        !page.contains("name=\"password\""),
        "no password form: {page}"
    );

    // The password is refused even when right, on the form and in the API, and nothing starts.
    let res = app
        .post_form(
            &visitor,
            "/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Password login is turned off")
    );
    assert!(!app.is_logged_in(&visitor).await);
    let res = visitor
        .post(app.url("/api/session"))
        .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Registering offers only the providers; a password account cannot be made.
    let page = app.get(&visitor, "/register").await.text().await.unwrap();
    assert!(page.contains("Continue with Corp SSO"), "{page}");
    assert!(!page.contains("name=\"password\""), "{page}");
    let res = app
        .post_form(
            &visitor,
            "/register",
            &[
                ("email", "new@example.com"),
                ("name", "New"),
                ("password", "a long password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        app.store
            .find_user_by_email("new@example.com")
            .await
            .unwrap()
            .is_none()
    );

    // The account page says so, and offers no password change.
    let account = app.get(&admin, "/account").await.text().await.unwrap();
    assert!(account.contains("Turned off on this server"), "{account}");
    assert!(!account.contains("Change password"), "{account}");
    assert!(account.contains("Link Corp SSO"), "{account}");

    // A provider the outbound policy refuses: a clear message, no session, nothing stored.
    let res = app.get(&visitor, "/auth/oidc/corp").await;
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Sign-in with Corp SSO is unavailable"),
        "{body}"
    );
    assert!(body.contains("outbound policy"), "{body}");
    assert!(!body.contains("s3cret-client"));

    // An unknown provider is not found; a callback with no sign-in in progress is refused.
    assert_eq!(app.get(&visitor, "/auth/oidc/nope").await.status(), 404);
    assert_eq!(
        app.get(&visitor, "/auth/oidc/nope/callback").await.status(),
        404
    );
    let res = app
        .get(&visitor, "/auth/oidc/corp/callback?code=abc&state=xyz")
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );
    // ...and so is one whose pending cookie was forged.
    let res = visitor
        .get(app.url("/auth/oidc/corp/callback?code=abc&state=xyz"))
        .header(
            "cookie",
            "promptyard_oidc=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(!app.is_logged_in(&visitor).await);

    // Every refused callback is a failed login in the audit log.
    let failed = app
        .store
        .list_audit_events(
            &promptyard::domain::AuditFilter {
                action: Some("login.failed".into()),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.iter().all(|e| e.detail.contains("via Corp SSO")));
    app.stop().await;
}

#[tokio::test]
async fn linking_needs_a_post_from_the_account_page() {
    let app = TestApp::spawn_with(|c| c.oidc.providers = vec![corp("http://127.0.0.1:9")]).await;
    let admin = app.setup_admin().await;
    // Another site cannot start a link in the user's browser: the origin check refuses it.
    let res = admin
        .post(app.url("/account/identities/corp/link"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // From the page itself it tries the provider, and says why it cannot reach it.
    let res = app
        .post_form(&admin, "/account/identities/corp/link", &[])
        .await;
    assert_eq!(res.status(), 303);
    let page = app.get(&admin, "/account").await.text().await.unwrap();
    assert!(
        page.contains("Sign-in with Corp SSO is unavailable"),
        "{page}"
    );
    // Unlinking something never linked is not found.
    let res = app
        .post_form(&admin, "/account/identities/corp/unlink", &[])
        .await;
    assert_eq!(res.status(), 404);
    // The account page's policy lets its Link buttons lead to the provider, and nowhere else.
    let res = app.get(&admin, "/account").await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    let home = app.get(&admin, "/").await;
    let csp = home.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self';"), "{csp}");
    app.stop().await;
}
