//! Templates in Postgres: `templates` (the current name, tags and latest version number),
//! `template_versions` (immutable, one row per version, variables as `jsonb` and model defaults
//! as columns) and `template_labels` (label -> version, a foreign key into the versions).
//!
//! Every change to a template first locks its row (`SELECT ... FOR UPDATE`), so two saves from
//! the same base version queue and the second finds itself stale instead of writing a second
//! version with that base. Each change appends `ChangeKind::Template` to the change log and
//! records its audit event in the same transaction, where the redb store does. The seeded flag
//! of the system templates is a row in `meta`, inserted in the seeding transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{TEMPLATE_COLUMNS, TemplateRow, VERSION_COLUMNS, VersionRow};
use super::{PostgresStore, finish};
use crate::domain::{
    ChangeKind, NewAuditEvent, NewTemplate, SaveOutcome, Template, TemplateContent, TemplateId,
    TemplateVersion, UserId, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::store::TemplateStore;

const SEEDED_KEY: &str = "system_templates_seeded";

/// The change-log entry of a template change.
fn change(id: TemplateId) -> Vec<(ChangeKind, String)> {
    vec![(ChangeKind::Template, id.to_string())]
}

/// A number as Postgres stores it (`integer`).
fn to_i32(field: &str, n: u32) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::invalid(field, format!("{n} is too large")))
}

async fn read_template(conn: &mut PgConnection, id: TemplateId) -> Result<Template> {
    let row: Option<TemplateRow> = sqlx::query_as(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM templates t WHERE t.id = $1"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(Error::NotFound)?.try_into()
}

/// Locks the template row until the transaction ends, then reads it (in a statement of its
/// own, so it sees whatever the previous holder of the lock committed).
async fn lock_template(conn: &mut PgConnection, id: TemplateId) -> Result<Template> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM templates WHERE id = $1 FOR UPDATE")
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?;
    found.ok_or(Error::NotFound)?;
    read_template(conn, id).await
}

async fn read_version(
    conn: &mut PgConnection,
    id: TemplateId,
    version: u32,
) -> Result<TemplateVersion> {
    let Ok(version) = i32::try_from(version) else {
        return Err(Error::NotFound);
    };
    let row: Option<VersionRow> = sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM template_versions WHERE template_id = $1 AND version = $2"
    ))
    .bind(id.0)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(Error::NotFound)?.try_into()
}

async fn insert_version(conn: &mut PgConnection, v: &TemplateVersion) -> Result<()> {
    let c = &v.content;
    let max_tokens = c
        .model
        .max_tokens
        .map(|n| to_i32("max_tokens", n))
        .transpose()?;
    sqlx::query(
        "INSERT INTO template_versions (template_id, version, name, description, tags, \
         system_prompt, user_prompt_template, variables, model, temperature, max_tokens, message, \
         author, created_at, chat) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9, $10, $11, $12, $13, $14, \
         $15::text::jsonb)",
    )
    .bind(v.template_id.0)
    .bind(to_i32("version", v.version)?)
    .bind(c.name.as_str())
    .bind(c.description.as_str())
    .bind(&c.tags)
    .bind(c.system_prompt.as_str())
    .bind(c.user_prompt_template.as_str())
    .bind(serde_json::to_string(&c.variables).map_err(Error::internal)?)
    .bind(c.model.model.as_deref())
    .bind(c.model.temperature)
    .bind(max_tokens)
    .bind(v.message.as_str())
    .bind(v.author.map(|a| a.0))
    .bind(v.created_at)
    .bind(if c.chat.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&c.chat).map_err(Error::internal)?)
    })
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `NotFound` unless the workspace exists; locks it against deletion until the transaction ends.
async fn check_workspace(conn: &mut PgConnection, ws: Option<WorkspaceId>) -> Result<()> {
    if let Some(w) = ws {
        let found: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM workspaces WHERE id = $1 FOR KEY SHARE")
                .bind(w.0)
                .fetch_optional(&mut *conn)
                .await?;
        found.ok_or(Error::NotFound)?;
    }
    Ok(())
}

/// Inserts a template with its versions (numbered from 1) and labels in the caller's
/// transaction; the caller appends the change-log entry.
async fn insert_template(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    workspace_id: Option<WorkspaceId>,
    versions: Vec<(TemplateContent, String)>,
    labels: BTreeMap<String, u32>,
    author: Option<UserId>,
) -> Result<(Template, TemplateVersion)> {
    check_workspace(conn, workspace_id).await?;
    let latest = u32::try_from(versions.len()).map_err(Error::internal)?;
    let Some((last, _)) = versions.last() else {
        return Err(Error::invalid("versions", "a template needs a version"));
    };
    if let Some((label, n)) = labels.iter().find(|(_, n)| **n == 0 || **n > latest) {
        return Err(Error::invalid(
            "labels",
            format!("label `{label}` points at version {n}, which does not exist"),
        ));
    }
    let t = Template {
        id: TemplateId::new(),
        workspace_id,
        name: last.name.clone(),
        description: last.description.clone(),
        tags: last.tags.clone(),
        latest_version: latest,
        labels,
        created_by: author,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO templates (id, workspace_id, name, description, tags, latest_version, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(t.id.0)
    .bind(t.workspace_id.map(|w| w.0))
    .bind(t.name.as_str())
    .bind(t.description.as_str())
    .bind(&t.tags)
    .bind(to_i32("version", t.latest_version)?)
    .bind(t.created_by.map(|u| u.0))
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(&mut *conn)
    .await?;
    let mut last = None;
    for (number, (content, message)) in (1..).zip(versions) {
        let v = TemplateVersion {
            template_id: t.id,
            version: number,
            content,
            message,
            author,
            created_at: now,
        };
        insert_version(conn, &v).await?;
        last = Some(v);
    }
    for (label, version) in &t.labels {
        upsert_label(conn, t.id, label, *version).await?;
    }
    let last = last.ok_or_else(|| Error::internal("no version was written"))?;
    Ok((t, last))
}

async fn upsert_label(
    conn: &mut PgConnection,
    id: TemplateId,
    label: &str,
    version: u32,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO template_labels (template_id, label, version) VALUES ($1, $2, $3) \
         ON CONFLICT (template_id, label) DO UPDATE SET version = excluded.version",
    )
    .bind(id.0)
    .bind(label)
    .bind(to_i32("version", version)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn touch(conn: &mut PgConnection, id: TemplateId, now: OffsetDateTime) -> Result<()> {
    sqlx::query("UPDATE templates SET updated_at = $2 WHERE id = $1")
        .bind(id.0)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl TemplateStore for PostgresStore {
    async fn create_template(
        &self,
        new: NewTemplate,
        audit: NewAuditEvent,
    ) -> Result<(Template, TemplateVersion)> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let versions = vec![(new.content, new.message)];
        let (t, v) = insert_template(
            &mut tx,
            now,
            new.workspace_id,
            versions,
            BTreeMap::new(),
            new.author,
        )
        .await?;
        finish(
            tx,
            now,
            Some(audit.target(format!("template:{}", t.id))),
            change(t.id),
        )
        .await?;
        Ok((t, v))
    }

    async fn import_template(
        &self,
        workspace: Option<WorkspaceId>,
        versions: Vec<(TemplateContent, String)>,
        labels: Vec<(String, u32)>,
        author: Option<UserId>,
        audit: NewAuditEvent,
    ) -> Result<Template> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let labels = labels.into_iter().collect();
        let (t, _) = insert_template(&mut tx, now, workspace, versions, labels, author).await?;
        finish(
            tx,
            now,
            Some(audit.target(format!("template:{}", t.id))),
            change(t.id),
        )
        .await?;
        Ok(t)
    }

    async fn get_template(&self, id: TemplateId) -> Result<Template> {
        let mut conn = self.pool.acquire().await?;
        read_template(&mut conn, id).await
    }

    async fn list_templates(&self, workspace: Option<WorkspaceId>) -> Result<Vec<Template>> {
        let filter = match workspace {
            Some(_) => "t.workspace_id = $1",
            None => "t.workspace_id IS NULL",
        };
        let sql =
            format!("SELECT {TEMPLATE_COLUMNS} FROM templates t WHERE {filter} ORDER BY t.id");
        let mut query = sqlx::query_as::<_, TemplateRow>(&sql);
        if let Some(w) = workspace {
            query = query.bind(w.0);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut out = rows
            .into_iter()
            .map(Template::try_from)
            .collect::<Result<Vec<_>>>()?;
        // Sorted here with Rust's lower-casing, exactly as the redb store sorts.
        out.sort_by_cached_key(|t| t.name.to_lowercase());
        Ok(out)
    }

    async fn save_version(
        &self,
        id: TemplateId,
        base_version: u32,
        content: TemplateContent,
        message: String,
        author: Option<UserId>,
    ) -> Result<SaveOutcome> {
        let mut tx = self.pool.begin().await?;
        let t = lock_template(&mut tx, id).await?;
        if base_version != t.latest_version {
            let latest = read_version(&mut tx, id, t.latest_version).await?;
            return Ok(SaveOutcome::Stale(latest));
        }
        let now = self.clock.now();
        let v = TemplateVersion {
            template_id: id,
            version: t.latest_version + 1,
            content,
            message,
            author,
            created_at: now,
        };
        insert_version(&mut tx, &v).await?;
        sqlx::query(
            "UPDATE templates SET name = $2, description = $3, tags = $4, latest_version = $5, \
             updated_at = $6 WHERE id = $1",
        )
        .bind(id.0)
        .bind(v.content.name.as_str())
        .bind(v.content.description.as_str())
        .bind(&v.content.tags)
        .bind(to_i32("version", v.version)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        finish(tx, now, None, change(id)).await?;
        Ok(SaveOutcome::Saved(v))
    }

    async fn list_versions(&self, id: TemplateId) -> Result<Vec<TemplateVersion>> {
        let mut conn = self.pool.acquire().await?;
        read_template(&mut conn, id).await?;
        let rows: Vec<VersionRow> = sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM template_versions WHERE template_id = $1 \
             ORDER BY version DESC"
        ))
        .bind(id.0)
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter().map(TemplateVersion::try_from).collect()
    }

    async fn get_version(&self, id: TemplateId, version: u32) -> Result<TemplateVersion> {
        let mut conn = self.pool.acquire().await?;
        read_version(&mut conn, id, version).await
    }

    async fn set_label(
        &self,
        id: TemplateId,
        label: &str,
        version: u32,
        audit: NewAuditEvent,
    ) -> Result<Template> {
        let mut tx = self.pool.begin().await?;
        let mut t = lock_template(&mut tx, id).await?;
        if version == 0 || version > t.latest_version {
            let message = format!("version {version} does not exist");
            return Err(Error::invalid("version", message));
        }
        let previous = t.labels.insert(label.to_owned(), version);
        let now = self.clock.now();
        t.updated_at = now;
        upsert_label(&mut tx, id, label, version).await?;
        touch(&mut tx, id, now).await?;
        let detail = match previous {
            Some(p) => format!("{label}: v{p} -> v{version}"),
            None => format!("{label}: v{version}"),
        };
        let audit = audit.target(format!("template:{id}")).detail(detail);
        finish(tx, now, Some(audit), change(id)).await?;
        Ok(t)
    }

    async fn delete_label(
        &self,
        id: TemplateId,
        label: &str,
        audit: NewAuditEvent,
    ) -> Result<Template> {
        let mut tx = self.pool.begin().await?;
        let mut t = lock_template(&mut tx, id).await?;
        let was = t.labels.remove(label).ok_or(Error::NotFound)?;
        sqlx::query("DELETE FROM template_labels WHERE template_id = $1 AND label = $2")
            .bind(id.0)
            .bind(label)
            .execute(&mut *tx)
            .await?;
        let now = self.clock.now();
        t.updated_at = now;
        touch(&mut tx, id, now).await?;
        let audit = audit
            .target(format!("template:{id}"))
            .detail(format!("{label}: removed (was v{was})"));
        finish(tx, now, Some(audit), change(id)).await?;
        Ok(t)
    }

    async fn move_template(
        &self,
        id: TemplateId,
        to: WorkspaceId,
        audit: NewAuditEvent,
    ) -> Result<Template> {
        let mut tx = self.pool.begin().await?;
        let mut t = lock_template(&mut tx, id).await?;
        check_workspace(&mut tx, Some(to)).await?;
        let from = t.workspace_id.replace(to);
        let now = self.clock.now();
        t.updated_at = now;
        sqlx::query("UPDATE templates SET workspace_id = $2, updated_at = $3 WHERE id = $1")
            .bind(id.0)
            .bind(to.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let from = from.map_or_else(|| "system".to_owned(), |w| w.to_string());
        let audit = audit
            .target(format!("template:{id}"))
            .detail(format!("moved from workspace {from} to {to}"));
        finish(tx, now, Some(audit), change(id)).await?;
        Ok(t)
    }

    async fn delete_template(&self, id: TemplateId, audit: NewAuditEvent) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Versions and labels go by ON DELETE CASCADE.
        let done = sqlx::query("DELETE FROM templates WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        let audit = audit.target(format!("template:{id}"));
        finish(tx, self.clock.now(), Some(audit), change(id)).await
    }

    async fn seed_system_templates(&self, templates: Vec<TemplateContent>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // A racing seeder waits here until this transaction ends, then finds the flag.
        let first = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, '1') ON CONFLICT (key) DO NOTHING",
        )
        .bind(SEEDED_KEY)
        .execute(&mut *tx)
        .await?;
        if first.rows_affected() == 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let mut changes = Vec::with_capacity(templates.len());
        for content in templates {
            let versions = vec![(content, "Built in".to_owned())];
            let (t, _) =
                insert_template(&mut tx, now, None, versions, BTreeMap::new(), None).await?;
            changes.extend(change(t.id));
        }
        finish(tx, now, None, changes).await
    }
}
