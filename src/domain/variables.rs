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
mod tests {
    use serde_json::json;

    use super::*;

    fn def(name: &str, kind: VarKind) -> VariableDef {
        VariableDef {
            name: name.to_owned(),
            kind,
            default: None,
            required: false,
            description: String::new(),
        }
    }

    fn lang() -> VariableDef {
        def(
            "lang",
            VarKind::Enum {
                choices: vec!["rust".into(), "go".into()],
            },
        )
    }

    fn vals(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn ok(text: &str, defs: &[VariableDef], values: Value) -> String {
        render(text, defs, &vals(values)).unwrap()
    }

    fn err(text: &str, defs: &[VariableDef], values: Value) -> String {
        let e = render(text, defs, &vals(values)).unwrap_err();
        assert_eq!(e.field(), Some("variables"));
        e.to_string()
    }

    fn invalid_msg(d: &VariableDef) -> String {
        let e = d.validate().unwrap_err();
        assert_eq!(e.field(), Some("variables"));
        e.to_string()
    }

    #[test]
    fn rendering_stops_at_the_size_cap() {
        let defs = vec![VariableDef {
            name: "a".into(),
            kind: VarKind::Text,
            default: None,
            required: true,
            description: String::new(),
        }];
        let mut values = Map::new();
        values.insert("a".into(), Value::String("x".repeat(4096)));
        let text = "{{a}}".repeat(50_000);
        let err = render(&text, &defs, &values).expect_err("capped");
        assert!(err.to_string().contains("larger than 8 MiB"), "{err}");
        let nul = VariableDef {
            default: Some(Value::String("a\u{0}b".into())),
            ..defs[0].clone()
        };
        assert!(nul.validate().is_err());
    }

    #[test]
    fn json_shape_is_flat_and_round_trips() {
        let raw = r#"{"name":"lang","type":"enum","choices":["rust","go"],"default":"rust","required":true,"description":"d"}"#;
        let d: VariableDef = serde_json::from_str(raw).unwrap();
        assert_eq!(d.kind, lang().kind);
        assert_eq!(d.default, Some(json!("rust")));
        assert!(d.required);
        let back: Value = serde_json::to_value(&d).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(raw).unwrap());

        let minimal: VariableDef = serde_json::from_str(r#"{"name":"n","type":"number"}"#).unwrap();
        assert_eq!(minimal, def("n", VarKind::Number));
        assert!(serde_json::from_str::<VariableDef>(r#"{"name":"n","type":"date"}"#).is_err());
    }

    #[test]
    fn substitutes_with_and_without_spaces() {
        let defs = [def("name", VarKind::String), def("x_1", VarKind::String)];
        let v = json!({"name": "Ada", "x_1": "!"});
        assert_eq!(ok("Hi {{name}}{{x_1}}", &defs, v.clone()), "Hi Ada!");
        assert_eq!(
            ok("Hi {{ name }} {{\tx_1  }}", &defs, v.clone()),
            "Hi Ada !"
        );
        assert_eq!(ok("{{name}}{{name}}{{name}}", &defs, v), "AdaAdaAda");
    }

    #[test]
    fn unicode_and_emoji_around_placeholders() {
        let defs = [def("who", VarKind::String)];
        let v = json!({"who": "世界🌍"});
        assert_eq!(ok("héllo {{who}}🎉ü", &defs, v.clone()), "héllo 世界🌍🎉ü");
        assert_eq!(ok("🎉{{who}}", &defs, v.clone()), "🎉世界🌍");
        assert_eq!(ok("{{ wh\u{f6} }}", &defs, v), "{{ wh\u{f6} }}");
    }

    #[test]
    fn escape_renders_literal_braces() {
        let defs = [def("name", VarKind::String)];
        let v = json!({"name": "Ada"});
        assert_eq!(ok(r"\{{name}}", &defs, v.clone()), "{{name}}");
        assert_eq!(
            ok(r"a \{{name}} b {{name}}", &defs, v.clone()),
            "a {{name}} b Ada"
        );
        assert_eq!(ok(r"\{{", &defs, v.clone()), "{{");
        assert_eq!(ok(r"\{ {{name}}\", &defs, v.clone()), r"\{ Ada\");
        assert!(used_variables(&[r"\{{name}}"]).is_empty());
    }

    #[test]
    fn malformed_braces_stay_literal() {
        let defs = [def("a", VarKind::String)];
        let v = json!({"a": "A"});
        for text in [
            "{{ not valid! }}",
            "{{",
            "{{a",
            "{{a}",
            "{a}}",
            "{ {a}}",
            "}}{{",
            "{{1a}}",
            "{{}}",
            "{{ }}",
            "{{a b}}",
            "{{a\n}}",
        ] {
            assert_eq!(ok(text, &defs, v.clone()), text, "{text:?}");
        }
        assert_eq!(ok("{{{a}}}", &defs, v.clone()), "{A}");
        assert_eq!(ok("{{{{a}}", &defs, v.clone()), "{{A");
        assert_eq!(ok("{{ oops {{a}}", &defs, v), "{{ oops A");
        let long = format!("{{{{{}}}}}", "a".repeat(65));
        assert_eq!(ok(&long, &defs, json!({})), long);
        assert!(used_variables(&["{{ not valid! }} {{ ok }}"]) == ["ok"]);
    }

    #[test]
    fn substituted_values_are_not_rescanned() {
        let defs = [def("a", VarKind::Text), def("b", VarKind::String)];
        let v = json!({"a": "{{b}} and \\{{b}}", "b": "B"});
        assert_eq!(ok("{{a}}|{{b}}", &defs, v), r"{{b}} and \{{b}}|B");
    }

    #[test]
    fn string_and_text_accept_only_strings() {
        let defs = [def("s", VarKind::String), def("t", VarKind::Text)];
        assert_eq!(
            ok("{{s}}/{{t}}", &defs, json!({"s": "a\nb", "t": "c\nd"})),
            "a\nb/c\nd"
        );
        assert_eq!(ok("[{{s}}]", &defs, json!({"s": ""})), "[]");
        assert_eq!(
            err("{{s}}", &defs, json!({"s": 5})),
            "variable `s` must be a string, got 5"
        );
        assert_eq!(
            err("{{t}}", &defs, json!({"t": [1]})),
            "variable `t` must be text, got [1]"
        );
    }

    #[test]
    fn numbers_accept_json_numbers_and_numeric_strings() {
        let defs = [def("n", VarKind::Number)];
        let r = |v: Value| render("{{n}}", &defs, &vals(json!({ "n": v })));
        assert_eq!(r(json!(3)).unwrap(), "3");
        assert_eq!(r(json!(2.5)).unwrap(), "2.5");
        assert_eq!(r(json!(-7)).unwrap(), "-7");
        assert_eq!(r(json!(" 42 ")).unwrap(), "42");
        assert_eq!(r(json!("1e3")).unwrap(), "1e3");
        for bad in ["abc", "inf", "NaN", "1e999", "3 apples"] {
            assert!(r(json!(bad)).is_err(), "{bad}");
        }
        assert!(r(json!(true)).is_err());
        assert_eq!(
            err("{{n}}", &defs, json!({"n": "abc"})),
            r#"variable `n` must be a number, got "abc""#
        );
    }

    #[test]
    fn booleans_accept_json_and_form_spellings() {
        let defs = [def("b", VarKind::Boolean)];
        let r = |v: Value| render("{{b}}", &defs, &vals(json!({ "b": v })));
        for (given, want) in [
            (json!(true), "true"),
            (json!(false), "false"),
            (json!("true"), "true"),
            (json!("off"), "false"),
            (json!("on"), "true"),
            (json!("1"), "true"),
            (json!("0"), "false"),
            (json!("FALSE"), "false"),
        ] {
            assert_eq!(r(given.clone()).unwrap(), want, "{given}");
        }
        assert!(r(json!(1)).is_err());
        assert_eq!(
            err("{{b}}", &defs, json!({"b": "yes"})),
            r#"variable `b` must be true or false, got "yes""#
        );
    }

    #[test]
    fn enums_accept_only_their_choices() {
        let defs = [lang()];
        assert_eq!(ok("{{lang}}", &defs, json!({"lang": "go"})), "go");
        assert_eq!(
            err("{{lang}}", &defs, json!({"lang": "cobol"})),
            r#"variable `lang` must be one of `rust`, `go`, got "cobol""#
        );
        assert!(render("{{lang}}", &defs, &vals(json!({"lang": "Rust"}))).is_err());
        assert!(render("{{lang}}", &defs, &vals(json!({"lang": 1}))).is_err());
    }

    #[test]
    fn long_bad_values_are_clipped_in_messages() {
        let defs = [def("n", VarKind::Number)];
        let msg = err("{{n}}", &defs, json!({"n": "x".repeat(1000)}));
        let shown = msg.trim_start_matches("variable `n` must be a number, got ");
        assert_eq!(shown.chars().count(), 40);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn defaults_required_and_missing_values() {
        let mut lang = lang();
        lang.default = Some(json!("rust"));
        let mut n = def("n", VarKind::Number);
        n.default = Some(json!(3));
        let mut req = def("req", VarKind::String);
        req.required = true;
        let opt = def("opt", VarKind::Boolean);
        let defs = [lang, n, req, opt];

        let text = "{{lang}} {{n}} {{req}} [{{opt}}]";
        assert_eq!(ok(text, &defs, json!({"req": "r"})), "rust 3 r []");
        assert_eq!(
            ok(
                text,
                &defs,
                json!({"req": "r", "lang": null, "n": "", "opt": " "})
            ),
            "rust 3 r []"
        );
        assert_eq!(
            ok(
                text,
                &defs,
                json!({"req": "r", "lang": "go", "n": 4.5, "opt": "on"})
            ),
            "go 4.5 r [true]"
        );
        assert_eq!(err(text, &defs, json!({})), "variable `req` is required");
        assert_eq!(
            err(text, &defs, json!({"req": null})),
            "variable `req` is required"
        );
        // Declared but unused: no error even when required.
        assert_eq!(ok("plain", &defs, json!({"unused": [1]})), "plain");
    }

    #[test]
    fn undeclared_placeholders_take_values_or_fail() {
        let defs = [def("a", VarKind::String)];
        assert_eq!(
            ok(
                "{{x}} {{y}} {{z}} {{a}}",
                &defs,
                json!({"x": "s", "y": 2, "z": false, "a": "A"})
            ),
            "s 2 false A"
        );
        assert_eq!(
            err("{{a}} {{x}}", &defs, json!({"a": "A"})),
            "variable `x` is used in the template but not declared; add it to the variables"
        );
        assert!(render("{{x}}", &defs, &vals(json!({"x": null}))).is_err());
        assert!(render("{{x}}", &defs, &vals(json!({"x": {"k": 1}}))).is_err());
    }

    #[test]
    fn used_and_undeclared_keep_first_appearance_order() {
        let texts = ["{{ b }} {{a}} {{b}}", r"{{c}} \{{d}} {{a}} {{e}}"];
        assert_eq!(used_variables(&texts), ["b", "a", "c", "e"]);
        let defs = [def("a", VarKind::String), def("zzz", VarKind::Text)];
        assert_eq!(undeclared(&texts, &defs), ["b", "c", "e"]);
        assert!(undeclared(&["no placeholders"], &defs).is_empty());
    }

    #[test]
    fn render_all_shares_values() {
        let defs = [def("a", VarKind::String)];
        let out = render_all(
            &["sys {{a}}", "user {{a}}"],
            &defs,
            &vals(json!({"a": "A"})),
        );
        assert_eq!(out.unwrap(), ["sys A", "user A"]);
        assert!(render_all(&["ok", "{{b}}"], &defs, &Map::new()).is_err());
    }

    #[test]
    fn megabyte_template_renders() {
        let defs = [def("a", VarKind::String)];
        let chunk = "lorem {{a}} ipsum {{ {{{ \\{{a}} {{ not valid! }} ";
        let text = chunk.repeat(1 << 20 >> 5);
        assert!(text.len() >= 1 << 20);
        let out = ok(&text, &defs, json!({"a": "{{a}}"}));
        assert!(out.starts_with("lorem {{a}} ipsum {{ {{{ {{a}} {{ not valid! }} lorem"));
        let braces = "{".repeat(1 << 20);
        assert_eq!(ok(&braces, &defs, json!({})), braces);
        let spaces = format!("{{{{{}x", " ".repeat(1 << 20));
        assert_eq!(ok(&spaces, &defs, json!({})), spaces);
    }

    #[test]
    fn validate_accepts_good_defs() {
        let mut l = lang();
        l.default = Some(json!("go"));
        l.description = "Which language\nto use".into();
        let mut n = def("_N9", VarKind::Number);
        n.default = Some(json!(1.5));
        let mut b = def("b", VarKind::Boolean);
        b.default = Some(Value::Null);
        let long = def(&"x".repeat(64), VarKind::Text);
        validate_defs(&[l, n, b, long]).unwrap();
        validate_defs(&[]).unwrap();
    }

    #[test]
    fn validate_names_the_variable() {
        assert!(invalid_msg(&def("9a", VarKind::Text)).starts_with("variable `9a`: a name"));
        assert!(invalid_msg(&def("a-b", VarKind::Text)).starts_with("variable `a-b`"));
        assert!(invalid_msg(&def(&"x".repeat(65), VarKind::Text)).contains("at most 64"));
        assert_eq!(
            invalid_msg(&def("", VarKind::Text)),
            "a variable has no name"
        );

        let mut d = lang();
        d.default = Some(json!("cobol"));
        assert_eq!(
            invalid_msg(&d),
            "variable `lang`: the default `cobol` is not one of the choices"
        );
        let mut d = def("n", VarKind::Number);
        d.default = Some(json!("3"));
        assert_eq!(
            invalid_msg(&d),
            r#"variable `n`: the default must be a number, got "3""#
        );
        let mut d = def("b", VarKind::Boolean);
        d.default = Some(json!("true"));
        assert!(invalid_msg(&d).starts_with("variable `b`: the default must be true or false"));
        let mut d = def("s", VarKind::String);
        d.default = Some(json!(1));
        assert!(invalid_msg(&d).starts_with("variable `s`: the default must be a string"));

        let mut d = def("s", VarKind::String);
        d.description = "d".repeat(501);
        assert!(invalid_msg(&d).starts_with("variable `s`: the description is longer"));
    }

    #[test]
    fn validate_checks_enum_choices() {
        let choices = |c: Vec<String>| def("e", VarKind::Enum { choices: c });
        let msg = |c: Vec<&str>| invalid_msg(&choices(c.into_iter().map(String::from).collect()));
        assert!(msg(vec![]).contains("at least one choice"));
        assert!(msg(vec!["a", ""]).contains("a choice is empty"));
        assert!(msg(vec!["a", "b", "a"]).contains("the choice `a` is listed twice"));
        assert!(msg(vec!["a\u{7}"]).contains("control characters"));
        assert!(msg(vec![&"c".repeat(101)]).contains("longer than 100"));
        let many: Vec<String> = (0..51).map(|i| format!("c{i}")).collect();
        assert!(invalid_msg(&choices(many)).contains("at most 50 choices"));
        let fifty: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
        choices(fifty).validate().unwrap();
        choices(vec!["c".repeat(100)]).validate().unwrap();
    }

    #[test]
    fn validate_defs_checks_duplicates_and_count() {
        let e = validate_defs(&[lang(), def("x", VarKind::Text), lang()]).unwrap_err();
        assert_eq!(e.to_string(), "variable `lang` is declared more than once");
        let many: Vec<VariableDef> = (0..51)
            .map(|i| def(&format!("v{i}"), VarKind::Text))
            .collect();
        assert!(
            validate_defs(&many)
                .unwrap_err()
                .to_string()
                .contains("at most 50")
        );
        validate_defs(&many[..50]).unwrap();
        let e = validate_defs(&[lang(), def("bad name", VarKind::Text)]).unwrap_err();
        assert!(e.to_string().starts_with("variable `bad name`"));
    }
}
