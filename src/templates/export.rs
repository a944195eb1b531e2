//! Import and export of templates as JSON: one template with all its versions and labels, or a
//! whole workspace. Imports make new templates (new ids); nothing existing is overwritten.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Templates;
use crate::domain::template::validate_message;
use crate::domain::{NewAuditEvent, Template, TemplateContent, User, WorkspaceId};
use crate::error::{Error, Result};

/// The format marker written into every export.
pub const FORMAT: &str = "promptyard.templates.v1";
/// Most templates one import takes.
pub const MAX_TEMPLATES: usize = 500;

/// An export file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportDoc {
    /// Always [`FORMAT`].
    pub format: String,
    /// The templates.
    pub templates: Vec<ExportedTemplate>,
}

/// One template with its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedTemplate {
    /// Name of the latest version (for people reading the file).
    pub name: String,
    /// Every version, oldest first.
    pub versions: Vec<ExportedVersion>,
    /// Label -> version number.
    #[serde(default)]
    pub labels: BTreeMap<String, u32>,
}

/// One version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedVersion {
    /// Number, from 1.
    pub version: u32,
    /// The version message.
    #[serde(default)]
    pub message: String,
    /// The content.
    #[serde(flatten)]
    pub content: TemplateContent,
}

impl Templates {
    /// Exports `templates` with all their versions.
    pub async fn export(&self, templates: &[Template]) -> Result<ExportDoc> {
        let mut out = Vec::with_capacity(templates.len());
        for t in templates {
            let mut versions = self.store.list_versions(t.id).await?;
            versions.reverse();
            out.push(ExportedTemplate {
                name: t.name.clone(),
                versions: versions
                    .into_iter()
                    .map(|v| ExportedVersion {
                        version: v.version,
                        message: v.message,
                        content: v.content,
                    })
                    .collect(),
                labels: t.labels.clone(),
            });
        }
        Ok(ExportDoc {
            format: FORMAT.to_owned(),
            templates: out,
        })
    }

    /// Imports every template of `doc` into `workspace`, checking the whole file first so a
    /// bad file imports nothing.
    pub async fn import(
        &self,
        actor: &User,
        workspace: WorkspaceId,
        doc: ExportDoc,
        production_allowed: super::ProductionAllowed,
        ip: Option<String>,
    ) -> Result<Vec<Template>> {
        if doc.format != FORMAT {
            return Err(Error::invalid(
                "format",
                format!("this is not a Promptyard export (format `{FORMAT}` expected)"),
            ));
        }
        if doc.templates.is_empty() || doc.templates.len() > MAX_TEMPLATES {
            return Err(Error::invalid(
                "templates",
                format!("an import holds 1 to {MAX_TEMPLATES} templates"),
            ));
        }
        let mut checked = Vec::with_capacity(doc.templates.len());
        for (i, t) in doc.templates.into_iter().enumerate() {
            let at = |e: Error| match e {
                Error::Invalid { field, message } => Error::Invalid {
                    field,
                    message: format!("template {} ({}): {message}", i + 1, t.name),
                },
                other => other,
            };
            if t.versions.is_empty() {
                return Err(at(Error::invalid("versions", "it has no versions")));
            }
            let mut versions = Vec::with_capacity(t.versions.len());
            for (n, v) in t.versions.iter().enumerate() {
                if v.version as usize != n + 1 {
                    return Err(at(Error::invalid(
                        "versions",
                        format!(
                            "versions must be numbered 1, 2, 3... in order; found {}",
                            v.version
                        ),
                    )));
                }
                let content = v.content.clone().validated().map_err(at)?;
                versions.push((content, validate_message(&v.message).map_err(at)?));
            }
            let mut labels = Vec::new();
            for (label, n) in &t.labels {
                let label = super::checked_label(label, production_allowed)?;
                if *n == 0 || *n as usize > versions.len() {
                    return Err(at(Error::invalid(
                        "labels",
                        format!("label `{label}` points at version {n}, which does not exist"),
                    )));
                }
                labels.push((label, *n));
            }
            checked.push((versions, labels));
        }
        let mut created = Vec::with_capacity(checked.len());
        for (versions, labels) in checked {
            let audit = NewAuditEvent::new(Some(actor.id), "template.import")
                .ip(ip.clone())
                .workspace(workspace);
            let t = self
                .store
                .import_template(Some(workspace), versions, labels, Some(actor.id), audit)
                .await?;
            created.push(t);
        }
        Ok(created)
    }
}
