//! The indexer: follows the store's change log into the search index.
//!
//! It reads entries after the index's watermark in batches, loads each changed record as it is
//! now (a record that no longer exists is removed from the index), and applies the batch in one
//! index commit that also records the last entry's position. A crash between the store write and
//! the index commit loses nothing: the entries after the watermark are read again on start, and
//! replacing a document by id makes a second application harmless.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::domain::{
    ChangeKind, CommunityPrompt, CommunityPromptId, Run, RunId, TemplateId, UserId, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::search::{Doc, Kind, Op, SearchIndex};
use crate::store::Store;

/// Change-log entries per index commit, at most.
const BATCH: usize = 5_000;
/// How often an idle indexer looks for new entries.
const IDLE: Duration = Duration::from_millis(200);

/// How far the index is behind the store, for search answers and metrics.
#[derive(Debug, Default)]
pub struct IndexStatus {
    /// The change-log position the index covers.
    pub indexed: AtomicU64,
    /// The newest change-log position seen.
    pub head: AtomicU64,
    /// The index was made anew at start and has not caught up yet.
    pub rebuilding: AtomicBool,
}

impl IndexStatus {
    /// While rebuilding, how far along it is (0 to 100).
    pub fn rebuild_percent(&self) -> Option<u8> {
        if !self.rebuilding.load(Ordering::Relaxed) {
            return None;
        }
        let head = self.head.load(Ordering::Relaxed).max(1);
        let done = self.indexed.load(Ordering::Relaxed).min(head);
        Some(((done * 100) / head).min(99) as u8)
    }
}

/// Follows the change log until `stop` turns true; a batch under way is finished first, so the
/// store and the index are let go of when this returns.
pub async fn run(
    store: Arc<dyn Store>,
    index: Arc<SearchIndex>,
    status: Arc<IndexStatus>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let pause = match step(&*store, &index, &status).await {
            // Caught up (or nearly): wait, so that under a steady stream of runs each commit
            // covers about IDLE's worth of them instead of a handful (fewer segments to merge).
            Ok(n) if n < BATCH => IDLE,
            Ok(_) => Duration::ZERO,
            Err(e) => {
                tracing::error!(error = ?e, "the search indexer failed; retrying in 5 s");
                Duration::from_secs(5)
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Indexes one batch; returns how many change-log entries it covered.
pub async fn step(
    store: &dyn Store,
    index: &Arc<SearchIndex>,
    status: &IndexStatus,
) -> Result<usize> {
    let from = index.watermark()?;
    status.indexed.store(from, Ordering::Relaxed);
    let changes = store.list_changes(from, BATCH).await?;
    let Some(last) = changes.last().map(|c| c.seq) else {
        status.rebuilding.store(false, Ordering::Relaxed);
        status.head.store(from, Ordering::Relaxed);
        return Ok(0);
    };
    if status.rebuilding.load(Ordering::Relaxed) {
        status
            .head
            .store(store.last_change_seq().await?, Ordering::Relaxed);
    }
    // The latest entry per record is enough: each is loaded as it is now.
    let mut seen = std::collections::HashSet::new();
    let mut wanted = Vec::new();
    for c in changes.iter().rev() {
        if seen.insert((c.kind, c.id.clone())) {
            wanted.push((c.kind, c.id.clone()));
        }
    }
    wanted.reverse();
    // A renamed user: their indexed documents are loaded again to carry the new name.
    let mut expanded = Vec::with_capacity(wanted.len());
    for (kind, id) in wanted {
        if kind == ChangeKind::User {
            let owned = {
                let index = index.clone();
                let id = id.clone();
                tokio::task::spawn_blocking(move || index.owned_by(&id))
                    .await
                    .map_err(Error::internal)??
            };
            for (k, doc) in owned {
                let k = match k {
                    Kind::Run => ChangeKind::Run,
                    Kind::Prompt => ChangeKind::CommunityPrompt,
                };
                if seen.insert((k, doc.clone())) {
                    expanded.push((k, doc));
                }
            }
        } else if kind == ChangeKind::Template {
            // A renamed template: its runs indexed under the old name are loaded again.
            let Ok(tid) = id.parse::<TemplateId>() else {
                continue;
            };
            let name = match store.get_template(tid).await {
                Ok(t) => t.name,
                Err(Error::NotFound) => continue,
                Err(e) => return Err(e),
            };
            let stale = {
                let index = index.clone();
                tokio::task::spawn_blocking(move || index.runs_named_otherwise(&id, &name))
                    .await
                    .map_err(Error::internal)??
            };
            for run in stale {
                if seen.insert((ChangeKind::Run, run.clone())) {
                    expanded.push((ChangeKind::Run, run));
                }
            }
        } else {
            expanded.push((kind, id));
        }
    }
    let wanted = expanded;
    let mut names = Names::default();
    let mut ops = Vec::with_capacity(wanted.len());
    for (kind, id) in wanted {
        match kind {
            ChangeKind::Run => {
                let Ok(run_id) = id.parse::<RunId>() else {
                    continue;
                };
                match store.get_run(run_id).await {
                    Ok(run) => ops.push(Op::Put(Box::new(run_doc(store, &mut names, run).await?))),
                    Err(Error::NotFound) => ops.push(Op::Delete(id)),
                    Err(e) => return Err(e),
                }
            }
            ChangeKind::CommunityPrompt => {
                let Ok(pid) = id.parse::<CommunityPromptId>() else {
                    continue;
                };
                match store.get_community_prompt(pid).await {
                    Ok(p) => ops.push(Op::Put(Box::new(prompt_doc(store, &mut names, p).await?))),
                    Err(Error::NotFound) => ops.push(Op::Delete(id)),
                    Err(e) => return Err(e),
                }
            }
            ChangeKind::Workspace => {
                let Ok(ws) = id.parse::<WorkspaceId>() else {
                    continue;
                };
                if let Err(Error::NotFound) = store.get_workspace(ws).await {
                    ops.push(Op::DeleteWorkspace(id));
                }
            }
            // Users and templates were expanded above into the documents that show their names.
            ChangeKind::User | ChangeKind::Template => {}
        }
    }
    let index = index.clone();
    tokio::task::spawn_blocking(move || index.apply(ops, last))
        .await
        .map_err(Error::internal)??;
    status.indexed.store(last, Ordering::Relaxed);
    // Caught up with the change log as it was when this batch started: the rebuild is done.
    if last >= status.head.load(Ordering::Relaxed) {
        status.rebuilding.store(false, Ordering::Relaxed);
    }
    Ok(changes.len())
}

/// User and template names looked up once per batch.
#[derive(Default)]
struct Names {
    users: HashMap<UserId, String>,
    templates: HashMap<TemplateId, String>,
}

impl Names {
    async fn user(&mut self, store: &dyn Store, id: UserId) -> Result<String> {
        if let Some(n) = self.users.get(&id) {
            return Ok(n.clone());
        }
        let name = match store.get_user(id).await {
            Ok(u) => format!("{} {}", u.name, u.email),
            Err(Error::NotFound) => String::new(),
            Err(e) => return Err(e),
        };
        self.users.insert(id, name.clone());
        Ok(name)
    }

    async fn template(&mut self, store: &dyn Store, id: TemplateId) -> Result<String> {
        if let Some(n) = self.templates.get(&id) {
            return Ok(n.clone());
        }
        let name = match store.get_template(id).await {
            Ok(t) => t.name,
            Err(Error::NotFound) => String::new(),
            Err(e) => return Err(e),
        };
        self.templates.insert(id, name.clone());
        Ok(name)
    }
}

/// The text of a stored prompt (a JSON list of messages), or the stored string as it is.
fn prompt_text(prompt: &str) -> String {
    match serde_json::from_str::<Vec<crate::llm::chat::ChatMessage>>(prompt) {
        Ok(messages) => crate::llm::chat::messages_text(&messages),
        Err(_) => prompt.to_owned(),
    }
}

async fn run_doc(store: &dyn Store, names: &mut Names, run: Run) -> Result<Doc> {
    let template = match run.template_id {
        Some(t) => names.template(store, t).await?,
        None => String::new(),
    };
    // What retention kept: a metadata-only run has no prompt or output to index.
    let mut body = prompt_text(&run.prompt);
    if !run.output.is_empty() {
        body.push('\n');
        body.push_str(&run.output);
    }
    // The answer's tool calls, as `name(arguments)`, so a search finds the calls a model made.
    if let Some(calls) = run
        .detail
        .as_ref()
        .and_then(|d| d.get("tool_calls"))
        .and_then(|c| serde_json::from_value::<Vec<crate::llm::chat::ToolCall>>(c.clone()).ok())
    {
        for line in crate::llm::chat::tool_calls_text(&calls) {
            body.push('\n');
            body.push_str(&line);
        }
    }
    Ok(Doc {
        id: run.id.to_string(),
        kind: Some(Kind::Run),
        workspace: Some(run.workspace_id.to_string()),
        owner: run.user_id.to_string(),
        user: names.user(store, run.user_id).await?,
        title: if template.is_empty() {
            run.model.clone()
        } else {
            template.clone()
        },
        template,
        template_id: run.template_id.map(|t| t.to_string()),
        body,
        tags: Vec::new(),
        models: vec![run.model],
        state: run.state.to_string(),
        time: Some(run.created_at),
        rating: 0.0,
        usage: 0,
        cost: run.cost_usd.unwrap_or(0.0),
        input_tokens: run.input_tokens,
        output_tokens: run.output_tokens,
        latency_ms: run.latency_ms,
    })
}

async fn prompt_doc(store: &dyn Store, names: &mut Names, p: CommunityPrompt) -> Result<Doc> {
    let mut body = p.content.description.clone();
    for text in p.content.texts() {
        if !text.is_empty() {
            body.push('\n');
            body.push_str(text);
        }
    }
    Ok(Doc {
        id: p.id.to_string(),
        kind: Some(Kind::Prompt),
        workspace: None,
        owner: p.author.to_string(),
        user: names.user(store, p.author).await?,
        title: p.content.name.clone(),
        template: String::new(),
        template_id: None,
        body,
        rating: p.average().unwrap_or(0.0),
        usage: p.usage_count,
        tags: p.content.tags,
        models: p.models,
        state: p.status.as_str().to_owned(),
        time: Some(p.created_at),
        cost: 0.0,
        input_tokens: 0,
        output_tokens: 0,
        latency_ms: 0,
    })
}

/// The index and its status, as the search pages and API use them.
#[derive(Clone)]
pub struct Search {
    /// The index.
    pub index: Arc<SearchIndex>,
    /// How far it is behind.
    pub status: Arc<IndexStatus>,
}

impl Search {
    /// Opens (or rebuilds) the index in `dir`.
    pub async fn open(dir: std::path::PathBuf) -> Result<Self> {
        let (index, opened) = tokio::task::spawn_blocking(move || SearchIndex::open(&dir))
            .await
            .map_err(Error::internal)??;
        let status = IndexStatus::default();
        if opened == crate::search::Opened::Rebuilt {
            status.rebuilding.store(true, Ordering::Relaxed);
        }
        Ok(Self {
            index: Arc::new(index),
            status: Arc::new(status),
        })
    }

    /// The ids of everything `req` matches, newest first, at most `max`, off the runtime.
    pub async fn matching_ids(
        &self,
        req: crate::search::SearchRequest,
        max: usize,
    ) -> Result<Vec<String>> {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.matching_ids(&req, max))
            .await
            .map_err(Error::internal)?
    }

    /// Runs a search off the async runtime.
    pub async fn search(
        &self,
        req: crate::search::SearchRequest,
    ) -> Result<crate::search::SearchResults> {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.search(&req))
            .await
            .map_err(Error::internal)?
    }
}
