//! Unit tests of the text conversion: shared helpers here, the tests by
//! topic in the sibling files.
use super::builtins::*;
use super::*;
use crate::record::Null;
use bytes::Bytes;

mod arrays;
mod builtins;
mod printed;
mod properties;
mod scalars;
mod temporal;

fn b(oid: u32) -> PgType {
    PgType::Builtin(oid)
}

fn ok(ty: &PgType, text: &str) -> Kind {
    match text_to_value(ty, text) {
        Ok(v) => v.kind.expect("a kind is set"),
        Err(e) => panic!("{text:?} as {}: {e}", type_name(ty)),
    }
}

fn err(ty: &PgType, text: &str) -> TypeError {
    match text_to_value(ty, text) {
        Ok(v) => panic!("{text:?} as {} should fail, got {v:?}", type_name(ty)),
        Err(e) => e,
    }
}

fn date(days: i32) -> Kind {
    Kind::Date(Date { days, special: Special::Finite as i32 })
}

fn ts(seconds: i64, nanos: u32) -> Timestamp {
    Timestamp { seconds, nanos, special: Special::Finite as i32 }
}

fn special_ts(sp: Special) -> Timestamp {
    Timestamp { seconds: 0, nanos: 0, special: sp as i32 }
}

fn time(micros: i64) -> Kind {
    Kind::Time(Time { micros, has_offset: false, offset_seconds: 0 })
}

fn timetz(micros: i64, offset_seconds: i32) -> Kind {
    Kind::Time(Time { micros, has_offset: true, offset_seconds })
}

fn interval(months: i32, days: i32, micros: i64) -> Kind {
    Kind::Interval(Interval { months, days, micros })
}

fn text(s: &str) -> Kind {
    Kind::Text(s.to_owned())
}

fn arr(element_type: &str, elements: Vec<Kind>) -> Kind {
    Kind::Array(Array {
        lower_bounds: Vec::new(),
        element_type: element_type.into(),
        elements: elements.into_iter().map(Value::of).collect(),
    })
}

fn null() -> Kind {
    Kind::Null(Null {})
}
