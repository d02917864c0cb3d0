//! Reading the envelope: the record's fields and the nested table,
//! position, schema change (with each column's logical type) and message
//! objects.

use super::read::{invalid, once, unknown_field, MAX_DEPTH, P, R};
use super::{logical_kind_from_name, op_from_name};
use crate::record::{
    Change, Column, ColumnSchema, LogicalMessage, LogicalType, Position, Row, SchemaChange, TableRef, TableSchema,
};

impl P<'_> {
    pub(super) fn change(&mut self) -> R<Change> {
        let mut c = Change::default();
        let mut seen = 0;
        self.ws();
        self.object("an object (a change record)", |p, key| {
            match key {
                "pipeline" => {
                    once(&mut seen, 0)?;
                    c.pipeline = p.string_owned("a string")?;
                }
                "source" => {
                    once(&mut seen, 1)?;
                    c.source = p.string_owned("a string")?;
                }
                "seq" => {
                    once(&mut seen, 2)?;
                    c.seq = p.int("an unsigned 64-bit integer")?;
                }
                "op" => {
                    once(&mut seen, 3)?;
                    p.ws();
                    c.op = if p.peek() == Some(b'"') {
                        let name = p.string_body()?;
                        op_from_name(&name)
                            .ok_or_else(|| invalid(format!("unknown op {name:?}")))?
                            as i32
                    } else {
                        p.int("an op name")?
                    };
                }
                "table" => {
                    once(&mut seen, 4)?;
                    c.table = Some(p.table()?);
                }
                "key" => {
                    once(&mut seen, 5)?;
                    c.key_columns = p.string_list("an array of column names")?;
                }
                "before" => {
                    once(&mut seen, 6)?;
                    c.before = Some(Row { columns: p.row("an object (a row)")? });
                }
                "after" => {
                    once(&mut seen, 7)?;
                    c.after = Some(Row { columns: p.row("an object (a row)")? });
                }
                "position" => {
                    once(&mut seen, 8)?;
                    c.position = Some(p.position()?);
                }
                "tx_id" => {
                    once(&mut seen, 9)?;
                    c.tx_id = p.string_owned("a string")?;
                }
                "commit_time" => {
                    once(&mut seen, 10)?;
                    c.commit_time = Some(p.timestamp(true)?);
                }
                "tx_end" => {
                    once(&mut seen, 11)?;
                    c.tx_end = p.boolean()?;
                }
                "schema_change" => {
                    once(&mut seen, 12)?;
                    c.schema_change = Some(p.schema_change()?);
                }
                "message" => {
                    once(&mut seen, 13)?;
                    c.message = Some(p.message()?);
                }
                "documents" => {
                    once(&mut seen, 14)?;
                    c.documents = p.boolean()?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(c)
    }

    pub(super) fn table(&mut self) -> R<TableRef> {
        let mut t = TableRef::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "schema" => {
                    once(&mut seen, 0)?;
                    t.schema = p.string_owned("a string")?;
                }
                "name" => {
                    once(&mut seen, 1)?;
                    t.name = p.string_owned("a string")?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(t)
    }

    pub(super) fn position(&mut self) -> R<Position> {
        let mut pos = Position::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "token" => {
                    once(&mut seen, 0)?;
                    pos.token = p.base64("a base64 string")?;
                }
                "display" => {
                    once(&mut seen, 1)?;
                    pos.display = p.string_owned("a string")?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(pos)
    }

    pub(super) fn schema_change(&mut self) -> R<SchemaChange> {
        let mut sc = SchemaChange::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "schema" => {
                    once(&mut seen, 0)?;
                    sc.schema = Some(p.table_schema()?);
                }
                "ddl" => {
                    once(&mut seen, 1)?;
                    sc.ddl = p.string_owned("a string")?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(sc)
    }

    pub(super) fn table_schema(&mut self) -> R<TableSchema> {
        let mut ts = TableSchema::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "table" => {
                    once(&mut seen, 0)?;
                    ts.table = Some(p.table()?);
                }
                "columns" => {
                    once(&mut seen, 1)?;
                    p.array("an array of column objects", |p, _| {
                        ts.columns.push(p.column_schema()?);
                        Ok(())
                    })?;
                }
                "key" => {
                    once(&mut seen, 2)?;
                    ts.key_columns = p.string_list("an array of column names")?;
                }
                "documents" => {
                    once(&mut seen, 3)?;
                    ts.documents = p.boolean()?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(ts)
    }

    pub(super) fn column_schema(&mut self) -> R<ColumnSchema> {
        let mut cs = ColumnSchema::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "name" => {
                    once(&mut seen, 0)?;
                    cs.name = p.string_owned("a string")?;
                }
                "source_type" => {
                    once(&mut seen, 1)?;
                    cs.source_type = p.string_owned("a string")?;
                }
                "nullable" => {
                    once(&mut seen, 2)?;
                    cs.nullable = p.boolean()?;
                }
                "logical" => {
                    once(&mut seen, 3)?;
                    cs.logical = Some(p.logical_type()?);
                }
                "type_dialect" => {
                    once(&mut seen, 4)?;
                    cs.type_dialect = p.string_owned("a string")?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(cs)
    }

    /// A [`LogicalType`]; `element` nests, so it counts against the
    /// nesting limit like values do.
    fn logical_type(&mut self) -> R<LogicalType> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid("logical types nested too deeply"));
        }
        let mut t = LogicalType::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "kind" => {
                    once(&mut seen, 0)?;
                    p.ws();
                    t.kind = if p.peek() == Some(b'"') {
                        let name = p.string_body()?;
                        logical_kind_from_name(&name)
                            .ok_or_else(|| invalid(format!("unknown logical kind {name:?}")))?
                            as i32
                    } else {
                        p.int("a logical kind name")?
                    };
                }
                "width" => {
                    once(&mut seen, 1)?;
                    t.width = p.int("an unsigned 32-bit integer")?;
                }
                "unsigned" => {
                    once(&mut seen, 2)?;
                    t.unsigned = p.boolean()?;
                }
                "precision" => {
                    once(&mut seen, 3)?;
                    t.precision = p.int("an unsigned 32-bit integer")?;
                }
                "scale" => {
                    once(&mut seen, 4)?;
                    t.scale = p.int("an unsigned 32-bit integer")?;
                }
                "has_precision" => {
                    once(&mut seen, 5)?;
                    t.has_precision = p.boolean()?;
                }
                "fixed_length" => {
                    once(&mut seen, 6)?;
                    t.fixed_length = p.boolean()?;
                }
                "with_time_zone" => {
                    once(&mut seen, 7)?;
                    t.with_time_zone = p.boolean()?;
                }
                "labels" => {
                    once(&mut seen, 8)?;
                    t.labels = p.string_list("an array of labels")?;
                }
                "element" => {
                    once(&mut seen, 9)?;
                    t.element = Some(Box::new(p.logical_type()?));
                }
                "name" => {
                    once(&mut seen, 10)?;
                    t.name = p.string_owned("a string")?;
                }
                "boolean_like" => {
                    once(&mut seen, 11)?;
                    t.boolean_like = p.boolean()?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        self.depth -= 1;
        Ok(t)
    }

    pub(super) fn message(&mut self) -> R<LogicalMessage> {
        let mut m = LogicalMessage::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "prefix" => {
                    once(&mut seen, 0)?;
                    m.prefix = p.string_owned("a string")?;
                }
                "content" => {
                    once(&mut seen, 1)?;
                    m.content = p.base64("a base64 string")?;
                }
                "transactional" => {
                    once(&mut seen, 2)?;
                    m.transactional = p.boolean()?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(m)
    }

    /// A row or document: columns in input order, repeated names kept.
    pub(super) fn row(&mut self, what: &str) -> R<Vec<Column>> {
        let mut cols = Vec::new();
        self.object(what, |p, key| {
            let value = p.value()?;
            cols.push(Column { name: key.to_owned(), value: Some(value) });
            Ok(())
        })?;
        Ok(cols)
    }
}
