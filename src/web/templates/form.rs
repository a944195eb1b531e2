//! The template editor's form: what it posts, and how that becomes a `TemplateContent`.
//! Variables arrive as rows of repeated fields (`var_name`, `var_type`, ...).

use serde::Deserialize;
use serde_json::Value;

use crate::domain::template_chat::ChatParts;
use crate::domain::variables::{VarKind, VariableDef};
use crate::domain::{ModelDefaults, TemplateContent};
use crate::error::{Error, Result};

/// What the editor posts.
#[derive(Deserialize, Default, Clone)]
pub struct TemplateForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Comma-separated.
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default)]
    pub user_prompt_template: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub temperature: String,
    #[serde(default)]
    pub max_tokens: String,
    #[serde(default)]
    pub message: String,
    /// The version the edit started from (editing only).
    #[serde(default)]
    pub base_version: String,
    #[serde(default)]
    pub var_name: Vec<String>,
    #[serde(default)]
    pub var_type: Vec<String>,
    #[serde(default)]
    pub var_choices: Vec<String>,
    #[serde(default)]
    pub var_default: Vec<String>,
    #[serde(default)]
    pub var_required: Vec<String>,
    #[serde(default)]
    pub var_description: Vec<String>,
    /// Messages, tools, response schema and further parameters as JSON (empty: none).
    #[serde(default)]
    pub chat: String,
}

/// One variable row as the editor shows it.
#[derive(Clone, Debug, Default)]
pub struct VarRow {
    pub name: String,
    pub kind: String,
    pub choices: String,
    pub default: String,
    pub required: bool,
    pub description: String,
}

impl VarRow {
    /// The row for a declared variable.
    pub fn from_def(v: &VariableDef) -> Self {
        let (kind, choices) = match &v.kind {
            VarKind::String => ("string", String::new()),
            VarKind::Text => ("text", String::new()),
            VarKind::Number => ("number", String::new()),
            VarKind::Boolean => ("boolean", String::new()),
            VarKind::Enum { choices } => ("enum", choices.join("\n")),
        };
        let default = match &v.default {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => {
                if *b {
                    "true".into()
                } else {
                    "false".into()
                }
            }
            Some(other) => other.to_string(),
        };
        Self {
            name: v.name.clone(),
            kind: kind.to_owned(),
            choices,
            default,
            required: v.required,
            description: v.description.clone(),
        }
    }

    fn to_def(&self) -> Result<VariableDef> {
        let bad =
            |msg: String| Error::invalid("variables", format!("variable `{}`: {msg}", self.name));
        let kind = match self.kind.as_str() {
            "string" | "" => VarKind::String,
            "text" => VarKind::Text,
            "number" => VarKind::Number,
            "boolean" => VarKind::Boolean,
            "enum" => VarKind::Enum {
                // One choice per line, so a choice may contain a comma.
                choices: self
                    .choices
                    .split('\n')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            other => return Err(bad(format!("unknown type `{other}`"))),
        };
        let d = self.default.trim();
        let default = if d.is_empty() {
            None
        } else {
            Some(match kind {
                // As typed: `3` stays an integer and renders as `3`, not `3.0`.
                VarKind::Number => serde_json::from_str::<serde_json::Number>(d)
                    .map(Value::Number)
                    .map_err(|_| bad(format!("the default `{d}` is not a number")))?,
                VarKind::Boolean => match d {
                    "true" | "yes" | "on" | "1" => Value::Bool(true),
                    "false" | "no" | "off" | "0" => Value::Bool(false),
                    _ => return Err(bad(format!("the default `{d}` is not true or false"))),
                },
                _ => Value::String(self.default.clone()),
            })
        };
        Ok(VariableDef {
            name: self.name.trim().to_owned(),
            kind,
            default,
            required: self.required,
            description: self.description.trim().to_owned(),
        })
    }
}

impl TemplateForm {
    /// The form filled from a version, for editing.
    pub fn from_content(c: &TemplateContent, base_version: Option<u32>) -> Self {
        let rows: Vec<VarRow> = c.variables.iter().map(VarRow::from_def).collect();
        Self {
            name: c.name.clone(),
            description: c.description.clone(),
            tags: c.tags.join(", "),
            system_prompt: c.system_prompt.clone(),
            user_prompt_template: c.user_prompt_template.clone(),
            model: c.model.model.clone().unwrap_or_default(),
            temperature: c
                .model
                .temperature
                .map(|t| t.to_string())
                .unwrap_or_default(),
            max_tokens: c
                .model
                .max_tokens
                .map(|t| t.to_string())
                .unwrap_or_default(),
            message: String::new(),
            base_version: base_version.map(|v| v.to_string()).unwrap_or_default(),
            var_name: rows.iter().map(|r| r.name.clone()).collect(),
            var_type: rows.iter().map(|r| r.kind.clone()).collect(),
            var_choices: rows.iter().map(|r| r.choices.clone()).collect(),
            var_default: rows.iter().map(|r| r.default.clone()).collect(),
            var_required: rows
                .iter()
                .map(|r| if r.required { "yes" } else { "no" }.to_owned())
                .collect(),
            var_description: rows.iter().map(|r| r.description.clone()).collect(),
            chat: if c.chat.is_empty() {
                String::new()
            } else {
                serde_json::to_string_pretty(&c.chat).unwrap_or_default()
            },
        }
    }

    /// The variable rows as posted; rows without a name are blank rows and skipped.
    pub fn rows(&self) -> Vec<VarRow> {
        let get = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
        (0..self.var_name.len())
            .map(|i| VarRow {
                name: get(&self.var_name, i),
                kind: get(&self.var_type, i),
                choices: get(&self.var_choices, i),
                default: get(&self.var_default, i),
                required: get(&self.var_required, i) == "yes",
                description: get(&self.var_description, i),
            })
            .filter(|r| !r.name.trim().is_empty())
            .collect()
    }

    /// The content this form describes (not yet validated).
    pub fn content(&self) -> Result<TemplateContent> {
        let temperature = match self.temperature.trim() {
            "" => None,
            t => Some(t.parse::<f64>().map_err(|_| {
                Error::invalid(
                    "temperature",
                    "temperature must be a number between 0 and 2",
                )
            })?),
        };
        let max_tokens =
            match self.max_tokens.trim() {
                "" => None,
                t => Some(t.parse::<u32>().map_err(|_| {
                    Error::invalid("max_tokens", "max tokens must be a whole number")
                })?),
            };
        let variables = self
            .rows()
            .iter()
            .map(VarRow::to_def)
            .collect::<Result<Vec<_>>>()?;
        let chat: ChatParts = match self.chat.trim() {
            "" => ChatParts::default(),
            json => serde_json::from_str(json).map_err(|e| {
                Error::invalid(
                    "chat",
                    format!("the messages, tools and schema are not valid JSON of that shape: {e}"),
                )
            })?,
        };
        Ok(TemplateContent {
            name: self.name.clone(),
            description: self.description.clone(),
            tags: self.tags.split(',').map(str::to_owned).collect(),
            system_prompt: self.system_prompt.clone(),
            user_prompt_template: self.user_prompt_template.clone(),
            variables,
            model: ModelDefaults {
                model: Some(self.model.clone()),
                temperature,
                max_tokens,
            },
            chat,
        })
    }

    /// The base version the edit started from.
    pub fn base_version(&self) -> Result<u32> {
        self.base_version.trim().parse().map_err(|_| {
            Error::invalid(
                "base_version",
                "the form lost track of the version it edits; reload the page",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_default_keeps_the_form_it_was_typed_in() {
        for (typed, rendered) in [("3", "3"), ("2.5", "2.5"), ("-1", "-1")] {
            let row = VarRow {
                name: "n".into(),
                kind: "number".into(),
                default: typed.into(),
                ..VarRow::default()
            };
            let def = row.to_def().unwrap();
            assert_eq!(def.default.as_ref().unwrap().to_string(), rendered);
            assert_eq!(VarRow::from_def(&def).default, typed);
        }
        let bad = VarRow {
            name: "n".into(),
            kind: "number".into(),
            default: "three".into(),
            ..VarRow::default()
        };
        assert!(bad.to_def().is_err());
    }
}
