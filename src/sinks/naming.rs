//! Names and keys of events for brokers: topic and subject templates, and
//! the message key (the row's key as a canonical JSON object, so every
//! change of a key goes to one partition, in order).

use crate::record::{json::value_text, value::Kind, Change};

/// Renders a topic or subject template: `{pipeline}`, `{schema}` and
/// `{database}` (both the record's schema or database), `{table}`.
/// Config validation allows no other placeholder. A record without a
/// table (a logical message) renders `{schema}` and `{table}` empty.
pub fn render_template(template: &str, change: &Change) -> String {
    let (schema, table) = change.table.as_ref().map_or(("", ""), |t| (t.schema.as_str(), t.name.as_str()));
    template
        .replace("{pipeline}", &change.pipeline)
        .replace("{schema}", schema)
        .replace("{database}", schema)
        .replace("{table}", table)
}

/// The row's key as a JSON object in key order, e.g. `{"id":1}` or
/// `{"order_id":7,"line":"a"}`: numbers and booleans as JSON numbers and
/// booleans, every other value as its canonical text in a string, NULL as
/// null. Empty (`{}`) for a record without key columns.
pub fn key_json(change: &Change) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in change.key_columns.iter().zip(change.key_values()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::record::json::push_json_string(&mut out, name);
        out.push(':');
        match value.kind.as_ref() {
            None | Some(Kind::Null(_)) => out.push_str("null"),
            Some(Kind::Int64(n)) => out.push_str(&n.to_string()),
            Some(Kind::Int32(n)) => out.push_str(&n.to_string()),
            Some(Kind::Uint64(n)) => out.push_str(&n.to_string()),
            Some(Kind::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
            Some(_) => crate::record::json::push_json_string(&mut out, &value_text(value).unwrap_or_default()),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Op, Row, TableRef, Value};

    #[test]
    fn templates_and_keys() {
        let c = Change {
            pipeline: "shop".into(),
            op: Op::Insert as i32,
            table: Some(TableRef { schema: "public".into(), name: "orders".into() }),
            key_columns: vec!["id".into(), "code".into()],
            after: Some(Row::from_pairs([("id", Value::int64(7)), ("code", Value::text("a\"b")), ("x", Value::int64(1))])),
            ..Default::default()
        };
        assert_eq!(render_template("{pipeline}.{schema}.{table}", &c), "shop.public.orders");
        assert_eq!(render_template("cdc-{database}-{table}", &c), "cdc-public-orders");
        assert_eq!(key_json(&c), r#"{"id":7,"code":"a\"b"}"#);
        let mut d = c.clone();
        d.op = Op::Delete as i32;
        d.before = Some(Row::from_pairs([("id", Value::int64(8)), ("code", Value::null())]));
        d.after = None;
        assert_eq!(key_json(&d), r#"{"id":8,"code":null}"#, "a delete's key comes from its old row");
    }
}
