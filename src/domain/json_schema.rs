//! JSON Schemas as callers and templates give them: a tool's parameters or a response format
//! is checked against the JSON Schema meta-schema before it is used or saved, and an answer can
//! be checked against its schema. References are resolved only inside the schema itself (no
//! file or network access).

use serde_json::Value;

use crate::error::{Error, Result};

/// Checks that `schema` is a valid JSON Schema object; the error names `field`.
pub fn check_schema(field: &str, schema: &Value) -> Result<()> {
    if !schema.is_object() {
        return Err(Error::invalid(field, "a JSON Schema must be a JSON object"));
    }
    if let Err(e) = jsonschema::meta::validate(schema) {
        let at = e.instance_path().to_string();
        let place = if at.is_empty() {
            String::new()
        } else {
            format!(" at {at}")
        };
        return Err(Error::invalid(
            field,
            format!("not a valid JSON Schema{place}: {e}"),
        ));
    }
    if let Err(e) = jsonschema::validator_for(schema) {
        return Err(Error::invalid(
            field,
            format!("the schema cannot be used: {e}"),
        ));
    }
    Ok(())
}

/// Whether `text` is JSON that follows `schema`: `Ok(())`, or the first problem in words.
pub fn check_answer(schema: &Value, text: &str) -> std::result::Result<(), String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the answer is not JSON ({e})"))?;
    let validator =
        jsonschema::validator_for(schema).map_err(|e| format!("the schema cannot be used: {e}"))?;
    match validator.iter_errors(&value).next() {
        None => Ok(()),
        Some(e) => {
            let at = e.instance_path().to_string();
            Err(if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_are_checked_against_the_meta_schema() {
        assert!(
            check_schema(
                "s",
                &json!({"type": "object", "properties": {"a": {"type": "string"}}})
            )
            .is_ok()
        );
        let e =
            check_schema("tools[0].function.parameters", &json!({"type": "objekt"})).unwrap_err();
        assert_eq!(e.field(), Some("tools[0].function.parameters"));
        assert!(e.to_string().contains("not a valid JSON Schema"), "{e}");
        assert!(check_schema("s", &json!("object")).is_err());
    }

    #[test]
    fn answers_are_checked_against_their_schema() {
        let s =
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        assert!(check_answer(&s, r#"{"n": 3}"#).is_ok());
        assert!(
            check_answer(&s, r#"{"n": "x"}"#)
                .unwrap_err()
                .contains("/n")
        );
        assert!(check_answer(&s, "prose").unwrap_err().contains("not JSON"));
    }
}
