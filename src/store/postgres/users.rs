//! Users in Postgres: the `users` table, unique on the lower-cased email.
//!
//! Every write records its audit event and change-log entry in the same transaction. The
//! unique index on `email_normalized` is the arbiter of "email taken": its violation becomes a
//! field conflict, so two racing sign-ups with one address get one account and one clean error.

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Advisory lock serialising changes of a user's role or status (ASCII "PYADMINS").
const ADMIN_CHANGE_LOCK: i64 = 0x5059_4144_4d49_4e53;

use super::{PostgresStore, append_change, audit::insert_audit, to_i64, to_u64};
use crate::domain::user::last_admin;
use crate::domain::{
    ChangeKind, DisplayName, Email, InstanceRole, NewAuditEvent, NewUser, Page, User, UserId,
    UserUpdate,
};
use crate::error::{Error, Result};
use crate::store::{UserStore, clamp_limit};

/// The unique constraint on `users.email_normalized` (see `migrations/0001_foundation.sql`).
const EMAIL_KEY: &str = "users_email_normalized_key";

const USER_COLUMNS: &str =
    "id, email, name, role, disabled, password_hash, avatar, created_at, updated_at";

fn taken() -> Error {
    Error::conflict("email", "an account with that email already exists")
}

/// A `users` row as stored.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    disabled: bool,
    password_hash: Option<String>,
    avatar: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self> {
        let corrupt = |what: &str, e: Error| {
            Error::internal(format!("user {} has an invalid stored {what}: {e}", row.id))
        };
        Ok(User {
            id: UserId(row.id),
            email: Email::parse(&row.email).map_err(|e| corrupt("email", e))?,
            name: DisplayName::parse(&row.name).map_err(|e| corrupt("name", e))?,
            role: InstanceRole::parse(&row.role).map_err(|e| corrupt("role", e))?,
            disabled: row.disabled,
            password_hash: row.password_hash,
            avatar: row.avatar,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Inserts a new user in the caller's transaction, with its audit event and change-log entry.
pub(super) async fn insert_user(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    new: NewUser,
    audit: NewAuditEvent,
) -> Result<User> {
    let user = User {
        id: UserId::new(),
        email: new.email,
        name: new.name,
        role: new.role,
        disabled: false,
        password_hash: new.password_hash,
        avatar: None,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO users (id, email, email_normalized, name, role, disabled, password_hash, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(user.id.0)
    .bind(user.email.as_str())
    .bind(user.email.normalized())
    .bind(user.name.as_str())
    .bind(user.role.as_str())
    .bind(user.disabled)
    .bind(user.password_hash.as_deref())
    .bind(user.created_at)
    .bind(user.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.constraint() == Some(EMAIL_KEY) => taken(),
        _ => Error::from(e),
    })?;
    let audit = NewAuditEvent {
        target: audit.target.or_else(|| Some(format!("user:{}", user.id))),
        ..audit
    };
    insert_audit(&mut *conn, now, audit).await?;
    append_change(&mut *conn, ChangeKind::User, user.id.to_string()).await?;
    Ok(user)
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn count_users(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(to_u64(n))
    }

    async fn create_user(&self, new: NewUser, audit: NewAuditEvent) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let user = insert_user(&mut tx, self.clock.now(), new, audit).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn create_first_user(&self, new: NewUser, audit: NewAuditEvent) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        // SHARE ROW EXCLUSIVE conflicts with itself and with inserts, so racing calls queue
        // here; under READ COMMITTED the check below then sees whatever the winner committed.
        sqlx::query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)")
            .fetch_one(&mut *tx)
            .await?;
        if exists {
            return Err(Error::Conflict {
                field: None,
                message: "setup is already done".to_owned(),
            });
        }
        let user = insert_user(&mut tx, self.clock.now(), new, audit).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        let row: Option<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?;
        row.ok_or(Error::NotFound)?.try_into()
    }

    async fn find_user_by_email(&self, email_normalized: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_normalized = $1"
        ))
        .bind(email_normalized)
        .fetch_optional(&self.pool)
        .await?;
        row.map(User::try_from).transpose()
    }

    async fn list_users(&self, after: Option<UserId>, limit: usize) -> Result<Page<User, UserId>> {
        let limit = clamp_limit(limit);
        let rows: Vec<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE ($1::uuid IS NULL OR id > $1) \
             ORDER BY id LIMIT $2"
        ))
        .bind(after.map(|id| id.0))
        .bind(to_i64(limit + 1))
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows
            .into_iter()
            .map(User::try_from)
            .collect::<Result<Vec<_>>>()?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|u| u.id)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn update_user(
        &self,
        id: UserId,
        update: UserUpdate,
        audit: NewAuditEvent,
    ) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        // Role and status changes take one transaction-scoped advisory lock, so two admins
        // demoting each other at once run one after the other (row locks taken in two orders
        // could deadlock) and the second one sees the first's change.
        let admins: Vec<(Uuid,)> = if update.role.is_some() || update.disabled.is_some() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ADMIN_CHANGE_LOCK)
                .execute(&mut *tx)
                .await?;
            sqlx::query_as("SELECT id FROM users WHERE role = 'admin' AND NOT disabled")
                .fetch_all(&mut *tx)
                .await?
        } else {
            Vec::new()
        };
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE"
        ))
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let mut user = User::try_from(row.ok_or(Error::NotFound)?)?;
        if update.removes_admin(&user) && !admins.iter().any(|(other,)| *other != id.0) {
            return Err(last_admin());
        }
        let ends_sessions = update.ends_sessions();
        if let Some(name) = update.name {
            user.name = name;
        }
        if let Some(role) = update.role {
            user.role = role;
        }
        if let Some(disabled) = update.disabled {
            user.disabled = disabled;
        }
        if let Some(hash) = update.password_hash {
            user.password_hash = Some(hash);
        }
        if let Some(avatar) = update.avatar {
            user.avatar = avatar;
        }
        let now = self.clock.now();
        user.updated_at = now;
        sqlx::query(
            "UPDATE users SET name = $2, role = $3, disabled = $4, password_hash = $5, \
             updated_at = $6, avatar = $7 WHERE id = $1",
        )
        .bind(id.0)
        .bind(user.name.as_str())
        .bind(user.role.as_str())
        .bind(user.disabled)
        .bind(user.password_hash.as_deref())
        .bind(user.updated_at)
        .bind(user.avatar.as_deref())
        .execute(&mut *tx)
        .await?;
        if ends_sessions {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        insert_audit(&mut tx, now, audit).await?;
        append_change(&mut tx, ChangeKind::User, id.to_string()).await?;
        tx.commit().await?;
        Ok(user)
    }
}
