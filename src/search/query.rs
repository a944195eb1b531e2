//! The search box's language, parsed into parts before any index is touched, so a query that
//! cannot be understood gets a sentence naming the problem:
//!
//! - `word`: the word (any form the tokenizer gives it), in any text field;
//! - `"a phrase"`: the words in that order;
//! - `pref*`: any word starting with `pref` (at least 2 characters);
//! - `-word`, `-"a phrase"`, `-tag:x`: excluded;
//! - `tag:`, `model:`, `user:`, `template:`, `state:`, `status:`: field filters (quote values with
//!   spaces: `template:"Release notes"`);
//! - `after:2026-01-31`, `before:2026-02-01`: dates (UTC days; `after` is inclusive, `before`
//!   exclusive).

use time::{Date, OffsetDateTime};

use crate::error::{Error, Result};

/// A field a filter can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// A tag.
    Tag,
    /// A model.
    Model,
    /// A user's name or email (run author, prompt author).
    User,
    /// A template's name.
    Template,
    /// A run's state.
    State,
    /// A community prompt's status (moderators).
    Status,
}

impl Filter {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "tag" => Self::Tag,
            "model" => Self::Model,
            "user" | "author" => Self::User,
            "template" => Self::Template,
            "state" => Self::State,
            "status" => Self::Status,
            _ => return None,
        })
    }
}

/// One piece of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// A word.
    Word(String),
    /// Words in order.
    Phrase(String),
    /// A word prefix.
    Prefix(String),
    /// A field filter.
    Field(Filter, String),
}

/// A parsed query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// Parts every result must match.
    pub must: Vec<Part>,
    /// Parts no result may match.
    pub must_not: Vec<Part>,
    /// Only results at or after this instant.
    pub after: Option<OffsetDateTime>,
    /// Only results before this instant.
    pub before: Option<OffsetDateTime>,
}

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// The most parts a query may have.
const MAX_PARTS: usize = 32;

fn bad(message: impl Into<String>) -> Error {
    Error::invalid("q", message)
}

fn day(s: &str, what: &str) -> Result<OffsetDateTime> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            bad(format!(
                "`{what}:{s}` is not a date; write it as 2026-01-31"
            ))
        })
}

/// Splits `q` into tokens: quoted runs stay together (with their quotes), the rest splits on
/// white space.
fn tokens(q: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => {
                cur.push(c);
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(bad("a quote is not closed; add the closing \""));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn unquote(s: &str) -> Option<&str> {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
}

/// Parses the search box.
pub fn parse(q: &str) -> Result<Parsed> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(bad(format!(
            "a search has at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let mut parsed = Parsed::default();
    for token in tokens(q)? {
        let (negated, body) = match token.strip_prefix('-') {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, token.as_str()),
        };
        let part = if let Some(inner) = unquote(body) {
            let words = inner.trim();
            if words.is_empty() {
                continue;
            }
            Part::Phrase(words.to_owned())
        } else if let Some((name, value)) = body.split_once(':')
            && !name.is_empty()
            && !name.contains('"')
        {
            let value = unquote(value).unwrap_or(value).trim();
            match name {
                "after" | "before" => {
                    if negated {
                        return Err(bad(format!(
                            "`-{name}:` cannot be excluded; use the other bound"
                        )));
                    }
                    let t = day(value, name)?;
                    if name == "after" {
                        parsed.after = Some(t);
                    } else {
                        parsed.before = Some(t);
                    }
                    continue;
                }
                _ => {
                    let Some(f) = Filter::parse(name) else {
                        return Err(bad(format!(
                            "there is no `{name}:` filter; use tag:, model:, user:, template:, \
                             state:, status:, after: or before:"
                        )));
                    };
                    if value.is_empty() {
                        return Err(bad(format!("`{name}:` needs a value, e.g. {name}:sql")));
                    }
                    Part::Field(f, value.to_owned())
                }
            }
        } else if let Some(prefix) = body.strip_suffix('*') {
            if prefix.contains('*') || prefix.chars().count() < 2 {
                return Err(bad(format!(
                    "`{body}`: a prefix search needs at least 2 characters before a single *"
                )));
            }
            Part::Prefix(prefix.to_lowercase())
        } else if body.contains('*') {
            return Err(bad(format!("`{body}`: * only works at the end of a word")));
        } else {
            Part::Word(body.to_owned())
        };
        if negated {
            parsed.must_not.push(part);
        } else {
            parsed.must.push(part);
        }
        if parsed.must.len() + parsed.must_not.len() > MAX_PARTS {
            return Err(bad(format!("a search has at most {MAX_PARTS} terms")));
        }
    }
    if let (Some(a), Some(b)) = (parsed.after, parsed.before)
        && a >= b
    {
        return Err(bad("`after:` must come before `before:`"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_language_parses() {
        let p = parse(r#"join "left outer" sel* -slow tag:sql model:"gpt 4o" after:2026-01-02"#)
            .unwrap();
        assert_eq!(
            p.must,
            vec![
                Part::Word("join".into()),
                Part::Phrase("left outer".into()),
                Part::Prefix("sel".into()),
                Part::Field(Filter::Tag, "sql".into()),
                Part::Field(Filter::Model, "gpt 4o".into()),
            ]
        );
        assert_eq!(p.must_not, vec![Part::Word("slow".into())]);
        assert_eq!(p.after.unwrap().date().to_string(), "2026-01-02");
        assert_eq!(parse("").unwrap(), Parsed::default());
    }

    #[test]
    fn bad_queries_get_a_sentence() {
        for (q, needle) in [
            ("\"open", "quote"),
            ("colour:red", "no `colour:` filter"),
            ("a*", "at least 2"),
            ("a*b", "end of a word"),
            ("after:yesterday", "not a date"),
            ("after:2026-02-01 before:2026-01-01", "must come before"),
            ("tag:", "needs a value"),
        ] {
            let e = parse(q).unwrap_err().to_string();
            assert!(e.contains(needle), "{q}: {e}");
        }
        assert!(parse(&"x".repeat(501)).is_err());
    }
}
