//! The built-in system templates, embedded in the binary from `src/templates/system/*.json`.

use rust_embed::RustEmbed;

use crate::domain::TemplateContent;
use crate::error::{Error, Result};

#[derive(RustEmbed)]
#[folder = "src/templates/system/"]
#[include = "*.json"]
struct Builtin;

/// Every built-in template, validated, in file-name order.
pub fn builtin() -> Result<Vec<TemplateContent>> {
    let mut names: Vec<_> = Builtin::iter().collect();
    names.sort();
    names
        .iter()
        .filter_map(|name| Builtin::get(name).map(|f| (name, f)))
        .map(|(name, file)| {
            let content: TemplateContent = serde_json::from_slice(&file.data)
                .map_err(|e| Error::internal(format!("built-in template {name}: {e}")))?;
            content
                .validated()
                .map_err(|e| Error::internal(format!("built-in template {name}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::variables::{render_all, undeclared, used_variables};

    #[test]
    fn builtin_templates_are_valid_and_complete() {
        let all = builtin().unwrap();
        assert!(all.len() >= 10, "{}", all.len());
        for t in &all {
            assert!(
                undeclared(&t.texts(), &t.variables).is_empty(),
                "{}",
                t.name
            );
            let used = used_variables(&t.texts());
            for v in &t.variables {
                assert!(
                    used.contains(&v.name),
                    "{}: `{}` is declared but unused",
                    t.name,
                    v.name
                );
            }
            // Rendering with every required variable filled works.
            let mut values = serde_json::Map::new();
            for v in t.variables.iter().filter(|v| v.required) {
                let sample = match &v.kind {
                    crate::domain::variables::VarKind::Number => serde_json::json!(3),
                    crate::domain::variables::VarKind::Boolean => serde_json::json!(true),
                    crate::domain::variables::VarKind::Enum { choices } => {
                        serde_json::json!(choices[0])
                    }
                    _ => serde_json::json!("sample"),
                };
                values.insert(v.name.clone(), sample);
            }
            render_all(&t.texts(), &t.variables, &values).unwrap();
        }
    }
}
