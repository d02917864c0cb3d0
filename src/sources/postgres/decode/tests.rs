//! Unit tests of the decoder: the captured fixtures message by message,
//! hand-made messages, error locations, and no panic or huge allocation on
//! truncated, mutated or random bytes.
use super::*;
use proptest::prelude::*;

const DEFAULT: &str = include_str!("../testdata/default.hex");
const FULL: &str = include_str!("../testdata/full.hex");
const INDEX: &str = include_str!("../testdata/index.hex");
const TOAST: &str = include_str!("../testdata/toast.hex");
const TRUNCATE: &str = include_str!("../testdata/truncate.hex");
const MESSAGE: &str = include_str!("../testdata/message.hex");
const TYPES: &str = include_str!("../testdata/types.hex");
const ORIGIN: &str = include_str!("../testdata/origin.hex");
const BINARY: &str = include_str!("../testdata/binary.hex");
const ALL: [&str; 9] = [DEFAULT, FULL, INDEX, TOAST, TRUNCATE, MESSAGE, TYPES, ORIGIN, BINARY];
/// Protocol 2 with streaming: parsed with [`streamed`], not [`messages`].
const STREAMED: &str = include_str!("../testdata/streamed.hex");

fn unhex(line: &str) -> Bytes {
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("bad hex digit {c:?} in fixture"),
    };
    assert!(line.len() % 2 == 0, "odd hex line in fixture");
    Bytes::from(line.as_bytes().chunks(2).map(|p| digit(p[0]) << 4 | digit(p[1])).collect::<Vec<u8>>())
}

fn raw(fixture: &str) -> Vec<Bytes> {
    fixture.lines().filter(|l| !l.trim().is_empty()).map(|l| unhex(l.trim())).collect()
}

fn messages(fixture: &str) -> Vec<PgMessage> {
    raw(fixture).iter().map(|b| parse(b).unwrap_or_else(|e| panic!("fixture does not parse: {e}"))).collect()
}

fn text(v: &TupleValue) -> &str {
    match v {
        TupleValue::Text(b) => std::str::from_utf8(b).expect("utf-8 text value"),
        other => panic!("expected a text value, found {other:?}"),
    }
}

fn texts(t: &Tuple) -> Vec<Option<&str>> {
    t.0.iter()
        .map(|v| match v {
            TupleValue::Null => None,
            v => Some(text(v)),
        })
        .collect()
}

fn kinds(ms: &[PgMessage]) -> Vec<&'static str> {
    ms.iter().map(PgMessage::kind_name).collect()
}

fn the_relation(m: &PgMessage) -> &Relation {
    match m {
        PgMessage::Relation(r) => r,
        other => panic!("expected Relation, found {other:?}"),
    }
}

#[test]
fn every_fixture_line_parses() {
    for fixture in ALL {
        let ms = messages(fixture);
        assert!(!ms.is_empty());
    }
}

#[test]
fn default_identity_insert_update_delete() {
    let ms = messages(DEFAULT);
    assert_eq!(
        kinds(&ms),
        [
            "Begin", "Relation", "Insert", "Insert", "Commit", "Begin", "Update", "Commit", "Begin", "Update",
            "Commit", "Begin", "Delete", "Commit"
        ]
    );
    let PgMessage::Begin { final_lsn, commit_time_micros, xid } = ms[0] else { unreachable!() };
    let PgMessage::Commit { flags, commit_lsn, end_lsn, commit_time_micros: commit_time } = ms[4] else {
        unreachable!()
    };
    assert_eq!(flags, 0);
    assert_eq!(final_lsn, commit_lsn);
    assert!(end_lsn > commit_lsn);
    assert_eq!(commit_time_micros, commit_time);
    // Captured in 2025 or later: after 2024-01-01 (757382400 s after 2000-01-01).
    assert!(commit_time_micros > 757_382_400_000_000);
    assert!(xid > 0);

    let rel = the_relation(&ms[1]);
    assert_eq!((rel.namespace.as_str(), rel.name.as_str(), rel.replica_identity), ("shop", "items", b'd'));
    let cols: Vec<_> =
        rel.columns.iter().map(|c| (c.is_key, c.name.as_str(), c.type_oid, c.type_modifier)).collect();
    assert_eq!(
        cols,
        [
            (true, "id", 23, -1),
            (false, "name", 1043, 20 + 4),
            (false, "price", 1700, ((12 << 16) | 2) + 4),
            (false, "note", 25, -1)
        ]
    );

    let PgMessage::Insert { relation, new } = &ms[2] else { unreachable!() };
    assert_eq!(*relation, rel.oid);
    assert_eq!(texts(new), [Some("1"), Some("apple"), Some("1.50"), None]);
    let PgMessage::Insert { new, .. } = &ms[3] else { unreachable!() };
    assert_eq!(texts(new), [Some("2"), Some("pear 'x' \"y\""), Some("-0.01"), Some("ünïcödé")]);

    // An update that keeps the key sends no old tuple.
    let PgMessage::Update { relation, old, new } = &ms[6] else { unreachable!() };
    assert_eq!(*relation, rel.oid);
    assert_eq!(*old, None);
    assert_eq!(texts(new), [Some("1"), Some("apple"), Some("2.25"), None]);

    // A key change sends the old key, other columns as nulls.
    let PgMessage::Update { old: Some(OldTuple::Key(old)), new, .. } = &ms[9] else {
        panic!("expected an old key: {:?}", ms[9])
    };
    assert_eq!(texts(old), [Some("2"), None, None, None]);
    assert_eq!(texts(new), [Some("10"), Some("pear 'x' \"y\""), Some("-0.01"), Some("ünïcödé")]);

    let PgMessage::Delete { relation, old: OldTuple::Key(old) } = &ms[12] else { panic!("{:?}", ms[12]) };
    assert_eq!(*relation, rel.oid);
    assert_eq!(texts(old), [Some("10"), None, None, None]);
}

#[test]
fn full_identity_sends_whole_old_rows() {
    let ms = messages(FULL);
    let rel = the_relation(&ms[1]);
    assert_eq!((rel.namespace.as_str(), rel.name.as_str(), rel.replica_identity), ("public", "full_rows", b'f'));
    // With FULL every column is part of the identity.
    let cols: Vec<_> = rel.columns.iter().map(|c| (c.is_key, c.name.as_str(), c.type_oid)).collect();
    assert_eq!(cols, [(true, "id", 20), (true, "label", 25)]);

    let PgMessage::Update { old: Some(OldTuple::Full(old)), new, .. } = &ms[5] else { panic!("{:?}", ms[5]) };
    assert_eq!(texts(old), [Some("7"), Some("seven")]);
    assert_eq!(texts(new), [Some("7"), Some("SEVEN")]);
    let PgMessage::Delete { old: OldTuple::Full(old), .. } = &ms[8] else { panic!("{:?}", ms[8]) };
    assert_eq!(texts(old), [Some("7"), Some("SEVEN")]);
}

#[test]
fn index_identity_key_change() {
    let ms = messages(INDEX);
    let rel = the_relation(&ms[1]);
    assert_eq!((rel.name.as_str(), rel.replica_identity), ("by_index", b'i'));
    let keys: Vec<_> = rel.columns.iter().map(|c| (c.name.as_str(), c.is_key)).collect();
    assert_eq!(keys, [("a", true), ("b", true), ("c", false)]);
    let PgMessage::Update { old: Some(OldTuple::Key(old)), new, .. } = &ms[5] else { panic!("{:?}", ms[5]) };
    assert_eq!(texts(old), [Some("1"), Some("one"), None]);
    assert_eq!(texts(new), [Some("1"), Some("uno"), Some("c1")]);
    let PgMessage::Delete { old, .. } = &ms[8] else { panic!("{:?}", ms[8]) };
    assert_eq!(texts(old.tuple()), [Some("1"), Some("uno"), None]);
    assert!(matches!(old, OldTuple::Key(_)));
}

#[test]
fn unchanged_toast_arrives_as_u() {
    let ms = messages(TOAST);
    assert_eq!(kinds(&ms), ["Begin", "Relation", "Update", "Commit"]);
    let rel = the_relation(&ms[1]);
    assert_eq!(rel.name, "docs");
    let PgMessage::Update { relation, old: None, new } = &ms[2] else { panic!("{:?}", ms[2]) };
    assert_eq!(*relation, rel.oid);
    assert_eq!(new.0.len(), 3);
    assert_eq!(text(&new.0[0]), "1");
    assert_eq!(text(&new.0[1]), "2");
    assert_eq!(new.0[2], TupleValue::UnchangedToast);
}

#[test]
fn truncate_flags_and_relations() {
    let ms = messages(TRUNCATE);
    let rels: Vec<&Relation> = ms
        .iter()
        .filter_map(|m| match m {
            PgMessage::Relation(r) => Some(r),
            _ => None,
        })
        .collect();
    let oid = |name: &str| rels.iter().find(|r| r.name == name).map(|r| r.oid).expect("relation sent");
    let truncates: Vec<_> = ms
        .iter()
        .filter_map(|m| match m {
            PgMessage::Truncate { cascade, restart_identity, relations } => {
                Some((*cascade, *restart_identity, relations.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        truncates,
        [(false, false, vec![oid("full_rows")]), (true, true, vec![oid("parent"), oid("child")])]
    );
}

#[test]
fn logical_messages() {
    let ms = messages(MESSAGE);
    assert_eq!(kinds(&ms), ["Message", "Begin", "Message", "Commit"]);
    let PgMessage::Message { transactional, lsn, prefix, content } = &ms[0] else { unreachable!() };
    assert!(!transactional);
    assert!(*lsn > 0);
    assert_eq!(prefix, "heartbeat");
    assert_eq!(&content[..], [0x00, 0xff]);
    let PgMessage::Message { transactional, prefix, content, lsn } = &ms[2] else { unreachable!() };
    assert!(*transactional);
    assert_eq!(prefix, "p");
    assert_eq!(&content[..], b"hello");
    let PgMessage::Begin { final_lsn, .. } = ms[1] else { unreachable!() };
    assert!(*lsn <= final_lsn);
}

#[test]
fn enum_and_domain_types() {
    let ms = messages(TYPES);
    assert_eq!(kinds(&ms), ["Begin", "Type", "Type", "Relation", "Insert", "Commit"]);
    let PgMessage::Type { oid: mood, namespace, name } = &ms[1] else { unreachable!() };
    assert_eq!((namespace.as_str(), name.as_str()), ("public", "mood"));
    // The domain's own oid, with its base type's namespace and name.
    let PgMessage::Type { oid: posint, namespace, name } = &ms[2] else { unreachable!() };
    assert_eq!((namespace.as_str(), name.as_str()), ("", "int4"));
    let rel = the_relation(&ms[3]);
    let cols: Vec<_> = rel.columns.iter().map(|c| (c.name.as_str(), c.type_oid)).collect();
    assert_eq!(cols, [("id", 23), ("m", *mood), ("p", *posint), ("tags", 1009), ("at", 1184)]);
    let PgMessage::Insert { new, .. } = &ms[4] else { unreachable!() };
    assert_eq!(
        texts(new),
        [Some("1"), Some("happy"), Some("42"), Some(r#"{a,NULL,"b c","\"q\""}"#), Some("2024-02-29 10:00:00.5+00")]
    );
}

#[test]
fn origin_message() {
    let ms = messages(ORIGIN);
    assert_eq!(kinds(&ms), ["Begin", "Origin", "Relation", "Insert", "Commit"]);
    assert_eq!(ms[1], PgMessage::Origin { lsn: 0xABCDEF, name: "upstream".into() });
    // pg_replication_origin_xact_setup's timestamp becomes the commit time.
    let PgMessage::Begin { commit_time_micros, .. } = ms[0] else { unreachable!() };
    assert_eq!(commit_time_micros, 757_382_400_000_000); // 2024-01-01 00:00:00 UTC
}

#[test]
fn binary_values() {
    let ms = messages(BINARY);
    let PgMessage::Insert { new, .. } = &ms[2] else { panic!("{:?}", ms[2]) };
    let b = |i: usize| match &new.0[i] {
        TupleValue::Binary(b) => b.to_vec(),
        other => panic!("expected binary, found {other:?}"),
    };
    assert_eq!(b(0), 3i32.to_be_bytes());
    assert_eq!(b(1), b"bin");
    // numeric 3.00 in binary: ndigits 1, weight 0, sign +, dscale 2, digit 3.
    assert_eq!(b(2), [0, 1, 0, 0, 0, 0, 0, 2, 0, 3]);
    assert_eq!(new.0[3], TupleValue::Null);
}

#[test]
fn values_are_slices_of_the_input() {
    let data = raw(DEFAULT).remove(2);
    let PgMessage::Insert { new, .. } = parse(&data).unwrap() else { unreachable!() };
    let TupleValue::Text(v) = &new.0[1] else { unreachable!() };
    let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
    assert!(range.contains(&(v.as_ptr() as usize)));
}

#[test]
fn hand_made_messages() {
    // Update with a full old row whose column is unchanged TOAST, then a
    // new tuple with a binary value.
    let mut m = vec![b'U', 0, 0, 0, 9, b'O', 0, 1, b'u', b'N', 0, 2, b'b', 0, 0, 0, 1, 7, b'n'];
    assert_eq!(
        parse(&Bytes::from(m.clone())).unwrap(),
        PgMessage::Update {
            relation: 9,
            old: Some(OldTuple::Full(Tuple(vec![TupleValue::UnchangedToast]))),
            new: Tuple(vec![TupleValue::Binary(Bytes::from_static(&[7])), TupleValue::Null]),
        }
    );
    m.push(0);
    assert!(matches!(
        parse(&Bytes::from(m)),
        Err(DecodeError::TrailingBytes { message: "Update", offset: 19, extra: 1 })
    ));
    // Truncate of zero relations with both options.
    assert_eq!(
        parse(&Bytes::from_static(&[b'T', 0, 0, 0, 0, 3])).unwrap(),
        PgMessage::Truncate { cascade: true, restart_identity: true, relations: vec![] }
    );
    // Type in pg_catalog: empty namespace.
    assert_eq!(
        parse(&Bytes::from_static(b"Y\0\0\0\x10\0bool\0")).unwrap(),
        PgMessage::Type { oid: 16, namespace: String::new(), name: "bool".into() }
    );
}

#[test]
fn errors_say_what_and_where() {
    let err = |b: &'static [u8]| parse(&Bytes::from_static(b)).unwrap_err();
    assert_eq!(err(b""), DecodeError::Empty);
    assert_eq!(err(b"Z").to_string(), "unknown pgoutput message type 'Z' (0x5a)");
    assert_eq!(err(b"\x01").to_string(), "unknown pgoutput message type (not printable) (0x01)");
    assert_eq!(
        err(b"B\0\0\0\0\0\0\0\x01\0\0").to_string(),
        "truncated pgoutput Begin message, commit timestamp at offset 9: needs 8 bytes, 2 left"
    );
    assert_eq!(
        err(b"I\0\0\0\x01N\0\x02n\x74\0\0\0\x05abc").to_string(),
        "truncated pgoutput Insert message, text value of column 1 at offset 14: needs 5 bytes, 3 left"
    );
    assert_eq!(
        err(b"I\0\0\0\x01N\0\x01x").to_string(),
        "invalid pgoutput Insert message, tuple value kind of column 0 at offset 8: \
         expected 'n', 'u', 't' or 'b', found 'x' (0x78)"
    );
    assert_eq!(
        err(b"I\0\0\0\x01N\0\x01t\xff\xff\xff\xff").to_string(),
        "invalid pgoutput Insert message, text value length of column 0 at offset 9: negative length -1"
    );
    assert_eq!(
        err(b"I\0\0\0\x01K\0\0").to_string(),
        "invalid pgoutput Insert message, tuple marker at offset 5: expected 'N', found 'K' (0x4b)"
    );
    assert_eq!(
        err(b"D\0\0\0\x01N\0\0").to_string(),
        "invalid pgoutput Delete message, tuple marker at offset 5: expected 'K' or 'O', found 'N' (0x4e)"
    );
    assert_eq!(
        err(b"O\0\0\0\0\0\0\0\x01abc").to_string(),
        "invalid pgoutput Origin message, origin name at offset 9: string without a NUL terminator"
    );
    assert_eq!(
        err(b"O\0\0\0\0\0\0\0\x01\xff\0").to_string(),
        "invalid pgoutput Origin message, origin name at offset 9: \
         string is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0"
    );
    assert_eq!(
        err(b"R\0\0\0\x01s\0t\0d\0\x01\x02c\0\0\0\0\x17\xff\xff\xff\xff").to_string(),
        "invalid pgoutput Relation message, column flags of column 0 at offset 12: expected 0 or 1, found 2"
    );
    assert_eq!(
        err(b"T\xff\xff\xff\xff\0\0\0\0\x01").to_string(),
        "invalid pgoutput Truncate message, relation count at offset 1: \
         4294967295 relation oids need 17179869180 bytes, 4 left"
    );
    assert_eq!(
        err(b"T\0\0\0\0\x04").to_string(),
        "invalid pgoutput Truncate message, options at offset 5: unknown option bits in 0x04"
    );
    assert_eq!(
        err(b"M\x02").to_string(),
        "invalid pgoutput Message message, flags at offset 1: expected 0 or 1, found 2"
    );
}

#[test]
fn bogus_counts_do_not_allocate() {
    // 65535 columns announced, none present: fails fast at column 0.
    let e = parse(&Bytes::from_static(b"I\0\0\0\x01N\xff\xff")).unwrap_err();
    assert!(matches!(e, DecodeError::Truncated { at: Location { column: Some(0), .. }, .. }), "{e}");
    let e = parse(&Bytes::from_static(b"R\0\0\0\x01\0t\0d\xff\xff")).unwrap_err();
    assert!(matches!(e, DecodeError::Truncated { at: Location { column: Some(0), .. }, .. }), "{e}");
}

#[test]
fn every_truncation_of_every_fixture_is_an_error() {
    for fixture in ALL {
        for msg in raw(fixture) {
            for cut in 0..msg.len() {
                assert!(parse(&msg.slice(..cut)).is_err(), "prefix of {cut} bytes parsed: {msg:?}");
            }
        }
    }
}

fn all_raw() -> Vec<Bytes> {
    ALL.iter().chain([&STREAMED]).flat_map(|f| raw(f)).collect()
}

/// The streamed fixture parsed as the source does: [`parse_in_block`]
/// between Stream Start and Stream Stop, [`parse`] elsewhere.
fn streamed() -> Vec<(Option<u32>, PgMessage)> {
    let mut in_block = false;
    raw(STREAMED)
        .iter()
        .map(|b| {
            let (xid, m) = if in_block { parse_in_block(b) } else { parse(b).map(|m| (None, m)) }
                .unwrap_or_else(|e| panic!("streamed fixture does not parse: {e}"));
            match m {
                PgMessage::StreamStart { .. } => in_block = true,
                PgMessage::StreamStop => in_block = false,
                _ => {}
            }
            (xid, m)
        })
        .collect()
}

#[test]
fn streamed_transactions_come_in_blocks_with_xids() {
    let ms = streamed();
    // The committed transaction: several blocks, the first flagged so.
    let PgMessage::StreamStart { xid: top, first_segment: true } = ms[0].1 else { panic!("starts with {:?}", ms[0].1) };
    let starts: Vec<bool> = ms
        .iter()
        .filter_map(|(_, m)| match m {
            PgMessage::StreamStart { xid, first_segment } if *xid == top => Some(*first_segment),
            _ => None,
        })
        .collect();
    assert!(starts.len() >= 2, "the big transaction came in {} block(s)", starts.len());
    assert!(starts[1..].iter().all(|first| !first), "only the first block is the first segment: {starts:?}");
    // Every change in a block carries an xid: the top transaction's, or the
    // subtransaction's for the rows inserted after SAVEPOINT.
    let mut sub = None;
    for (xid, m) in &ms {
        if let PgMessage::Insert { new, .. } = m {
            let name = texts(new).get(1).copied().flatten().unwrap_or_default().to_string();
            let Some(xid) = xid else { continue };
            if name.starts_with("undone") {
                assert_ne!(*xid, top, "{name}: a subtransaction's change carries its own xid");
                assert_eq!(*sub.get_or_insert(*xid), *xid, "one subtransaction");
            } else if name.starts_with("row") {
                assert_eq!(*xid, top, "{name}");
            }
        }
    }
    let sub = sub.expect("rows of the subtransaction were streamed before its rollback");
    // ROLLBACK TO SAVEPOINT: a Stream Abort of the subtransaction alone.
    assert!(ms.iter().any(|(_, m)| *m == PgMessage::StreamAbort { xid: top, subxid: sub, abort_lsn: None, abort_time_micros: None }));
    // The transactional message inside a block.
    assert!(ms.iter().any(|(xid, m)| *xid == Some(top)
        && matches!(m, PgMessage::Message { transactional: true, prefix, content, .. } if prefix == "p" && &content[..] == b"streamed")));
    // Stream Commit of the top transaction.
    let commit = ms.iter().find_map(|(_, m)| match m {
        PgMessage::StreamCommit { xid, commit_lsn, end_lsn, .. } if *xid == top => Some((*commit_lsn, *end_lsn)),
        _ => None,
    });
    let (commit_lsn, end_lsn) = commit.expect("the big transaction commits");
    assert!(end_lsn > commit_lsn);
    // The rolled-back transaction: a Stream Abort with xid = subxid.
    assert!(ms.iter().any(|(_, m)| matches!(m, PgMessage::StreamAbort { xid, subxid, .. } if xid == subxid && *xid != top)));
    // Then an ordinary transaction, without xids in its changes.
    let n = ms.len();
    assert_eq!(kinds(&ms[n - 4..].iter().map(|(_, m)| m.clone()).collect::<Vec<_>>()), ["Begin", "Relation", "Insert", "Commit"]);
    assert!(ms[n - 4..].iter().all(|(xid, _)| xid.is_none()));
}

#[test]
fn a_change_from_a_block_is_misread_without_its_xid() {
    // The same bytes read as an ordinary change: the xid is taken for the
    // relation oid and the message does not end where its layout ends.
    let ms = raw(STREAMED);
    let insert = ms.iter().find(|b| b[0] == b'I').expect("an insert");
    assert!(parse(insert).is_err());
    assert!(parse_in_block(insert).is_ok());
}

#[test]
fn stream_abort_with_parallel_fields() {
    let mut m = vec![b'A', 0, 0, 0, 7, 0, 0, 0, 9];
    m.extend(0x0102_u64.to_be_bytes());
    m.extend(42_i64.to_be_bytes());
    assert_eq!(
        parse(&Bytes::from(m.clone())).unwrap(),
        PgMessage::StreamAbort { xid: 7, subxid: 9, abort_lsn: Some(0x0102), abort_time_micros: Some(42) }
    );
    assert!(parse(&Bytes::from(m[..13].to_vec())).is_err(), "half the parallel fields");
    assert_eq!(parse(&Bytes::from_static(b"E")).unwrap(), PgMessage::StreamStop);
    assert!(parse(&Bytes::from_static(b"S\0\0\0\x07\x02")).is_err(), "first segment flag must be 0 or 1");
}

proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = parse(&Bytes::from(data));
    }

    #[test]
    fn random_bytes_after_a_valid_tag_never_panic(
        tag in proptest::sample::select(b"BCORYIUDTMSEcA".to_vec()),
        rest in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let mut data = vec![tag];
        data.extend(rest);
        let _ = parse(&Bytes::from(data));
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let all = all_raw();
        let mut msg = pick.get(&all).to_vec();
        for (at, byte) in edits {
            let i = at.index(msg.len());
            msg[i] = byte;
        }
        let keep = cut.index(msg.len() + 1);
        msg.truncate(keep);
        let _ = parse(&Bytes::from(msg));
    }
}
