//! Full-text search over runs and community prompts: a tantivy index under the data directory,
//! derived from the store. The index never decides what exists: the indexer (in `jobs`) follows
//! the store's change log and sends whole documents here; each commit carries the change-log
//! position it covers (`{"schema":N,"seq":S}` in tantivy's commit payload), so after a crash
//! the indexer resumes from the last commit and re-applies what followed. A document is keyed
//! by its id and always replaced whole, so applying a change twice leaves one document.
//!
//! Permissions are part of every query: runs only in the viewer's workspaces, community prompts
//! only when approved or the viewer's own (moderators see all). Snippets are HTML-escaped by
//! tantivy before the `<b>` marks are added.

mod build;
mod facets;
pub mod query;
mod request;

pub use request::{HistoryFilters, Hit, Scope, SearchRequest, SearchResults, SearchSort, Viewer};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery};
use tantivy::schema::{FAST, Field, INDEXED, STORED, STRING, Schema, TEXT, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{
    DateTime, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};
use time::OffsetDateTime;

use self::build::exact;
use self::facets::Facets;
use self::query::Part;
use crate::error::{Error, Result};

/// Bumped when the schema or what is indexed changes: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u64 = 4;
/// Most text indexed per document (longer outputs are cut for the index, not in the store).
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Memory for the index writer.
const WRITER_MEMORY: usize = 50_000_000;

/// Matches per value, most first.
pub type Counts = Vec<(String, u64)>;

/// What a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A run of the history.
    Run,
    /// A community prompt.
    Prompt,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Prompt => "prompt",
        }
    }
}

/// A document to index, built by the indexer from a stored record.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// The record's id.
    pub id: String,
    /// Its kind.
    pub kind: Option<Kind>,
    /// The workspace of a run.
    pub workspace: Option<String>,
    /// The run's user or the prompt's author (id).
    pub owner: String,
    /// Their name and email, for `user:`.
    pub user: String,
    /// Title: the prompt's title, the run's template name or model.
    pub title: String,
    /// The template's name (runs).
    pub template: String,
    /// The template's id (runs made from a template).
    pub template_id: Option<String>,
    /// The text: prompt and output of a run; description and prompts of a community prompt.
    pub body: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Models.
    pub models: Vec<String>,
    /// A run's state or a prompt's status.
    pub state: String,
    /// When it was made.
    pub time: Option<OffsetDateTime>,
    /// Mean rating (prompts).
    pub rating: f64,
    /// Uses (prompts).
    pub usage: u64,
    /// Cost in USD (runs).
    pub cost: f64,
    /// Input tokens (runs).
    pub input_tokens: u64,
    /// Output tokens (runs).
    pub output_tokens: u64,
    /// Latency in ms (runs).
    pub latency_ms: u64,
}

/// A change to apply.
#[derive(Clone, Debug)]
pub enum Op {
    /// Add or replace a document.
    Put(Box<Doc>),
    /// Remove the document with this id (if any).
    Delete(String),
    /// Remove every run of a workspace.
    DeleteWorkspace(String),
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    kind: Field,
    workspace: Field,
    owner: Field,
    user: Field,
    title: Field,
    template: Field,
    template_id: Field,
    template_name: Field,
    body: Field,
    text: Field,
    tag: Field,
    model: Field,
    state: Field,
    time: Field,
    rating: Field,
    usage: Field,
    cost: Field,
    input_tokens: Field,
    output_tokens: Field,
    latency_ms: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        workspace: b.add_text_field("workspace", STRING | STORED),
        owner: b.add_text_field("owner", STRING | STORED),
        user: b.add_text_field("user", TEXT | STORED),
        title: b.add_text_field("title", TEXT | STORED),
        template: b.add_text_field("template", TEXT | STORED),
        template_id: b.add_text_field("template_id", STRING),
        // The template's name as one term: finds runs that still carry an old name.
        template_name: b.add_text_field("template_name", STRING),
        body: b.add_text_field("body", TEXT | STORED),
        // Title and body together: what words, phrases and prefixes are searched in.
        text: b.add_text_field("text", TEXT),
        tag: b.add_text_field("tag", STRING | FAST | STORED),
        model: b.add_text_field("model", STRING | FAST | STORED),
        state: b.add_text_field("state", STRING | STORED),
        time: b.add_date_field("time", INDEXED | FAST | STORED),
        rating: b.add_f64_field("rating", FAST | STORED),
        usage: b.add_u64_field("usage", FAST | STORED),
        cost: b.add_f64_field("cost", INDEXED | FAST | STORED),
        input_tokens: b.add_u64_field("input_tokens", STORED),
        output_tokens: b.add_u64_field("output_tokens", STORED),
        latency_ms: b.add_u64_field("latency_ms", STORED),
    };
    (b.build(), f)
}

#[derive(Serialize, Deserialize)]
struct Payload {
    schema: u64,
    seq: u64,
}

/// How the index was found at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// An index of this version, covering the change log up to this position.
    Existing(u64),
    /// A new, empty index (none was there, it would not open, or its version differed): the
    /// indexer rebuilds it from the start of the change log.
    Rebuilt,
}

/// Boolean query clauses.
type Clauses = Vec<(Occur, Box<dyn Query>)>;

/// The search index.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    f: Fields,
    dir: PathBuf,
}

fn ix(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("search index: {e}"))
}

fn to_date(t: OffsetDateTime) -> DateTime {
    DateTime::from_timestamp_micros((t.unix_timestamp_nanos() / 1_000) as i64)
}

impl SearchIndex {
    /// Opens the index in `dir`, or makes a new one when there is none, it will not open, or its
    /// schema version differs (the old files are removed first).
    pub fn open(dir: &Path) -> Result<(Self, Opened)> {
        let (schema, f) = schema();
        let existing = Self::try_open(dir, &schema);
        let (index, opened) = match existing {
            Some((index, seq)) => (index, Opened::Existing(seq)),
            None => {
                if dir.exists() {
                    tracing::warn!(dir = %dir.display(), "the search index is missing, unreadable or of another version; rebuilding it");
                    std::fs::remove_dir_all(dir).map_err(ix)?;
                }
                std::fs::create_dir_all(dir).map_err(ix)?;
                (
                    Index::create_in_dir(dir, schema).map_err(ix)?,
                    Opened::Rebuilt,
                )
            }
        };
        let reader = index
            .reader_builder()
            // Commits are picked up at once by `apply`; this also picks up background merges.
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(ix)?;
        let writer = index.writer(WRITER_MEMORY).map_err(ix)?;
        Ok((
            Self {
                index,
                reader,
                writer: Mutex::new(writer),
                f,
                dir: dir.to_owned(),
            },
            opened,
        ))
    }

    fn try_open(dir: &Path, schema: &Schema) -> Option<(Index, u64)> {
        let index = Index::open_in_dir(dir).ok()?;
        if index.schema() != *schema {
            return None;
        }
        let metas = index.load_metas().ok()?;
        let payload: Payload = match metas.payload {
            Some(p) => serde_json::from_str(&p).ok()?,
            // Created but never committed: start from the beginning.
            None => Payload {
                schema: SCHEMA_VERSION,
                seq: 0,
            },
        };
        (payload.schema == SCHEMA_VERSION).then_some((index, payload.seq))
    }

    /// Where the index lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The change-log position the last commit covers.
    pub fn watermark(&self) -> Result<u64> {
        let metas = self.index.load_metas().map_err(ix)?;
        Ok(metas
            .payload
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok())
            .map_or(0, |p| p.seq))
    }

    /// Applies `ops` and commits them as covering the change log up to `seq`, in one commit:
    /// after a crash either all of them and the new position are there, or none.
    pub fn apply(&self, ops: Vec<Op>, seq: u64) -> Result<()> {
        let mut w = self.writer.lock().map_err(|_| ix("writer lock poisoned"))?;
        for op in ops {
            match op {
                Op::Delete(id) => {
                    w.delete_term(Term::from_field_text(self.f.id, &id));
                }
                Op::DeleteWorkspace(ws) => {
                    w.delete_term(Term::from_field_text(self.f.workspace, &ws));
                }
                Op::Put(doc) => {
                    w.delete_term(Term::from_field_text(self.f.id, &doc.id));
                    w.add_document(self.document(*doc)).map_err(ix)?;
                }
            }
        }
        let payload = serde_json::to_string(&Payload {
            schema: SCHEMA_VERSION,
            seq,
        })
        .map_err(ix)?;
        let mut prepared = w.prepare_commit().map_err(ix)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(ix)?;
        drop(w);
        self.reader.reload().map_err(ix)?;
        Ok(())
    }

    fn document(&self, d: Doc) -> TantivyDocument {
        let f = &self.f;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &d.id);
        doc.add_text(f.kind, d.kind.map_or("run", Kind::as_str));
        // Only runs have a workspace: the history permission filter relies on it.
        if let (Some(ws), Some(Kind::Run) | None) = (&d.workspace, d.kind) {
            doc.add_text(f.workspace, ws);
        }
        doc.add_text(f.owner, &d.owner);
        doc.add_text(f.user, &d.user);
        doc.add_text(f.title, &d.title);
        doc.add_text(f.template, &d.template);
        if let Some(t) = &d.template_id {
            doc.add_text(f.template_id, t);
            doc.add_text(f.template_name, &d.template);
        }
        let mut body = d.body;
        if body.len() > MAX_BODY_BYTES {
            let mut cut = MAX_BODY_BYTES;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        doc.add_text(f.text, format!("{}\n{body}", d.title));
        doc.add_text(f.body, &body);
        for t in &d.tags {
            doc.add_text(f.tag, t);
        }
        for m in &d.models {
            doc.add_text(f.model, m);
        }
        doc.add_text(f.state, &d.state);
        if let Some(t) = d.time {
            doc.add_date(f.time, to_date(t));
        }
        doc.add_f64(f.rating, d.rating);
        doc.add_u64(f.usage, d.usage);
        doc.add_f64(f.cost, d.cost);
        doc.add_u64(f.input_tokens, d.input_tokens);
        doc.add_u64(f.output_tokens, d.output_tokens);
        doc.add_u64(f.latency_ms, d.latency_ms);
        doc
    }

    /// The documents owned by `owner` (a user id): their kind and id, for refreshing names.
    pub fn owned_by(&self, owner: &str) -> Result<Vec<(Kind, String)>> {
        self.ids(&*exact(self.f.owner, owner))
    }

    /// The runs of template `template` indexed under a name other than `name`: those a rename
    /// left behind.
    pub fn runs_named_otherwise(&self, template: &str, name: &str) -> Result<Vec<String>> {
        let q = BooleanQuery::new(vec![
            (Occur::Must, exact(self.f.template_id, template)),
            (Occur::MustNot, exact(self.f.template_name, name)),
        ]);
        Ok(self.ids(&q)?.into_iter().map(|(_, id)| id).collect())
    }

    /// The kind and id of every document `q` matches.
    fn ids(&self, q: &dyn Query) -> Result<Vec<(Kind, String)>> {
        let searcher = self.reader.searcher();
        let found = searcher
            .search(q, &tantivy::collector::DocSetCollector)
            .map_err(ix)?;
        let mut out = Vec::with_capacity(found.len());
        for a in found {
            let doc: TantivyDocument = searcher.doc(a).map_err(ix)?;
            let get = |f: Field| {
                doc.get_first(f)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let kind = if get(self.f.kind) == "prompt" {
                Kind::Prompt
            } else {
                Kind::Run
            };
            out.push((kind, get(self.f.id)));
        }
        Ok(out)
    }

    /// Number of documents searchable now.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Number of segments searched now (merges in the background bring it down).
    pub fn segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Whether the index holds no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole query of `req` (permission, words, dates and filters) and the words alone
    /// over the body, for highlighting.
    fn query_of(&self, req: &SearchRequest) -> Result<(BooleanQuery, Clauses)> {
        let f = &self.f;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, self.permission(req))];
        let mut text_query: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for part in &req.parsed.must {
            if !matches!(part, Part::Field(..)) {
                // The same words over the body alone pick the highlighted snippet.
                text_query.push((Occur::Should, self.part_query(part, f.body)?));
            }
            clauses.push((Occur::Must, self.part_query(part, f.text)?));
        }
        for part in &req.parsed.must_not {
            clauses.push((Occur::MustNot, self.part_query(part, f.text)?));
        }
        if req.parsed.after.is_some() || req.parsed.before.is_some() {
            use std::ops::Bound;
            let lower = req.parsed.after.map_or(Bound::Unbounded, |t| {
                Bound::Included(Term::from_field_date(f.time, to_date(t)))
            });
            let upper = req.parsed.before.map_or(Bound::Unbounded, |t| {
                Bound::Excluded(Term::from_field_date(f.time, to_date(t)))
            });
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        clauses.extend(self.filter_clauses(req));
        if clauses.len() == 1 {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        Ok((BooleanQuery::new(clauses), text_query))
    }

    /// The ids of everything `req` matches, newest first, at most `max` (for exports).
    pub fn matching_ids(&self, req: &SearchRequest, max: usize) -> Result<Vec<String>> {
        let searcher = self.reader.searcher();
        let (query, _) = self.query_of(req)?;
        let top =
            TopDocs::with_limit(max.max(1)).order_by_fast_field::<DateTime>("time", Order::Desc);
        let found = searcher.search(&query, &top).map_err(ix)?;
        let mut out = Vec::with_capacity(found.len());
        for (_, a) in found {
            let doc: TantivyDocument = searcher.doc(a).map_err(ix)?;
            if let Some(id) = doc.get_first(self.f.id).and_then(|v| v.as_str()) {
                out.push(id.to_owned());
            }
        }
        Ok(out)
    }

    /// Runs a search.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let f = &self.f;
        let (query, text_query) = self.query_of(req)?;
        let limit = req.limit.clamp(1, 100);
        // One pass over the matches: the page, the count and the facets together.
        fn page<S>(
            searcher: &tantivy::Searcher,
            query: &dyn Query,
            top: impl tantivy::collector::Collector<Fruit = Vec<(S, tantivy::DocAddress)>>,
        ) -> Result<(Vec<tantivy::DocAddress>, u64, (Counts, Counts))>
        where
            S: 'static,
        {
            let (top, n, facets) = searcher.search(query, &(top, Count, Facets)).map_err(ix)?;
            Ok((top.into_iter().map(|(_, a)| a).collect(), n as u64, facets))
        }
        let base = TopDocs::with_limit(limit).and_offset(req.offset);
        let (addrs, total, (tags, models)) = match req.sort {
            SearchSort::Relevance => page(&searcher, &query, base.order_by_score())?,
            SearchSort::Newest => page(
                &searcher,
                &query,
                base.order_by_fast_field::<DateTime>("time", Order::Desc),
            )?,
            SearchSort::Rating => page(
                &searcher,
                &query,
                base.order_by_fast_field::<f64>("rating", Order::Desc),
            )?,
            SearchSort::Usage => page(
                &searcher,
                &query,
                base.order_by_fast_field::<u64>("usage", Order::Desc),
            )?,
        };
        let snippets = if text_query.is_empty() {
            None
        } else {
            let tq = BooleanQuery::new(text_query);
            let mut g = SnippetGenerator::create(&searcher, &tq, f.body).map_err(ix)?;
            g.set_max_num_chars(240);
            Some(g)
        };
        let mut hits = Vec::with_capacity(addrs.len());
        for a in addrs {
            let doc: TantivyDocument = searcher.doc(a).map_err(ix)?;
            let text = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let number = |field: Field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
            let all = |field: Field| {
                doc.get_all(field)
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            };
            let snippet_html = match &snippets {
                Some(g) => {
                    let s = g.snippet_from_doc(&doc);
                    if s.is_empty() {
                        escape_start(&text(f.body))
                    } else {
                        s.to_html()
                    }
                }
                None => escape_start(&text(f.body)),
            };
            hits.push(Hit {
                id: text(f.id),
                kind: if text(f.kind) == "prompt" {
                    Kind::Prompt
                } else {
                    Kind::Run
                },
                workspace: Some(text(f.workspace)).filter(|w| !w.is_empty()),
                title: text(f.title),
                user: text(f.user),
                snippet_html,
                tags: all(f.tag),
                models: all(f.model),
                state: text(f.state),
                time: doc
                    .get_first(f.time)
                    .and_then(|v| v.as_datetime())
                    .and_then(|d| {
                        OffsetDateTime::from_unix_timestamp_nanos(
                            i128::from(d.into_timestamp_micros()) * 1_000,
                        )
                        .ok()
                    }),
                rating: doc
                    .get_first(f.rating)
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0),
                usage: doc.get_first(f.usage).and_then(|v| v.as_u64()).unwrap_or(0),
                cost: doc
                    .get_first(f.cost)
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0),
                template: text(f.template),
                input_tokens: number(f.input_tokens),
                output_tokens: number(f.output_tokens),
                latency_ms: number(f.latency_ms),
            });
        }
        Ok(SearchResults {
            hits,
            total,
            tags,
            models,
        })
    }
}

/// The start of a text, HTML-escaped, for a result without highlighted words.
fn escape_start(s: &str) -> String {
    let start: String = s.chars().take(200).collect();
    let mut out = String::with_capacity(start.len());
    for c in start.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
