//! Turning a parsed query and a viewer into a tantivy query: the permission filter every
//! search carries, and each part of the query language over its fields.

use tantivy::Term;
use tantivy::query::{BooleanQuery, Occur, PhraseQuery, Query, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};

use super::query::{Filter, Part};
use super::{Scope, SearchIndex, SearchRequest, ix};
use crate::error::Result;

impl SearchIndex {
    /// Who may see what: runs of the viewer's workspaces; approved prompts, the viewer's own,
    /// or all of them for moderators.
    pub(super) fn permission(&self, req: &SearchRequest) -> Box<dyn Query> {
        let f = &self.f;
        let term = |field: Field, v: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, v),
                IndexRecordOption::Basic,
            ))
        };
        match req.scope {
            Scope::History => {
                let workspaces: Vec<(Occur, Box<dyn Query>)> = req
                    .viewer
                    .workspaces
                    .iter()
                    .map(|w| (Occur::Should, term(f.workspace, w)))
                    .collect();
                if workspaces.is_empty() {
                    // No workspace: nothing (an empty Should would match everything).
                    return Box::new(BooleanQuery::new(vec![
                        (Occur::Must, term(f.kind, "run")),
                        (Occur::MustNot, term(f.kind, "run")),
                    ]));
                }
                // Only runs carry a workspace, so the workspaces alone select runs.
                Box::new(BooleanQuery::new(workspaces))
            }
            Scope::Community => {
                let mut clauses = vec![(Occur::Must, term(f.kind, "prompt"))];
                if !req.viewer.moderator {
                    clauses.push((
                        Occur::Must,
                        Box::new(BooleanQuery::new(vec![
                            (Occur::Should, term(f.state, "approved")),
                            (Occur::Should, term(f.owner, &req.viewer.user)),
                        ])),
                    ));
                }
                Box::new(BooleanQuery::new(clauses))
            }
        }
    }

    /// The history page's exact filters (workspace, user, template, cost range).
    pub(super) fn filter_clauses(&self, req: &SearchRequest) -> Vec<(Occur, Box<dyn Query>)> {
        let f = &self.f;
        let h = &req.filters;
        let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, value) in [
            (f.workspace, &h.workspace),
            (f.owner, &h.user),
            (f.template_id, &h.template),
        ] {
            if let Some(v) = value {
                out.push((Occur::Must, exact(field, v)));
            }
        }
        if h.min_cost.is_some() || h.max_cost.is_some() {
            use std::ops::Bound;
            let term = |v: f64| Term::from_field_f64(f.cost, v);
            out.push((
                Occur::Must,
                Box::new(tantivy::query::RangeQuery::new(
                    h.min_cost
                        .map_or(Bound::Unbounded, |v| Bound::Included(term(v))),
                    h.max_cost
                        .map_or(Bound::Unbounded, |v| Bound::Included(term(v))),
                )),
            ));
        }
        out
    }

    /// The words of `text` as the index's tokenizer cuts them.
    fn words(&self, field: Field, text: &str) -> Result<Vec<Term>> {
        let mut tokenizer = self.index.tokenizer_for_field(field).map_err(ix)?;
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push(Term::from_field_text(field, &t.text));
        }
        Ok(out)
    }

    /// A query for `part` over `text` (the title and body as one field, so each word or phrase
    /// is one scorer that the permission filter can drive), or its filter's field.
    pub(super) fn part_query(&self, part: &Part, text: Field) -> Result<Box<dyn Query>> {
        let f = &self.f;
        Ok(match part {
            Part::Word(w) => self.words_in(&[text], w, false)?,
            Part::Phrase(p) => self.words_in(&[text], p, true)?,
            Part::Prefix(p) => {
                let pattern = format!("{}.*", regex_escape(p));
                Box::new(RegexQuery::from_pattern(&pattern, text).map_err(ix)?)
            }
            Part::Field(filter, value) => match filter {
                Filter::Tag => exact(f.tag, &value.to_lowercase()),
                Filter::Model => exact(f.model, value),
                Filter::State | Filter::Status => exact(f.state, &value.to_lowercase()),
                Filter::User => self.words_in(&[f.user], value, true)?,
                Filter::Template => self.words_in(&[f.template], value, true)?,
            },
        })
    }

    /// All words of `text` in one of `fields` (in order when `phrase`); a text with no word
    /// matches nothing.
    fn words_in(&self, fields: &[Field], text: &str, phrase: bool) -> Result<Box<dyn Query>> {
        let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for &field in fields {
            let terms = self.words(field, text)?;
            let q: Box<dyn Query> = match terms.len() {
                0 => continue,
                1 => Box::new(TermQuery::new(
                    terms[0].clone(),
                    IndexRecordOption::WithFreqs,
                )),
                _ if phrase => Box::new(PhraseQuery::new(terms)),
                _ => Box::new(BooleanQuery::new(
                    terms
                        .into_iter()
                        .map(|t| {
                            (
                                Occur::Must,
                                Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs))
                                    as Box<dyn Query>,
                            )
                        })
                        .collect(),
                )),
            };
            any.push((Occur::Should, q));
        }
        if any.is_empty() {
            return Ok(exact(self.f.id, "\u{0}no-word"));
        }
        Ok(Box::new(BooleanQuery::new(any)))
    }
}

pub(super) fn exact(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
