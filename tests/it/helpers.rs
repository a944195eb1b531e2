//! `TestApp`: a running server on 127.0.0.1:0 with its own data directory, plus request helpers.

use std::sync::Arc;

use promptyard::App;
use promptyard::clock::Clock;
use promptyard::config::Config;
use promptyard::store::Store;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::redirect::Policy;
use tokio::sync::oneshot;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub clock: Clock,
    pub store: Arc<dyn Store>,
    /// Every registered route with its declared permission.
    pub routes: Vec<promptyard::http::routes::RouteSpec>,
    /// The data directory.
    pub data_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
    /// (server URL, database) of a Postgres-backed app, dropped by `stop`.
    pg: Option<(String, String)>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".into(),
            config_dir: dir.path().to_owned(),
            ..Config::default()
        };
        adjust(&mut config);
        let clock = Clock::system();
        let app = App::build(&config, clock.clone()).await.unwrap();
        let store = app.store();
        let routes = app.route_table().to_vec();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Self {
            base: format!("http://{addr}"),
            clock,
            store,
            routes,
            data_dir: config.data_dir.clone(),
            _dir: dir,
            pg: None,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// An app on a fresh Postgres database, when `PROMPTYARD_TEST_POSTGRES_URL` is set.
    pub async fn spawn_postgres() -> Option<Self> {
        let server = std::env::var("PROMPTYARD_TEST_POSTGRES_URL").ok()?;
        let name = format!("promptyard_app_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
            .await
            .unwrap();
        sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap();
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&format!("/{name}"));
        let mut app = Self::spawn_with(|c| c.storage.url = url.to_string()).await;
        app.pg = Some((server, name));
        Some(app)
    }

    /// Stops the server and waits until it has let go of the store.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
        if let Some((server, name)) = self.pg.take() {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
                .await
                .unwrap();
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            sqlx::Executor::execute(&mut conn, drop.as_str())
                .await
                .unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: keeps cookies, does not follow redirects, sends a same-origin
    /// `Origin` header like a browser posting a form of this site.
    pub fn browser(&self) -> reqwest::Client {
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_str(&self.base).unwrap());
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .default_headers(headers)
            .build()
            .unwrap()
    }

    pub async fn get(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.post_raw(client, path, body.into_bytes()).await
    }

    pub async fn post_raw(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Runs first-run setup through the form; returns the admin's logged-in client.
    /// The id of the user with `email`.
    pub async fn user_id(&self, email: &str) -> promptyard::domain::UserId {
        self.store
            .find_user_by_email(email)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no user {email}"))
            .id
    }

    /// The run with `id` (as a JSON string from an answer), waiting for the recorder.
    pub async fn recorded_run(&self, id: &serde_json::Value) -> promptyard::domain::Run {
        let id: promptyard::domain::RunId = id.as_str().expect("a run id").parse().unwrap();
        for _ in 0..100 {
            if let Ok(run) = self.store.get_run(id).await {
                return run;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("run {id} was never recorded");
    }

    /// The first workspace `client` lists: their personal one for a new user.
    pub async fn first_workspace(
        &self,
        client: &reqwest::Client,
    ) -> promptyard::domain::WorkspaceId {
        let list: serde_json::Value = client
            .get(self.url("/api/workspaces"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list[0]["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn setup_admin(&self) -> reqwest::Client {
        let client = self.browser();
        let res = self
            .post_form(
                &client,
                "/setup",
                &[
                    ("email", ADMIN_EMAIL),
                    ("name", "Ada Admin"),
                    ("password", ADMIN_PASSWORD),
                ],
            )
            .await;
        assert_eq!(
            res.status(),
            303,
            "setup failed: {}",
            res.text().await.unwrap()
        );
        client
    }

    /// Logs a fresh client in; panics if the login fails.
    pub async fn login(&self, email: &str, password: &str) -> reqwest::Client {
        let client = self.browser();
        let res = self
            .post_form(
                &client,
                "/login",
                &[("email", email), ("password", password)],
            )
            .await;
        assert_eq!(
            res.status(),
            303,
            "login failed: {}",
            res.text().await.unwrap()
        );
        client
    }

    /// Creates a user through the admin form.
    pub async fn create_user(&self, admin: &reqwest::Client, email: &str, password: &str) {
        let res = self
            .post_form(
                admin,
                "/admin/users",
                &[
                    ("email", email),
                    ("name", "Uma User"),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(
            res.status(),
            303,
            "create failed: {}",
            res.text().await.unwrap()
        );
    }

    /// Whether `client` is logged in, judged by `/account` (200) vs a redirect to login.
    pub async fn is_logged_in(&self, client: &reqwest::Client) -> bool {
        let res = self.get(client, "/account").await;
        match res.status().as_u16() {
            200 => true,
            303 => {
                let to = res.headers()["location"].to_str().unwrap().to_owned();
                assert!(to.starts_with("/login"), "unexpected redirect to {to}");
                false
            }
            other => panic!("unexpected status {other}"),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The `location` header of a redirect.
pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A completed run of `user` in `ws`, made now, with small numbers: change what a test needs
/// with `Run { field, ..run_fixture(ws, user) }`.
pub fn run_fixture(
    ws: promptyard::domain::WorkspaceId,
    user: promptyard::domain::UserId,
) -> promptyard::domain::Run {
    promptyard::domain::Run {
        id: promptyard::domain::RunId::new(),
        workspace_id: ws,
        user_id: user,
        api_key_id: None,
        template_id: None,
        template_version: None,
        connection_id: None,
        provider: Some(promptyard::domain::ProviderKind::OpenaiCompatible),
        model: "gpt-4o".into(),
        requested_model: None,
        params: None,
        detail: None,
        cached: false,
        input_tokens: 1,
        output_tokens: 1,
        cost_usd: None,
        latency_ms: 1,
        ttft_ms: None,
        state: promptyard::domain::RunState::Completed,
        error: None,
        prompt: "[]".into(),
        output: String::new(),
        context_manifest: None,
        created_at: time::OffsetDateTime::now_utc(),
    }
}
