//! Template variables: their declarations, the `{{name}}` placeholder syntax, and rendering.
//!
//! This module owns what a variable may be (its kind, default, whether it is required), how
//! placeholders are found in template text, and how given values are checked and substituted.
//! It is pure: no IO, no storage, no HTTP. Text is scanned once, left to right, and substituted
//! values are never scanned again, so a value containing `{{other}}` stays literal and no input
//! can make rendering slower than linear. Malformed braces are text, never an error.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::has_control_chars;
use crate::error::{Error, Result};

/// The most variables one template may declare.
/// Largest rendered prompt, in bytes.
pub const MAX_RENDERED_BYTES: usize = 8 << 20;
pub const MAX_VARIABLES: usize = 50;
/// The longest variable name, in characters.
pub const MAX_NAME_LEN: usize = 64;
/// The longest variable description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// The most choices an enum variable may offer.
pub const MAX_CHOICES: usize = 50;
/// The longest enum choice, in characters.
pub const MAX_CHOICE_CHARS: usize = 100;

/// Every error here is about the template's variables as a whole; the message names the one.
const FIELD: &str = "variables";
/// Bad values are quoted in messages, but only this much of them.
const SHOWN_CHARS: usize = 40;

/// What kind of value a variable takes, and so which form control edits it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum VarKind {
    /// A short piece of text (a one-line input).
    String,
    /// Longer text that may span lines (a text area).
    Text,
    /// A finite number.
    Number,
    /// True or false (a checkbox).
    Boolean,
    /// One of a fixed list of strings (a select).
    Enum {
        /// The allowed values, in display order.
        choices: Vec<String>,
    },
}

impl VarKind {
    /// The rule a value broke, phrased to follow "variable `x`".
    fn expectation(&self) -> String {
        match self {
            Self::String => "must be a string".to_owned(),
            Self::Text => "must be text".to_owned(),
            Self::Number => "must be a number".to_owned(),
            Self::Boolean => "must be true or false".to_owned(),
            Self::Enum { choices } => {
                let list = choices
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if list.chars().count() <= 200 {
                    format!("must be one of {list}")
                } else {
                    format!("must be one of its {} choices", choices.len())
                }
            }
        }
    }

    /// Whether a stored default has exactly this kind's JSON type.
    fn fits_default(&self, value: &Value) -> bool {
        match (self, value) {
            (Self::String | Self::Text, Value::String(_))
            | (Self::Number, Value::Number(_))
            | (Self::Boolean, Value::Bool(_)) => true,
            (Self::Enum { choices }, Value::String(s)) => choices.contains(s),
            _ => false,
        }
    }

    /// Checks a given value and renders it as it will appear in the prompt; `None` when it does
    /// not fit. Lenient where forms are: numbers and booleans may arrive as strings.
    fn coerce(&self, value: &Value) -> Option<String> {
        match (self, value) {
            (Self::String | Self::Text, Value::String(s)) => Some(s.clone()),
            (Self::Number, Value::Number(n)) => Some(n.to_string()),
            (Self::Number, Value::String(s)) => {
                let t = s.trim();
                let finite = t.parse::<f64>().is_ok_and(f64::is_finite);
                finite.then(|| t.to_owned())
            }
            (Self::Boolean, Value::Bool(b)) => Some(b.to_string()),
            (Self::Boolean, Value::String(s)) => parse_bool(s).map(|b| b.to_string()),
            (Self::Enum { choices }, Value::String(s)) => choices.contains(s).then(|| s.clone()),
            _ => None,
        }
    }

    /// Whether a given value counts as not given: null, or a blank string for a kind where a
    /// blank string cannot be meant (an empty number field in a form).
    fn is_unset(&self, value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::String(s) => !matches!(self, Self::String | Self::Text) && s.trim().is_empty(),
            _ => false,
        }
    }
}

/// One declared variable of a template.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VariableDef {
    /// The name used in placeholders; see [`is_valid_name`].
    pub name: String,
    /// The kind of value, stored flat as `"type"` (plus `"choices"` for an enum).
    #[serde(flatten)]
    pub kind: VarKind,
    /// Used when no value is given; null means no default.
    #[serde(default)]
    pub default: Option<Value>,
    /// Whether rendering fails when neither a value nor a default is there.
    #[serde(default)]
    pub required: bool,
    /// Help text shown next to the form control.
    #[serde(default)]
    pub description: String,
}

impl VariableDef {
    /// Checks the name, description, enum choices and that the default fits the kind.
    pub fn validate(&self) -> Result<()> {
        let name = &self.name;
        if name.is_empty() {
            return Err(Error::invalid(FIELD, "a variable has no name"));
        }
        if !is_valid_name(name) {
            return Err(invalid(format!(
                "variable `{}`: a name starts with a letter or `_` and has only letters, digits \
                 and `_`, at most {MAX_NAME_LEN} of them",
                clip(&name.escape_debug().to_string())
            )));
        }
        let fail = |message: String| invalid(format!("variable `{name}`: {message}"));
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(fail(format!(
                "the description is longer than {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        if has_control_chars(&self.description, true) {
            return Err(fail(
                "the description contains control characters".to_owned(),
            ));
        }
        if let VarKind::Enum { choices } = &self.kind {
            check_choices(choices).map_err(fail)?;
        }
        if let Some(Value::String(s)) = &self.default {
            if s.len() > MAX_RENDERED_BYTES / 4 {
                return Err(fail("the default is too long".to_owned()));
            }
            if has_control_chars(s, true) {
                return Err(fail("the default contains control characters".to_owned()));
            }
        }
        match &self.default {
            Some(default) if !default.is_null() && !self.kind.fits_default(default) => {
                Err(fail(match (&self.kind, default) {
                    (VarKind::Enum { .. }, Value::String(s)) => {
                        format!("the default `{}` is not one of the choices", clip(s))
                    }
                    _ => format!(
                        "the default {}, got {}",
                        self.kind.expectation(),
                        show(default)
                    ),
                }))
            }
            _ => Ok(()),
        }
    }
}

/// Checks the choices of an enum variable; the error is a phrase to follow "variable `x`: ".
fn check_choices(choices: &[String]) -> std::result::Result<(), String> {
    if choices.is_empty() {
        return Err("an enum needs at least one choice".to_owned());
    }
    if choices.len() > MAX_CHOICES {
        return Err(format!("an enum has at most {MAX_CHOICES} choices"));
    }
    let mut seen = HashSet::new();
    for choice in choices {
        if choice.is_empty() {
            return Err("a choice is empty".to_owned());
        }
        if choice.chars().count() > MAX_CHOICE_CHARS {
            return Err(format!(
                "the choice `{}` is longer than {MAX_CHOICE_CHARS} characters",
                clip(choice)
            ));
        }
        if has_control_chars(choice, false) {
            return Err(format!(
                "the choice {} contains control characters",
                show(&Value::String(choice.clone()))
            ));
        }
        if !seen.insert(choice.as_str()) {
            return Err(format!("the choice `{}` is listed twice", clip(choice)));
        }
    }
    Ok(())
}

/// Checks every declaration, that names are unique, and that there are at most
/// [`MAX_VARIABLES`].
pub fn validate_defs(defs: &[VariableDef]) -> Result<()> {
    if defs.len() > MAX_VARIABLES {
        return Err(invalid(format!(
            "a template has at most {MAX_VARIABLES} variables, this one has {}",
            defs.len()
        )));
    }
    let mut seen = HashSet::new();
    for def in defs {
        def.validate()?;
        if !seen.insert(def.name.as_str()) {
            return Err(invalid(format!(
                "variable `{}` is declared more than once",
                def.name
            )));
        }
    }
    Ok(())
}

/// Whether `name` matches `[A-Za-z_][A-Za-z0-9_]{0,63}`, the names placeholders can use.
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() <= MAX_NAME_LEN
        && b.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The distinct variable names used across `texts`, in order of first appearance.
pub fn used_variables(texts: &[&str]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for text in texts {
        let Ok(()) = scan::<Infallible>(text, |piece| {
            if let Piece::Var(name) = piece
                && seen.insert(name)
            {
                names.push(name.to_owned());
            }
            Ok(())
        });
    }
    names
}

/// The names used across `texts` that `defs` does not declare, in order of first appearance;
/// the editor offers to declare them.
pub fn undeclared(texts: &[&str], defs: &[VariableDef]) -> Vec<String> {
    let declared: HashSet<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    let mut names = used_variables(texts);
    names.retain(|n| !declared.contains(n.as_str()));
    names
}

/// Substitutes every placeholder in `text`.
///
/// A declared variable takes the given value if there is one (null, or a blank string for a
/// number, boolean or enum, counts as none), else its default; with neither it is an error when
/// required and empty otherwise. Given values are type-checked: numbers may be numeric strings
/// and booleans `true`/`false`/`on`/`off`/`1`/`0`, as forms send them. An undeclared placeholder
/// takes a given scalar value, or is an error. Values for unused names are ignored.
pub fn render(text: &str, defs: &[VariableDef], values: &Map<String, Value>) -> Result<String> {
    Renderer::new(defs, values).render(text)
}

/// [`render`] for several texts (a system and a user message) with one set of values; each
/// variable is resolved once.
pub fn render_all(
    texts: &[&str],
    defs: &[VariableDef],
    values: &Map<String, Value>,
) -> Result<Vec<String>> {
    let mut renderer = Renderer::new(defs, values);
    texts.iter().map(|text| renderer.render(text)).collect()
}

/// Resolves each variable once and remembers the result, so a name used a thousand times is
/// checked once.
struct Renderer<'a> {
    defs: HashMap<&'a str, &'a VariableDef>,
    values: &'a Map<String, Value>,
    resolved: HashMap<String, String>,
}

impl<'a> Renderer<'a> {
    fn new(defs: &'a [VariableDef], values: &'a Map<String, Value>) -> Self {
        // Reversed so that, should a name be declared twice, the first declaration wins.
        let defs = defs.iter().rev().map(|d| (d.name.as_str(), d)).collect();
        Self {
            defs,
            values,
            resolved: HashMap::new(),
        }
    }

    fn render(&mut self, text: &str) -> Result<String> {
        let mut out = String::with_capacity(text.len());
        scan::<Error>(text, |piece| {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(name) => {
                    let value = self.resolve(name)?;
                    // Many placeholders times a long value must not exhaust memory.
                    if out.len() + value.len() > MAX_RENDERED_BYTES {
                        return Err(Error::invalid(
                            "variables",
                            format!(
                                "the rendered prompt would be larger than {} MiB",
                                MAX_RENDERED_BYTES >> 20
                            ),
                        ));
                    }
                    out.push_str(value);
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn resolve(&mut self, name: &str) -> Result<&str> {
        if !self.resolved.contains_key(name) {
            let value = self.compute(name)?;
            self.resolved.insert(name.to_owned(), value);
        }
        Ok(self.resolved.get(name).map_or("", String::as_str))
    }

    fn compute(&self, name: &str) -> Result<String> {
        let given = self.values.get(name);
        let Some(def) = self.defs.get(name) else {
            return match given.filter(|v| !v.is_null()) {
                Some(v) => scalar(v).ok_or_else(|| {
                    invalid(format!(
                        "variable `{name}` must be text, a number or true/false, got {}",
                        show(v)
                    ))
                }),
                None => Err(invalid(format!(
                    "variable `{name}` is used in the template but not declared; \
                     add it to the variables"
                ))),
            };
        };
        if let Some(v) = given.filter(|v| !def.kind.is_unset(v)) {
            return def.kind.coerce(v).ok_or_else(|| {
                invalid(format!(
                    "variable `{name}` {}, got {}",
                    def.kind.expectation(),
                    show(v)
                ))
            });
        }
        match def.default.as_ref().filter(|v| !v.is_null()) {
            Some(d) => def.kind.coerce(d).ok_or_else(|| {
                invalid(format!(
                    "variable `{name}` has a default that {}; fix the variable",
                    def.kind.expectation()
                ))
            }),
            None if def.required => Err(invalid(format!("variable `{name}` is required"))),
            None => Ok(String::new()),
        }
    }
}

/// A run of template text: literal text, or a placeholder's variable name.
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits `text` into pieces in one left-to-right pass, calling `on` for each.
///
/// `\{{` yields a literal `{{` (the backslash is dropped); `{{ name }}` yields the name; any
/// other `{{` is text. Each byte is looked at a bounded number of times: a failed placeholder
/// stops at the first byte that cannot continue it, which is never part of a later `{{`.
fn scan<'a, E>(
    text: &'a str,
    mut on: impl FnMut(Piece<'a>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let bytes = text.as_bytes();
    // `start` is where pending literal text begins; `from` is where to look for the next `{{`.
    // Every split is next to an ASCII byte, so the slices stay on char boundaries.
    let (mut start, mut from) = (0, 0);
    while let Some(offset) = text.get(from..).and_then(|rest| rest.find("{{")) {
        let open = from + offset;
        if open > start && bytes.get(open - 1) == Some(&b'\\') {
            on(Piece::Text(&text[start..open - 1]))?;
            start = open;
            from = open + 2;
        } else if let Some((name, end)) = placeholder_at(bytes, open + 2) {
            on(Piece::Text(&text[start..open]))?;
            on(Piece::Var(&text[name.0..name.1]))?;
            start = end;
            from = end;
        } else {
            from = open + 1;
        }
    }
    on(Piece::Text(&text[start..]))
}

/// Matches `␠name␠}}` just after an opening `{{`: returns the name's byte span and the index
/// after the closing braces. Spaces and tabs around the name are optional.
fn placeholder_at(bytes: &[u8], at: usize) -> Option<((usize, usize), usize)> {
    let is_space = |i: usize| matches!(bytes.get(i), Some(b' ' | b'\t'));
    let is_name = |i: usize| {
        bytes
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    let mut i = at;
    while is_space(i) {
        i += 1;
    }
    let name_start = i;
    if !bytes
        .get(i)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return None;
    }
    while is_name(i) {
        i += 1;
    }
    let name_end = i;
    if name_end - name_start > MAX_NAME_LEN {
        return None;
    }
    while is_space(i) {
        i += 1;
    }
    (bytes.get(i..i + 2) == Some(b"}}")).then_some(((name_start, name_end), i + 2))
}

/// The boolean spellings forms and people send.
fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "1" => Some(true),
        "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Renders a JSON scalar for an undeclared placeholder; arrays and objects do not fit.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn invalid(message: String) -> Error {
    Error::invalid(FIELD, message)
}

/// A value as JSON, cut short for a message.
fn show(value: &Value) -> String {
    clip(&value.to_string())
}

/// At most [`SHOWN_CHARS`] characters of `s`, with `…` when cut.
fn clip(s: &str) -> String {
    if s.chars().count() <= SHOWN_CHARS {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(SHOWN_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;

/// Properties over generated templates: values are substituted once and never scanned again,
/// the names found are the names written, and no text makes rendering panic.
#[cfg(test)]
mod props {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// A piece of a generated template: literal text without braces, or a placeholder.
    #[derive(Clone, Debug)]
    enum Part {
        Text(String),
        Var(String),
    }

    fn part() -> impl Strategy<Value = Part> {
        prop_oneof![
            "[^{}\\\\]{0,12}".prop_map(Part::Text),
            "[a-c]".prop_map(Part::Var),
        ]
    }

    proptest! {
        #[test]
        fn values_are_substituted_literally_and_names_are_found_in_order(
            parts in vec(part(), 0..12),
            // Values that look like placeholders must stay as they are.
            a in "[{}a-z ]{0,10}",
            b in "\\{\\{[a-c]\\}\\}",
            c in ".{0,8}",
        ) {
            let values: Map<String, Value> = [("a", &a), ("b", &b), ("c", &c)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v.clone())))
                .collect();
            let mut text = String::new();
            let mut expected = String::new();
            let mut names: Vec<String> = Vec::new();
            for p in &parts {
                match p {
                    Part::Text(t) => {
                        text.push_str(t);
                        expected.push_str(t);
                    }
                    Part::Var(n) => {
                        text.push_str(&format!("{{{{{n}}}}}"));
                        expected.push_str(values[n.as_str()].as_str().unwrap());
                        if !names.contains(n) {
                            names.push(n.clone());
                        }
                    }
                }
            }
            prop_assert_eq!(render(&text, &[], &values).unwrap(), expected);
            prop_assert_eq!(used_variables(&[&text]), names);
        }

        #[test]
        fn any_text_renders_or_errs_without_panicking(text in ".{0,200}", value in ".{0,20}") {
            let values: Map<String, Value> =
                [("x".to_owned(), Value::String(value))].into_iter().collect();
            let defs = [VariableDef {
                name: "y".into(),
                kind: VarKind::Number,
                default: None,
                required: true,
                description: String::new(),
            }];
            let _ = render(&text, &defs, &values);
            let _ = used_variables(&[&text]);
        }
    }
}
