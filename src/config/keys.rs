//! The key tree behind the configuration: which keys exist (from the defaults), checking a
//! file's keys, typing environment values, and setting a dotted path.

use std::collections::BTreeMap;

use super::{Config, ConfigError};

/// The value type of each known key, from the defaults (every key has a default).
pub(super) fn known_keys() -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    if let Ok(toml::Value::Table(t)) = toml::Value::try_from(Config::default()) {
        collect_keys(&t, "", &mut out);
    }
    out
}

pub(super) fn collect_keys(
    t: &toml::Table,
    prefix: &str,
    out: &mut BTreeMap<String, &'static str>,
) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => {
                out.insert(key.clone(), "table");
                collect_keys(inner, &key, out);
            }
            toml::Value::Integer(_) => {
                out.insert(key, "integer");
            }
            toml::Value::Boolean(_) => {
                out.insert(key, "boolean");
            }
            toml::Value::Array(_) => {
                out.insert(key, "array");
            }
            _ => {
                out.insert(key, "string");
            }
        }
    }
}

pub(super) fn check_keys(
    t: &toml::Table,
    known: &BTreeMap<String, &'static str>,
    prefix: &str,
    origin: &str,
) -> Result<(), ConfigError> {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match known.get(&key) {
            None => {
                let siblings: Vec<&str> = known
                    .keys()
                    .filter(|other| {
                        let parent = other.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
                        parent == prefix
                    })
                    .map(String::as_str)
                    .collect();
                return Err(ConfigError::new(
                    origin,
                    &key,
                    format!("unknown key; known keys here: {}", siblings.join(", ")),
                ));
            }
            Some(&"table") => match v {
                toml::Value::Table(inner) => check_keys(inner, known, &key, origin)?,
                _ => return Err(ConfigError::new(origin, &key, "must be a [section]")),
            },
            Some(_) => {}
        }
    }
    Ok(())
}

/// Environment values are strings; give them the type the key has.
pub(super) fn typed_value(kind: &str, raw: &str) -> toml::Value {
    match kind {
        // A comma-separated list; numbers stay numbers.
        "array" => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>()
                        .map(toml::Value::Integer)
                        .unwrap_or_else(|_| toml::Value::String(s.to_owned()))
                })
                .collect(),
        ),
        "integer" => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(raw.to_owned())),
        "boolean" => match raw.trim() {
            "true" | "1" => toml::Value::Boolean(true),
            "false" | "0" => toml::Value::Boolean(false),
            _ => toml::Value::String(raw.to_owned()),
        },
        _ => toml::Value::String(raw.to_owned()),
    }
}

pub(super) fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            tree.insert(last.clone(), value);
        }
        [head, rest @ ..] => {
            let entry = tree
                .entry(head.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}
