use super::*;
use crate::record::{Op, Position};

fn rec(n: i64) -> Change {
    Change { op: Op::Insert as i32, seq: n as u64, tx_end: n % 2 == 0, ..Default::default() }
}

fn pos(s: &str) -> Position {
    Position { token: bytes::Bytes::from(s.as_bytes().to_vec()), display: s.into() }
}

#[tokio::test]
async fn entries_and_meta_survive_reopen_and_ranges_remove_exactly() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert!(!store.has_spool("p").unwrap());
        let spool = store.spool("p").unwrap();
        assert_eq!(spool.meta().unwrap(), None);
        // Two writer groups: 1..=3 and 4..=6.
        let entries: Vec<_> = (1..=6).map(|i| (i as u64, encode_entry(&rec(i)))).collect();
        spool.write(&entries[..3], None).unwrap();
        let meta = SpoolMeta { committed: 4, position: Some(pos("0/40")) };
        spool.write(&entries[3..], Some(&meta)).unwrap();
        spool.flush().await.unwrap();
    }
    let store = CheckpointStore::open(dir.path()).unwrap();
    assert!(store.has_spool("p").unwrap());
    assert!(!store.has_spool("other").unwrap());
    let spool = store.spool("p").unwrap();
    assert_eq!(spool.meta().unwrap(), Some(SpoolMeta { committed: 4, position: Some(pos("0/40")) }));
    let all = spool.read(1, u64::MAX, 100).unwrap();
    assert_eq!(all.iter().map(|(i, c)| (*i, c.seq)).collect::<Vec<_>>(), (1..=6).map(|i| (i, i)).collect::<Vec<_>>());
    assert_eq!(spool.read(3, 4, 100).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [3, 4], "across groups");
    assert_eq!(spool.read(2, 6, 3).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(spool.read(5, 5, 10).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [5], "inside a group");
    let s0 = spool.stats().unwrap();
    assert_eq!((s0.entries, s0.first, s0.last), (6, Some(1), Some(6)));
    // Cutting after 4 shortens the second group.
    let freed = spool.remove_after(4).unwrap();
    assert!(freed > 0);
    let s1 = spool.stats().unwrap();
    assert_eq!((s1.entries, s1.bytes, s1.last), (4, s0.bytes - freed, Some(4)));
    assert_eq!(spool.read(1, 10, 10).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // A group goes only once all of it is covered.
    assert_eq!(spool.remove_through(2).unwrap(), 0);
    assert_eq!(spool.stats().unwrap().entries, 4);
    let freed = spool.remove_through(3).unwrap();
    assert!(freed > 0);
    let s2 = spool.stats().unwrap();
    assert_eq!((s2.entries, s2.bytes, s2.first, s2.last), (1, s1.bytes - freed, Some(4), Some(4)));
    // The meta is not an entry: range removals leave it.
    assert_eq!(spool.meta().unwrap().unwrap().committed, 4);
    spool.write(&[], Some(&SpoolMeta { committed: 4, position: None })).unwrap();
    assert_eq!(spool.meta().unwrap().unwrap().position, None);
    spool.clear().await.unwrap();
    assert_eq!(spool.meta().unwrap(), None);
    assert!(!store.has_spool("p").unwrap());
    drop(store);
    let store = CheckpointStore::open(dir.path()).unwrap();
    assert!(!store.has_spool("p").unwrap(), "cleared for good");
}

#[test]
fn reset_forgets_the_spool_also_without_a_checkpoint() {
    let store = CheckpointStore::temporary().unwrap();
    store.spool("p").unwrap().write(&[(1, encode_entry(&rec(1)))], Some(&SpoolMeta { committed: 1, position: None })).unwrap();
    assert!(store.has_spool("p").unwrap());
    assert!(store.reset("p").unwrap(), "a spool alone counts as state to reset");
    assert!(!store.has_spool("p").unwrap());
    assert!(!store.reset("p").unwrap());
}

#[test]
fn a_damaged_entry_is_an_error_naming_the_spool() {
    let store = CheckpointStore::temporary().unwrap();
    let spool = store.spool("p").unwrap();
    spool.write(&[(1, vec![FORMAT_V1, 0xff, 0xff])], None).unwrap();
    let e = spool.read(1, 1, 10).unwrap_err().to_string();
    assert!(e.contains("spool of pipeline `p`") && e.contains("entry 1") && e.contains("logferry reset"), "{e}");
}

#[test]
fn pipeline_names_become_folder_names() {
    assert_eq!(folder_name("shop-eu_2"), "shop-eu_2");
    assert_eq!(folder_name("a/b.c"), "a%2Fb%2Ec");
}
