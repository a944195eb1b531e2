//! Provider connections as a feature: keys sealed on the way in and opened only to call the
//! provider, base URLs checked against the outbound policy, model discovery, and the list of
//! models a workspace can use.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::domain::outbound::OutboundAllowlist;
use crate::domain::provider::{validate_base_url, validate_connection_name, validate_models};
use crate::domain::{Connection, ConnectionId, NewAuditEvent, ProviderKind, User, WorkspaceId};
use crate::error::{Error, Result};
use crate::llm::chat::Endpoint;
use crate::llm::outbound::Outbound;
use crate::store::Store;

/// What a connection form or command submits.
#[derive(Clone, Default)]
pub struct ConnectionInput {
    /// Name.
    pub name: String,
    /// Wire format (`openai`, `anthropic`, `google`, `openai-compatible`).
    pub kind: String,
    /// Base URL.
    pub base_url: String,
    /// A new key; `None` keeps the stored one.
    pub api_key: Option<String>,
    /// Remove the stored key.
    pub clear_key: bool,
    /// Model ids entered by hand.
    pub models: Vec<String>,
    /// Drop parameters the provider cannot honour instead of refusing the call.
    pub drop_unsupported: bool,
}

impl std::fmt::Debug for ConnectionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionInput")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// Provider connections over the store; cheap to clone.
#[derive(Clone)]
pub struct Providers {
    store: Arc<dyn Store>,
    clock: Clock,
    key: Arc<MasterKey>,
    outbound: Outbound,
    /// Every connection, as last read, for routing without a store read per call. Changes made
    /// here clear it at once; others (another server on the same database) within `CACHE_TTL`.
    cache: Arc<RwLock<Option<Snapshot>>>,
}

/// The connection list with when it was read.
type Snapshot = (Instant, Arc<Vec<Connection>>);

/// How long the connection list is routed from memory before it is read again.
const CACHE_TTL: Duration = Duration::from_secs(10);

fn clean_key(raw: &str) -> Result<String> {
    let k = raw.trim();
    if k.is_empty() || k.len() > 4096 || k.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            "api_key",
            "that does not look like an API key",
        ));
    }
    Ok(k.to_owned())
}

impl Providers {
    /// The service.
    pub fn new(store: Arc<dyn Store>, clock: Clock, key: MasterKey, outbound: Outbound) -> Self {
        Self {
            store,
            clock,
            key: Arc::new(key),
            outbound,
            cache: Arc::new(RwLock::new(None)),
        }
    }

    /// The outbound client (for the gateway).
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// The outbound allowlist kept in the web UI.
    pub async fn outbound_allowlist(&self) -> Result<OutboundAllowlist> {
        self.store.get_outbound_allowlist().await
    }

    /// Puts the stored allowlist in force (at start-up).
    pub async fn load_outbound_allowlist(&self) -> Result<()> {
        let list = self.store.get_outbound_allowlist().await?;
        // Nothing added: the client built from the configuration stands (no second build).
        if list == OutboundAllowlist::default() {
            return Ok(());
        }
        self.outbound.apply(&list)
    }

    /// Checks, stores (audited) and applies a new allowlist at once, without a restart.
    pub async fn set_outbound_allowlist(
        &self,
        actor: &User,
        list: OutboundAllowlist,
        ip: Option<String>,
    ) -> Result<OutboundAllowlist> {
        let list = list.validated()?;
        let detail = format!(
            "cidrs [{}] hosts [{}] ports [{}]",
            list.allow_cidrs.join(", "),
            list.allow_hosts.join(", "),
            list.allow_ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let audit = NewAuditEvent::new(Some(actor.id), "outbound.update")
            .ip(ip)
            .detail(detail);
        self.store
            .set_outbound_allowlist(list.clone(), audit)
            .await?;
        self.outbound.apply(&list)?;
        tracing::info!(actor = %actor.id, "the outbound allowlist changed");
        Ok(list)
    }

    fn checked(
        &self,
        input: &ConnectionInput,
    ) -> Result<(String, ProviderKind, String, Vec<String>)> {
        let name = validate_connection_name(&input.name)?;
        let kind = ProviderKind::parse(input.kind.trim())?;
        // A blank base URL is the provider's own; a local server has no default to assume.
        let raw = match input.base_url.trim() {
            "" if kind == ProviderKind::OpenaiCompatible => {
                return Err(Error::invalid(
                    "base_url",
                    "enter the server's base URL, for example http://127.0.0.1:11434/v1 \
                     (Ollama) or http://127.0.0.1:8000/v1 (vLLM)",
                ));
            }
            "" => kind.default_base_url(),
            given => given,
        };
        let base_url = validate_base_url(raw)?;
        let url =
            url::Url::parse(&base_url).map_err(|_| Error::invalid("base_url", "not a URL"))?;
        self.outbound.policy().check_url(&url)?;
        let models = validate_models(&input.models)?;
        Ok((name, kind, base_url, models))
    }

    /// Creates a connection (instance-wide for `None`).
    pub async fn create(
        &self,
        actor: &User,
        workspace: Option<WorkspaceId>,
        input: ConnectionInput,
        ip: Option<String>,
    ) -> Result<Connection> {
        let (name, kind, base_url, models) = self.checked(&input)?;
        let id = ConnectionId::new();
        let sealed_key = match input
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            Some(k) => Some(
                self.key
                    .seal(&Connection::key_context(id), clean_key(k)?.as_bytes())?,
            ),
            None if kind.needs_key() => {
                return Err(Error::invalid(
                    "api_key",
                    format!("{} needs an API key", kind.label()),
                ));
            }
            None => None,
        };
        let now = self.clock.now();
        let conn = Connection {
            id,
            workspace_id: workspace,
            name,
            kind,
            base_url,
            sealed_key,
            models,
            drop_unsupported: input.drop_unsupported,
            created_by: Some(actor.id),
            created_at: now,
            updated_at: now,
        };
        let audit = NewAuditEvent::new(Some(actor.id), "connection.create")
            .workspace(conn.workspace_id)
            .ip(ip)
            .detail(format!("{} {}", conn.kind, conn.base_url));
        let out = self.store.create_connection(conn, audit).await;
        self.forget();
        out
    }

    /// Changes a connection. A new base URL needs the key entered again, so a key cannot be
    /// sent somewhere its owner did not mean it to go.
    pub async fn update(
        &self,
        actor: &User,
        existing: &Connection,
        input: ConnectionInput,
        ip: Option<String>,
    ) -> Result<Connection> {
        let (name, kind, base_url, models) = self.checked(&input)?;
        let new_key = input
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let moved = base_url != existing.base_url || kind != existing.kind;
        if moved && existing.sealed_key.is_some() && new_key.is_none() && !input.clear_key {
            return Err(Error::invalid(
                "api_key",
                "enter the API key again when you change the base URL or provider",
            ));
        }
        let sealed_key = match (new_key, input.clear_key) {
            (Some(k), _) => Some(self.key.seal(
                &Connection::key_context(existing.id),
                clean_key(k)?.as_bytes(),
            )?),
            (None, true) => None,
            (None, false) => existing.sealed_key.clone(),
        };
        let conn = Connection {
            name,
            kind,
            base_url,
            sealed_key,
            models,
            drop_unsupported: input.drop_unsupported,
            updated_at: self.clock.now(),
            ..existing.clone()
        };
        let audit = NewAuditEvent::new(Some(actor.id), "connection.update")
            .workspace(conn.workspace_id)
            .ip(ip)
            .detail(format!("{} {}", conn.kind, conn.base_url));
        let out = self.store.update_connection(conn, audit).await;
        self.forget();
        out
    }

    /// Deletes a connection.
    pub async fn delete(&self, actor: &User, conn: &Connection, ip: Option<String>) -> Result<()> {
        let audit = NewAuditEvent::new(Some(actor.id), "connection.delete")
            .workspace(conn.workspace_id)
            .ip(ip)
            .detail(conn.name.clone());
        let out = self.store.delete_connection(conn.id, audit).await;
        self.forget();
        out
    }

    /// Asks the provider which models it offers and adds them to the connection's list.
    pub async fn discover(
        &self,
        actor: &User,
        conn: &Connection,
        ip: Option<String>,
    ) -> Result<Connection> {
        let endpoint = self.endpoint(conn)?;
        let found = crate::llm::adapters::list_models(&self.outbound, &endpoint)
            .await
            .map_err(|e| Error::invalid("models", e.to_string()))?;
        // Providers with more models than a connection lists get the first ones.
        let mut models = conn.models.clone();
        let mut seen: std::collections::HashSet<String> = models.iter().cloned().collect();
        for m in found {
            if models.len() >= crate::domain::provider::MAX_MODELS {
                break;
            }
            if seen.insert(m.clone()) {
                models.push(m);
            }
        }
        let updated = Connection {
            models: validate_models(&models)?,
            updated_at: self.clock.now(),
            ..conn.clone()
        };
        let audit = NewAuditEvent::new(Some(actor.id), "connection.discover")
            .workspace(conn.workspace_id)
            .ip(ip)
            .detail(format!("{} models", updated.models.len()));
        let out = self.store.update_connection(updated, audit).await;
        self.forget();
        out
    }

    /// Where and how to call a connection, its key opened.
    pub fn endpoint(&self, conn: &Connection) -> Result<Endpoint> {
        let api_key = match &conn.sealed_key {
            Some(sealed) => {
                let bytes = self.key.open(&Connection::key_context(conn.id), sealed)?;
                Some(
                    String::from_utf8(bytes)
                        .map_err(|_| Error::internal("a stored key is not UTF-8"))?,
                )
            }
            None => None,
        };
        Ok(Endpoint {
            kind: conn.kind,
            base_url: conn.base_url.clone(),
            api_key,
        })
    }

    /// The connections a workspace can use: the instance's and its own.
    pub async fn usable(&self, workspace: WorkspaceId) -> Result<Vec<Connection>> {
        let all = self.all().await?;
        let mut instance: Vec<Connection> = Vec::new();
        let mut own: Vec<Connection> = Vec::new();
        for c in all.iter() {
            match c.workspace_id {
                None => instance.push(c.clone()),
                Some(w) if w == workspace => own.push(c.clone()),
                Some(_) => {}
            }
        }
        instance.sort_by_key(|c| c.name.to_lowercase());
        own.sort_by_key(|c| c.name.to_lowercase());
        instance.extend(own);
        Ok(instance)
    }

    /// Every connection, from memory while fresh.
    async fn all(&self) -> Result<Arc<Vec<Connection>>> {
        if let Some((at, all)) = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(all.clone());
        }
        let all = Arc::new(self.store.list_all_connections().await?);
        *self.cache.write().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), all.clone()));
        Ok(all)
    }

    /// Drops the cached list after a change.
    fn forget(&self) {
        *self.cache.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The connection offering `model` to `workspace`: a workspace's own connection wins over an
    /// instance-wide one; `NotFound`-like invalid error naming the model otherwise.
    pub async fn connection_for(&self, workspace: WorkspaceId, model: &str) -> Result<Connection> {
        let usable = self.usable(workspace).await?;
        usable
            .iter()
            .rev()
            .find(|c| c.models.iter().any(|m| m == model))
            .cloned()
            .ok_or_else(|| {
                Error::invalid(
                    "model",
                    format!(
                        "no provider connection offers the model `{model}`; an admin can add it"
                    ),
                )
            })
    }
}

/// Re-seals every stored key under `new`, in one transaction; returns how many keys moved.
pub async fn rotate_master_key(
    store: &dyn Store,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<usize> {
    let mut resealed = Vec::new();
    for conn in store.list_all_connections().await? {
        let context = Connection::key_context(conn.id);
        let sealed = match &conn.sealed_key {
            Some(s) => Some(new.seal(&context, &old.open(&context, s)?)?),
            None => None,
        };
        resealed.push((conn.id, sealed));
    }
    let n = resealed.iter().filter(|(_, k)| k.is_some()).count();
    store.reseal_connection_keys(resealed).await?;
    Ok(n)
}
