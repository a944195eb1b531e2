//! Accounts and sessions, driven through the pages as a browser would.

use promptyard::domain::{InstanceRole, UserId};
use time::Duration;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, location};

#[tokio::test]
async fn first_run_setup_creates_one_admin_then_disappears() {
    let app = TestApp::spawn().await;
    let anon = app.browser();
    let res = app.get(&anon, "/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/setup");
    let res = app.get(&anon, "/login").await;
    assert_eq!(location(&res), "/setup");

    let admin = app.setup_admin().await;
    let home = app.get(&admin, "/").await;
    assert_eq!(home.status(), 200);
    let body = home.text().await.unwrap();
    assert!(body.contains("Welcome, Ada"), "{body}");
    assert!(
        body.contains("Your administrator account is ready"),
        "{body}"
    );

    let user = app
        .store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.role, InstanceRole::Admin);
    assert_eq!(app.get(&anon, "/setup").await.status(), 404);
    let again = app
        .post_form(
            &anon,
            "/setup",
            &[
                ("email", "x@example.com"),
                ("name", "X"),
                ("password", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(again.status(), 404);
    assert_eq!(app.store.count_users().await.unwrap(), 1);
    // A visitor now gets the login page.
    assert_eq!(location(&app.get(&anon, "/").await), "/login");
}

#[tokio::test]
async fn racing_setup_requests_create_exactly_one_admin() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = app.browser();
        let url = app.url("/setup");
        tasks.push(tokio::spawn(async move {
            let email = format!("racer{i}@example.com");
            client
                .post(url)
                .form(&[
                    ("email", email.as_str()),
                    ("name", "Racer"),
                    ("password", "long enough pw"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 404),
        "{statuses:?}"
    );
    assert_eq!(app.store.count_users().await.unwrap(), 1);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.setup_admin().await;
    let client = app.browser();
    for (email, password) in [
        (ADMIN_EMAIL, "wrong password"),
        ("nobody@example.com", ADMIN_PASSWORD),
    ] {
        let res = app
            .post_form(
                &client,
                "/login",
                &[("email", email), ("password", password)],
            )
            .await;
        assert_eq!(res.status(), 401);
        assert!(res.headers().get("set-cookie").is_none());
        let body = res.text().await.unwrap();
        assert!(body.contains("Wrong email or password."), "{body}");
        assert!(body.contains("role=\"alert\""), "{body}");
    }
    assert!(!app.is_logged_in(&client).await);
    // Emails match whatever their case.
    let ok = app.login("ADMIN@Example.com", ADMIN_PASSWORD).await;
    assert!(app.is_logged_in(&ok).await);
    // Failed logins are audited.
    let events = app
        .store
        .list_audit_events(&Default::default(), None, 50)
        .await
        .unwrap()
        .items;
    assert_eq!(
        events.iter().filter(|e| e.action == "login.failed").count(),
        2
    );
}

#[tokio::test]
async fn login_is_limited_per_account_and_per_ip() {
    let app = TestApp::spawn_with(|c| {
        c.auth.login_attempts_per_account = 3;
        c.auth.login_attempts_per_ip = 5;
    })
    .await;
    app.setup_admin().await;
    let client = app.browser();
    for _ in 0..3 {
        let res = app
            .post_form(
                &client,
                "/login",
                &[("email", ADMIN_EMAIL), ("password", "nope nope")],
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = app
        .post_form(
            &client,
            "/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 429, "even the right password waits");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body = res.text().await.unwrap();
    assert!(body.contains("Too many attempts, try again in"), "{body}");

    // JSON clients get 429 in the API error shape; this is the fifth attempt from this address.
    let res = client
        .post(app.url("/api/session"))
        .json(&serde_json::json!({"email": "other@example.com", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = client
        .post(app.url("/api/session"))
        .json(&serde_json::json!({"email": "third@example.com", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("too many attempts, try again in")
    );
}

#[tokio::test]
async fn sessions_expire_when_idle_and_at_their_absolute_limit() {
    let app = TestApp::spawn_with(|c| {
        c.auth.session_idle_minutes = 30;
        c.auth.session_absolute_hours = 2;
    })
    .await;
    let admin = app.setup_admin().await;
    app.clock.advance(Duration::minutes(20));
    assert!(
        app.is_logged_in(&admin).await,
        "active within the idle window"
    );
    app.clock.advance(Duration::minutes(20));
    assert!(
        app.is_logged_in(&admin).await,
        "activity at 20 min kept it alive"
    );
    app.clock.advance(Duration::minutes(31));
    assert!(!app.is_logged_in(&admin).await, "idle for 31 min");

    let client = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..4 {
        app.clock.advance(Duration::minutes(25));
        assert!(app.is_logged_in(&client).await);
    }
    app.clock.advance(Duration::minutes(25));
    assert!(
        !app.is_logged_in(&client).await,
        "past the absolute limit despite activity"
    );
}

#[tokio::test]
async fn sessions_can_be_listed_and_revoked() {
    let app = TestApp::spawn().await;
    let a = app.setup_admin().await;
    let b = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let c = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let user = app
        .store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    let sessions = app.store.list_sessions(user.id).await.unwrap();
    assert_eq!(sessions.len(), 3);
    let page = app.get(&a, "/account").await.text().await.unwrap();
    assert_eq!(page.matches("This session").count(), 1, "{page}");
    assert_eq!(page.matches(">Revoke<").count(), 2, "{page}");

    // Newest first: sessions[0] is c's.
    let res = app
        .post_form(
            &a,
            &format!("/account/sessions/{}/revoke", sessions[0].id),
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(!app.is_logged_in(&c).await);
    assert!(app.is_logged_in(&b).await);
    assert!(app.is_logged_in(&a).await);

    // Another user cannot revoke a session that is not theirs.
    app.create_user(&a, "uma@example.com", "uma password 1")
        .await;
    let uma = app.login("uma@example.com", "uma password 1").await;
    let res = app
        .post_form(
            &uma,
            &format!("/account/sessions/{}/revoke", sessions[1].id),
            &[],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert!(app.is_logged_in(&b).await);

    let res = app
        .post_form(&a, "/account/sessions/revoke-others", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(!app.is_logged_in(&b).await);
    assert!(app.is_logged_in(&a).await);
    assert_eq!(app.store.list_sessions(user.id).await.unwrap().len(), 1);

    // Logging out ends the session server-side too.
    let res = app.post_form(&a, "/logout", &[]).await;
    assert_eq!(location(&res), "/login");
    assert!(!app.is_logged_in(&a).await);
    assert!(app.store.list_sessions(user.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let a = app.setup_admin().await;
    let b = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let wrong = app
        .post_form(
            &a,
            "/account/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", "new password 123"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("The current password is wrong.")
    );
    assert!(app.is_logged_in(&b).await, "a failed change ends nothing");

    let short = app
        .post_form(
            &a,
            "/account/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status(), 422);
    assert!(
        short
            .text()
            .await
            .unwrap()
            .contains("at least 8 characters")
    );

    let res = app
        .post_form(
            &a,
            "/account/password",
            &[
                ("current_password", ADMIN_PASSWORD),
                ("new_password", "new password 123"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.get(&a, "/account").await.text().await.unwrap();
    assert!(page.contains("Password changed. Your other sessions have been logged out."));
    assert!(!app.is_logged_in(&b).await);

    let old = app
        .post_form(
            &app.browser(),
            "/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(old.status(), 401);
    app.login(ADMIN_EMAIL, "new password 123").await;
}

#[tokio::test]
async fn a_disabled_user_is_locked_out_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    app.create_user(&admin, "uma@example.com", "uma password 1")
        .await;
    let uma = app.login("uma@example.com", "uma password 1").await;
    assert!(app.is_logged_in(&uma).await);
    let id: UserId = app
        .store
        .find_user_by_email("uma@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;

    let res = app
        .post_form(&admin, &format!("/admin/users/{id}/disable"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        !app.is_logged_in(&uma).await,
        "the open session ends immediately"
    );
    assert!(app.store.list_sessions(id).await.unwrap().is_empty());
    let res = app
        .post_form(
            &app.browser(),
            "/login",
            &[("email", "uma@example.com"), ("password", "uma password 1")],
        )
        .await;
    assert_eq!(res.status(), 401);
    let list = app.get(&admin, "/admin/users").await.text().await.unwrap();
    assert!(list.contains("Disabled"), "{list}");

    let res = app
        .post_form(&admin, &format!("/admin/users/{id}/enable"), &[])
        .await;
    assert_eq!(res.status(), 303);
    app.login("uma@example.com", "uma password 1").await;

    let actions: Vec<String> = app
        .store
        .list_audit_events(&Default::default(), None, 50)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    for expected in [
        "setup.admin_created",
        "user.create",
        "user.disable",
        "user.enable",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
    let audit = app.get(&admin, "/admin/audit").await.text().await.unwrap();
    assert!(
        audit.contains("user.disable") && audit.contains(ADMIN_EMAIL),
        "{audit}"
    );
}

#[tokio::test]
async fn admins_promote_and_cannot_lock_themselves_out() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    app.create_user(&admin, "uma@example.com", "uma password 1")
        .await;
    let uma_id = app
        .store
        .find_user_by_email("uma@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let me = app
        .store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap()
        .id;

    let uma = app.login("uma@example.com", "uma password 1").await;
    assert_eq!(app.get(&uma, "/admin/users").await.status(), 403);
    let res = app
        .post_form(&uma, &format!("/admin/users/{me}/disable"), &[])
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        app.is_logged_in(&admin).await,
        "a refused action changes nothing"
    );

    app.post_form(&admin, &format!("/admin/users/{uma_id}/make-admin"), &[])
        .await;
    assert_eq!(app.get(&uma, "/admin/users").await.status(), 200);

    let res = app
        .post_form(&admin, &format!("/admin/users/{me}/disable"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let page = app.get(&admin, "/admin/users").await.text().await.unwrap();
    assert!(
        page.contains("You cannot disable your own account."),
        "{page}"
    );
    assert!(app.is_logged_in(&admin).await);

    let anon = app.browser();
    let res = app.get(&anon, "/admin/users").await;
    assert_eq!(location(&res), "/login?next=%2Fadmin%2Fusers");
}

#[tokio::test]
async fn duplicate_emails_are_refused_whatever_their_case() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    app.create_user(&admin, "uma@example.com", "uma password 1")
        .await;
    let res = app
        .post_form(
            &admin,
            "/admin/users",
            &[
                ("email", "UMA@example.com"),
                ("name", "Other"),
                ("password", "other password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("An account with that email already exists."),
        "{body}"
    );
    assert_eq!(app.store.count_users().await.unwrap(), 2);
}

#[tokio::test]
async fn registration_follows_the_policy() {
    let closed = TestApp::spawn().await;
    closed.setup_admin().await;
    assert_eq!(
        closed.get(&closed.browser(), "/register").await.status(),
        404
    );

    let open =
        TestApp::spawn_with(|c| c.auth.registration = promptyard::config::Registration::Open).await;
    open.setup_admin().await;
    let client = open.browser();
    assert_eq!(open.get(&client, "/register").await.status(), 200);
    let res = open
        .post_form(
            &client,
            "/register",
            &[
                ("email", "new@example.com"),
                ("name", "Nia"),
                ("password", "nia password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(open.is_logged_in(&client).await);
    let nia = open
        .store
        .find_user_by_email("new@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(nia.role, InstanceRole::User);
    assert_eq!(open.get(&client, "/admin/users").await.status(), 403);
}

#[tokio::test]
async fn invite_registration_needs_a_valid_invite_link() {
    let app =
        TestApp::spawn_with(|c| c.auth.registration = promptyard::config::Registration::Invite)
            .await;
    let admin = app.setup_admin().await;
    let anon = app.browser();
    assert_eq!(app.get(&anon, "/register").await.status(), 404);
    assert_eq!(
        app.get(&anon, "/register?invite=nonsense").await.status(),
        404
    );

    let ws: serde_json::Value = admin
        .post(app.url("/api/workspaces"))
        .json(&serde_json::json!({"name": "Docs team"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws_id = ws["id"].as_str().unwrap().to_owned();
    let invite: serde_json::Value = admin
        .post(app.url(&format!("/api/workspaces/{ws_id}/invites")))
        .json(&serde_json::json!({"role": "editor"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = invite["token"].as_str().unwrap().to_owned();

    let page = app.get(&anon, &format!("/register?invite={token}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("to join Docs team"));
    // Five racing registrations with one single-use link: exactly one account is made.
    let mut racers = Vec::new();
    for i in 0..5 {
        let (client, url, token) = (app.browser(), app.url("/register"), token.clone());
        let email = if i == 0 {
            "new@example.com".to_owned()
        } else {
            format!("racer{i}@example.com")
        };
        racers.push(tokio::spawn(async move {
            let form = [
                ("email", email.as_str()),
                ("name", "Nia"),
                ("password", "nia password"),
                ("invite", token.as_str()),
            ];
            let res = client.post(url).form(&form).send().await.unwrap();
            (res.status().as_u16(), location(&res), email)
        }));
    }
    let mut winners = Vec::new();
    for r in racers {
        let (status, to, email) = r.await.unwrap();
        assert!(status == 303 || status == 404, "{status}");
        if status == 303 {
            assert_eq!(to, format!("/w/{ws_id}/templates"));
            winners.push(email);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(app.store.count_users().await.unwrap(), 2);
    let winner = winners.remove(0);
    let nia = app
        .store
        .find_user_by_email(&winner)
        .await
        .unwrap()
        .unwrap();
    let member = app
        .store
        .find_member(ws_id.parse().unwrap(), nia.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(member.role, promptyard::domain::Role::Editor);
    // The link is used up: nobody else registers with it.
    assert_eq!(
        app.get(&app.browser(), &format!("/register?invite={token}"))
            .await
            .status(),
        404
    );
}
