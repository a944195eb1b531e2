//! A Promptyard server in the bench's process, on embedded defaults in a temporary directory,
//! with its admin set up and logged in (shared by the benches that go through HTTP).

use std::sync::Arc;

use promptyard::App;
use promptyard::clock::Clock;
use promptyard::config::Config;
use promptyard::domain::{UserId, WorkspaceId};
use promptyard::store::Store;

/// The running server and what a bench needs to drive it.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The admin's client (cookies, same-origin `Origin` header).
    pub client: reqwest::Client,
    /// The store behind the server.
    pub store: Arc<dyn Store>,
    /// The admin's personal workspace.
    pub ws: WorkspaceId,
    /// The admin.
    pub user: UserId,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server and sets up `bench@example.com` as its admin.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            config_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let app = App::build(&config, Clock::system()).await.unwrap();
        let store = app.store();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", base.parse().unwrap());
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap();
        let res = client
            .post(format!("{base}/setup"))
            .form(&[
                ("email", "bench@example.com"),
                ("name", "Bench"),
                ("password", "bench-password-123"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let list: serde_json::Value = client
            .get(format!("{base}/api/workspaces"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ws: WorkspaceId = list[0]["id"].as_str().unwrap().parse().unwrap();
        let user = store
            .find_user_by_email("bench@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        Self {
            base,
            client,
            store,
            ws,
            user,
            stop,
            task,
            _dir: dir,
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}
