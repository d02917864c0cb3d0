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

/// A spool opened straight on `dir` (no sled), as a run would after a crash.
fn open_at(dir: &Path) -> Result<SpoolStore, CheckpointError> {
    SpoolStore::open(dir, dir.join("spool").join("p"), "p", None)
}

/// Entries `first..=last` whose record `seq` is `index * 10 + generation`.
fn batch(first: u64, last: u64, generation: u64) -> Vec<(u64, Vec<u8>)> {
    (first..=last).map(|i| (i, encode_entry(&rec((i * 10 + generation) as i64)))).collect()
}

fn seqs(spool: &SpoolStore, from: u64, to: u64) -> Vec<(u64, u64)> {
    spool.read(from, to, usize::MAX).unwrap().into_iter().map(|(i, c)| (i, c.seq)).collect()
}

fn segment_path(spool: &SpoolStore, seq: u64) -> PathBuf {
    spool.lock().path(seq)
}

fn meta_at(n: u64) -> SpoolMeta {
    SpoolMeta { committed: n, position: Some(pos(&format!("0/{n}"))) }
}

#[tokio::test]
async fn a_torn_tail_is_cut_off_at_open_and_writing_goes_on_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open_at(dir.path()).unwrap();
    spool.write(&batch(1, 3, 0), Some(&meta_at(3))).unwrap();
    spool.flush().await.unwrap();
    let path = segment_path(&spool, 1);
    let good = std::fs::metadata(&path).unwrap().len();
    // A second group and its meta, of which only part reached the disk.
    spool.write(&batch(4, 6, 0), Some(&meta_at(6))).unwrap();
    spool.flush().await.unwrap();
    drop(spool);
    let full = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(good + (full - good) / 2).unwrap();

    let spool = open_at(dir.path()).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good, "the torn frame is cut off the file");
    assert_eq!(spool.meta().unwrap(), Some(meta_at(3)));
    assert_eq!(seqs(&spool, 1, 100), [(1, 10), (2, 20), (3, 30)]);
    spool.write(&batch(4, 5, 1), Some(&meta_at(5))).unwrap();
    spool.flush().await.unwrap();
    drop(spool);
    let spool = open_at(dir.path()).unwrap();
    assert_eq!(spool.meta().unwrap(), Some(meta_at(5)));
    assert_eq!(seqs(&spool, 1, 100), [(1, 10), (2, 20), (3, 30), (4, 41), (5, 51)]);
}

#[tokio::test]
async fn a_bad_checksum_ends_the_active_segment_but_is_an_error_in_an_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open_at(dir.path()).unwrap();
    spool.set_segment_bytes(1);
    // Each write goes to a segment of its own (after the repeated meta).
    spool.write(&batch(1, 2, 0), Some(&meta_at(2))).unwrap();
    spool.write(&batch(3, 4, 0), Some(&meta_at(4))).unwrap();
    spool.flush().await.unwrap();
    assert_eq!(spool.segment_seqs(), [1, 2]);
    let (older, active) = (segment_path(&spool, 1), segment_path(&spool, 2));
    drop(spool);
    let flip = |path: &Path, from_end: u64| {
        let mut bytes = std::fs::read(path).unwrap();
        let at = bytes.len() - from_end as usize;
        bytes[at] ^= 0x40;
        std::fs::write(path, bytes).unwrap();
    };

    // The last byte of the active segment: its last frame (the meta) goes.
    flip(&active, 1);
    let spool = open_at(dir.path()).unwrap();
    assert_eq!(spool.meta().unwrap(), Some(meta_at(2)), "the meta before the damaged one");
    assert_eq!(seqs(&spool, 1, 100).len(), 4, "the group before the damaged meta stays");
    drop(spool);

    // A byte inside the first segment's group: an error naming it.
    flip(&older, 20);
    let e = open_at(dir.path()).err().expect("a damaged older segment is refused").to_string();
    assert!(e.contains("spool of pipeline `p`") && e.contains("00000000000000000001.seg") && e.contains("checksum"), "{e}");
    assert!(e.contains("logferry reset"), "{e}");
}

#[tokio::test]
async fn a_rolled_segment_starts_with_the_meta_so_trimming_older_ones_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open_at(dir.path()).unwrap();
    spool.set_segment_bytes(200);
    let mut index = 0;
    for n in 1..=10 {
        spool.write(&batch(index + 1, index + 3, 0), Some(&meta_at(index + 3))).unwrap();
        index += 3;
        spool.flush().await.unwrap();
        assert_eq!(spool.meta().unwrap(), Some(meta_at(index)), "after write {n}");
    }
    let segments = spool.segment_seqs();
    assert!(segments.len() >= 3, "rolled over: {segments:?}");
    // Everything delivered: every segment but the active one goes, and the
    // meta lives on in the active one.
    spool.remove_through(index).unwrap();
    assert_eq!(spool.segment_seqs(), [*segments.last().unwrap()]);
    drop(spool);
    let dir_files = std::fs::read_dir(dir.path().join("spool").join("p")).unwrap().count();
    assert_eq!(dir_files, 1);
    let spool = open_at(dir.path()).unwrap();
    assert_eq!(spool.meta().unwrap(), Some(meta_at(index)));
    // The next writes go on after it.
    spool.remove_through(index).unwrap();
    spool.write(&batch(index + 1, index + 1, 0), Some(&meta_at(index + 1))).unwrap();
    spool.flush().await.unwrap();
    drop(spool);
    let spool = open_at(dir.path()).unwrap();
    assert_eq!(spool.meta().unwrap(), Some(meta_at(index + 1)));
    assert_eq!(seqs(&spool, index + 1, u64::MAX), [(index + 1, (index + 1) * 10)]);
}

#[tokio::test]
async fn trimming_deletes_whole_segments_only_and_never_the_active_one() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open_at(dir.path()).unwrap();
    // Two groups of 4 per segment.
    let one = batch(21, 24, 0).iter().map(|(_, e)| 4 + e.len()).sum::<usize>() + frames::HEADER + frames::GROUP_HEAD;
    let mut meta = Vec::new();
    frames::meta(&mut meta, &meta_at(24));
    let meta = meta.len();
    // The repeated meta, then two writes of a group and its meta.
    spool.set_segment_bytes((meta + 2 * (one + meta) + 5) as u64);
    for g in 0..6u64 {
        spool.write(&batch(g * 4 + 1, g * 4 + 4, 0), Some(&meta_at(g * 4 + 4))).unwrap();
    }
    spool.flush().await.unwrap();
    assert_eq!(spool.segment_seqs(), [1, 2, 3], "groups 1-4, 5-8 | 9-12, 13-16 | 17-20, 21-24");
    let bytes = spool.stats().unwrap().bytes;
    // 1..=10 covers segment 1 and part of a group of segment 2: only segment 1 goes.
    let freed = spool.remove_through(10).unwrap();
    assert_eq!(spool.segment_seqs(), [2, 3]);
    assert_eq!(spool.stats().unwrap().first, Some(9));
    // 1..=12 covers the first group of segment 2 but not the second.
    let freed = freed + spool.remove_through(12).unwrap();
    assert_eq!(spool.segment_seqs(), [2, 3]);
    assert!(!segment_path(&spool, 1).exists());
    assert_eq!(spool.stats().unwrap().bytes, bytes - freed);
    assert_eq!(spool.stats().unwrap().first, Some(13), "the group 9..=12 is forgotten though its file stays");
    // A partly covered group keeps its segment.
    spool.remove_through(15).unwrap();
    assert_eq!(spool.segment_seqs(), [2, 3]);
    spool.remove_through(16).unwrap();
    assert_eq!(spool.segment_seqs(), [3]);
    // All of it: the active segment stays.
    spool.remove_through(24).unwrap();
    assert_eq!(spool.segment_seqs(), [3]);
    assert!(segment_path(&spool, 3).exists());
    assert_eq!(spool.stats().unwrap().entries, 0);
    assert_eq!(seqs(&spool, 1, 100), []);
}

#[tokio::test]
async fn cutting_inside_a_group_keeps_the_meta_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open_at(dir.path()).unwrap();
    spool.write(&batch(1, 2, 0), Some(&meta_at(2))).unwrap();
    // A group whose transaction ends at 4, with 5 and 6 of the next one.
    spool.write(&batch(3, 6, 0), Some(&meta_at(4))).unwrap();
    spool.flush().await.unwrap();
    let freed = spool.remove_after(4).unwrap();
    assert!(freed > 0);
    assert_eq!(spool.stats().unwrap().last, Some(4));
    spool.flush().await.unwrap();
    drop(spool);
    let spool = open_at(dir.path()).unwrap();
    assert_eq!(spool.meta().unwrap(), Some(meta_at(4)));
    assert_eq!(seqs(&spool, 1, 100), [(1, 10), (2, 20), (3, 30), (4, 40)]);
    assert_eq!(spool.remove_after(4).unwrap(), 0, "nothing more to cut");
    // The source sends 5 and 6 again (differently, here), then more.
    spool.write(&batch(5, 7, 1), Some(&meta_at(7))).unwrap();
    spool.flush().await.unwrap();
    drop(spool);
    let spool = open_at(dir.path()).unwrap();
    assert_eq!(spool.meta().unwrap(), Some(meta_at(7)));
    assert_eq!(seqs(&spool, 1, 100), [(1, 10), (2, 20), (3, 30), (4, 40), (5, 51), (6, 61), (7, 71)]);
}

/// Every byte prefix of a spool's files (what a crash can leave: segments
/// are only appended to, and an older one was fsynced before the next was
/// made) opens to a commit point no older than the last flushed one, with
/// every entry that commit point names there and as written.
#[tokio::test]
async fn every_crash_prefix_opens_to_a_consistent_commit_point() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open_at(dir.path()).unwrap();
    spool.set_segment_bytes(300);
    // Flush points: (bytes of all segments, the meta then).
    let mut flushed: Vec<(u64, Option<SpoolMeta>)> = vec![(0, None)];
    let mut metas = vec![];
    let mut model = std::collections::BTreeMap::new();
    let total = |spool: &SpoolStore| spool.lock().segments.iter().map(|s| s.len).sum::<u64>();
    let steps: Vec<(u64, u64, u64, Option<u64>)> = vec![
        // (first, last, generation, committed)
        (1, 3, 0, None),
        (4, 6, 0, Some(5)),
        (7, 9, 0, None),
        (10, 12, 0, Some(12)),
        (13, 15, 0, None),
        (13, 14, 1, Some(13)), // after a cut at 12 (a source restart)
        (15, 18, 1, Some(18)),
        (19, 20, 1, None),
        (21, 22, 1, Some(21)),
    ];
    for (first, last, generation, committed) in steps {
        if generation == 1 && first == 13 {
            spool.remove_after(12).unwrap();
            spool.flush().await.unwrap();
            flushed.push((total(&spool), spool.meta().unwrap()));
        }
        let meta = committed.map(meta_at);
        spool.write(&batch(first, last, generation), meta.as_ref()).unwrap();
        for i in first..=last {
            model.insert(i, i * 10 + generation);
        }
        metas.extend(meta);
        spool.flush().await.unwrap();
        flushed.push((total(&spool), spool.meta().unwrap()));
    }
    let segments: Vec<Vec<u8>> = spool.segment_seqs().into_iter().map(|s| std::fs::read(segment_path(&spool, s)).unwrap()).collect();
    assert!(segments.len() >= 3, "the prefixes cross segments: {}", segments.len());
    drop(spool);
    let size: u64 = segments.iter().map(|s| s.len() as u64).sum();
    assert_eq!(size, flushed.last().unwrap().0);

    let crash = tempfile::tempdir().unwrap();
    let folder = crash.path().join("spool").join("p");
    for cut in 0..=size {
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        let mut left = cut;
        for (i, bytes) in segments.iter().enumerate() {
            let take = left.min(bytes.len() as u64);
            std::fs::write(folder.join(segment_name(i as u64 + 1)), &bytes[..take as usize]).unwrap();
            left -= take;
            if left == 0 {
                break;
            }
        }
        let spool = open_at(crash.path()).unwrap_or_else(|e| panic!("prefix of {cut} bytes: {e}"));
        let meta = spool.meta().unwrap();
        let durable = flushed.iter().rev().find(|(end, _)| *end <= cut).unwrap().1.clone();
        let committed = meta.as_ref().map_or(0, |m| m.committed);
        assert!(committed >= durable.as_ref().map_or(0, |m| m.committed), "prefix of {cut} bytes: {meta:?} is older than the flushed {durable:?}");
        if let Some(m) = &meta {
            assert!(metas.contains(m), "prefix of {cut} bytes: a meta never written: {m:?}");
        }
        // The uncommitted tail goes, as at a pipeline's start.
        spool.remove_after(committed).unwrap();
        let expected: Vec<(u64, u64)> = (1..=committed).map(|i| (i, model[&i])).collect();
        assert_eq!(seqs(&spool, 1, u64::MAX), expected, "prefix of {cut} bytes");
        // And the spool takes writes again.
        spool.write(&batch(committed + 1, committed + 1, 7), Some(&meta_at(committed + 1))).unwrap();
        spool.flush().await.unwrap();
        drop(spool);
        let spool = open_at(crash.path()).unwrap();
        assert_eq!(spool.meta().unwrap(), Some(meta_at(committed + 1)), "prefix of {cut} bytes, written again");
        assert_eq!(seqs(&spool, committed + 1, u64::MAX), [(committed + 1, (committed + 1) * 10 + 7)]);
    }
}

#[tokio::test]
async fn a_sled_spool_of_an_earlier_version_is_moved_into_segment_files() {
    let dir = tempfile::tempdir().unwrap();
    let legacy_group = |entries: &[(u64, Vec<u8>)]| {
        let mut v = vec![LEGACY_GROUP];
        v.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for (_, e) in entries {
            v.extend_from_slice(&(e.len() as u32).to_be_bytes());
            v.extend_from_slice(e);
        }
        v
    };
    let key = |i: u64| {
        let mut k = vec![b'e'];
        k.extend_from_slice(&i.to_be_bytes());
        k
    };
    {
        let store = CheckpointStore::open(dir.path()).unwrap();
        let tree = store.tree("spool/p").unwrap();
        tree.insert(key(1), legacy_group(&batch(1, 3, 0))).unwrap();
        tree.insert(key(4), legacy_group(&batch(4, 5, 0))).unwrap();
        let mut m = vec![FORMAT_V1];
        m.extend_from_slice(&4u64.to_be_bytes());
        m.push(1);
        pos("0/4").encode(&mut m).unwrap();
        tree.insert(b"m", m).unwrap();
        store.flush().unwrap();
    }
    {
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert!(store.has_spool("p").unwrap());
        let spool = store.spool("p").unwrap();
        assert_eq!(spool.meta().unwrap(), Some(SpoolMeta { committed: 4, position: Some(pos("0/4")) }));
        assert_eq!(seqs(&spool, 1, 100), [(1, 10), (2, 20), (3, 30), (4, 40), (5, 50)]);
        assert!(!store.db.tree_names().iter().any(|n| n.as_ref() == b"spool/p"), "the sled tree is dropped");
    }
    // Read from the files alone now.
    let spool = open_at(dir.path()).unwrap();
    assert_eq!(spool.meta().unwrap().unwrap().committed, 4);
    assert_eq!(spool.stats().unwrap().entries, 5);
}

#[tokio::test]
async fn a_flush_owes_fsyncs_only_for_what_was_written_since() {
    let dir = tempfile::tempdir().unwrap();
    let spool = open_at(dir.path()).unwrap();
    assert!(spool.sync_jobs().0.is_empty());
    spool.write(&batch(1, 2, 0), Some(&meta_at(2))).unwrap();
    // The new segment's file and the new folder entry.
    assert_eq!(spool.sync_jobs().0.len(), 2);
    spool.flush().await.unwrap();
    assert!(spool.sync_jobs().0.is_empty());
    spool.write(&batch(3, 3, 0), None).unwrap();
    assert_eq!(spool.sync_jobs().0.len(), 1, "the active segment alone");
    // A flush that starts before a write owes that write nothing; the
    // writer's own flush after it still fsyncs.
    let (owed, _) = spool.sync_jobs();
    spool.write(&batch(4, 4, 0), None).unwrap();
    sync(owed, dir.path()).unwrap();
    assert_eq!(spool.sync_jobs().0.len(), 1, "the write after the fsync began is still owed");
    spool.flush().await.unwrap();
    assert!(spool.sync_jobs().0.is_empty());
}
