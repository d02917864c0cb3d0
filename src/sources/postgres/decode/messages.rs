//! The decoded messages: [`PgMessage`], and the table description a
//! Relation message carries ([`Relation`], [`RelationColumn`]).
use super::*;

/// One pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgMessage {
    /// Start of a transaction ('B').
    Begin {
        /// LSN of the transaction's commit record.
        final_lsn: u64,
        /// Commit time, microseconds since 2000-01-01 00:00:00 UTC.
        commit_time_micros: i64,
        /// Transaction id.
        xid: u32,
    },
    /// End of a transaction ('C').
    Commit {
        /// Unused by the server (0).
        flags: u8,
        /// LSN of the commit record.
        commit_lsn: u64,
        /// LSN just past the commit record: the resume point.
        end_lsn: u64,
        /// Commit time, microseconds since 2000-01-01 00:00:00 UTC.
        commit_time_micros: i64,
    },
    /// The transaction came from another node ('O').
    Origin {
        /// Commit LSN on the origin server.
        lsn: u64,
        /// Replication origin name.
        name: String,
    },
    /// Table description, sent before the first change of a table in a
    /// session and again after its schema changes ('R').
    Relation(Relation),
    /// A non-builtin type used by a following Relation ('Y').
    ///
    /// For a domain the server sends the domain's oid with the namespace
    /// and name of its *base* type (e.g. `posint` over `int4` arrives as
    /// namespace `""`, name `"int4"`).
    Type {
        /// Type oid (as used in [`RelationColumn::type_oid`]).
        oid: u32,
        /// Namespace, empty for `pg_catalog`.
        namespace: String,
        /// Type name.
        name: String,
    },
    /// A row inserted ('I').
    Insert {
        /// Relation oid.
        relation: u32,
        /// The new row.
        new: Tuple,
    },
    /// A row updated ('U').
    Update {
        /// Relation oid.
        relation: u32,
        /// The old key (when the key changed) or the full old row (REPLICA
        /// IDENTITY FULL); `None` when neither is sent.
        old: Option<OldTuple>,
        /// The new row; TOASTed columns that did not change are
        /// [`TupleValue::UnchangedToast`].
        new: Tuple,
    },
    /// A row deleted ('D').
    Delete {
        /// Relation oid.
        relation: u32,
        /// The old key or the full old row.
        old: OldTuple,
    },
    /// Tables truncated ('T').
    Truncate {
        /// `TRUNCATE ... CASCADE`.
        cascade: bool,
        /// `TRUNCATE ... RESTART IDENTITY`.
        restart_identity: bool,
        /// Oids of all truncated relations (those pulled in by CASCADE too).
        relations: Vec<u32>,
    },
    /// A logical decoding message, `pg_logical_emit_message` ('M').
    Message {
        /// Part of a transaction (between Begin and Commit) or not.
        transactional: bool,
        /// LSN of the message.
        lsn: u64,
        /// The message's prefix.
        prefix: String,
        /// The message's payload.
        content: Bytes,
    },
    /// A block of a streamed in-progress transaction begins ('S').
    StreamStart {
        /// The top-level transaction's xid.
        xid: u32,
        /// The transaction's first block in this session.
        first_segment: bool,
    },
    /// The current streamed block ends ('E').
    StreamStop,
    /// A streamed transaction committed ('c'): apply what it streamed.
    StreamCommit {
        /// The top-level transaction's xid.
        xid: u32,
        /// Unused by the server (0).
        flags: u8,
        /// LSN of the commit record.
        commit_lsn: u64,
        /// LSN just past the commit record: the resume point.
        end_lsn: u64,
        /// Commit time, microseconds since 2000-01-01 00:00:00 UTC.
        commit_time_micros: i64,
    },
    /// A streamed transaction, or one of its subtransactions, aborted ('A').
    StreamAbort {
        /// The top-level transaction's xid.
        xid: u32,
        /// The aborted subtransaction's xid; equal to `xid` when the whole
        /// transaction aborted.
        subxid: u32,
        /// LSN of the abort record (`streaming 'parallel'` only).
        abort_lsn: Option<u64>,
        /// Abort time (`streaming 'parallel'` only).
        abort_time_micros: Option<i64>,
    },
}

impl PgMessage {
    /// The message type's name, e.g. `"Insert"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            PgMessage::Begin { .. } => "Begin",
            PgMessage::Commit { .. } => "Commit",
            PgMessage::Origin { .. } => "Origin",
            PgMessage::Relation(_) => "Relation",
            PgMessage::Type { .. } => "Type",
            PgMessage::Insert { .. } => "Insert",
            PgMessage::Update { .. } => "Update",
            PgMessage::Delete { .. } => "Delete",
            PgMessage::Truncate { .. } => "Truncate",
            PgMessage::Message { .. } => "Message",
            PgMessage::StreamStart { .. } => "Stream Start",
            PgMessage::StreamStop => "Stream Stop",
            PgMessage::StreamCommit { .. } => "Stream Commit",
            PgMessage::StreamAbort { .. } => "Stream Abort",
        }
    }
}

/// A table's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Relation oid; the changes refer to it.
    pub oid: u32,
    /// Schema, empty for `pg_catalog`.
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// `relreplident`: b'd' default (primary key), b'n' nothing, b'f' full,
    /// b'i' index.
    pub replica_identity: u8,
    /// Published columns in table order (generated columns are not sent).
    pub columns: Vec<RelationColumn>,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity key.
    pub is_key: bool,
    /// Column name.
    pub name: String,
    /// Type oid (`pg_type.oid`; a domain's own oid, not its base type's).
    pub type_oid: u32,
    /// `atttypmod`, e.g. -1, or 24 for `varchar(20)`.
    pub type_modifier: i32,
}
