//! Linked sign-in identities in Postgres: the `user_identities` table, keyed by
//! (provider, subject) and unique on (user, provider). Its constraints decide conflicts, so two
//! racing links of one account make one link and one clean error.

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, audit::insert_audit, users::insert_user};
use crate::domain::{Identity, NewAuditEvent, NewUser, User, UserId};
use crate::error::{Error, Result};
use crate::store::IdentityStore;

const COLUMNS: &str = "provider, subject, user_id, email, created_at, last_login_at";

/// A `user_identities` row as stored.
#[derive(sqlx::FromRow)]
struct IdentityRow {
    provider: String,
    subject: String,
    user_id: Uuid,
    email: Option<String>,
    created_at: OffsetDateTime,
    last_login_at: Option<OffsetDateTime>,
}

impl From<IdentityRow> for Identity {
    fn from(row: IdentityRow) -> Self {
        Identity {
            provider: row.provider,
            subject: row.subject,
            user_id: UserId(row.user_id),
            email: row.email,
            created_at: row.created_at,
            last_login_at: row.last_login_at,
        }
    }
}

async fn insert_identity(conn: &mut PgConnection, identity: &Identity) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO user_identities ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(identity.provider.as_str())
    .bind(identity.subject.as_str())
    .bind(identity.user_id.0)
    .bind(identity.email.as_deref())
    .bind(identity.created_at)
    .bind(identity.last_login_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("user_identities_pkey") => {
            Error::conflict(
                "identity",
                "that account is already linked to a Promptyard user",
            )
        }
        sqlx::Error::Database(db)
            if db.constraint() == Some("user_identities_user_provider_key") =>
        {
            Error::conflict(
                "identity",
                "you already linked an account of this provider; unlink it first",
            )
        }
        sqlx::Error::Database(db) if db.constraint() == Some("user_identities_user_id_fkey") => {
            Error::NotFound
        }
        _ => Error::from(e),
    })?;
    Ok(())
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn find_identity(&self, provider: &str, subject: &str) -> Result<Option<Identity>> {
        let row: Option<IdentityRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM user_identities WHERE provider = $1 AND subject = $2"
        ))
        .bind(provider)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Identity::from))
    }

    async fn list_identities(&self, user: UserId) -> Result<Vec<Identity>> {
        let rows: Vec<IdentityRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM user_identities WHERE user_id = $1 ORDER BY provider"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Identity::from).collect())
    }

    async fn create_identity(&self, identity: Identity, audit: NewAuditEvent) -> Result<Identity> {
        let mut tx = self.pool.begin().await?;
        insert_identity(&mut tx, &identity).await?;
        insert_audit(&mut tx, self.clock.now(), audit).await?;
        tx.commit().await?;
        Ok(identity)
    }

    async fn create_user_with_identity(
        &self,
        new: NewUser,
        identity: Identity,
        audit: NewAuditEvent,
    ) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let user = insert_user(&mut tx, self.clock.now(), new, audit).await?;
        let identity = Identity {
            user_id: user.id,
            ..identity
        };
        insert_identity(&mut tx, &identity).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn delete_identity(
        &self,
        user: UserId,
        provider: &str,
        password_counts: bool,
        audit: NewAuditEvent,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // The user's row lock serialises two unlinks of one user's last two identities.
        let hash: Option<(Option<String>,)> =
            sqlx::query_as("SELECT password_hash FROM users WHERE id = $1 FOR UPDATE")
                .bind(user.0)
                .fetch_optional(&mut *tx)
                .await?;
        let (hash,) = hash.ok_or(Error::NotFound)?;
        let providers: Vec<(String,)> =
            sqlx::query_as("SELECT provider FROM user_identities WHERE user_id = $1")
                .bind(user.0)
                .fetch_all(&mut *tx)
                .await?;
        if !providers.iter().any(|(p,)| p == provider) {
            return Err(Error::NotFound);
        }
        let has_password = password_counts && hash.is_some();
        if providers.len() == 1 && !has_password {
            return Err(crate::domain::identity::last_login_method());
        }
        sqlx::query("DELETE FROM user_identities WHERE user_id = $1 AND provider = $2")
            .bind(user.0)
            .bind(provider)
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, self.clock.now(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_identity(
        &self,
        provider: &str,
        subject: &str,
        email: Option<String>,
        at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE user_identities SET last_login_at = $3, email = COALESCE($4, email) \
             WHERE provider = $1 AND subject = $2",
        )
        .bind(provider)
        .bind(subject)
        .bind(at)
        .bind(email.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
