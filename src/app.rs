//! The application: builds every piece from the configuration, merges the routers, starts the
//! background jobs, and serves on a listener it is handed (so tests bind port 0).

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use tokio::net::TcpListener;

use crate::auth::Auth;
use crate::clock::Clock;
use crate::community::Community;
use crate::config::Config;
use crate::crypto::{KeySource, MasterKey};
use crate::error::{Error, Result};
use crate::gateway::limits::Limits;
use crate::gateway::{Gateway, Providers, Recorder};
use crate::http::Edge;
use crate::http::error::render_for_path;
use crate::http::routes::{Permission, RouteSpec, Routes};
use crate::jobs::indexer::Search;
use crate::llm::outbound::Outbound;
use crate::llm::pricing::{Price, PriceTable};
use crate::metrics::Metrics;
use crate::store::{self, StorageUrl, Store};
use crate::templates::Templates;
use crate::workspaces::Workspaces;
use crate::{api, http, web};

/// A built application, ready to serve.
pub struct App {
    router: Router,
    store: Arc<dyn Store>,
    auth: Auth,
    table: Vec<RouteSpec>,
    recorder: tokio::task::JoinHandle<()>,
    search: Search,
}

impl App {
    /// Builds the application: creates the data directory, opens the store (running schema
    /// upgrades or migrations), and wires the routers.
    pub async fn build(config: &Config, clock: Clock) -> Result<Self> {
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .map_err(|e| {
                Error::internal(format!(
                    "cannot create the data directory {}: {e}",
                    config.data_dir.display()
                ))
            })?;
        let url = storage_url(config)?;
        let store = store::open(&url, clock.clone()).await?;
        let auth = Auth::new(store.clone(), clock.clone(), &config.auth)?;
        let edge = Edge::from_config(config);
        let (key, source, key_path) = master_key(config)?;
        check_new_key(&*store, &source, &key_path).await?;
        match source {
            KeySource::Generated => tracing::warn!(
                path = %key_path.display(),
                "generated a new master key for provider API keys; back this file up \
                 separately from the data directory"
            ),
            KeySource::File => tracing::info!(path = %key_path.display(), "loaded the master key"),
            KeySource::Config => tracing::info!("using the master key from the configuration"),
        }
        let outbound = Outbound::new(&config.outbound)?;
        let oidc = crate::auth::Oidc::new(
            &config.oidc.providers,
            outbound.clone(),
            key.clone(),
            clock.clone(),
        )?;
        let backup_key = key.clone();
        let providers = Providers::new(store.clone(), clock.clone(), key, outbound);
        // What an admin allowed in the web UI, on top of `[outbound]`.
        providers.load_outbound_allowlist().await?;
        let (recorder, recorder_task) = Recorder::spawn(store.clone());
        let overrides: Vec<(String, Price)> = config
            .pricing
            .parsed()
            .map_err(|e| Error::internal(e.to_string()))?
            .into_iter()
            .map(|o| {
                let price = Price {
                    input_per_mtok: o.input_per_mtok,
                    output_per_mtok: o.output_per_mtok,
                    context_window: o.context_window,
                };
                (o.model, price)
            })
            .collect();
        let prices = PriceTable::with_overrides(&overrides);
        let metrics = Metrics::new();
        let queue = recorder.clone();
        let gateway = Gateway::new(
            providers.clone(),
            recorder,
            prices,
            Limits::new(&config.limits),
            store.clone(),
            clock.clone(),
            metrics.clone(),
        );
        let workspaces = Workspaces::new(store.clone(), clock.clone());
        let templates = Templates::new(store.clone(), clock.clone());
        let search = Search::open(config.data_dir.join("index")).await?;
        let community = Community::new(
            store.clone(),
            clock,
            config.community.clone(),
            templates.clone(),
        );
        templates.seed_system_templates().await?;

        let (web, web_table) = web::router(web::WebState {
            auth: auth.clone(),
            edge: edge.clone(),
            registration: config.auth.registration,
            workspaces: workspaces.clone(),
            templates: templates.clone(),
            providers: providers.clone(),
            gateway: gateway.clone(),
            community: community.clone(),
            search: search.clone(),
            oidc,
            profiles: crate::profiles::Profiles::new(
                store.clone(),
                crate::blob::Blobs::local(&config.data_dir.join("blobs"))?,
            ),
        });
        let (api, api_table) = api::router(api::ApiState {
            auth: auth.clone(),
            edge: edge.clone(),
            workspaces,
            templates,
            providers,
            gateway,
            community,
            search: search.clone(),
        });
        let (health, mut table) = Routes::new(auth.clone(), edge.clone())
            .get("/healthz", Permission::Public, || async { "ok" })
            .get("/readyz", Permission::Public, ready)
            .get(
                "/assets/{file}",
                Permission::Public,
                http::assets::serve_asset,
            )
            .get(
                "/assets/m/{tree}/{*path}",
                Permission::Public,
                http::assets::serve_module,
            )
            .into_parts();
        let (metrics_router, metrics_table) = Routes::new(auth.clone(), edge.clone())
            .get("/metrics", Permission::Public, serve_metrics)
            .into_parts();
        table.extend(metrics_table);
        let (backup_router, backup_table) =
            api::backup::routes(Routes::new(auth.clone(), edge.clone())).into_parts();
        table.extend(backup_table);
        let backup_state = api::backup::BackupState {
            store: store.clone(),
            data_dir: config.data_dir.clone(),
            key: backup_key,
            token: crate::backup::write_token(&config.data_dir)?,
            clock: auth.clock().clone(),
            config: config.to_redacted_toml(),
        };
        table.extend(web_table);
        table.extend(api_table);
        let scrape = Scrape {
            metrics: metrics.clone(),
            recorder: queue,
            store: store.clone(),
            search: search.clone(),
            token: config.metrics.token.clone(),
        };
        let router = health
            .with_state(store.clone())
            .merge(metrics_router.with_state(scrape))
            .merge(backup_router.with_state(backup_state))
            .merge(api)
            .merge(web)
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(middleware::from_fn_with_state(
                edge.clone(),
                http::middleware::origin_check,
            ));
        let router = http::middleware::apply(
            router,
            &edge,
            Duration::from_secs(config.http.request_timeout_secs),
            &metrics,
        );
        Ok(Self {
            router,
            store,
            auth,
            table,
            recorder: recorder_task,
            search,
        })
    }

    /// Every route with the permission it requires, for the route x role test.
    pub fn route_table(&self) -> &[RouteSpec] {
        &self.table
    }

    /// The store, for tests and commands.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let janitor = tokio::spawn(janitor(self.auth.clone()));
        // The background jobs stop when told and finish what they are doing, so that the store
        // is let go of when `serve` returns.
        let (jobs_stop, jobs_stopping) = tokio::sync::watch::channel(false);
        let indexer = tokio::spawn(crate::jobs::indexer::run(
            self.store.clone(),
            self.search.index.clone(),
            self.search.status.clone(),
            jobs_stopping.clone(),
        ));
        let retention = tokio::spawn(crate::jobs::retention::run(
            self.store.clone(),
            self.auth.clock().clone(),
            jobs_stopping,
        ));
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        // On shutdown, requests in flight get a grace period; streams still open after it are
        // dropped, which cancels their upstream calls and records them as cancelled.
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
        };
        // Streamed answers are many small writes: without TCP_NODELAY each waits for the ACK of
        // the last (Nagle), which a client's delayed ACK holds back up to 40 ms.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let serve = axum::serve(listener, service).with_graceful_shutdown(shutdown);
        let deadline = async move {
            while !*stopping_rx.borrow() {
                if stopping_rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let result = tokio::select! {
            r = serve.into_future() => r,
            () = deadline => {
                tracing::warn!("requests still running after the grace period were stopped");
                Ok(())
            }
        };
        janitor.abort();
        let _ = jobs_stop.send(true);
        for (name, job) in [("search indexer", indexer), ("retention job", retention)] {
            if tokio::time::timeout(Duration::from_secs(30), job)
                .await
                .is_err()
            {
                tracing::error!("the {name} did not stop within 30 s");
            }
        }
        // The router (and with it every recorder handle) is gone: the recorder writes what is
        // queued and ends. Runs acknowledged to a client are never lost on a graceful stop.
        match tokio::time::timeout(Duration::from_secs(30), self.recorder).await {
            Ok(_) => {}
            Err(_) => tracing::error!("the run recorder did not finish within 30 s"),
        }
        result
    }
}

/// How long requests in flight may finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The master key: from the configuration, else from its key file (created with mode 0600 on
/// first use, beside the configuration file). Returns where it came from, for the log.
pub fn master_key(config: &Config) -> Result<(MasterKey, KeySource, PathBuf)> {
    let path = master_key_path(config);
    if !config.secrets.master_key.trim().is_empty() {
        return Ok((
            MasterKey::parse(&config.secrets.master_key)?,
            KeySource::Config,
            path,
        ));
    }
    let (key, source) = MasterKey::load_or_create(&path)?;
    let pending = path.with_extension("key.new");
    if pending.exists() {
        tracing::warn!(
            pending = %pending.display(),
            "a master key rotation did not finish; if provider calls fail to open their keys, \
             replace the key file with this one"
        );
    }
    Ok((key, source, path))
}

/// Where the master key file is (or would be): `secrets.master_key_file`, else
/// `promptyard.key` beside the configuration file.
pub fn master_key_path(config: &Config) -> PathBuf {
    if config.secrets.master_key_file.trim().is_empty() {
        config.config_dir.join("promptyard.key")
    } else {
        PathBuf::from(config.secrets.master_key_file.trim())
    }
}

/// Refuses a freshly generated master key when sealed provider keys already exist: they were
/// sealed under a key that is now missing (a moved file, or a start from another directory),
/// and a new key would only make every call fail.
async fn check_new_key(
    store: &dyn Store,
    source: &KeySource,
    path: &std::path::Path,
) -> Result<()> {
    if *source != KeySource::Generated {
        return Ok(());
    }
    let sealed = store
        .list_all_connections()
        .await?
        .iter()
        .filter(|c| c.sealed_key.is_some())
        .count();
    if sealed == 0 {
        return Ok(());
    }
    let _ = std::fs::remove_file(path);
    Err(Error::internal(format!(
        "the master key file {} was missing, but {sealed} provider key(s) are sealed with the \
         old master key: restore that file (or set secrets.master_key / secrets.master_key_file) \
         and start again",
        path.display()
    )))
}

/// The storage URL in effect: `storage.url`, or the redb file in the data directory.
pub fn storage_url(config: &Config) -> Result<StorageUrl> {
    if config.storage.url.trim().is_empty() {
        Ok(StorageUrl::default_for(&config.data_dir))
    } else {
        StorageUrl::parse(&config.storage.url)
    }
}

/// Removes expired sessions and cached responses and forgets idle rate-limit keys, every ten
/// minutes.
async fn janitor(auth: Auth) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        auth.limiter().retain_recent();
        match auth.store().delete_expired_cache(auth.clock().now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed expired cached responses"),
            Err(e) => tracing::warn!(error = %e, "cache clean-up failed"),
        }
        match auth.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed expired sessions"),
            Err(e) => tracing::warn!(error = %e, "session clean-up failed"),
        }
    }
}

/// What `/metrics` reads at scrape time.
#[derive(Clone)]
struct Scrape {
    metrics: Metrics,
    recorder: Recorder,
    store: Arc<dyn Store>,
    search: Search,
    /// The bearer token a scraper must send; empty means loopback clients only.
    token: String,
}

/// The Prometheus metrics, for a scraper with the configured token, or (without one) for
/// clients on this machine only.
async fn serve_metrics(
    State(s): State<Scrape>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Response {
    if s.token.is_empty() {
        if !peer.ip().is_loopback() && !peer.ip().to_canonical().is_loopback() {
            return (
                StatusCode::FORBIDDEN,
                "metrics are served to this machine only; set metrics.token to scrape from elsewhere",
            )
                .into_response();
        }
    } else {
        let sent = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !crate::crypto::constant_time_eq(sent.as_bytes(), s.token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                "send the metrics token as Authorization: Bearer TOKEN",
            )
                .into_response();
        }
    }
    let head = s.store.last_change_seq().await.unwrap_or(0);
    let indexed = s.search.index.watermark().unwrap_or(0);
    let body = s
        .metrics
        .render(s.recorder.queued(), head.saturating_sub(indexed));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        body,
    )
        .into_response()
}

async fn ready(State(store): State<Arc<dyn Store>>) -> Response {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
        }
    }
}

/// 405 for a known path with another method, in the face the path belongs to.
async fn method_not_allowed(request: Request) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    render_for_path(request.uri().path(), id, Error::MethodNotAllowed)
}

/// 404 for unknown paths, in the face the path belongs to.
async fn not_found(request: Request) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    render_for_path(request.uri().path(), id, Error::NotFound)
}
