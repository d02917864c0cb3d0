//! The MongoDB server that scripts/test starts on 127.0.0.1 (the SecantusDB
//! stand-in, or a real mongod replica set the user points
//! `LOGFERRY_TEST_MONGO_URL` at), a fresh database per test, and a scripted
//! mock server (tests/support/mongo_mock.py) for failures a real server does
//! not produce on demand.

use bson::{doc, Document};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// URL of the test server (`LOGFERRY_TEST_MONGO_URL`), without a database:
/// `mongodb://127.0.0.1:27217/?directConnection=true` under scripts/test.
pub fn server_url() -> String {
    std::env::var("LOGFERRY_TEST_MONGO_URL").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_MONGO_URL is not set: run the suite with scripts/test, which starts a MongoDB stand-in (SecantusDB) on 127.0.0.1 and sets it")
    })
}

/// The Python (with pymongo and mockupdb) that runs the mock server
/// (`LOGFERRY_TEST_MONGO_PYTHON`).
pub fn python() -> String {
    std::env::var("LOGFERRY_TEST_MONGO_PYTHON").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_MONGO_PYTHON is not set: run the suite with scripts/test, which makes a Python venv with pymongo and mockupdb and sets it")
    })
}

/// A database of one's own on the test server.
pub struct TestMongo {
    /// `lf_<prefix>_<pid>_<n>`.
    pub name: String,
    /// The server URL (configs name the database separately).
    pub url: String,
    pub client: mongodb::Client,
    pub db: mongodb::Database,
}

impl TestMongo {
    /// A collection of this database, as plain documents.
    pub fn coll(&self, name: &str) -> mongodb::Collection<Document> {
        self.db.collection::<Document>(name)
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A client for `url`; server selection gives up after 10 s unless the URL
/// says otherwise, so a missing server fails a test quickly.
pub async fn client(url: &str) -> mongodb::Client {
    let mut options = mongodb::options::ClientOptions::parse(url).await.unwrap_or_else(|e| panic!("bad MongoDB URL {url}: {e}"));
    if options.server_selection_timeout.is_none() {
        options.server_selection_timeout = Some(Duration::from_secs(10));
    }
    mongodb::Client::with_options(options).unwrap_or_else(|e| panic!("MongoDB client for {url}: {e}"))
}

/// Names `lf_<prefix>_<pid>_<n>` and drops any leftover of that name; the
/// database comes into being with its first write. scripts/test drops
/// leftovers (lf_*) at start.
pub async fn fresh_db(prefix: &str) -> TestMongo {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("lf_{prefix}_{}_{n}", std::process::id());
    assert!(name.len() < 64, "MongoDB database names are shorter than 64 bytes: {name}");
    let url = server_url();
    let client = client(&url).await;
    let db = client.database(&name);
    db.drop().await.unwrap_or_else(|e| panic!("cannot reach the test MongoDB at {url} ({e}); scripts/test starts it"));
    TestMongo { name, url, client, db }
}

/// Every document of `coll`, sorted by `_id`.
pub async fn all_docs(db: &mongodb::Database, coll: &str) -> Vec<Document> {
    let mut cursor = db
        .collection::<Document>(coll)
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap_or_else(|e| panic!("find on {}.{coll}: {e}", db.name()));
    let mut docs = Vec::new();
    while cursor.advance().await.unwrap_or_else(|e| panic!("reading {}.{coll}: {e}", db.name())) {
        docs.push(cursor.deserialize_current().unwrap_or_else(|e| panic!("document of {}.{coll}: {e}", db.name())));
    }
    docs
}

/// A scripted MongoDB server (tests/support/mongo_mock.py, see its doc for
/// the scenarios: `history-lost`, `cursor-killed`, `connection-reset`) on
/// 127.0.0.1, answering as a one-node replica-set primary. Killed on drop; it
/// also exits by itself when this test process dies (its stdin closes).
pub struct MockMongo {
    /// `mongodb://127.0.0.1:<port>/?directConnection=true`.
    pub url: String,
    pub port: u16,
    /// Where the mock appends every command it receives (JSON lines).
    pub log: PathBuf,
    child: Child,
    _stdin: Option<ChildStdin>,
    _dir: tempfile::TempDir,
}

const MOCK_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/mongo_mock.py");

impl MockMongo {
    /// Starts the mock with `scenario`; its collections are `shop.items`.
    pub fn start(scenario: &str) -> MockMongo {
        Self::start_with(scenario, &["shop.items"])
    }

    /// Starts the mock with `scenario`, listing `collections` (`db.coll`)
    /// in listCollections / listDatabases.
    pub fn start_with(scenario: &str, collections: &[&str]) -> MockMongo {
        let dir = tempfile::tempdir().expect("temp dir for the mock's log");
        let log = dir.path().join("commands.jsonl");
        let mut child = Command::new(python())
            .arg(MOCK_SCRIPT)
            .args(["--scenario", scenario, "--port", "0", "--exit-on-stdin-eof"])
            .arg("--log")
            .arg(&log)
            .arg("--collections")
            .arg(collections.join(","))
            // logferry opens a stream "now" first and resumes after its token.
            .arg("--fresh-stream-empty")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} {MOCK_SCRIPT}: {e}", python()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        // The first stdout line is the port; read it on a thread so a mock
        // that hangs cannot hang the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("mongo_mock.py ({scenario}) printed no port within 30 s");
            }
        };
        let port: u16 = match line.trim().parse() {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("mongo_mock.py ({scenario}) did not start (first line {line:?}, exit {status:?}); its stderr is above");
            }
        };
        MockMongo { url: format!("mongodb://127.0.0.1:{port}/?directConnection=true"), port, log, child, _stdin: stdin, _dir: dir }
    }

    /// Every command received so far, in order:
    /// `{"op": "OP_MSG", "name": "aggregate", "db": "shop", "body": {…}, "mock": {…}}`, with
    /// the command document as relaxed extended JSON and, for change-stream
    /// aggregates and getMores, what the mock made of it (e.g.
    /// `"resume_token_event": 3`, `"result": "cursor-killed"`).
    pub fn commands(&self) -> Vec<serde_json::Value> {
        let text = match std::fs::read_to_string(&self.log) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => panic!("reading {}: {e}", self.log.display()),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("mock log line {l:?}: {e}")))
            .collect()
    }

    /// The commands named `name` (e.g. "aggregate", "getMore").
    pub fn commands_named(&self, name: &str) -> Vec<serde_json::Value> {
        self.commands().into_iter().filter(|c| c["name"] == name).collect()
    }

    /// The aggregates whose pipeline starts with `$changeStream`.
    pub fn change_stream_aggregates(&self) -> Vec<serde_json::Value> {
        self.commands_named("aggregate").into_iter().filter(|c| c["body"]["pipeline"][0].get("$changeStream").is_some()).collect()
    }

    /// Waits (up to `timeout`) until at least `count` commands named `name`
    /// arrived, and returns them; panics with the whole log otherwise.
    pub async fn wait_for_commands(&self, name: &str, count: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.commands_named(name);
            if got.len() >= count {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the mock got {} {name} command(s) within {timeout:?}, expected {count}; all it got:\n{}",
                    got.len(),
                    self.commands().iter().map(|c| c.to_string()).collect::<Vec<_>>().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for MockMongo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
