//! Configuration: defaults, then the TOML file, then `PROMPTYARD_SECTION__KEY` environment
//! variables, then command-line flags. Unknown keys in the file are errors naming the key;
//! unknown `PROMPTYARD_` variables are warnings. Secrets print as `***`.
//!
//! This module reads files and the environment it is handed; it knows nothing of the rest of the
//! crate, so every other module can depend on it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use keys::{check_keys, known_keys, set_path, typed_value};

/// The documented example, compiled in; a test checks it covers every key.
pub const EXAMPLE: &str = include_str!("../../config.example.toml");

/// Environment variables that belong to the command line, not to the config tree.
const NON_CONFIG_ENV: &[&str] = &["PROMPTYARD_CONFIG", "PROMPTYARD_LOG", "PROMPTYARD_BIN"];

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// Directory for the data file, blobs and the search index; created on first start.
    pub data_dir: PathBuf,
    /// The URL users reach the server at, e.g. `https://prompts.example.com`; empty means
    /// "whatever Host the browser used". An `https` URL turns on `Secure` `__Host-` cookies.
    pub public_url: String,
    /// Storage backend.
    pub storage: StorageConfig,
    /// Accounts, sessions and login limits.
    pub auth: AuthConfig,
    /// The HTTP edge.
    pub http: HttpConfig,
    /// Logging.
    pub log: LogConfig,
    /// Where the server may send HTTP requests (model providers).
    pub outbound: OutboundConfig,
    /// The master key that seals provider API keys.
    pub secrets: SecretsConfig,
    /// Model price overrides.
    pub pricing: PricingConfig,
    /// Rate limits on model calls.
    pub limits: LimitsConfig,
    /// The community library's moderation rules.
    pub community: CommunityConfig,
    /// OpenID Connect login providers.
    pub oidc: OidcConfig,
    /// Who may read `/metrics`.
    pub metrics: MetricsConfig,
    /// The directory of the configuration file (the working directory without one); the
    /// default key file lives here. Not a setting.
    #[serde(skip)]
    pub config_dir: PathBuf,
}

/// Who may read the Prometheus metrics at `/metrics`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A bearer token a scraper must send (`Authorization: Bearer TOKEN`); empty means only
    /// clients on this machine (loopback) may read them. Printed as `***`.
    pub token: String,
}

/// The community library's moderation rules.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CommunityConfig {
    /// Distinct users' flags that hide an approved prompt until a moderator reviews it.
    pub flag_threshold: u32,
    /// Reputation at which a user's submissions are approved at once; 0 means only users an
    /// admin marked trusted.
    pub trusted_reputation: i64,
    /// Submissions per user in any 24 hours.
    pub submissions_per_day: u32,
}

impl Default for CommunityConfig {
    fn default() -> Self {
        Self {
            flag_threshold: 3,
            trusted_reputation: 100,
            submissions_per_day: 10,
        }
    }
}

/// Rate limits on model calls (the `/v1` API and the playground), per minute; 0 means none.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per API key.
    pub key_requests_per_minute: u32,
    /// Requests per user.
    pub user_requests_per_minute: u32,
    /// Requests per workspace.
    pub workspace_requests_per_minute: u32,
    /// Prompt tokens per API key.
    pub key_tokens_per_minute: u32,
    /// Prompt tokens per user.
    pub user_tokens_per_minute: u32,
    /// Prompt tokens per workspace.
    pub workspace_tokens_per_minute: u32,
}

/// Model prices beyond (or instead of) the embedded list prices.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PricingConfig {
    /// Entries `"model = input_usd_per_mtok, output_usd_per_mtok[, context_window]"`; a model
    /// ending in `*` prices every model starting with the rest.
    pub overrides: Vec<String>,
}

/// One parsed price override.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceOverride {
    /// Model id or `prefix*`.
    pub model: String,
    /// USD per million input tokens.
    pub input_per_mtok: f64,
    /// USD per million output tokens.
    pub output_per_mtok: f64,
    /// Context window in tokens.
    pub context_window: Option<u32>,
}

impl PricingConfig {
    /// The overrides, parsed; the error names the bad entry.
    pub fn parsed(&self) -> Result<Vec<PriceOverride>, ConfigError> {
        self.overrides
            .iter()
            .map(|entry| {
                let bad = || {
                    ConfigError::new(
                        "config",
                        "pricing.overrides",
                        format!(
                            "`{entry}` is not \"model = input per million, output per million[, context window]\""
                        ),
                    )
                };
                let (model, rest) = entry.split_once('=').ok_or_else(bad)?;
                let nums: Vec<&str> = rest.split(',').map(str::trim).collect();
                let money = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
                let model = model.trim();
                if model.is_empty() || !(2..=3).contains(&nums.len()) {
                    return Err(bad());
                }
                Ok(PriceOverride {
                    model: model.to_owned(),
                    input_per_mtok: money(nums[0]).ok_or_else(bad)?,
                    output_per_mtok: money(nums[1]).ok_or_else(bad)?,
                    context_window: match nums.get(2) {
                        Some(n) => Some(n.parse().map_err(|_| bad())?),
                        None => None,
                    },
                })
            })
            .collect()
    }
}

/// Where the master key comes from. Keep it outside the data directory (and its backups).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// The key itself, base64 (32 bytes); usually set through PROMPTYARD_SECRETS__MASTER_KEY.
    pub master_key: String,
    /// A file holding the key; empty means `promptyard.key` beside the config file (or in the
    /// working directory), created with mode 0600 on first start.
    pub master_key_file: String,
}

/// Where data lives.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `redb://PATH`, a bare path, or `postgres://...`; empty means `DATA_DIR/promptyard.redb`.
    pub url: String,
}

/// Who may create accounts.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Only admins create accounts.
    #[default]
    Closed,
    /// People with an invite link may register.
    Invite,
    /// Anyone who reaches the server may register.
    Open,
}

/// Accounts, sessions and login limits.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Registration policy.
    pub registration: Registration,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u64,
    /// A session ends this many hours after login, whatever its activity.
    pub session_absolute_hours: u64,
    /// Login attempts allowed per client address per minute (burst and refill).
    pub login_attempts_per_ip: u32,
    /// Login attempts allowed per account per minute (burst and refill).
    pub login_attempts_per_account: u32,
    /// Password hashes computed at once; more wait. Each takes about 19 MiB.
    pub max_concurrent_hashes: usize,
    /// Whether local accounts may log in with a password; turning it off needs an OIDC
    /// provider.
    pub password_login: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            registration: Registration::Closed,
            session_idle_minutes: 60 * 24 * 7,
            session_absolute_hours: 24 * 30,
            login_attempts_per_ip: 20,
            login_attempts_per_account: 5,
            max_concurrent_hashes: 4,
            password_login: true,
        }
    }
}

/// The HTTP edge.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest request body accepted, in KiB.
    pub body_limit_kib: usize,
    /// A request that takes longer than this many seconds is answered 408.
    pub request_timeout_secs: u64,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a reverse proxy).
    pub trust_forwarded_for: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_kib: 1024,
            request_timeout_secs: 60,
            trust_forwarded_for: false,
        }
    }
}

/// The outbound policy: every request to a model provider goes through one client that only
/// connects to addresses this allows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Private, loopback or link-local ranges the server may call, as CIDR or single addresses
    /// ("10.0.0.0/8", "127.0.0.1"). Public addresses need no entry.
    pub allow_cidrs: Vec<String>,
    /// Host names ("ollama.lan", or "*.corp.example" for subdomains) the server may call even
    /// when they resolve to private addresses.
    pub allow_hosts: Vec<String>,
    /// Destination ports allowed.
    pub allow_ports: Vec<u16>,
    /// Refuse every public address (air-gapped installs that only use local model servers).
    pub block_public: bool,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: u64,
    /// Seconds to wait for the next bytes of an answer.
    pub read_timeout_secs: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_cidrs: Vec::new(),
            allow_hosts: Vec::new(),
            allow_ports: vec![443, 80],
            block_public: false,
            connect_timeout_secs: 10,
            read_timeout_secs: 120,
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    #[default]
    Auto,
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Logging.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `promptyard=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".to_owned(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            public_url: String::new(),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            log: LogConfig::default(),
            outbound: OutboundConfig::default(),
            secrets: SecretsConfig::default(),
            pricing: PricingConfig::default(),
            limits: LimitsConfig::default(),
            community: CommunityConfig::default(),
            oidc: OidcConfig::default(),
            metrics: MetricsConfig::default(),
            config_dir: PathBuf::from("."),
        }
    }
}

/// A configuration problem, naming the key and where the bad value came from.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: `{key}`: {message}")]
pub struct ConfigError {
    /// The file or environment variable.
    pub origin: String,
    /// The dotted key, e.g. `auth.registration`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn new(origin: impl Into<String>, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A loaded configuration plus the warnings worth logging once logging is up.
#[derive(Debug)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// The file it came from, if any.
    pub file: Option<PathBuf>,
    /// Non-fatal findings, such as unknown `PROMPTYARD_` variables.
    pub warnings: Vec<String>,
}

/// Flags from the command line that override everything else.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads the configuration: `file` if given (it must exist), else `./promptyard.toml` if it
    /// exists; then `env`; then `overrides`; then validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Loaded, ConfigError> {
        let default_file = Path::new("promptyard.toml");
        let file = match file {
            Some(f) => Some(f.to_owned()),
            None => default_file.exists().then(|| default_file.to_owned()),
        };
        let mut tree = toml::Table::new();
        let mut origin = "defaults".to_owned();
        if let Some(path) = &file {
            origin = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new(&origin, "", format!("cannot read the file: {e}")))?;
            tree = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::new(&origin, "", e.message().to_owned()))?;
            check_keys(&tree, &known_keys(), "", &origin)?;
        }
        let mut warnings = Vec::new();
        let mut from_env: BTreeMap<String, String> = BTreeMap::new();
        let known = known_keys();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("PROMPTYARD_") else {
                continue;
            };
            if NON_CONFIG_ENV.contains(&name.as_str()) || rest.starts_with("TEST_") {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            let key = path.join(".");
            match known.get(&key) {
                Some(&"table") => warnings.push(format!(
                    "ignoring environment variable {name}: `{key}` is a section, not a key"
                )),
                Some(kind) => {
                    set_path(&mut tree, &path, typed_value(kind, &value));
                    from_env.insert(key, name.clone());
                }
                None => warnings.push(format!(
                    "ignoring environment variable {name}: `{key}` is not a configuration key"
                )),
            }
        }
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(tree))
            .map_err(|e| {
                let key = e.path().to_string();
                let origin = from_env
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| origin.clone());
                // toml appends "in `key`" on a second line; the key is already named.
                let message = e.inner().to_string();
                let first = message.lines().next().unwrap_or_default().to_owned();
                ConfigError::new(origin, key, first)
            })?;
        if let Some(listen) = &overrides.listen {
            config.listen = listen.clone();
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(parent) = file.as_deref().and_then(Path::parent) {
            config.config_dir = if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent.to_owned()
            };
        }
        config.validate()?;
        Ok(Loaded {
            config,
            file,
            warnings,
        })
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: String| Err(ConfigError::new("config", key, msg));
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "listen",
                format!("`{}` is not an address like 127.0.0.1:8080", self.listen),
            );
        }
        if self.data_dir.as_os_str().is_empty() {
            return bad("data_dir", "must not be empty".to_owned());
        }
        if !self.public_url.is_empty() {
            match url::Url::parse(&self.public_url) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => {
                    return bad(
                        "public_url",
                        "must be an http:// or https:// URL".to_owned(),
                    );
                }
            }
        }
        let url = &self.storage.url;
        if !url.is_empty()
            && url.contains("://")
            && !["redb://", "postgres://", "postgresql://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            return bad(
                "storage.url",
                "use redb://PATH, a file path, or postgres://...".to_owned(),
            );
        }
        let a = &self.auth;
        for (key, v, max) in [
            (
                "auth.session_idle_minutes",
                a.session_idle_minutes,
                60 * 24 * 366,
            ),
            (
                "auth.session_absolute_hours",
                a.session_absolute_hours,
                24 * 366,
            ),
            (
                "auth.login_attempts_per_ip",
                u64::from(a.login_attempts_per_ip),
                100_000,
            ),
            (
                "auth.login_attempts_per_account",
                u64::from(a.login_attempts_per_account),
                100_000,
            ),
            (
                "auth.max_concurrent_hashes",
                a.max_concurrent_hashes as u64,
                64,
            ),
            (
                "http.body_limit_kib",
                self.http.body_limit_kib as u64,
                1024 * 1024,
            ),
            (
                "http.request_timeout_secs",
                self.http.request_timeout_secs,
                24 * 3600,
            ),
        ] {
            if v == 0 || v > max {
                return bad(key, format!("must be between 1 and {max}"));
            }
        }
        self.pricing.parsed()?;
        let o = &self.outbound;
        for cidr in &o.allow_cidrs {
            let ok =
                cidr.parse::<ipnet::IpNet>().is_ok() || cidr.parse::<std::net::IpAddr>().is_ok();
            if !ok {
                return bad(
                    "outbound.allow_cidrs",
                    format!("`{cidr}` is not an address or CIDR range like 10.0.0.0/8"),
                );
            }
        }
        for host in &o.allow_hosts {
            let name = host.strip_prefix("*.").unwrap_or(host);
            let ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !ok {
                return bad(
                    "outbound.allow_hosts",
                    format!("`{host}` is not a host name like ollama.lan or *.corp.example"),
                );
            }
        }
        if o.allow_ports.is_empty() || o.allow_ports.contains(&0) {
            return bad(
                "outbound.allow_ports",
                "list at least one port, each 1 to 65535".to_owned(),
            );
        }
        for (key, v) in [
            ("outbound.connect_timeout_secs", o.connect_timeout_secs),
            ("outbound.read_timeout_secs", o.read_timeout_secs),
        ] {
            if v == 0 || v > 3600 {
                return bad(key, "must be between 1 and 3600".to_owned());
            }
        }
        let c = &self.community;
        if !(1..=1000).contains(&c.flag_threshold) {
            return bad(
                "community.flag_threshold",
                "must be between 1 and 1000".to_owned(),
            );
        }
        if !(0..=1_000_000).contains(&c.trusted_reputation) {
            return bad(
                "community.trusted_reputation",
                "must be between 0 and 1000000".to_owned(),
            );
        }
        if !(1..=10_000).contains(&c.submissions_per_day) {
            return bad(
                "community.submissions_per_day",
                "must be between 1 and 10000".to_owned(),
            );
        }
        let mut ids = std::collections::HashSet::new();
        for (i, p) in self.oidc.providers.iter().enumerate() {
            p.validate(i)?;
            if !ids.insert(p.id.as_str()) {
                return bad(
                    &format!("oidc.providers[{i}].id"),
                    format!("`{}` is used by two providers", p.id),
                );
            }
        }
        if !self.auth.password_login && self.oidc.providers.is_empty() {
            return bad(
                "auth.password_login",
                "can only be false when an [[oidc.providers]] entry is configured".to_owned(),
            );
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(
                "log.level",
                format!("`{}` is not a log filter such as `info`", self.log.level),
            );
        }
        Ok(())
    }

    /// Whether the server is reached over https, so cookies get `Secure` and `__Host-`.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// A copy safe to print: passwords in URLs replaced by `***`.
    pub fn redacted(&self) -> Self {
        let mut c = self.clone();
        c.storage.url = redact_url(&c.storage.url);
        if !c.secrets.master_key.is_empty() {
            c.secrets.master_key = "***".to_owned();
        }
        if !c.metrics.token.is_empty() {
            c.metrics.token = "***".to_owned();
        }
        for p in &mut c.oidc.providers {
            if !p.client_secret.is_empty() {
                p.client_secret = "***".to_owned();
            }
        }
        c
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string(&self.redacted()).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

mod keys;
mod oidc;

pub use oidc::{OidcConfig, OidcProviderConfig};

#[cfg(test)]
mod tests;

/// Properties over generated input: any file text and any environment value give a
/// configuration or an error naming where it came from, never a panic.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// Keys of every kind: strings, numbers, booleans, lists, enums, URLs, addresses.
    const ENV: [&str; 10] = [
        "PROMPTYARD_LISTEN",
        "PROMPTYARD_PUBLIC_URL",
        "PROMPTYARD_STORAGE__URL",
        "PROMPTYARD_AUTH__REGISTRATION",
        "PROMPTYARD_AUTH__LOGIN_ATTEMPTS_PER_IP",
        "PROMPTYARD_OUTBOUND__ALLOW_CIDRS",
        "PROMPTYARD_OUTBOUND__ALLOW_PORTS",
        "PROMPTYARD_OUTBOUND__READ_TIMEOUT_SECS",
        "PROMPTYARD_HTTP__BODY_LIMIT_KIB",
        "PROMPTYARD_COMMUNITY__FLAG_THRESHOLD",
    ];

    proptest! {
        #[test]
        fn any_environment_value_loads_or_is_refused_by_name(
            key in 0..ENV.len(),
            value in ".{0,40}",
        ) {
            let name = ENV[key].strip_prefix("PROMPTYARD_").unwrap().to_lowercase().replace("__", ".");
            prop_assert!(known_keys().contains_key(&name), "{} is not a configuration key", name);
            let env = [(ENV[key].to_owned(), value)];
            if let Err(e) = Config::load(None, env, &Overrides::default()) {
                prop_assert!(!e.to_string().is_empty());
            }
        }

        #[test]
        fn any_file_text_loads_or_is_refused_without_panicking(
            text in "([a-z_]{1,12} = (\"[^\"\\n]{0,12}\"|[0-9]{1,6}|true|\\[\\])\n|\\[[a-z_]{1,10}\\]\n|.{0,20}\n){0,8}",
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("promptyard.toml");
            std::fs::write(&path, &text).unwrap();
            if let Err(e) = Config::load(Some(&path), [], &Overrides::default()) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }
}
