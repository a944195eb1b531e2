//! Provider connections in redb, keyed by id. Few rows: lists scan the table.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use super::{CONNECTIONS, RedbStore, WORKSPACES, audit::insert_audit, decode, encode};
use crate::domain::{Connection, ConnectionId, NewAuditEvent, WorkspaceId};
use crate::error::{Error, Result};
use crate::store::ConnectionStore;

fn all(txn: &redb::ReadTransaction) -> Result<Vec<Connection>> {
    let table = txn.open_table(CONNECTIONS)?;
    let mut out = Vec::new();
    for entry in table.iter()? {
        out.push(decode(entry?.1.value())?);
    }
    Ok(out)
}

fn put(txn: &WriteTransaction, conn: &Connection) -> Result<()> {
    txn.open_table(CONNECTIONS)?
        .insert(conn.id.0.as_u128(), encode(conn)?.as_slice())?;
    Ok(())
}

fn exists(txn: &WriteTransaction, id: ConnectionId) -> Result<bool> {
    Ok(txn.open_table(CONNECTIONS)?.get(id.0.as_u128())?.is_some())
}

#[async_trait]
impl ConnectionStore for RedbStore {
    async fn create_connection(
        &self,
        conn: Connection,
        audit: NewAuditEvent,
    ) -> Result<Connection> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if let Some(ws) = conn.workspace_id
                && txn.open_table(WORKSPACES)?.get(ws.0.as_u128())?.is_none()
            {
                return Err(Error::NotFound);
            }
            put(&txn, &conn)?;
            insert_audit(
                &txn,
                clock.now(),
                audit.target(format!("connection:{}", conn.id)),
            )?;
            txn.commit()?;
            Ok(conn)
        })
        .await
    }

    async fn get_connection(&self, id: ConnectionId) -> Result<Connection> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(CONNECTIONS)?;
            let v = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
            decode(v.value())
        })
        .await
    }

    async fn list_connections(&self, workspace: Option<WorkspaceId>) -> Result<Vec<Connection>> {
        self.blocking(move |db, _| {
            let mut list: Vec<Connection> = all(&db.begin_read()?)?
                .into_iter()
                .filter(|c| c.workspace_id == workspace)
                .collect();
            list.sort_by_key(|c| c.name.to_lowercase());
            Ok(list)
        })
        .await
    }

    async fn list_all_connections(&self) -> Result<Vec<Connection>> {
        self.blocking(move |db, _| all(&db.begin_read()?)).await
    }

    async fn update_connection(
        &self,
        conn: Connection,
        audit: NewAuditEvent,
    ) -> Result<Connection> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if !exists(&txn, conn.id)? {
                return Err(Error::NotFound);
            }
            put(&txn, &conn)?;
            insert_audit(
                &txn,
                clock.now(),
                audit.target(format!("connection:{}", conn.id)),
            )?;
            txn.commit()?;
            Ok(conn)
        })
        .await
    }

    async fn delete_connection(&self, id: ConnectionId, audit: NewAuditEvent) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if txn
                .open_table(CONNECTIONS)?
                .remove(id.0.as_u128())?
                .is_none()
            {
                return Err(Error::NotFound);
            }
            insert_audit(&txn, clock.now(), audit.target(format!("connection:{id}")))?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn reseal_connection_keys(
        &self,
        keys: Vec<(ConnectionId, Option<Vec<u8>>)>,
    ) -> Result<()> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            for (id, sealed) in keys {
                let mut conn: Connection = {
                    let table = txn.open_table(CONNECTIONS)?;
                    let v = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
                    decode(v.value())?
                };
                conn.sealed_key = sealed;
                put(&txn, &conn)?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }
}
