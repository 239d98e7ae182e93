//! Connections to the hosts that tasks are delegated to (`delegate_to`,
//! `local_action`), opened once per destination and shared by every host
//! of the run, so a delegated task never waits behind the destination's own
//! play (one OpenSSH master carries many sessions at once).
//!
//! The pool only opens and hands out connections; it never decides where a
//! task runs.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};
use tokio::sync::Mutex;

use crate::plan::RunOptions;
use crate::transport::{Connection, TransportError};

/// Open delegate connections by inventory name.
#[derive(Default)]
pub struct Pool {
    conns: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Pool {
    /// The connection to `host` (with its inventory variables), opened on
    /// first use.
    pub async fn get(
        &self,
        host: &str,
        vars: &Map<String, Json>,
        play_user: Option<&str>,
        options: &RunOptions,
    ) -> Result<Arc<Connection>, TransportError> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(host) {
            return Ok(c.clone());
        }
        let conn = Arc::new(super::connect::open(host, vars, play_user, options).await?);
        conns.insert(host.to_owned(), conn.clone());
        Ok(conn)
    }

    /// Closes every connection; returns the remote execs each one ran.
    pub async fn close(&self) -> Vec<(String, u64)> {
        let conns = std::mem::take(&mut *self.conns.lock().await);
        let mut out = Vec::new();
        for (host, conn) in conns {
            out.push((host, conn.exec_count()));
            if let Ok(conn) = Arc::try_unwrap(conn) {
                conn.close().await;
            }
        }
        out
    }
}
