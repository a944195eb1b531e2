//! Templates in redb: the template record, an index by workspace (0 for system templates), and
//! versions keyed by (template, number). Versions are never rewritten.

use std::collections::BTreeMap;

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};
use time::OffsetDateTime;

use super::{
    META, RedbStore, TEMPLATES, TEMPLATES_BY_WORKSPACE, VERSIONS, WORKSPACES, append_change,
    audit::insert_audit, decode, encode,
};
use crate::domain::{
    ChangeKind, NewAuditEvent, NewTemplate, SaveOutcome, Template, TemplateContent, TemplateId,
    TemplateVersion, UserId, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::store::TemplateStore;

const SEEDED_KEY: &str = "system_templates_seeded";

fn ws_key(ws: Option<WorkspaceId>) -> u128 {
    ws.map(|w| w.0.as_u128()).unwrap_or(0)
}

fn read_template(txn: &WriteTransaction, id: TemplateId) -> Result<Template> {
    let table = txn.open_table(TEMPLATES)?;
    let v = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
    decode(v.value())
}

fn write_template(txn: &WriteTransaction, t: &Template) -> Result<()> {
    txn.open_table(TEMPLATES)?
        .insert(t.id.0.as_u128(), encode(t)?.as_slice())?;
    append_change(txn, ChangeKind::Template, t.id.to_string())
}

fn write_version(txn: &WriteTransaction, v: &TemplateVersion) -> Result<()> {
    txn.open_table(VERSIONS)?.insert(
        (v.template_id.0.as_u128(), v.version),
        encode(v)?.as_slice(),
    )?;
    Ok(())
}

fn check_workspace(txn: &WriteTransaction, ws: Option<WorkspaceId>) -> Result<()> {
    if let Some(w) = ws
        && txn.open_table(WORKSPACES)?.get(w.0.as_u128())?.is_none()
    {
        return Err(Error::NotFound);
    }
    Ok(())
}

/// Inserts a template with its versions (numbered from 1) inside `txn`.
fn insert_template(
    txn: &WriteTransaction,
    now: OffsetDateTime,
    workspace_id: Option<WorkspaceId>,
    versions: Vec<(TemplateContent, String)>,
    labels: BTreeMap<String, u32>,
    author: Option<UserId>,
) -> Result<(Template, TemplateVersion)> {
    check_workspace(txn, workspace_id)?;
    let id = TemplateId::new();
    let mut last = None;
    for (i, (content, message)) in versions.into_iter().enumerate() {
        let v = TemplateVersion {
            template_id: id,
            version: u32::try_from(i + 1).map_err(Error::internal)?,
            content,
            message,
            author,
            created_at: now,
        };
        write_version(txn, &v)?;
        last = Some(v);
    }
    let last = last.ok_or_else(|| Error::invalid("versions", "a template needs a version"))?;
    if let Some((label, n)) = labels.iter().find(|(_, n)| **n == 0 || **n > last.version) {
        return Err(Error::invalid(
            "labels",
            format!("label `{label}` points at version {n}, which does not exist"),
        ));
    }
    let t = Template {
        id,
        workspace_id,
        name: last.content.name.clone(),
        description: last.content.description.clone(),
        tags: last.content.tags.clone(),
        latest_version: last.version,
        labels,
        created_by: author,
        created_at: now,
        updated_at: now,
    };
    txn.open_table(TEMPLATES_BY_WORKSPACE)?
        .insert((ws_key(workspace_id), id.0.as_u128()), ())?;
    write_template(txn, &t)?;
    Ok((t, last))
}

/// Deletes a template, its versions and its index entry inside `txn`.
pub(super) fn delete_template_in(txn: &WriteTransaction, id: TemplateId) -> Result<()> {
    let t = read_template(txn, id)?;
    let key = id.0.as_u128();
    {
        let mut versions = txn.open_table(VERSIONS)?;
        for n in 1..=t.latest_version {
            versions.remove((key, n))?;
        }
    }
    txn.open_table(TEMPLATES_BY_WORKSPACE)?
        .remove((ws_key(t.workspace_id), key))?;
    txn.open_table(TEMPLATES)?.remove(key)?;
    append_change(txn, ChangeKind::Template, id.to_string())
}

#[async_trait]
impl TemplateStore for RedbStore {
    async fn create_template(
        &self,
        new: NewTemplate,
        audit: NewAuditEvent,
    ) -> Result<(Template, TemplateVersion)> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let now = clock.now();
            let created = insert_template(
                &txn,
                now,
                new.workspace_id,
                vec![(new.content, new.message)],
                BTreeMap::new(),
                new.author,
            )?;
            let audit = NewAuditEvent {
                target: Some(format!("template:{}", created.0.id)),
                ..audit
            };
            insert_audit(&txn, now, audit)?;
            txn.commit()?;
            Ok(created)
        })
        .await
    }

    async fn import_template(
        &self,
        workspace: Option<WorkspaceId>,
        versions: Vec<(TemplateContent, String)>,
        labels: Vec<(String, u32)>,
        author: Option<UserId>,
        audit: NewAuditEvent,
    ) -> Result<Template> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let now = clock.now();
            let labels = labels.into_iter().collect();
            let (t, _) = insert_template(&txn, now, workspace, versions, labels, author)?;
            let audit = NewAuditEvent {
                target: Some(format!("template:{}", t.id)),
                ..audit
            };
            insert_audit(&txn, now, audit)?;
            txn.commit()?;
            Ok(t)
        })
        .await
    }

    async fn get_template(&self, id: TemplateId) -> Result<Template> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(TEMPLATES)?;
            let v = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
            decode(v.value())
        })
        .await
    }

    async fn list_templates(&self, workspace: Option<WorkspaceId>) -> Result<Vec<Template>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let index = txn.open_table(TEMPLATES_BY_WORKSPACE)?;
            let templates = txn.open_table(TEMPLATES)?;
            let w = ws_key(workspace);
            let mut out: Vec<Template> = Vec::new();
            for entry in index.range((w, 0)..=(w, u128::MAX))? {
                if let Some(v) = templates.get(entry?.0.value().1)? {
                    out.push(decode(v.value())?);
                }
            }
            out.sort_by_key(|t| t.name.to_lowercase());
            Ok(out)
        })
        .await
    }

    async fn save_version(
        &self,
        id: TemplateId,
        base_version: u32,
        content: TemplateContent,
        message: String,
        author: Option<UserId>,
    ) -> Result<SaveOutcome> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut t = read_template(&txn, id)?;
            if base_version != t.latest_version {
                let latest = {
                    let versions = txn.open_table(VERSIONS)?;
                    let v = versions
                        .get((id.0.as_u128(), t.latest_version))?
                        .ok_or_else(|| Error::internal("latest version missing"))?;
                    decode(v.value())?
                };
                return Ok(SaveOutcome::Stale(latest));
            }
            let now = clock.now();
            let v = TemplateVersion {
                template_id: id,
                version: t.latest_version + 1,
                content,
                message,
                author,
                created_at: now,
            };
            write_version(&txn, &v)?;
            t.latest_version = v.version;
            t.name = v.content.name.clone();
            t.description = v.content.description.clone();
            t.tags = v.content.tags.clone();
            t.updated_at = now;
            write_template(&txn, &t)?;
            txn.commit()?;
            Ok(SaveOutcome::Saved(v))
        })
        .await
    }

    async fn list_versions(&self, id: TemplateId) -> Result<Vec<TemplateVersion>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            if txn.open_table(TEMPLATES)?.get(id.0.as_u128())?.is_none() {
                return Err(Error::NotFound);
            }
            let versions = txn.open_table(VERSIONS)?;
            let k = id.0.as_u128();
            let mut out = Vec::new();
            for entry in versions.range((k, 0)..=(k, u32::MAX))?.rev() {
                out.push(decode(entry?.1.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn get_version(&self, id: TemplateId, version: u32) -> Result<TemplateVersion> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let versions = txn.open_table(VERSIONS)?;
            let v = versions
                .get((id.0.as_u128(), version))?
                .ok_or(Error::NotFound)?;
            decode(v.value())
        })
        .await
    }

    async fn set_label(
        &self,
        id: TemplateId,
        label: &str,
        version: u32,
        audit: NewAuditEvent,
    ) -> Result<Template> {
        let label = label.to_owned();
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut t = read_template(&txn, id)?;
            if version == 0 || version > t.latest_version {
                return Err(Error::invalid(
                    "version",
                    format!("version {version} does not exist"),
                ));
            }
            let previous = t.labels.insert(label.clone(), version);
            let now = clock.now();
            t.updated_at = now;
            write_template(&txn, &t)?;
            let detail = match previous {
                Some(p) => format!("{label}: v{p} -> v{version}"),
                None => format!("{label}: v{version}"),
            };
            let audit = audit.target(format!("template:{id}")).detail(detail);
            insert_audit(&txn, now, audit)?;
            txn.commit()?;
            Ok(t)
        })
        .await
    }

    async fn delete_label(
        &self,
        id: TemplateId,
        label: &str,
        audit: NewAuditEvent,
    ) -> Result<Template> {
        let label = label.to_owned();
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut t = read_template(&txn, id)?;
            let was = t.labels.remove(&label).ok_or(Error::NotFound)?;
            let now = clock.now();
            t.updated_at = now;
            write_template(&txn, &t)?;
            let audit = audit
                .target(format!("template:{id}"))
                .detail(format!("{label}: removed (was v{was})"));
            insert_audit(&txn, now, audit)?;
            txn.commit()?;
            Ok(t)
        })
        .await
    }

    async fn move_template(
        &self,
        id: TemplateId,
        to: WorkspaceId,
        audit: NewAuditEvent,
    ) -> Result<Template> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut t = read_template(&txn, id)?;
            check_workspace(&txn, Some(to))?;
            let key = id.0.as_u128();
            {
                let mut index = txn.open_table(TEMPLATES_BY_WORKSPACE)?;
                index.remove((ws_key(t.workspace_id), key))?;
                index.insert((to.0.as_u128(), key), ())?;
            }
            let from = t.workspace_id;
            t.workspace_id = Some(to);
            let now = clock.now();
            t.updated_at = now;
            write_template(&txn, &t)?;
            let from = from
                .map(|w| w.to_string())
                .unwrap_or_else(|| "system".into());
            let audit = audit
                .target(format!("template:{id}"))
                .detail(format!("moved from workspace {from} to {to}"));
            insert_audit(&txn, now, audit)?;
            txn.commit()?;
            Ok(t)
        })
        .await
    }

    async fn delete_template(&self, id: TemplateId, audit: NewAuditEvent) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            delete_template_in(&txn, id)?;
            insert_audit(&txn, clock.now(), audit.target(format!("template:{id}")))?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn seed_system_templates(&self, templates: Vec<TemplateContent>) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if txn.open_table(META)?.get(SEEDED_KEY)?.is_some() {
                return Ok(());
            }
            let now = clock.now();
            for content in templates {
                insert_template(
                    &txn,
                    now,
                    None,
                    vec![(content, "Built in".to_owned())],
                    BTreeMap::new(),
                    None,
                )?;
            }
            txn.open_table(META)?.insert(SEEDED_KEY, 1)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }
}
