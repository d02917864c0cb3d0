//! Oracle MySQL GTID sets (`3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,…`):
//! the executed set grows by one transaction at every commit, and resuming
//! sends the whole set to the server (`COM_BINLOG_DUMP_GTID`), which then
//! skips every transaction in it. (MariaDB GTIDs are `domain-server-seq`
//! lists and live in the stream module.)

use std::collections::BTreeMap;
use std::fmt;

/// A set of MySQL GTIDs: per source UUID, sorted disjoint inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet {
    ranges: BTreeMap<String, Vec<(u64, u64)>>,
}

impl GtidSet {
    /// Parses MySQL's text form (`uuid:1-5:7,uuid2:1-3`; whitespace and
    /// newlines, as `@@gtid_executed` prints them, are ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut set = GtidSet::default();
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for part in compact.split(',').filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let uuid = fields.next().unwrap_or_default().to_lowercase();
            if uuid.len() != 36 || !uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return Err(format!("`{part}` does not start with a server UUID"));
            }
            for range in fields {
                let (a, b) = match range.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (range, range),
                };
                let (a, b): (u64, u64) = match (a.parse(), b.parse()) {
                    (Ok(a), Ok(b)) if a >= 1 && a <= b => (a, b),
                    _ => return Err(format!("`{range}` in `{part}` is not a transaction range like 1-5")),
                };
                set.add_range(&uuid, a, b);
            }
        }
        Ok(set)
    }

    /// True when no transaction is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Adds one transaction.
    pub fn add(&mut self, uuid: &str, gno: u64) {
        self.add_range(uuid, gno, gno);
    }

    fn add_range(&mut self, uuid: &str, a: u64, b: u64) {
        let v = self.ranges.entry(uuid.to_lowercase()).or_default();
        v.push((a, b));
        v.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for &(s, e) in v.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *v = merged;
    }

    /// The set in the per-UUID form the dump request takes (`uuid:1-5:7`).
    pub fn sids(&self) -> Vec<String> {
        self.ranges
            .iter()
            .map(|(uuid, rs)| {
                let mut s = uuid.clone();
                for (a, b) in rs {
                    if a == b {
                        s.push_str(&format!(":{a}"));
                    } else {
                        s.push_str(&format!(":{a}-{b}"));
                    }
                }
                s
            })
            .collect()
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sids().join(","))
    }
}

/// A GTID event's 16-byte source id as a UUID string.
pub fn uuid_text(sid: &[u8; 16]) -> String {
    let h: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "00000000-0000-0000-0000-0000000000ab";

    #[test]
    fn parses_merges_and_prints_like_mysql() {
        let mut s = GtidSet::parse(&format!("{A}:1-5:7,\n{B}:3")).unwrap();
        assert_eq!(s.to_string(), format!("{B}:3,{A}:1-5:7"));
        s.add(A, 6);
        assert_eq!(s.to_string(), format!("{B}:3,{A}:1-7"));
        s.add(B, 5);
        s.add(B, 4);
        assert_eq!(s.to_string(), format!("{B}:3-5,{A}:1-7"));
        assert_eq!(GtidSet::parse(&s.to_string()).unwrap(), s);
        assert!(GtidSet::parse("").unwrap().is_empty());
        assert!(GtidSet::parse("nope:1-2").is_err());
        assert!(GtidSet::parse(&format!("{A}:5-1")).is_err());
    }

    #[test]
    fn sids_parse_as_dump_request_entries() {
        let s = GtidSet::parse(&format!("{A}:1-5:7")).unwrap();
        for sid in s.sids() {
            let parsed: mysql_async::Sid<'static> = sid.parse().expect("mysql_common reads our form");
            let _ = parsed;
        }
        let sid = [0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62];
        assert_eq!(uuid_text(&sid), A);
    }
}
