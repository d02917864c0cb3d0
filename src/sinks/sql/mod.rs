//! The SQL target engine: everything the PostgreSQL and MySQL/MariaDB
//! targets do alike, written once and generic over a [`Dialect`], which
//! holds only what differs (connections, SQL text, type mapping, value
//! encoding, error classes). A third SQL target is a new dialect.
//!
//! # What the engine does
//!
//! - **Lanes.** Each lane has its own connection (lane 0's is opened at
//!   connect to check the URL and credentials; the others on first use) and
//!   applies its batches one at a time. A connection found broken before a
//!   batch (closed by the server, or not answering after being idle) is
//!   replaced; one left mid-batch by a cancelled apply is dropped.
//! - **One transaction per batch.** `apply` returns `Ok` only after COMMIT
//!   succeeded. A failure rolls the whole batch back, so nothing of it is
//!   visible, and the dialect may then explain the failure (name the column
//!   whose value did not fit). A lost connection is dropped and the error is
//!   transient, so the pipeline retries the same batch.
//! - **Exactly once.** A batch from a pipeline lane ([`Batch::order`])
//!   first loses the records the target already applied, and its
//!   transaction ends with an upsert of the lane's row in the progress
//!   table `logferry_progress` (created when missing, in `progress_schema`),
//!   which commits with the rows: replays after a crash change nothing,
//!   whatever the lane count was (see `progress.rs`: log ordinals,
//!   layouts, epochs). Batches without an order (dead-letter replays, and
//!   every batch of a source whose replays are not in one order: Kafka)
//!   are applied as they are.
//! - **Documents.** Records of a table whose rows are documents
//!   (`Change.documents`) become `_id` + `document` rows first
//!   ([`crate::sinks::document`]).
//! - **Row changes.** Records are grouped by table and reduced per key to
//!   the key's final state ([`crate::sinks::plan`]); the dialect turns each
//!   table's reduced work into statements. Key-changing updates (alone in a
//!   batch) move the row in place when no row has the new key yet, then
//!   delete the old key and upsert the new image, which gives the same
//!   result when replayed.
//! - **Tables without a key.** Records with no key columns (a keyless
//!   source table replicated by whole rows) are not reduced: each table's
//!   records are applied in order ([`crate::sinks::plan::keyless`]) —
//!   INSERT appends, DELETE removes exactly one row equal in every column
//!   (NULL-safe), UPDATE removes one such row and appends the new one.
//!   The pipeline routes all of such a table's records to one lane. A
//!   replay of these changes is not harmless (an insert appends again).
//! - **Table cache.** Target tables are read from the catalog lazily and
//!   after every CREATE / ALTER; a batch's own changes wait in its overlay
//!   and join the shared cache only when it commits. After a failure the
//!   cache is dropped (the catalog may have changed by hand), but the last
//!   applied source schema per table is kept, to tell a column dropped on
//!   the source (refused) from one that only ever existed on the target.
//! - **Schema changes.** Column types come from the dialect's mapping (the
//!   engine warns once when a type falls back to text). With
//!   `create_tables` a missing table is created (NOT NULL where the source
//!   has it, a primary key on the key columns, none for a keyless table), missing columns are added
//!   (nullable) and a column that became nullable on the source follows;
//!   without it no DDL runs and a missing table or column is a definite
//!   error. A column whose type changed or that was dropped on the source is
//!   a definite error naming the table, the column and the fix: stored data
//!   is never converted or dropped.
//! - **Truncates** empty the table (a table that does not exist is skipped).

mod open;
mod progress;
mod tx;

pub use progress::{Forget, ProgressRow, PROGRESS_TABLE};

use super::plan::{PlanTable, RowOp, TableWork};
use super::{document, plan, Batch, Sink, SinkError};
use crate::record::{ColumnSchema, Op, TableRef, TableSchema};
use crate::BoxFuture;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

/// A target table's identity: (schema or database, table name).
pub type TableKey = (String, String);

/// A target table as a dialect's catalog describes it.
pub trait SqlTable: PlanTable<Cell: Send + Sync> + Send + Sync + 'static {
    /// Column `i`'s type as the catalog prints it, and whether it is NOT NULL.
    fn column_facts(&self, i: usize) -> (&str, bool);
}

/// A cached target table and the last source schema this process applied
/// to it (which tells a column dropped on the source from one that only
/// ever existed on the target).
pub struct Cached<T> {
    table: Arc<T>,
    source: Option<TableSchema>,
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        Cached { table: self.table.clone(), source: self.source.clone() }
    }
}

/// A target type chosen for a source column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The type for DDL.
    pub sql_type: String,
    /// The source type has no counterpart on the target: the column keeps
    /// the values' text (warned once).
    pub fallback: bool,
}

/// Why a batch failed, with what the rollback step needs.
pub struct Failure<D: Dialect> {
    /// What the caller sees.
    pub error: SinkError,
    /// The connection is gone (or unusable): drop it instead of rolling back.
    pub lost: bool,
    /// What the dialect needs after the rollback to explain the error.
    pub diagnosis: Option<D::Diagnosis>,
}

impl<D: Dialect> From<SinkError> for Failure<D> {
    fn from(error: SinkError) -> Self {
        Failure { error, lost: false, diagnosis: None }
    }
}

/// Settings of a SQL target (the validated form of a `[[pipeline.target]]`
/// of kind `postgres` or `mysql`).
#[derive(Clone)]
pub struct SqlSinkConfig {
    /// Full connection URL, password included. Never logged.
    pub url: String,
    /// Where every table goes: the PostgreSQL `schema` (`None` keeps the
    /// source schema name, `public` when the record has none) or the MySQL
    /// `database` (`None` uses the URL's database).
    pub namespace: Option<String>,
    /// Create missing schemas or databases, tables and columns from
    /// schema-change records.
    pub create_tables: bool,
    /// Number of lanes (one connection each).
    pub lanes: usize,
}

impl std::fmt::Debug for SqlSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSinkConfig")
            .field("url", &"***")
            .field("namespace", &self.namespace)
            .field("create_tables", &self.create_tables)
            .field("lanes", &self.lanes)
            .finish()
    }
}

/// The settings every dialect has.
pub struct Common {
    /// The sink's name for logs and errors (no credentials).
    pub name: String,
    /// To scrub from any error text that might echo it.
    pub password: Option<String>,
    /// Create missing tables and columns.
    pub create_tables: bool,
}

/// `name` between `quote` characters, embedded ones doubled: a safe SQL
/// identifier for any name.
pub fn quote_with(name: &str, quote: char) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push(quote);
    for ch in name.chars() {
        if ch == quote {
            s.push(quote);
        }
        s.push(ch);
    }
    s.push(quote);
    s
}

/// Reads the rest of a token that began with `quote` (already taken from
/// `chars`) up to its closing quote: a doubled quote stands for one, and
/// with `backslash` a `\` escapes the next character. `None` when the
/// text ends first.
pub fn read_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char, backslash: bool) -> Option<String> {
    let mut token = String::new();
    loop {
        match chars.next()? {
            c if c == quote && chars.peek() == Some(&quote) => {
                chars.next();
                token.push(quote);
            }
            c if c == quote => return Some(token),
            '\\' if backslash => token.push(chars.next()?),
            c => token.push(c),
        }
    }
}

/// What an engine-neutral SQL target needs from its database. Every method
/// that talks to the server runs inside the batch's transaction unless it
/// says otherwise; errors are classified by the dialect.
pub trait Dialect: Send + Sync + Sized + 'static {
    /// A lane's connection and what belongs to it (prepared statements,
    /// statements waiting to be sent, the round-trip budget).
    type Conn: Send;
    /// A target table as the catalog describes it.
    type Table: SqlTable;
    /// What a failure keeps for [`Dialect::explain`].
    type Diagnosis: Send;

    /// The character that quotes identifiers (doubled inside them).
    const QUOTE: char;
    /// The settings every dialect has.
    fn common(&self) -> &Common;
    /// The sink's name for logs and errors (no credentials).
    fn name(&self) -> &str {
        &self.common().name
    }
    /// Create missing tables and columns.
    fn create_tables(&self) -> bool {
        self.common().create_tables
    }
    /// Removes the password from an error before it leaves the target.
    fn scrub(&self, e: SinkError) -> SinkError {
        scrub_error(e, self.common().password.as_deref())
    }
    /// An identifier quoted the target's way.
    fn quote(&self, name: &str) -> String {
        quote_with(name, Self::QUOTE)
    }
    /// A target table as SQL and messages show it: `schema.table`, quoted.
    fn shown(&self, key: &TableKey) -> String {
        format!("{}.{}", self.quote(&key.0), self.quote(&key.1))
    }
    /// Why `name` cannot be an identifier on this target, if it cannot.
    fn check_identifier(&self, name: &str) -> Result<(), String>;
    /// The target table for a source table.
    fn target_table(&self, t: &TableRef) -> Result<TableKey, String>;

    /// Opens and sets up a connection.
    fn open(&self) -> impl Future<Output = Result<Self::Conn, SinkError>> + Send;
    /// False when a connection must be replaced before use (closed by the
    /// server, or not answering after being idle).
    fn usable(&self, conn: &mut Self::Conn) -> impl Future<Output = bool> + Send;
    /// Starts a batch of `steps` steps (see [`plan::steps`]).
    fn begin(&self, conn: &mut Self::Conn, steps: usize) -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// Commits the batch; only then is it durable.
    fn commit(&self, conn: &mut Self::Conn) -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// Rolls back a failed batch; false when the connection must be dropped.
    fn rollback(&self, conn: &mut Self::Conn) -> impl Future<Output = bool> + Send;
    /// After the rollback: a better error, from `diagnosis`.
    fn explain(&self, conn: &mut Self::Conn, error: SinkError, diagnosis: Self::Diagnosis) -> impl Future<Output = SinkError> + Send;
    /// Closes a connection at shutdown.
    fn close(&self, conn: Self::Conn) -> impl Future<Output = ()> + Send;

    /// Reads a table from the catalog; `None` when it does not exist.
    fn load_table(&self, conn: &mut Self::Conn, key: &TableKey) -> impl Future<Output = Result<Option<Self::Table>, Failure<Self>>> + Send;
    /// Why upserts by `key` (column indices) would be wrong on `table`.
    fn check_key(&self, _table: &Self::Table, _key: &[usize]) -> Result<(), String> {
        Ok(())
    }
    /// Applies one table's reduced rows: deletes, then upserts.
    fn table_work(
        &self,
        conn: &mut Self::Conn,
        table: &Self::Table,
        work: TableWork<<Self::Table as PlanTable>::Cell>,
    ) -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// Applies one keyless table's changes in order: appends (plain
    /// inserts) and removals of exactly one row equal in the given columns
    /// (NULL-safe; none when no row is).
    fn keyless_work(
        &self,
        conn: &mut Self::Conn,
        table: &Self::Table,
        ops: Vec<RowOp<<Self::Table as PlanTable>::Cell>>,
    ) -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// Moves the row with key `old` to key `new` in place when no row has
    /// `new` yet, setting the `set` columns (table order) of the new image.
    fn move_key(&self, conn: &mut Self::Conn, table: &Self::Table, key: &[usize], old: &[Cell<Self>], new: &[Cell<Self>], set: &[(usize, Cell<Self>)])
        -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// Empties `table`; `alone` when the batch holds nothing else.
    fn truncate(&self, conn: &mut Self::Conn, table: &Self::Table, alone: bool) -> impl Future<Output = Result<(), Failure<Self>>> + Send;

    /// The target type for a source column of table `key`: from the
    /// column's own type text when `type_dialect` is this engine's, else
    /// from its logical type (never from the record's source). May create
    /// what the type needs (an enum type) inside the batch's transaction.
    fn column_type(&self, conn: &mut Self::Conn, key: &TableKey, column: &ColumnSchema) -> impl Future<Output = Result<Mapped, Failure<Self>>> + Send;
    /// Adjusts a new table's column types together (e.g. bounded key types).
    fn adjust_types(&self, _types: &mut [String], _key: &[usize]) {}
    /// Creates a table (and its schema or database when missing).
    fn create_table(&self, conn: &mut Self::Conn, key: &TableKey, schema: &TableSchema, types: &[String]) -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// Runs DDL (`context` names it in errors).
    fn ddl(&self, conn: &mut Self::Conn, context: &str, sql: String) -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// `ALTER TABLE … ADD COLUMN` for a new, nullable column.
    fn add_column_sql(&self, table: &Self::Table, name: &str, sql_type: &str) -> String;
    /// True when target column `i` already has the mapped type `sql_type`.
    fn same_type(&self, table: &Self::Table, i: usize, sql_type: &str) -> bool;
    /// The statement that changes column `i`'s type, for a refusal message.
    fn alter_type_sql(&self, table: &Self::Table, i: usize, sql_type: &str) -> String;
    /// The statement that drops column `i`'s NOT NULL, or why not (a
    /// warning logged once instead).
    fn drop_not_null_sql(&self, table: &Self::Table, i: usize) -> Result<String, String>;

    /// Where the progress table goes when `progress_schema` is not set.
    fn progress_home(&self) -> String;
    /// Creates the progress table `table`, and its schema or database when
    /// missing (outside a batch).
    fn progress_create(&self, conn: &mut Self::Conn, table: &TableKey) -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// The DDL [`Dialect::progress_create`] runs, for the error when it cannot.
    fn progress_ddl(&self, table: &TableKey) -> String;
    /// The GRANT that lets the target's role create `table`, for the error
    /// when it cannot.
    fn progress_grant(&self, table: &TableKey) -> String;
    /// The progress rows of `pipeline`'s `target` (outside a batch).
    fn progress_read(&self, conn: &mut Self::Conn, table: &TableKey, pipeline: &str, target: &str)
        -> impl Future<Output = Result<Vec<ProgressRow>, Failure<Self>>> + Send;
    /// Deletes progress rows of `pipeline`'s `target` (outside a batch).
    fn progress_delete(&self, conn: &mut Self::Conn, table: &TableKey, pipeline: &str, target: &str, which: Forget)
        -> impl Future<Output = Result<(), Failure<Self>>> + Send;
    /// Upserts `row` inside the batch's transaction, as its last statement.
    fn progress_write(&self, conn: &mut Self::Conn, table: &TableKey, row: &ProgressRow) -> impl Future<Output = Result<(), Failure<Self>>> + Send;

    /// Upserts a progress row now, in the open transaction (several may
    /// go in one). The default is `progress_write`, for dialects that
    /// write it at once.
    fn progress_write_now(&self, conn: &mut Self::Conn, table: &TableKey, row: &ProgressRow) -> impl Future<Output = Result<(), Failure<Self>>> + Send {
        self.progress_write(conn, table, row)
    }

    /// True when DDL is transactional (an ALTER inside a transaction does
    /// not commit it): only then can the engine keep a transaction open
    /// across calls (see `open`).
    fn transactional_ddl(&self) -> bool {
        false
    }
}

/// A rendered value of a dialect's tables.
pub type Cell<D> = <<D as Dialect>::Table as PlanTable>::Cell;

/// One lane's connection.
struct Lane<C> {
    conn: Option<C>,
    /// Set from BEGIN until COMMIT or ROLLBACK finished: still set at the
    /// start of an apply means a previous apply was cancelled mid-batch, and
    /// the connection (maybe inside a transaction) is dropped, not reused.
    in_txn: bool,
}

/// A SQL target: the engine around one dialect. See the module docs.
pub struct SqlSink<D: Dialect> {
    dialect: D,
    lanes: Vec<tokio::sync::Mutex<Lane<D::Conn>>>,
    /// Target tables, shared by the lanes. Only committed state goes in.
    tables: Mutex<HashMap<TableKey, Cached<D::Table>>>,
    /// The last source schema applied per table (committed), kept apart
    /// from `tables` so that dropping the catalog cache after an error does
    /// not forget which columns the source had (drop detection).
    sources: Mutex<HashMap<TableKey, TableSchema>>,
    /// Things already warned about (text fallback, no key).
    warned: Mutex<HashSet<String>>,
    /// What the progress table says of the pipeline's current numbering
    /// (read at its first batch; see `progress`).
    progress: tokio::sync::Mutex<Option<Arc<progress::State>>>,
    /// The open transaction, when one is open (see `open`).
    open: tokio::sync::Mutex<Option<open::OpenTx<D>>>,
    /// `progress_schema`; `None`: the dialect's default.
    progress_home: Option<String>,
    /// Which target of its pipeline this is, in the progress rows.
    target: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<D: Dialect> SqlSink<D> {
    /// The engine around `dialect` with `lanes` lanes; lane 0 gets `first`,
    /// the connection the dialect opened to check the settings.
    pub fn new(dialect: D, lanes: usize, first: D::Conn) -> Self {
        let lanes: Vec<_> = (0..lanes.max(1))
            .map(|_| tokio::sync::Mutex::new(Lane { conn: None, in_txn: false }))
            .collect();
        let sink = SqlSink {
            dialect,
            lanes,
            tables: Default::default(),
            sources: Default::default(),
            warned: Default::default(),
            progress: Default::default(),
            open: Default::default(),
            progress_home: None,
            target: String::new(),
        };
        sink.lanes[0].try_lock().expect("new lanes are free").conn = Some(first);
        sink
    }

    /// The dialect (its settings and server facts).
    pub fn dialect(&self) -> &D {
        &self.dialect
    }

    /// Where the progress table goes (`progress_schema`: a PostgreSQL
    /// schema or a MySQL database; `None`: the dialect's default) and how
    /// this target is named in its rows: `target` tells apart targets of
    /// one pipeline that share a database (see [`target_label`]).
    pub fn with_progress(mut self, home: Option<String>, target: String) -> Self {
        self.progress_home = home.filter(|h| !h.is_empty());
        self.target = target;
        self
    }

    fn definite(&self, message: String) -> SinkError {
        SinkError::definite(self.dialect.name(), message)
    }

    fn warn_once(&self, key: String, f: impl FnOnce()) {
        if lock(&self.warned).insert(key) {
            f();
        }
    }

    /// After a COMMIT: the tables a transaction created, altered or read
    /// (its overlay) join the shared cache, with their source schemas.
    fn publish(&self, overlay: HashMap<TableKey, Cached<D::Table>>) {
        let mut sources = lock(&self.sources);
        for (key, cached) in &overlay {
            if let Some(schema) = &cached.source {
                sources.insert(key.clone(), schema.clone());
            }
        }
        drop(sources);
        lock(&self.tables).extend(overlay);
    }

    async fn apply_batch(&self, batch: &Batch) -> Result<(), SinkError> {
        if !batch.records.iter().any(|c| !matches!(c.op(), Op::Heartbeat | Op::Message)) {
            return Ok(());
        }
        let mut lane = self.lanes[batch.lane % self.lanes.len()].lock().await;
        if lane.in_txn {
            lane.conn = None;
            lane.in_txn = false;
        }
        if let Some(conn) = lane.conn.as_mut() {
            if !self.dialect.usable(conn).await {
                lane.conn = None;
            }
        }
        if lane.conn.is_none() {
            lane.conn = Some(self.dialect.open().await.map_err(|e| self.dialect.scrub(e))?);
        }
        let lane = &mut *lane;
        // Set while statements run: a cancelled apply leaves the connection
        // to be dropped, not reused (see `Lane::in_txn`).
        lane.in_txn = true;
        let conn = lane.conn.as_mut().expect("connected above");
        // Exactly once: leave out what the target already holds.
        let (records, progress) = match &batch.order {
            None => (std::borrow::Cow::Borrowed(batch.records.as_slice()), None),
            Some(order) => {
                let state = match self.progress_state(conn, &order.run).await {
                    Ok(s) => s,
                    Err(f) => {
                        lane.in_txn = false;
                        if f.lost {
                            lane.conn = None;
                        }
                        return Err(self.dialect.scrub(f.error));
                    }
                };
                if batch.lane >= order.run.lanes {
                    lane.in_txn = false;
                    return Err(self.definite(format!("a batch of lane {} of {} lanes", batch.lane, order.run.lanes)));
                }
                let screened = progress::screen(&state, &self.target, batch.lane, order, &batch.records);
                if screened.skipped > 0 {
                    tracing::debug!(target_name = %self.dialect.name(), lane = batch.lane, skipped = screened.skipped,
                        "records the target already applied are left out");
                }
                let row = screened.row.map(|row| (state.table.clone(), row, screened.ordinal, state));
                (screened.records, row)
            }
        };
        let planned = if progress.is_none() && !records.iter().any(|c| !matches!(c.op(), Op::Heartbeat | Op::Message)) {
            None
        } else {
            Some(document::to_table_records(&records).map_err(|m| self.definite(m)))
        };
        let records = match planned {
            None => {
                lane.in_txn = false;
                return Ok(());
            }
            Some(Err(e)) => {
                lane.in_txn = false;
                return Err(e);
            }
            Some(Ok(r)) => r,
        };
        let steps = match plan::steps(&records) {
            Ok(s) => s,
            Err(m) => {
                lane.in_txn = false;
                return Err(self.definite(m));
            }
        };
        let mut tx = tx::Tx { sink: self, conn, overlay: HashMap::new() };
        let result = tx.run(steps, progress.as_ref().map(|(table, row, _, _)| (table, row))).await;
        let overlay = std::mem::take(&mut tx.overlay);
        match result {
            Ok(()) => {
                lane.in_txn = false;
                if let Some((_, _, ordinal, state)) = &progress {
                    state.advance(batch.lane, *ordinal);
                }
                self.publish(overlay);
                Ok(())
            }
            Err(failure) => {
                // The catalog may differ from what we cached (DDL that
                // committed, an ALTER by hand): reload next time.
                lock(&self.tables).clear();
                let Failure { error, lost, diagnosis } = failure;
                let conn = lane.conn.as_mut().expect("connected above");
                if lost || !self.dialect.rollback(conn).await {
                    lane.conn = None;
                    lane.in_txn = false;
                    return Err(self.dialect.scrub(error));
                }
                lane.in_txn = false;
                let error = match diagnosis {
                    Some(d) => self.dialect.explain(conn, error, d).await,
                    None => error,
                };
                Err(self.dialect.scrub(error))
            }
        }
    }
}

/// How a target names itself in the progress rows of its pipeline: its
/// `schema` / `database` and `tables`, so that two targets of one pipeline
/// writing into one database keep apart (long texts are shortened with a
/// digest, to fit the key).
pub fn target_label(namespace: Option<&str>, tables: &[String]) -> String {
    let mut label = String::new();
    if let Some(n) = namespace.filter(|n| !n.is_empty()) {
        label.push_str(n);
    }
    if !tables.is_empty() {
        label.push_str(" tables=");
        label.push_str(&tables.join(","));
    }
    const MAX: usize = 120;
    if label.len() <= MAX {
        return label;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    label.hash(&mut h);
    let mut cut = 100;
    while !label.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}#{:016x}", &label[..cut], h.finish())
}

impl<D: Dialect> Sink for SqlSink<D> {
    fn name(&self) -> &str {
        self.dialect.name()
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.apply_batch(batch))
    }

    fn open_transaction(&self) -> Option<&dyn super::OpenTransaction> {
        self.dialect.transactional_ddl().then_some(self as &dyn super::OpenTransaction)
    }

    fn close(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            super::OpenTransaction::rollback(self).await;
            for lane in &self.lanes {
                let conn = lane.lock().await.conn.take();
                if let Some(conn) = conn {
                    self.dialect.close(conn).await;
                }
            }
            Ok(())
        })
    }
}

/// The password of a `scheme://user:password@…` URL, if any (for scrubbing
/// messages about a URL that did not parse).
pub fn password_in_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.rsplit_once('@')?.0;
    let pw = userinfo.split_once(':')?.1;
    (!pw.is_empty()).then(|| pw.to_string())
}

/// `message` with every occurrence of `password` replaced by `***`.
pub fn scrub(message: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if !p.is_empty() => message.replace(p, "***"),
        _ => message.to_string(),
    }
}

/// `e` with the password scrubbed from its message, and without its cause
/// if the cause's text holds the password.
pub fn scrub_error(e: SinkError, password: Option<&str>) -> SinkError {
    let e = match e {
        SinkError::Transient { target, message, cause } => SinkError::Transient { target, message: scrub(&message, password), cause },
        SinkError::Definite { target, message, cause } => SinkError::Definite { target, message: scrub(&message, password), cause },
    };
    match password {
        Some(p) => e.forget_cause_mentioning(p),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_the_password() {
        let dbg = format!("{:?}", SqlSinkConfig { url: "mysql://u:s3cret@h/db".into(), namespace: None, create_tables: true, lanes: 1 });
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }

    /// Connects with `url` through each dialect's `connect`.
    async fn connect_each(url: &str) -> Vec<SinkError> {
        let config = SqlSinkConfig { url: url.into(), namespace: None, create_tables: false, lanes: 1 };
        let pg = crate::sinks::postgres::PostgresSink::connect(config.clone()).await.err();
        let my = crate::sinks::mysql::MysqlSink::connect(config).await.err();
        [pg, my].into_iter().map(|e| e.expect("the connect must fail")).collect()
    }

    #[tokio::test]
    async fn bad_urls_are_definite_and_never_echo_the_password() {
        for url in ["postgres://u:s3cret@host:notaport/db", "mysql://u:s3cret@host:notaport/db", "http://u:s3cret@h/db"] {
            for e in connect_each(url).await {
                assert!(!e.is_transient(), "{url}: {e}");
                assert!(!e.to_string().contains("s3cret"), "{url}: {e}");
            }
        }
    }

    #[tokio::test]
    async fn unreachable_servers_are_transient() {
        // Port 1 on loopback: nothing listens there.
        let pg = connect_each("postgres://u:s3cret@127.0.0.1:1/db").await;
        let my = connect_each("mysql://u:s3cret@127.0.0.1:1/db").await;
        for e in [&pg[0], &my[1]] {
            assert!(e.is_transient(), "{e}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn passwords_are_found_and_scrubbed() {
        assert_eq!(password_in_url("postgres://u:s3cret@h/db").as_deref(), Some("s3cret"));
        assert_eq!(password_in_url("mysql://u:s3cret@h:3306/db").as_deref(), Some("s3cret"));
        assert_eq!(password_in_url("postgres://u@h/db"), None);
        assert_eq!(scrub("bad s3cret here", Some("s3cret")), "bad *** here");
        let e = scrub_error(SinkError::transient("t", "x s3cret"), Some("s3cret"));
        assert!(e.is_transient() && e.to_string().ends_with("x ***"), "{e}");
    }
}
