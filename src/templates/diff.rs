//! Line diffs between two versions, shaped for a side-by-side view.

use similar::{DiffTag, TextDiff};

use crate::domain::TemplateContent;

/// One row of a side-by-side diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffRow {
    /// Line number and text on the old side, if this row has one.
    pub left: Option<(usize, String)>,
    /// Line number and text on the new side, if this row has one.
    pub right: Option<(usize, String)>,
    /// Whether the two sides differ.
    pub changed: bool,
}

/// The side-by-side diff between two versions' texts, computed on the blocking pool (a large
/// diff takes a while and must not hold up the async runtime). Without `with_variables` the
/// variables are left out of the text (the web page shows them as a table, see [`variables`]).
pub async fn between(
    old: &crate::domain::TemplateContent,
    new: &crate::domain::TemplateContent,
    with_variables: bool,
) -> crate::error::Result<Vec<DiffRow>> {
    let (old, new) = (
        version_text(old, with_variables),
        version_text(new, with_variables),
    );
    tokio::task::spawn_blocking(move || side_by_side(&old, &new))
        .await
        .map_err(crate::error::Error::internal)
}

/// A version as plain text: the fields people compare, one section after another.
pub fn version_text(c: &TemplateContent, with_variables: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("Name: {}\n", c.name));
    out.push_str(&format!("Description: {}\n", c.description));
    out.push_str(&format!("Tags: {}\n", c.tags.join(", ")));
    out.push_str(&format!(
        "Model: {}\nTemperature: {}\nMax tokens: {}\n",
        c.model.model.as_deref().unwrap_or("-"),
        c.model
            .temperature
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into()),
        c.model
            .max_tokens
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into()),
    ));
    if c.chat.messages.is_empty() {
        out.push_str("\n--- System prompt ---\n");
        out.push_str(&c.system_prompt);
        out.push_str("\n\n--- User prompt ---\n");
        out.push_str(&c.user_prompt_template);
        out.push('\n');
    } else {
        for (i, m) in c.chat.messages.iter().enumerate() {
            out.push_str(&format!(
                "\n--- Message {} ({}) ---\n",
                i + 1,
                m.role.as_str()
            ));
            out.push_str(&m.content);
            out.push('\n');
        }
    }
    if with_variables {
        out.push_str("\n--- Variables ---\n");
        for v in &c.variables {
            out.push_str(&serde_json::to_string(v).unwrap_or_default());
            out.push('\n');
        }
    }
    // Tools and the schema pretty-printed, so a changed property is one changed line.
    for t in &c.chat.tools {
        out.push_str(&format!("\n--- Tool {} ---\n", t.name));
        if !t.description.is_empty() {
            out.push_str(&t.description);
            out.push('\n');
        }
        out.push_str(&serde_json::to_string_pretty(&t.parameters).unwrap_or_default());
        out.push('\n');
    }
    if let Some(r) = &c.chat.response_schema {
        out.push_str(&format!(
            "\n--- Response schema {}{} ---\n",
            r.name,
            if r.strict { " (strict)" } else { "" }
        ));
        out.push_str(&serde_json::to_string_pretty(&r.schema).unwrap_or_default());
        out.push('\n');
    }
    if !c.chat.params.is_empty() {
        out.push_str("\n--- Parameters ---\n");
        out.push_str(&serde_json::to_string_pretty(&c.chat.params).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// How one variable differs between two versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarDiff {
    /// The variable's name.
    pub name: String,
    /// Whether it was added, removed, changed or kept as it was.
    pub status: VarStatus,
    /// Its fields in [`VAR_FIELDS`] order, old and new as shown (`None` where a side lacks it).
    pub fields: Vec<(Option<String>, Option<String>)>,
}

/// What happened to a variable between two versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarStatus {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// In both, with some field different.
    Changed,
    /// In both, the same.
    Same,
}

/// The columns of a variables diff.
pub const VAR_FIELDS: [&str; 5] = ["Type", "Required", "Default", "Choices", "Help text"];

fn var_fields(v: &crate::domain::variables::VariableDef) -> [String; 5] {
    use crate::domain::variables::VarKind;
    let (kind, choices) = match &v.kind {
        VarKind::String => ("Short text", String::new()),
        VarKind::Text => ("Long text", String::new()),
        VarKind::Number => ("Number", String::new()),
        VarKind::Boolean => ("Yes / no", String::new()),
        VarKind::Enum { choices } => ("Choice", choices.join(", ")),
    };
    let default = match &v.default {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let required = if v.required { "Required" } else { "Optional" };
    [
        kind.to_owned(),
        required.to_owned(),
        default,
        choices,
        v.description.clone(),
    ]
}

/// The variables of two versions side by side, by name: the old version's order, then the
/// variables only the new one has.
pub fn variables(old: &TemplateContent, new: &TemplateContent) -> Vec<VarDiff> {
    let mut names: Vec<&str> = old.variables.iter().map(|v| v.name.as_str()).collect();
    for v in &new.variables {
        if !names.contains(&v.name.as_str()) {
            names.push(&v.name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let find =
                |c: &TemplateContent| c.variables.iter().find(|v| v.name == name).map(var_fields);
            let (a, b) = (find(old), find(new));
            let status = match (&a, &b) {
                (None, _) => VarStatus::Added,
                (_, None) => VarStatus::Removed,
                (Some(a), Some(b)) if a == b => VarStatus::Same,
                _ => VarStatus::Changed,
            };
            let fields = (0..VAR_FIELDS.len())
                .map(|i| {
                    (
                        a.as_ref().map(|f| f[i].clone()),
                        b.as_ref().map(|f| f[i].clone()),
                    )
                })
                .collect();
            VarDiff {
                name: name.to_owned(),
                status,
                fields,
            }
        })
        .collect()
}

/// The side-by-side line diff from `old` to `new`.
pub fn side_by_side(old: &str, new: &str) -> Vec<DiffRow> {
    // A diff of two large, unrelated texts can take minutes; past the deadline similar gives a
    // coarser (still correct) diff instead.
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_millis(300))
        .diff_lines(old, new);
    let old_lines: Vec<&str> = diff.old_slices().to_vec();
    let new_lines: Vec<&str> = diff.new_slices().to_vec();
    let line =
        |lines: &[&str], i: usize| (i + 1, lines[i].trim_end_matches(['\n', '\r']).to_owned());
    let mut rows = Vec::new();
    for op in diff.ops() {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => {
                for (o, n) in old_range.zip(new_range) {
                    rows.push(DiffRow {
                        left: Some(line(&old_lines, o)),
                        right: Some(line(&new_lines, n)),
                        changed: false,
                    });
                }
            }
            DiffTag::Delete | DiffTag::Insert | DiffTag::Replace => {
                let olds: Vec<usize> = old_range.collect();
                let news: Vec<usize> = new_range.collect();
                for i in 0..olds.len().max(news.len()) {
                    rows.push(DiffRow {
                        left: olds.get(i).map(|&o| line(&old_lines, o)),
                        right: news.get(i).map(|&n| line(&new_lines, n)),
                        changed: true,
                    });
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_changed_lines_and_keeps_numbers() {
        let rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n");
        assert_eq!(rows.len(), 4);
        assert!(!rows[0].changed);
        assert_eq!(rows[1].left, Some((2, "b".into())));
        assert_eq!(rows[1].right, Some((2, "B".into())));
        assert!(rows[1].changed);
        assert_eq!(rows[3].left, None);
        assert_eq!(rows[3].right, Some((4, "d".into())));
    }

    #[test]
    fn variables_line_up_by_name_with_their_changes() {
        let content = |vars: serde_json::Value| -> TemplateContent {
            serde_json::from_value(serde_json::json!({
                "name": "t", "user_prompt_template": "x", "variables": vars,
            }))
            .unwrap()
        };
        let old = content(serde_json::json!([
            {"name": "topic", "type": "string", "required": true},
            {"name": "tone", "type": "enum", "choices": ["dry", "warm"]},
            {"name": "gone", "type": "number"},
        ]));
        let new = content(serde_json::json!([
            {"name": "topic", "type": "string", "required": true},
            {"name": "tone", "type": "enum", "choices": ["dry", "warm", "wry"], "default": "dry"},
            {"name": "fresh", "type": "text", "description": "new"},
        ]));
        let d = variables(&old, &new);
        let names: Vec<_> = d.iter().map(|v| (v.name.as_str(), v.status)).collect();
        assert_eq!(
            names,
            [
                ("topic", VarStatus::Same),
                ("tone", VarStatus::Changed),
                ("gone", VarStatus::Removed),
                ("fresh", VarStatus::Added),
            ]
        );
        // Choices and default changed; type and required did not.
        let tone = &d[1].fields;
        assert_eq!(tone[0], (Some("Choice".into()), Some("Choice".into())));
        assert_eq!(tone[2], (Some(String::new()), Some("dry".into())));
        assert_eq!(
            tone[3],
            (Some("dry, warm".into()), Some("dry, warm, wry".into()))
        );
        assert_eq!(d[2].fields[0], (Some("Number".into()), None));
        // The text diff leaves variables out when asked to.
        assert!(!version_text(&new, false).contains("Variables"));
        assert!(version_text(&new, true).contains("\"fresh\""));
    }
}

/// Properties of the side-by-side diff: each side reads back as its text, and unchanged rows
/// hold the same line on both sides.
#[cfg(test)]
mod props {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn each_side_of_the_diff_is_its_text_and_unchanged_rows_match(
            old in vec("[abc ]{0,3}", 0..12),
            new in vec("[abc ]{0,3}", 0..12),
        ) {
            let (old, new) = (old.join("\n"), new.join("\n"));
            let rows = side_by_side(&old, &new);
            let side = |pick: fn(&DiffRow) -> &Option<(usize, String)>| -> (Vec<usize>, Vec<String>) {
                rows.iter().filter_map(|r| pick(r).clone()).unzip()
            };
            let (left_numbers, left) = side(|r| &r.left);
            let (right_numbers, right) = side(|r| &r.right);
            let lines = |s: &str| -> Vec<String> { s.lines().map(str::to_owned).collect() };
            prop_assert_eq!(left, lines(&old));
            prop_assert_eq!(right, lines(&new));
            prop_assert!(left_numbers.iter().copied().eq(1..=left_numbers.len()));
            prop_assert!(right_numbers.iter().copied().eq(1..=right_numbers.len()));
            for r in rows.iter().filter(|r| !r.changed) {
                prop_assert_eq!(r.left.as_ref().map(|l| &l.1), r.right.as_ref().map(|l| &l.1));
            }
        }
    }
}
