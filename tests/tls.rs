//! TLS against real servers, each a throwaway one the test starts with a
//! server certificate for `localhost` and 127.0.0.1 signed by a CA the test
//! makes with the openssl CLI (plus a second, unrelated CA); the shared test
//! servers are not reconfigured.
//!
//! - PostgreSQL 15: `ssl = on`, only `hostssl` lines in pg_hba.conf (plain
//!   TCP is refused), listening on 127.0.0.1 and 127.0.0.2 (a name the
//!   certificate lacks).
//! - MariaDB 10.11: `require_secure_transport`, same two addresses.
//! - MongoDB (SecantusDB) with `--tls-cert-file`, read through the driver's
//!   `tls=true&tlsCAFile=…`.
//!
//! The shared MariaDB has no TLS: it shows REQUIRED failing clearly.

use crate::support::binary::{read_json_lines, text, Scratch};
use logferry::record::Op;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

const PASSWORD: &str = "tls-test-pw";

/// How long a throwaway server may take to start, or rows to arrive.
const PATIENCE: Duration = Duration::from_secs(60);

/// A CA, a second unrelated CA, and a server certificate signed by the
/// first for DNS:localhost and IP:127.0.0.1 (ECDSA P-256 with SHA-256).
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for ca in ["ca", "wrong-ca"] {
            openssl(
                d,
                &[
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    &format!("{ca}.key"), "-out", &format!("{ca}.pem"), "-days", "3", "-subj",
                    &format!("/CN=logferry test {ca}"), "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            );
        }
        openssl(
            d,
            &[
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
                "-out", "server.csr", "-subj", "/CN=localhost",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                "server.crt", "-days", "3", "-sha256", "-extfile", "server.ext",
            ],
        );
        Certs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca(&self) -> String {
        self.path("ca.pem").display().to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the TLS tests make their certificates with the openssl CLI, which did not run: {e}"));
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}{}", text(&out.stdout), text(&out.stderr));
    out
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A command run as the cluster owner (`postgres` when we are root: the
/// server refuses to run as root).
fn as_pg(program: &Path) -> Command {
    if is_root() {
        if !Command::new("id").arg("postgres").stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap().success() {
            run_ok(Command::new("useradd").args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"]));
        }
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn pg_bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|b| b.join("postgres").exists()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.pop().expect("PostgreSQL server binaries under /usr/lib/postgresql/*/bin (scripts/test installs them)")
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A throwaway PostgreSQL with TLS on 127.0.0.1 and 127.0.0.2; stopped and
/// removed on drop.
struct TlsPg {
    root: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
}

static SERVERS: AtomicU32 = AtomicU32::new(0);

impl TlsPg {
    fn start(certs: &Certs) -> Self {
        let bin = pg_bindir();
        let n = SERVERS.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("logferry-tls-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let data = root.join("data");
        std::fs::create_dir(&data).unwrap();
        let pwfile = root.join("pw");
        std::fs::write(&pwfile, format!("{PASSWORD}\n")).unwrap();
        if is_root() {
            run_ok(Command::new("chmod").args(["755"]).arg(&root));
            run_ok(Command::new("chmod").args(["644"]).arg(&pwfile));
            run_ok(Command::new("chown").arg("postgres:").arg(&data));
        }
        run_ok(
            as_pg(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
                .arg(format!("--pwfile={}", pwfile.display())),
        );
        for f in ["server.crt", "server.key"] {
            std::fs::copy(certs.path(f), data.join(f)).unwrap();
            run_ok(Command::new("chmod").arg("600").arg(data.join(f)));
            if is_root() {
                run_ok(Command::new("chown").arg("postgres:").arg(data.join(f)));
            }
        }
        let port = free_port();
        let conf = format!(
            "\n# logferry TLS test server\nlisten_addresses = '127.0.0.1,127.0.0.2'\nport = {port}\n\
             unix_socket_directories = '{data}'\nwal_level = logical\nmax_replication_slots = 20\nmax_wal_senders = 20\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 32MB\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nlog_connections = on\n",
            data = data.display()
        );
        let mut pgconf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        pgconf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), pgconf).unwrap();
        // TLS only over TCP: a plain TCP connection finds no line and is refused.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all scram-sha-256\n\
             hostssl all all 127.0.0.0/24 scram-sha-256\n\
             hostssl replication all 127.0.0.0/24 scram-sha-256\n",
        )
        .unwrap();
        let server = TlsPg { root, data, bin, port };
        let log = server.data.join("server.log");
        let out = as_pg(&server.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&server.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the TLS test server did not start: {}\n{}",
            text(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        server
    }

    /// `postgres://postgres:…@{host}:{port}/{db}?{params}`.
    fn url(&self, host: &str, db: &str, params: &str) -> String {
        format!("postgres://postgres:{PASSWORD}@{host}:{}/{db}?{params}", self.port)
    }

    /// A verified TLS session through logferry's own connector, with SCRAM
    /// channel binding required (so the binding is proven to work).
    async fn connect(&self, certs: &Certs, db: &str) -> Client {
        let url = self.url("localhost", db, &format!("sslmode=verify-full&sslrootcert={}&channel_binding=require", certs.ca()));
        let (rest, tls) = logferry::tls::postgres::from_url(&url).unwrap();
        let mut config: tokio_postgres::Config = rest.parse().unwrap();
        config.ssl_mode(tls.ssl_mode());
        let (client, conn) = config.connect(tls.connector()).await.unwrap_or_else(|e| panic!("test connection: {e:?}"));
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }
}

impl Drop for TlsPg {
    fn drop(&mut self) {
        let _ = as_pg(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A PostgreSQL source (table `t`) feeding a file and optionally a
/// PostgreSQL target.
fn pipeline(source_url: &str, target_url: Option<&str>) -> String {
    let target = target_url
        .map(|u| format!("[[pipeline.target]]\nkind = \"postgres\"\nurl = \"{u}\"\n"))
        .unwrap_or_default();
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "tls"
[pipeline.source]
kind = "postgres"
url = "{source_url}"
tables = ["public.t"]
slot = "lf_tls"
publication = "lf_tls"
heartbeat_interval = "500ms"
{target}
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
lanes = 2
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#
    )
}

/// Ids of the rows of `t` in the file target (snapshot reads and inserts).
fn ids_in_file(s: &Scratch) -> Vec<i64> {
    let mut ids: Vec<i64> = read_json_lines(&s.path("out/changes.jsonl"))
        .iter()
        .filter(|c| matches!(c.op(), Op::Insert | Op::SnapshotRead))
        .filter_map(|c| match c.after.as_ref()?.get("id")?.kind.clone()? {
            logferry::record::value::Kind::Int64(i) => Some(i),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

async fn count(client: &Client, sql: &str) -> i64 {
    match client.query_one(sql, &[]).await {
        Ok(row) => row.get(0),
        Err(_) => -1, // the table does not exist yet
    }
}

/// Creates databases `src` (with table `t`, three rows) and `dst`.
async fn set_up(pg: &TlsPg, certs: &Certs) -> Client {
    let admin = pg.connect(certs, "postgres").await;
    for db in ["src", "dst"] {
        admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    }
    let src = pg.connect(certs, "src").await;
    src.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');")
        .await
        .unwrap();
    src
}

#[test]
fn postgres_source_and_target_replicate_over_verified_tls() {
    let certs = Certs::new();
    let pg = TlsPg::start(&certs);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (src, dst, admin) = rt.block_on(async {
        let src = set_up(&pg, &certs).await;
        (src, pg.connect(&certs, "dst").await, pg.connect(&certs, "postgres").await)
    });
    let verify_full = format!("sslmode=verify-full&sslrootcert={}", certs.ca());
    // The source by IP address (checked against the certificate's IP
    // entry), the target by name.
    let s = Scratch::new(&pipeline(&pg.url("127.0.0.1", "src", &verify_full), Some(&pg.url("localhost", "dst", &verify_full))));

    // While a run streams, every session logferry holds is encrypted:
    // the SQL sessions, the replication session (walsender), the target's.
    let mut child = s.spawn(&["run"]);
    let deadline = Instant::now() + PATIENCE;
    rt.block_on(async {
        src.batch_execute("INSERT INTO t VALUES (4, 'd')").await.unwrap();
        while count(&dst, "SELECT count(*) FROM public.t").await < 4 {
            assert!(Instant::now() < deadline, "rows did not reach the target over TLS; server log:\n{}", pg.log());
            assert!(child.try_wait().unwrap().is_none(), "logferry run exited early");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sessions: Vec<(String, bool, String)> = admin
            .query(
                "SELECT a.backend_type, s.ssl, coalesce(s.version, '') FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
                 WHERE a.application_name = 'logferry' ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert!(sessions.iter().any(|(kind, _, _)| kind == "walsender"), "no replication session in {sessions:?}");
        assert!(sessions.len() >= 3, "expected source SQL, replication and target sessions: {sessions:?}");
        assert!(sessions.iter().all(|(_, ssl, version)| *ssl && version.starts_with("TLS")), "a plain session: {sessions:?}");
    });
    child.kill().unwrap();
    let _ = child.wait();

    // `run --once` picks up the rest, still over TLS.
    rt.block_on(async { src.batch_execute("INSERT INTO t VALUES (5, 'e')").await.unwrap() });
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "run --once over TLS failed: {}", text(&out.stderr));
    assert_eq!(ids_in_file(&s).into_iter().collect::<std::collections::BTreeSet<_>>().len(), 5);
    rt.block_on(async { assert_eq!(count(&dst, "SELECT count(*) FROM public.t").await, 5) });
    let log = pg.log();
    let ours: Vec<&str> = log.lines().filter(|l| l.contains("authorized") && l.contains("application_name=logferry")).collect();
    assert!(ours.iter().any(|l| l.contains("replication connection authorized")), "{log}");
    assert!(ours.iter().all(|l| l.contains("SSL enabled")), "a logferry connection without TLS:\n{}", ours.join("\n"));
}

/// Runs a PG → file pipeline once with `params` on the source URL (host
/// `host`); returns the output.
fn run_once(pg: &TlsPg, host: &str, params: &str, slot: &str) -> (Scratch, Output) {
    let config = pipeline(&pg.url(host, "src", params), None).replace("lf_tls", slot);
    let s = Scratch::new(&config);
    let out = run_within_patience(&s);
    (s, out)
}

/// `logferry run --once`, killed (and the test failed with its log) when it
/// takes longer than [`PATIENCE`]: a TLS failure must stop the run, not
/// retry forever.
fn run_within_patience(s: &Scratch) -> Output {
    let mut child = s.spawn(&["run", "--once"]);
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("`logferry run --once` did not finish within {PATIENCE:?}:\n{}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn assert_fails_with(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected exit 1 mentioning `{needle}`; stderr:\n{err}");
    assert!(err.contains(needle), "expected `{needle}` in:\n{err}");
    assert!(!err.contains(PASSWORD), "the password leaked:\n{err}");
}

#[test]
fn postgres_tls_modes_check_what_they_promise_and_fail_clearly() {
    let certs = Certs::new();
    let pg = TlsPg::start(&certs);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        set_up(&pg, &certs).await;
    });
    let ca = certs.ca();
    let wrong = certs.path("wrong-ca.pem").display().to_string();

    // A CA that did not sign the server's certificate.
    let (_, out) = run_once(&pg, "127.0.0.1", &format!("sslmode=verify-full&sslrootcert={wrong}"), "lf_wrong_ca");
    assert_fails_with(&out, "not signed by a trusted CA");
    // Plain TCP where the server takes TLS only.
    let (_, out) = run_once(&pg, "127.0.0.1", "sslmode=disable", "lf_plain");
    assert_fails_with(&out, "only over TLS");
    // A bad value names the parameter and the choices.
    let (_, out) = run_once(&pg, "127.0.0.1", "sslmode=verify_full", "lf_bad");
    assert_fails_with(&out, "sslmode=`verify_full` is not valid: use one of disable, prefer, require, verify-ca, verify-full");
    let (_, out) = run_once(&pg, "127.0.0.1", "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "lf_no_ca");
    assert_fails_with(&out, "sslrootcert=/nonexistent/ca.pem: cannot read the CA file");
    // 127.0.0.2 reaches the same server, but the certificate does not
    // name it: verify-full refuses, verify-ca (chain only) replicates —
    // the replication session included.
    let (_, out) = run_once(&pg, "127.0.0.2", &format!("sslmode=verify-full&sslrootcert={ca}"), "lf_name");
    assert_fails_with(&out, "does not name the host");
    let (s, out) = run_once(&pg, "127.0.0.2", &format!("sslmode=verify-ca&sslrootcert={ca}"), "lf_verify_ca");
    assert!(out.status.success(), "verify-ca: {}", text(&out.stderr));
    assert_eq!(ids_in_file(&s), vec![1, 2, 3]);
    // require: encrypted, certificate not checked (as libpq); the default
    // (prefer) also ends up on TLS here.
    for (params, slot) in [("sslmode=require", "lf_require"), ("", "lf_prefer")] {
        let (s, out) = run_once(&pg, "127.0.0.1", params, slot);
        assert!(out.status.success(), "{params}: {}", text(&out.stderr));
        assert_eq!(ids_in_file(&s), vec![1, 2, 3], "{params}");
    }
    // require with a CA file checks the chain, as libpq does.
    let (_, out) = run_once(&pg, "127.0.0.1", &format!("sslmode=require&sslrootcert={wrong}"), "lf_require_ca");
    assert_fails_with(&out, "not signed by a trusted CA");

    // The target refuses a wrong CA just the same.
    let target = pg.url("localhost", "dst", &format!("sslmode=verify-full&sslrootcert={wrong}"));
    let config = pipeline(&pg.url("127.0.0.1", "src", &format!("sslmode=verify-full&sslrootcert={ca}")), Some(&target))
        .replace("lf_tls", "lf_target_ca");
    let out = run_within_patience(&Scratch::new(&config));
    assert_fails_with(&out, "not signed by a trusted CA");
    let log = pg.log();
    assert!(!log.lines().any(|l| l.contains("application_name=logferry") && l.contains("authorized") && !l.contains("SSL enabled")), "{log}");
}

/// A throwaway SecantusDB that accepts only TLS connections; killed on drop.
struct TlsMongo {
    child: std::process::Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl TlsMongo {
    fn start(certs: &Certs) -> Self {
        let python = crate::support::mongodb::python();
        let server = Path::new(&python).with_file_name("secantusd-py");
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(data.path().join("secantusd.toml"), "# settings are on the command line\n").unwrap();
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let child = Command::new(&server)
            .arg("--config")
            .arg(data.path().join("secantusd.toml"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--storage-path"])
            .arg(data.path().join("db"))
            .arg("--tls-cert-file")
            .arg(certs.path("server.crt"))
            .arg("--tls-key-file")
            .arg(certs.path("server.key"))
            .current_dir(data.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        TlsMongo { child, port, _data: data }
    }

    fn url(&self, ca: &str) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true&tls=true&tlsCAFile={ca}&serverSelectionTimeoutMS=3000", self.port)
    }
}

impl Drop for TlsMongo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn mongodb_source_reads_over_tls_with_the_drivers_own_url_options() {
    let certs = Certs::new();
    let mut mongo = TlsMongo::start(&certs);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = mongo.url(&certs.ca());
    rt.block_on(async {
        let client = crate::support::mongodb::client(&url).await;
        let deadline = Instant::now() + PATIENCE;
        while let Err(e) = client.database("admin").run_command(bson::doc! { "ping": 1 }).await {
            assert!(mongo.child.try_wait().unwrap().is_none(), "SecantusDB with TLS exited: {e}");
            assert!(Instant::now() < deadline, "SecantusDB with TLS did not answer: {e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let docs: Vec<bson::Document> = (1..=3).map(|i| bson::doc! { "_id": i as i64, "v": i }).collect();
        client.database("lf_tls").collection::<bson::Document>("c").insert_many(docs).await.unwrap();
    });
    let config = |url: &str| {
        format!(
            r#"
state_dir = "state"
[[pipeline]]
name = "mongo_tls"
[pipeline.source]
kind = "mongodb"
url = "{url}"
collections = ["lf_tls.c"]
max_await = "200ms"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
"#
        )
    };
    let s = Scratch::new(&config(&url));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "MongoDB over TLS: {}", text(&out.stderr));
    let reads = read_json_lines(&s.path("out/changes.jsonl")).iter().filter(|c| c.op() == Op::SnapshotRead).count();
    assert_eq!(reads, 3);

    // The wrong CA stops the run with the certificate problem named.
    let wrong = Scratch::new(&config(&mongo.url(&certs.path("wrong-ca.pem").display().to_string())));
    let out = run_within_patience(&wrong);
    assert_fails_with(&out, "not signed by a trusted CA");
    let err = text(&out.stderr);
    assert!(!err.contains("reconnecting"), "a certificate problem is not retried: {err}");
}

/// A throwaway MariaDB that takes TCP clients only over TLS
/// (`require_secure_transport`), on 127.0.0.1 and 127.0.0.2, with user
/// `lf` and database `lf_tls` (table `items`, three rows); stopped and
/// removed on drop.
struct TlsMariadb {
    child: std::process::Child,
    root: PathBuf,
    port: u16,
}

impl TlsMariadb {
    fn start(certs: &Certs) -> Self {
        let n = SERVERS.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("logferry-tls-mariadb-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("db")).unwrap();
        std::fs::create_dir_all(root.join("binlog")).unwrap();
        // Its own tmpdir: a server starting with tmpdir=/tmp removes the
        // #sql temp files of the suite's shared server.
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        for f in ["server.crt", "server.key"] {
            std::fs::copy(certs.path(f), root.join(f)).unwrap();
        }
        let port = free_port();
        let sock = root.join("mariadbd.sock");
        let cnf = format!(
            "[mariadbd]\ndatadir = {root}/db\nsocket = {sock}\npid-file = {root}/mariadbd.pid\n\
             bind-address = 127.0.0.1,127.0.0.2\nport = {port}\nlog-error = {root}/server.log\nserver_id = 1\n\
             log_bin = {root}/binlog/bin\nbinlog_format = ROW\nbinlog_row_image = FULL\nskip-name-resolve\n\
             innodb_buffer_pool_size = 32M\ninnodb_flush_log_at_trx_commit = 0\nsync_binlog = 0\n\
             ssl_cert = {root}/server.crt\nssl_key = {root}/server.key\nrequire_secure_transport = ON\ntmpdir = {root}/tmp\n",
            root = root.display(),
            sock = sock.display()
        );
        std::fs::write(root.join("my.cnf"), cnf).unwrap();
        let user: &[&str] = if is_root() { &["--user=mysql"] } else { &[] };
        if is_root() {
            run_ok(Command::new("chmod").arg("755").arg(&root));
            run_ok(Command::new("chown").arg("-R").arg("mysql:").arg(&root));
        }
        let defaults = format!("--defaults-file={}", root.join("my.cnf").display());
        run_ok(
            Command::new("mariadb-install-db")
                .arg(&defaults)
                .args(user)
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"]),
        );
        let child = Command::new("mariadbd")
            .arg(&defaults)
            .args(user)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd (scripts/test installs mariadb-server)");
        let server = TlsMariadb { child, root, port };
        let deadline = Instant::now() + PATIENCE;
        let setup = format!(
            "CREATE USER 'lf'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL PRIVILEGES ON *.* TO 'lf'@'%';\
             CREATE DATABASE lf_tls; CREATE TABLE lf_tls.items (id int PRIMARY KEY, v int);\
             INSERT INTO lf_tls.items VALUES (1, 1), (2, 2), (3, 3);"
        );
        loop {
            let out = Command::new("mariadb").arg(format!("--socket={}", sock.display())).args(["-uroot", "-e", &setup]).output().unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the TLS MariaDB did not come up: {}\n{}",
                text(&out.stderr),
                std::fs::read_to_string(server.root.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    fn url(&self, host: &str, params: &str) -> String {
        format!("mysql://lf:{PASSWORD}@{host}:{}/lf_tls?{params}", self.port)
    }
}

impl Drop for TlsMariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn mysql_pipeline(url: &str, server_id: u32) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "mysql_tls"
[pipeline.source]
kind = "mysql"
url = "{url}"
tables = ["lf_tls.items"]
server_id = {server_id}
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
"#
    )
}

#[test]
fn mysql_source_reads_over_tls_and_each_ssl_mode_checks_what_it_promises() {
    let certs = Certs::new();
    let db = TlsMariadb::start(&certs);
    let ca = certs.ca();
    let wrong = certs.path("wrong-ca.pem").display().to_string();
    let run = |host: &str, params: &str, id: u32| {
        let s = Scratch::new(&mysql_pipeline(&db.url(host, params), 4_200_000_000 + id));
        let out = run_within_patience(&s);
        (s, out)
    };
    let snapshot_rows = |s: &Scratch| read_json_lines(&s.path("out/changes.jsonl")).iter().filter(|c| c.op() == Op::SnapshotRead).count();

    // The full check, by IP address; the binlog session is encrypted too
    // (the server takes nothing else over TCP).
    let (s, out) = run("127.0.0.1", &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"), 1);
    assert!(out.status.success(), "VERIFY_IDENTITY: {}", text(&out.stderr));
    assert_eq!(snapshot_rows(&s), 3);
    // 127.0.0.2 is the same server under a name its certificate lacks.
    let (_, out) = run("127.0.0.2", &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"), 2);
    assert_fails_with(&out, "does not name the host");
    let (s, out) = run("127.0.0.2", &format!("ssl-mode=VERIFY_CA&ssl-ca={ca}"), 3);
    assert!(out.status.success(), "VERIFY_CA: {}", text(&out.stderr));
    assert_eq!(snapshot_rows(&s), 3);
    let (_, out) = run("127.0.0.1", &format!("ssl-mode=VERIFY_CA&ssl-ca={wrong}"), 4);
    assert_fails_with(&out, "not signed by a trusted CA");
    // Encryption without checks, and the default (PREFERRED), use TLS here.
    for (params, id) in [("ssl-mode=REQUIRED", 5), ("", 6), ("require_ssl=true&verify_ca=false", 7)] {
        let (s, out) = run("127.0.0.1", params, id);
        assert!(out.status.success(), "{params}: {}", text(&out.stderr));
        assert_eq!(snapshot_rows(&s), 3, "{params}");
    }
    // Plain TCP is refused by the server (MariaDB words it as a denied login).
    let (_, out) = run("127.0.0.1", "ssl-mode=DISABLED", 8);
    assert_fails_with(&out, "Access denied");
    let (_, out) = run("127.0.0.1", "ssl-mode=ON", 9);
    assert_fails_with(&out, "ssl-mode=`ON` is not valid: use one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY");
    let (_, out) = run("127.0.0.1", "ssl-mode=REQUIRED&require_ssl=true", 10);
    assert_fails_with(&out, "not both");
}

/// The shared test MariaDB has no TLS: PREFERRED (the default, used by the
/// other MySQL tests) falls back to plain TCP, REQUIRED says what is wrong.
#[test]
fn mysql_required_against_a_server_without_tls_fails_clearly() {
    let base = crate::support::mariadb::server_url();
    let s = Scratch::new(&mysql_pipeline(&format!("{base}/mysql?ssl-mode=REQUIRED"), 4_200_000_100).replace("lf_tls.items", "mysql.db"));
    let out = run_within_patience(&s);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the server does not offer TLS, and ssl-mode=REQUIRED requires it"), "{err}");
    assert!(!err.contains("logferry-test"), "the password leaked: {err}");
}
