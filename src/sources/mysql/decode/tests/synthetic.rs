//! Builders for synthetic MySQL events (binary JSON, partial JSON
//! updates): MariaDB has neither, so there is nothing to capture.

use super::*;

pub fn event(type_code: u8, body: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&0u32.to_le_bytes());
    e.push(type_code);
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&(19 + body.len() as u32).to_le_bytes());
    e.extend_from_slice(&0u32.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(body);
    e
}

/// A TABLE_MAP event for `db.t` with the given column types and metadata.
pub fn table_map(types: &[u8], meta: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&7u64.to_le_bytes()[..6]);
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&[2, b'd', b'b', 0, 1, b't', 0]);
    b.push(types.len() as u8);
    b.extend_from_slice(types);
    b.push(meta.len() as u8);
    b.extend_from_slice(meta);
    b.extend(std::iter::repeat_n(0xff, types.len().div_ceil(8)));
    event(19, &b)
}

/// A v2 rows event (30 write, 31 update, 32 delete, 39 partial update).
pub fn rows(type_code: u8, columns: usize, rows: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&7u64.to_le_bytes()[..6]);
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.push(columns as u8);
    let images = if matches!(type_code, 31 | 39) { 2 } else { 1 };
    for _ in 0..images {
        b.extend(std::iter::repeat_n(0xff, columns.div_ceil(8)));
    }
    b.extend_from_slice(rows);
    event(type_code, &b)
}

pub fn parse(table_map: &[u8], rows: &[u8]) -> (RowsEventData<'static>, TableMapEvent<'static>) {
    let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let tme = match Event::read(&fde, table_map).unwrap().read_data().unwrap() {
        Some(EventData::TableMapEvent(t)) => t.into_owned(),
        other => panic!("{other:?}"),
    };
    let ev = match Event::read(&fde, rows).unwrap().read_data().unwrap() {
        Some(EventData::RowsEvent(r)) => r.into_owned(),
        other => panic!("{other:?}"),
    };
    (ev, tme)
}

/// A binary JSON value (MySQL's small format), as (type, bytes).
pub enum J<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Dbl(f64),
    Str(&'a str),
    Arr(Vec<J<'a>>),
    Obj(Vec<(&'a str, J<'a>)>),
    Opaque(u8, Vec<u8>),
}

fn varlen(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

pub fn encode(j: &J<'_>) -> (u8, Vec<u8>) {
    match j {
        J::Null => (0x04, vec![0]),
        J::Bool(b) => (0x04, vec![if *b { 1 } else { 2 }]),
        J::Int(v) if i16::try_from(*v).is_ok() => (0x05, (*v as i16).to_le_bytes().to_vec()),
        J::Int(v) if i32::try_from(*v).is_ok() => (0x07, (*v as i32).to_le_bytes().to_vec()),
        J::Int(v) => (0x09, v.to_le_bytes().to_vec()),
        J::Dbl(d) => (0x0b, d.to_le_bytes().to_vec()),
        J::Str(s) => {
            let mut v = Vec::new();
            varlen(s.len(), &mut v);
            v.extend_from_slice(s.as_bytes());
            (0x0c, v)
        }
        J::Opaque(t, data) => {
            let mut v = vec![*t];
            varlen(data.len(), &mut v);
            v.extend_from_slice(data);
            (0x0f, v)
        }
        J::Arr(items) => (0x02, container(&[], items.iter().collect())),
        J::Obj(fields) => (
            0x00,
            container(&fields.iter().map(|(k, _)| *k).collect::<Vec<_>>(), fields.iter().map(|(_, v)| v).collect()),
        ),
    }
}

fn container(keys: &[&str], values: Vec<&J<'_>>) -> Vec<u8> {
    let n = values.len();
    let header = 4 + keys.len() * 4 + n * 3;
    let mut tail = Vec::new();
    let mut key_entries = Vec::new();
    for k in keys {
        key_entries.extend_from_slice(&((header + tail.len()) as u16).to_le_bytes());
        key_entries.extend_from_slice(&(k.len() as u16).to_le_bytes());
        tail.extend_from_slice(k.as_bytes());
    }
    let mut value_entries = Vec::new();
    for v in values {
        let (ty, bytes) = encode(v);
        value_entries.push(ty);
        if matches!(ty, 0x04..=0x06) {
            let mut inline = bytes.clone();
            inline.resize(2, 0);
            value_entries.extend_from_slice(&inline);
        } else {
            value_entries.extend_from_slice(&((header + tail.len()) as u16).to_le_bytes());
            tail.extend_from_slice(&bytes);
        }
    }
    let size = header + tail.len();
    let mut out = Vec::new();
    out.extend_from_slice(&(n as u16).to_le_bytes());
    out.extend_from_slice(&(size as u16).to_le_bytes());
    out.extend_from_slice(&key_entries);
    out.extend_from_slice(&value_entries);
    out.extend_from_slice(&tail);
    out
}

pub fn doc(j: &J<'_>) -> Vec<u8> {
    let (ty, mut bytes) = encode(j);
    bytes.insert(0, ty);
    bytes
}
