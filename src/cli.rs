//! The command line: `serve` (the default), `check-config`, and `admin` commands for
//! provisioning without a browser. Admin commands open the store directly, so they run while
//! the server is stopped; with redb they refuse while a server holds the file.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::app::{App, master_key, storage_url};
use crate::auth::{Auth, NewAccount};
use crate::clock::Clock;
use crate::config::{Config, LogFormat, Overrides};
use crate::crypto::{KeySource, MasterKey};
use crate::domain::{Email, InstanceRole, Password};
use crate::error::Error;
use crate::gateway::providers::rotate_master_key;
use crate::gateway::{ConnectionInput, Providers};
use crate::llm::outbound::Outbound;
use crate::store;
use crate::workspaces::Workspaces;

/// Promptyard: a self-hosted AI prompt engineering platform.
///
/// With no command, runs the server (`serve`). Configuration comes from defaults, then the TOML
/// file (`--config`, or ./promptyard.toml when present), then PROMPTYARD_SECTION__KEY environment
/// variables, then these flags.
#[derive(Debug, Parser)]
#[command(name = "promptyard", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./promptyard.toml if it exists.
    #[arg(long, global = true, env = "PROMPTYARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on, e.g. 127.0.0.1:8080 (overrides `listen`).
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Data directory (overrides `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default). Open the printed address in a browser; the first visit
    /// offers to create the administrator account.
    Serve,
    /// Load and validate the configuration, then print the effective values with secrets
    /// shown as ***. Exits non-zero, naming the bad key, when something is wrong.
    CheckConfig,
    /// Manage accounts from the command line (stop the server first when using redb).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Rebuild the search index from the store, with a progress bar (stop the server first).
    /// A server also rebuilds a missing or outdated index by itself on start, while serving.
    Reindex,
    /// Write a consistent backup (data file, uploaded files, a manifest) while the server runs
    /// and writes, or while it is stopped. With Postgres the archive holds the uploaded files;
    /// back the database up with pg_dump.
    ///
    /// Example: promptyard backup --to /backups/promptyard-$(date +%F).tar.gz
    Backup {
        /// The archive to write (a gzipped tar).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Also put the master key in the archive (then keep it as safe as the key).
        #[arg(long)]
        include_key: bool,
    },
    /// Restore a backup into an empty data directory (stop the server first). The search index
    /// is rebuilt when the server starts.
    Restore {
        /// The archive to read.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

/// Account provisioning.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account. Without --password-stdin a random password is generated and printed
    /// once.
    ///
    /// Example: printf '%s' "$PW" | promptyard admin create-user --email ann@example.com
    /// --name "Ann Lee" --admin --password-stdin
    CreateUser(CreateUserArgs),
    /// Set a new password for an account, read from standard input; ends all its sessions.
    ///
    /// Example: printf '%s' "$PW" | promptyard admin reset-password --email ann@example.com
    /// --password-stdin
    ResetPassword(ResetPasswordArgs),
    /// Add a provider connection (instance-wide, or for one workspace).
    ///
    /// Example: printf '%s' "$OPENAI_API_KEY" | promptyard admin add-provider --name OpenAI
    /// --kind openai --base-url https://api.openai.com/v1 --model gpt-4o-mini --api-key-stdin
    AddProvider(AddProviderArgs),
    /// Create an API key for a user in one of their workspaces and print it (once).
    ///
    /// Example: promptyard admin create-api-key --email ci@example.com --workspace "Platform"
    /// --name "CI pipeline"
    CreateApiKey(CreateApiKeyArgs),
    /// Generate a new master key and re-seal every stored provider key with it. With a key
    /// file the file is replaced; with a key from the configuration the new key is printed for
    /// you to put there. Stop every server first (with Postgres nothing enforces that).
    RotateMasterKey,
}

/// `admin create-api-key`.
#[derive(Debug, Args)]
pub struct CreateApiKeyArgs {
    /// The user the key acts for.
    #[arg(long)]
    pub email: String,
    /// The workspace, by id or by name (one of the user's; "personal" for their own).
    #[arg(long)]
    pub workspace: String,
    /// A name for the key.
    #[arg(long)]
    pub name: String,
    /// Days until it expires (default: never).
    #[arg(long)]
    pub expires_in_days: Option<i64>,
    /// A model the key may use; repeat for more (default: any).
    #[arg(long = "model")]
    pub models: Vec<String>,
}

/// `admin add-provider`.
#[derive(Debug, Args)]
pub struct AddProviderArgs {
    /// A name people recognise, e.g. "OpenAI (company)".
    #[arg(long)]
    pub name: String,
    /// openai, anthropic, google or openai-compatible (Ollama, vLLM, llama.cpp, LM Studio).
    #[arg(long)]
    pub kind: String,
    /// Base URL; defaults to the provider's usual one.
    #[arg(long)]
    pub base_url: Option<String>,
    /// A model id it offers; repeat for more.
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// Read the API key from standard input (keys never go in arguments).
    #[arg(long)]
    pub api_key_stdin: bool,
    /// Make it a connection of this workspace (its id) instead of instance-wide.
    #[arg(long)]
    pub workspace: Option<String>,
}

/// `admin create-user`.
#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// Email address (the login name).
    #[arg(long)]
    pub email: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Make the account an instance administrator.
    #[arg(long)]
    pub admin: bool,
    /// Read the password from standard input (one line; a trailing newline is dropped).
    #[arg(long)]
    pub password_stdin: bool,
}

/// `admin reset-password`.
#[derive(Debug, Args)]
pub struct ResetPasswordArgs {
    /// Email address of the account.
    #[arg(long)]
    pub email: String,
    /// Read the new password from standard input (required: passwords never go in arguments).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

impl Cli {
    /// The command-line overrides of the configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
        }
    }
}

/// Starts logging per `[log]`: human lines on a terminal, JSON otherwise (or as configured).
/// `PROMPTYARD_LOG` overrides the level filter.
pub fn init_tracing(config: &Config) {
    let filter = std::env::var("PROMPTYARD_LOG").unwrap_or_else(|_| config.log.level.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match config.log.format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init();
    } else {
        builder.init();
    }
}

/// Runs the parsed command with the loaded configuration.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::CheckConfig => {
            print!("{}", config.to_redacted_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(cmd) => admin(cmd, config).await,
        Command::Reindex => reindex(config).await,
        Command::Backup { to, include_key } => {
            crate::backup::command::backup(&config, &to, include_key).await
        }
        Command::Restore { from } => crate::backup::command::restore(&config, &from).await,
    }
}

/// Rebuilds the search index: a fresh index, then the whole change log through the indexer.
async fn reindex(config: Config) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    use std::sync::Arc;

    let clock = Clock::system();
    let url = storage_url(&config).map_err(explain)?;
    let store = store::open(&url, clock).await.map_err(explain)?;
    let dir = config.data_dir.join("index");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", dir.display()))?;
    }
    let search = crate::jobs::indexer::Search::open(dir.clone())
        .await
        .map_err(explain)?;
    let head = store.last_change_seq().await.map_err(explain)?.max(1);
    let status = crate::jobs::indexer::IndexStatus::default();
    let started = std::time::Instant::now();
    let mut err = std::io::stderr();
    loop {
        let n = crate::jobs::indexer::step(&*store, &search.index, &status)
            .await
            .map_err(explain)?;
        let done = search.index.watermark().map_err(explain)?.min(head);
        let width = 40;
        let filled = (done * width / head) as usize;
        let _ = write!(
            err,
            "\r[{}{}] {:>3}%  {done}/{head} changes",
            "#".repeat(filled),
            ".".repeat(width as usize - filled),
            done * 100 / head
        );
        if n == 0 {
            break;
        }
    }
    let docs = Arc::clone(&search.index).len();
    let _ = writeln!(err);
    println!(
        "reindexed {docs} documents into {} in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Exit code for a data directory the server cannot write.
pub const EXIT_DATA_DIR: u8 = 3;
/// Exit code for an address the server cannot listen on.
pub const EXIT_ADDRESS: u8 = 4;

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_signal();
    // The address is taken before anything else happens (no key file, no migration), and
    // connections are only accepted once the store is open and migrated.
    let socket = match bind(&config.listen).await {
        Ok(socket) => socket,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::AddrInUse => "another program is using it".to_owned(),
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied (ports below 1024 need privileges)".to_owned()
                }
                std::io::ErrorKind::AddrNotAvailable => {
                    "this machine has no such address".to_owned()
                }
                _ => e.to_string(),
            };
            eprintln!("error: cannot listen on {}: {why}", config.listen);
            return Ok(ExitCode::from(EXIT_ADDRESS));
        }
    };
    if let Err(why) = check_data_dir(&config.data_dir) {
        eprintln!(
            "error: the data directory {} cannot be used: {why}",
            config.data_dir.display()
        );
        return Ok(ExitCode::from(EXIT_DATA_DIR));
    }
    let app = App::build(&config, Clock::system())
        .await
        .map_err(explain)?;
    let listener = socket
        .listen(1024)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        data_dir = %config.data_dir.display(),
        store = app.store().backend(),
        "Promptyard {} listening on http://{addr}",
        env!("CARGO_PKG_VERSION")
    );
    if app.store().count_users().await.map_err(explain)? == 0 {
        tracing::info!("no accounts yet: open http://{addr}/setup to create the administrator");
    }
    app.serve(listener, shutdown).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Creates the data directory if needed and checks that this user can write in it, so a wrong
/// owner or a read-only mount is named before anything is opened.
fn check_data_dir(dir: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("it cannot be created ({e})"))?;
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| {
        format!("this user cannot write in it ({e}); check its owner and mode, or pass --data-dir")
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Binds `addr` without listening yet; `listen(1024)` follows once the app is ready (a backlog
/// of 1024: the default 128 drops handshakes in a burst of new connections, which clients then
/// retry up to a second later).
async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpSocket> {
    let addr = tokio::net::lookup_host(addr).await?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")
    })?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// Resolves on ctrl-c or SIGTERM. The handlers are installed when this is called, not when it
/// is first awaited, so a signal that arrives while the server is starting is not lost (and
/// does not kill the process with the default action).
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = term => {},
                () = int => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}

/// Turns a domain error into a message for the terminal, with the internal cause.
fn explain(e: Error) -> anyhow::Error {
    match e {
        Error::Internal(cause) => anyhow::anyhow!("{cause}"),
        other => anyhow::anyhow!("{other}"),
    }
}

async fn admin(cmd: AdminCommand, config: Config) -> anyhow::Result<ExitCode> {
    let clock = Clock::system();
    let url = storage_url(&config).map_err(explain)?;
    let store = store::open(&url, clock.clone()).await.map_err(explain)?;
    let auth = Auth::new(store, clock.clone(), &config.auth).map_err(explain)?;
    match cmd {
        AdminCommand::CreateUser(args) => {
            let (password, generated) = if args.password_stdin {
                (read_password_stdin()?, false)
            } else {
                (generate_password()?, true)
            };
            let account = NewAccount::parse(&args.email, &args.name, &password).map_err(explain)?;
            let role = if args.admin {
                InstanceRole::Admin
            } else {
                InstanceRole::User
            };
            let user = auth
                .create_user(None, account, role, None)
                .await
                .map_err(explain)?;
            println!(
                "created {} account {} ({})",
                role.as_str(),
                user.email,
                user.id
            );
            if generated {
                println!("password: {password}");
                println!("(shown once; the user can change it on their account page)");
            }
        }
        AdminCommand::AddProvider(args) => {
            let kind = crate::domain::ProviderKind::parse(&args.kind).map_err(explain)?;
            let api_key = if args.api_key_stdin {
                Some(read_password_stdin()?)
            } else {
                None
            };
            let workspace = match &args.workspace {
                Some(w) => Some(
                    w.parse()
                        .map_err(|_| anyhow::anyhow!("--workspace is not a workspace id"))?,
                ),
                None => None,
            };
            let store = auth.store().clone();
            let (key, _, _) = master_key(&config).map_err(explain)?;
            let outbound = Outbound::new(&config.outbound).map_err(explain)?;
            let providers = Providers::new(store.clone(), clock.clone(), key, outbound);
            let actor = first_admin(&*store).await?;
            let input = ConnectionInput {
                name: args.name,
                kind: args.kind,
                base_url: args
                    .base_url
                    .unwrap_or_else(|| kind.default_base_url().to_owned()),
                api_key,
                clear_key: false,
                models: args.models,
                drop_unsupported: false,
            };
            let conn = providers
                .create(&actor, workspace, input, None)
                .await
                .map_err(explain)?;
            println!(
                "added {} connection {} ({}) with {} model(s){}",
                conn.kind,
                conn.name,
                conn.id,
                conn.models.len(),
                if conn.sealed_key.is_some() {
                    "; its key is sealed"
                } else {
                    ""
                }
            );
        }
        AdminCommand::CreateApiKey(args) => {
            let email = Email::parse(&args.email).map_err(explain)?;
            let store = auth.store().clone();
            let user = store
                .find_user_by_email(&email.normalized())
                .await
                .map_err(explain)?
                .ok_or_else(|| anyhow::anyhow!("no account has the email {email}"))?;
            let workspaces = Workspaces::new(store.clone(), clock.clone());
            let list = workspaces.list_for(&user).await.map_err(explain)?;
            let wanted = args.workspace.trim();
            let ws = list
                .iter()
                .find(|(w, _)| {
                    w.id.to_string() == wanted
                        || w.name.as_str().eq_ignore_ascii_case(wanted)
                        || (w.personal && wanted.eq_ignore_ascii_case("personal"))
                })
                .map(|(w, _)| w.clone())
                .ok_or_else(|| {
                    anyhow::anyhow!("{email} is not a member of a workspace `{wanted}`")
                })?;
            let (key, secret) = auth
                .create_api_key(
                    &user,
                    ws.id,
                    &args.name,
                    args.expires_in_days,
                    &args.models,
                    None,
                )
                .await
                .map_err(explain)?;
            eprintln!(
                "created API key {} ({}) for {} in {}; it is shown once:",
                key.name, key.prefix, email, ws.name
            );
            println!("{}", secret.expose());
        }
        AdminCommand::RotateMasterKey => {
            let (old, source, path) = master_key(&config).map_err(explain)?;
            let new = MasterKey::generate().map_err(explain)?;
            let store = auth.store().clone();
            // The new key is on disk before any row uses it, so a crash leaves it recoverable.
            let pending = path.with_extension("key.new");
            if source == KeySource::Config {
                // Shown before any row uses it, so a crash cannot lose it.
                println!("the new master key (put it in your configuration once this finishes):");
                println!("{}", new.to_base64());
            } else {
                new.write_file(&pending).map_err(explain)?;
            }
            let n = rotate_master_key(&*store, &old, &new)
                .await
                .map_err(explain)?;
            match source {
                KeySource::Config => {
                    println!("re-sealed {n} provider key(s) with the new master key shown above");
                }
                KeySource::File | KeySource::Generated => {
                    std::fs::rename(&pending, &path)
                        .with_context(|| format!("cannot replace {}", path.display()))?;
                    println!(
                        "re-sealed {n} provider key(s); the new master key is in {}",
                        path.display()
                    );
                }
            }
        }
        AdminCommand::ResetPassword(args) => {
            let email = Email::parse(&args.email).map_err(explain)?;
            let password = Password::parse(&read_password_stdin()?, "password").map_err(explain)?;
            let user = auth
                .reset_password(&email, password)
                .await
                .map_err(explain)?;
            println!(
                "password changed for {}; their sessions have ended",
                user.email
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first active administrator, to attribute command-line changes to.
async fn first_admin(store: &dyn crate::store::Store) -> anyhow::Result<crate::domain::User> {
    let mut after = None;
    loop {
        let page = store.list_users(after, 200).await.map_err(explain)?;
        if let Some(admin) = page.items.iter().find(|u| u.is_admin() && !u.disabled) {
            return Ok(admin.clone());
        }
        match page.next {
            Some(next) => after = Some(next),
            None => bail!("create an administrator first (promptyard admin create-user --admin)"),
        }
    }
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .context("cannot read the password from standard input (is it UTF-8?)")?;
    let password = input
        .strip_suffix("\r\n")
        .or_else(|| input.strip_suffix('\n'))
        .unwrap_or(&input)
        .to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

fn generate_password() -> anyhow::Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 15];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
