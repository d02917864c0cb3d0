//! `[[pipeline.table]]` rules end to end, through the real binary, from a
//! PostgreSQL source to a PostgreSQL target, a MariaDB target and a file:
//! renames, excluded and masked columns (a hash checked against HMAC-SHA256
//! computed here), filters with change data (rows moving in and out),
//! per-target `tables`, validation with dead letters and replay, `stop`
//! and `skip`, and the start-time checks against the source's catalog.

use crate::support::binary::{read_json_lines, text, Scratch};
use crate::support::mariadb;
use crate::support::pg::{fresh_db, rows, TestDb};
use logferry::record::Op;

const MASK_KEY: &str = "k3y-for-tests";

/// The shop's two tables on the source.
async fn shop(source: &TestDb) {
    source
        .client
        .batch_execute(
            "CREATE TABLE customers (id int PRIMARY KEY, customer_no text NOT NULL, email text, phone varchar(20),
                                     ssn text, notes text, country text, total numeric(12,2), status text);
             CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount numeric(10,2));
             INSERT INTO customers VALUES
               (1, 'C1', 'ada@example.com', '+49 1', '111-11', 'vip', 'DE', 150.00, 'paid'),
               (2, 'C2', 'bob@example.com', '+49 2', '222-22', 'x',   'DE', 99.99,  'paid'),
               (3, 'C3', 'cy@example.com',  '+33 3', '333-33', NULL,  'FR', 500.00, 'shipped'),
               (4, 'C4', 'di@example.com',  '+49 4', '444-44', 'y',   'DE', 100,    'new'),
               (5, 'C5', NULL,              NULL,    '555-55', 'z',   'DE', 100,    'shipped');
             INSERT INTO orders VALUES (10, 1, 20.50), (11, 3, 7.25);",
        )
        .await
        .unwrap();
}

fn config(source: &TestDb, pg_target: &TestDb, my_target: &mariadb::TestDb, extra_rule: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "shop"
mask_key = "${{LF_TEST_MASK_KEY}}"
on_error = "dead_letter"

[[pipeline.table]]
match = "public.customers"
rename = "crm.clients"
exclude_columns = ["ssn"]
rename_columns = {{ email = "email_address" }}
mask = {{ phone = "redact", email = "hash", notes = "null" }}
filter = "country = 'DE' and total >= 100 and status in ('paid', 'shipped')"
{extra_rule}

[[pipeline.table]]
match = "public.orders"
rename = "erp.orders"

[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.*"]
slot = "{slot}"
publication = "{slot}"

[[pipeline.target]]
kind = "postgres"
url = "{pg}"
tables = ["crm.*"]

[[pipeline.target]]
kind = "mysql"
url = "{my}"
tables = ["crm.*", "erp.*"]

[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"

[pipeline.apply]
lanes = 2
batch_max_wait = "5ms"
"#,
        src = source.url,
        slot = source.name,
        pg = pg_target.url,
        my = my_target.url,
    )
}

/// `logferry <args>` with the mask key in the environment.
fn lf(s: &Scratch, args: &[&str]) -> std::process::Output {
    s.command(args).env("LF_TEST_MASK_KEY", MASK_KEY).output().unwrap()
}

fn run_once(s: &Scratch) -> std::process::Output {
    lf(s, &["run", "--once"])
}

fn hmac_hex(text: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, MASK_KEY.as_bytes());
    ring::hmac::sign(&key, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_shape_filter_and_route_rows_to_postgres_mariadb_and_file() {
    let source = fresh_db("tf_src").await;
    let pg = fresh_db("tf_pg").await;
    let my = mariadb::fresh_db("tf_my").await;
    shop(&source).await;
    let s = Scratch::new(&config(&source, &pg, &my, ""));

    let out = run_once(&s);
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));

    // Only rows that pass the filter, renamed, masked, without ssn.
    // Rows 1 and 5 pass; 5's NULL email and phone stay NULL under their masks.
    assert_eq!(
        rows(&pg, "SELECT id, customer_no, email_address, phone, notes, country, total FROM crm.clients ORDER BY id").await,
        [format!("1|C1|{}|***|∅|DE|150.00", hmac_hex("ada@example.com")), "5|C5|∅|∅|∅|DE|100.00".to_string()]
    );
    let cols = rows(&pg, "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'crm' AND table_name = 'clients'").await;
    assert!(!cols[0].contains("ssn") && cols[0].contains("email_address") && !cols[0].contains(",email,"), "{cols:?}");
    assert!(rows(&pg, "SELECT 1 FROM pg_tables WHERE tablename = 'orders'").await.is_empty(), "orders are not routed to the CRM");

    let my_rows = my.rows("SELECT id, email_address, phone, notes FROM clients ORDER BY id").await;
    assert_eq!(
        my_rows,
        vec![vec![Some("1".into()), Some(hmac_hex("ada@example.com")), Some("***".into()), None], vec![Some("5".into()), None, None, None]]
    );
    assert_eq!(my.rows("SELECT id, amount FROM orders ORDER BY id").await.len(), 2, "orders reach the ERP");

    // The file gets every table, transformed the same way; ssn never appears.
    let records = read_json_lines(&s.path("out/changes.jsonl"));
    let raw = std::fs::read_to_string(s.path("out/changes.jsonl")).unwrap();
    assert!(!raw.contains("ssn") && !raw.contains("111-11"), "an excluded column reached the file");
    assert!(records.iter().any(|c| c.table.as_ref().is_some_and(|t| t.schema == "erp" && t.name == "orders")));
    assert!(records.iter().all(|c| c.table.as_ref().is_none_or(|t| t.name != "customers")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_moving_rows_out_of_the_filter_delete_them_and_moving_in_upserts_them() {
    let source = fresh_db("tf_mv_src").await;
    let pg = fresh_db("tf_mv_pg").await;
    let my = mariadb::fresh_db("tf_mv_my").await;
    shop(&source).await;
    // Both images whole: an UPDATE's old row can be judged by the filter.
    source.client.batch_execute("ALTER TABLE customers REPLICA IDENTITY FULL").await.unwrap();
    let s = Scratch::new(&config(&source, &pg, &my, ""));
    let out = run_once(&s);
    assert!(out.status.success(), "first run: {}", text(&out.stderr));
    assert_eq!(rows(&pg, "SELECT id FROM crm.clients ORDER BY id").await, ["1", "5"]);

    source
        .client
        .batch_execute(
            "UPDATE customers SET country = 'FR' WHERE id = 1;          -- moves out: deleted on the targets
             UPDATE customers SET total = 250 WHERE id = 2;             -- moves in: upserted
             UPDATE customers SET status = 'paid' WHERE id = 4;         -- moves in
             UPDATE customers SET notes = 'still out' WHERE id = 3;     -- stays out: nothing
             UPDATE customers SET email = 'e5@example.com' WHERE id = 5; -- stays in: updated
             DELETE FROM customers WHERE id = 4;                        -- was in: deleted
             INSERT INTO customers VALUES (6, 'C6', 'f@example.com', '1', '6', 'n', 'DE', 1000, 'shipped');",
        )
        .await
        .unwrap();
    let out = run_once(&s);
    assert!(out.status.success(), "second run: {}", text(&out.stderr));
    assert_eq!(rows(&pg, "SELECT id FROM crm.clients ORDER BY id").await, ["2", "5", "6"]);
    assert_eq!(
        rows(&pg, "SELECT email_address FROM crm.clients WHERE id = 5").await,
        [hmac_hex("e5@example.com")]
    );
    let ids: Vec<Option<String>> = my.rows("SELECT id FROM clients ORDER BY id").await.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, [Some("2".into()), Some("5".into()), Some("6".into())]);

    // The file shows how each change was carried: id 1 as a DELETE, id 2
    // as an upsert without an old row, id 3 not at all.
    let records = read_json_lines(&s.path("out/changes.jsonl"));
    let of = |id: i64| -> Vec<Op> {
        records
            .iter()
            .filter(|c| c.table.as_ref().is_some_and(|t| t.name == "clients"))
            .filter(|c| c.key_values().first().and_then(|v| v.kind.clone()) == Some(logferry::record::value::Kind::Int64(id)))
            .map(|c| c.op())
            .collect()
    };
    assert_eq!(of(1), [Op::SnapshotRead, Op::Delete]);
    assert_eq!(of(2), [Op::Update]);
    assert_eq!(of(3), Vec::<Op>::new());
    let moved_in = records.iter().find(|c| c.op() == Op::Update && c.key_values().first().and_then(|v| v.kind.clone()) == Some(logferry::record::value::Kind::Int64(2))).unwrap();
    assert!(moved_in.before.is_none(), "an UPDATE moving a row in is an upsert: no old image");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_failing_validation_is_dead_lettered_its_key_waits_and_replay_applies_in_order() {
    let source = fresh_db("tf_dl_src").await;
    let pg = fresh_db("tf_dl_pg").await;
    let my = mariadb::fresh_db("tf_dl_my").await;
    shop(&source).await;
    let strict = "[pipeline.table.validate]\nemail = { regex = '^[^@ ]+@[^@ ]+\\.[a-z]{2,}$' }";
    let s = Scratch::new(&config(&source, &pg, &my, strict));
    let out = run_once(&s);
    assert!(out.status.success(), "{}", text(&out.stderr));

    source
        .client
        .batch_execute(
            "INSERT INTO customers VALUES (7, 'C7', 'not-an-email', '1', '7', 'n', 'DE', 300, 'paid');
             UPDATE customers SET total = 400 WHERE id = 7;   -- valid on its own, but waits behind the first
             UPDATE customers SET total = 500 WHERE id = 1;   -- other keys go on",
        )
        .await
        .unwrap();
    let out = run_once(&s);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rows(&pg, "SELECT id, total FROM crm.clients ORDER BY id").await, ["1|500.00", "5|100.00"]);

    let list = lf(&s, &["dead-letters", "list"]);
    let listed = text(&list.stdout);
    assert!(listed.contains("pipeline shop: 2 dead letters"), "{listed}{}", text(&list.stderr));
    assert!(listed.contains("pipeline[shop].table[0].validate.email.regex"), "the rule is named: {listed}");
    assert!(listed.contains("held back"), "the later change waits behind it: {listed}");

    // Replay under the same rule: it still fails, nothing is applied.
    let replay = lf(&s, &["dead-letters", "replay", "--all"]);
    assert!(!replay.status.success(), "a record that still fails stays: {}", text(&replay.stdout));
    assert!(rows(&pg, "SELECT id FROM crm.clients WHERE id = 7").await.is_empty());

    // Fix the rule (accept any text with an @ or without), replay: both
    // changes of id 7 are applied, in order (total ends at 400).
    std::fs::write(&s.config, config(&source, &pg, &my, "[pipeline.table.validate]\nemail = { max_length = 64 }")).unwrap();
    let replay = lf(&s, &["dead-letters", "replay", "--all"]);
    assert!(replay.status.success(), "{}{}", text(&replay.stdout), text(&replay.stderr));
    assert_eq!(rows(&pg, "SELECT id, total, email_address FROM crm.clients WHERE id = 7").await, [format!("7|400.00|{}", hmac_hex("not-an-email"))]);
    let ids: Vec<Option<String>> = my.rows("SELECT total FROM clients WHERE id = 7").await.into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, [Some("400.00".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_invalid_stop_names_the_rule_and_skip_drops_the_row() {
    let source = fresh_db("tf_st_src").await;
    let pg = fresh_db("tf_st_pg").await;
    let my = mariadb::fresh_db("tf_st_my").await;
    shop(&source).await;
    source
        .client
        .batch_execute("INSERT INTO customers VALUES (8, 'C8', 'h@example.com', '1', '8', 'n', 'DE', 2000000, 'paid')")
        .await
        .unwrap();
    let rule = |action: &str| format!("on_invalid = \"{action}\"\n[pipeline.table.validate]\ntotal = {{ min = 0, max = 1000000 }}");
    let s = Scratch::new(&config(&source, &pg, &my, &rule("stop")));
    let out = run_once(&s);
    assert_eq!(out.status.code(), Some(1), "stop fails the run: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("pipeline[shop].table[0].validate.total.max") && err.contains("public.customers") && err.contains("`total`"), "{err}");
    assert!(!err.contains("2000000"), "the value is not printed: {err}");

    std::fs::write(&s.config, config(&source, &pg, &my, &rule("skip"))).unwrap();
    let out = run_once(&s);
    assert!(out.status.success(), "skip goes on: {}", text(&out.stderr));
    assert_eq!(rows(&pg, "SELECT id FROM crm.clients ORDER BY id").await, ["1", "5"], "row 8 is dropped, the rest applied");
    let list = lf(&s, &["dead-letters", "list"]);
    assert!(text(&list.stdout).contains("pipeline shop: no dead letters"), "skip sets nothing aside: {}{}", text(&list.stdout), text(&list.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_checked_against_the_source_catalog_with_key_paths() {
    let source = fresh_db("tf_ck_src").await;
    let pg = fresh_db("tf_ck_pg").await;
    let my = mariadb::fresh_db("tf_ck_my").await;
    shop(&source).await;
    let base = config(&source, &pg, &my, "");
    let cases = [
        (base.replace("phone = \"redact\"", "phon = \"redact\""), "pipeline[shop].table[0].mask.phon", "has no column `phon`"),
        (base.replace("total >= 100", "total >= 'lots'"), "pipeline[shop].table[0].filter", "total"),
        (base.replace("phone = \"redact\"", "total = \"redact\""), "pipeline[shop].table[0].mask.total", "redact"),
        (base.replace("match = \"public.orders\"", "match = \"public.nothing\""), "pipeline[shop].table[1].match", "no replicated table"),
        (base.replace("email = \"email_address\"", "email = \"phone\""), "pipeline[shop].table[0].rename_columns.email", "already has a column `phone`"),
        (base.replace("exclude_columns = [\"ssn\"]", "exclude_columns = [\"id\"]"), "pipeline[shop].table[0].exclude_columns[0]", "key column"),
        (base.replace("filter = \"country", "filter = \"countri"), "pipeline[shop].table[0].filter", "countri"),
    ];
    for (cfg, key, words) in cases {
        let s = Scratch::new(&cfg);
        for cmd in [&["run", "--once"][..], &["check"][..]] {
            let out = s.command(cmd).env("LF_TEST_MASK_KEY", MASK_KEY).output().unwrap();
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd:?} {key}: {err}");
            assert!(err.contains(key) && err.contains(words), "{cmd:?}: expected `{key}` and {words:?} in: {err}");
        }
    }
    // Without the mask key the file itself is refused, naming the key.
    let s = Scratch::new(&base.replace("mask_key = \"${LF_TEST_MASK_KEY}\"\n", ""));
    let out = s.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pipeline[shop].mask_key"), "{}", text(&out.stderr));
    // A good file passes `check`, which also suggests REPLICA IDENTITY FULL for the filtered table.
    let s = Scratch::new(&base);
    let out = s.command(&["check"]).env("LF_TEST_MASK_KEY", MASK_KEY).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("ALTER TABLE \"public\".\"customers\" REPLICA IDENTITY FULL"), "{said}");
    assert!(said.contains("rules: 2 [[pipeline.table]] rule(s) checked"), "{said}");
}

#[test]
fn a_pipeline_whose_rules_are_identities_writes_exactly_what_it_wrote_without_them() {
    use crate::support::binary::generate_config;
    // Rules that change nothing: a filter that is always true, a column
    // renamed to itself, a table renamed to itself, a check every row
    // passes. They still run (the plan is not empty), so the stage's
    // rewrite is exercised on every record.
    let rules = r#"name = "gen"
[[pipeline.table]]
match = "gen.*"
filter = "true"
rename_columns = { id = "id" }
[[pipeline.table]]
match = "gen.t1"
rename = "t1"
[pipeline.table.validate]
amount = { min = 0 }
"#;
    let plain = generate_config(4000, "", "json");
    assert!(plain.contains("name = \"gen\"\n"));
    let with_rules = plain.replacen("name = \"gen\"\n", rules, 1);
    let by_seq = |s: &Scratch| {
        let out = s.run(&["run", "--once"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut lines: Vec<(u64, String)> = std::fs::read_to_string(s.path("out/changes.jsonl"))
            .unwrap()
            .lines()
            .map(|l| (logferry::record::json::read_change(l.as_bytes()).unwrap().seq, l.to_string()))
            .collect();
        lines.sort();
        lines.dedup();
        lines
    };
    let without = by_seq(&Scratch::new(&plain));
    let with = by_seq(&Scratch::new(&with_rules));
    assert_eq!(without.len(), 4000);
    assert!(with == without, "the identity rules changed the output");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_columns_and_each_kind_of_check_on_both_sql_targets() {
    let source = fresh_db("tf_inc_src").await;
    let pg = fresh_db("tf_inc_pg").await;
    let my = mariadb::fresh_db("tf_inc_my").await;
    shop(&source).await;
    // Rows that break one check each (1 and 5 pass every check).
    source
        .client
        .batch_execute(
            "UPDATE customers SET status = 'lost' WHERE id = 3;                        -- one_of
             UPDATE customers SET customer_no = repeat('x', 9) WHERE id = 4;            -- max_length
             UPDATE customers SET notes = NULL WHERE id = 2;                            -- not_null
             INSERT INTO customers VALUES (6, 'C6', 'g@example.com', '1', '6', 'ok', 'DE', 1, 'paid');",
        )
        .await
        .unwrap();
    let cfg = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "shop"
[[pipeline.table]]
match = "public.customers"
include_columns = ["id", "customer_no", "status"]
on_invalid = "skip"
[pipeline.table.validate]
status = {{ one_of = ["new", "paid", "shipped"] }}
customer_no = {{ max_length = 8 }}
notes = {{ not_null = true }}
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.customers"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "postgres"
url = "{pg}"
[[pipeline.target]]
kind = "mysql"
url = "{my}"
"#,
        src = source.url,
        slot = source.name,
        pg = pg.url,
        my = my.url,
    );
    let s = Scratch::new(&cfg);
    let out = lf(&s, &["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rows(&pg, "SELECT * FROM public.customers ORDER BY id").await, ["1|C1|paid", "5|C5|shipped", "6|C6|paid"]);
    let got = my.rows("SELECT * FROM customers ORDER BY id").await;
    let want: Vec<Vec<Option<String>>> = [("1", "C1", "paid"), ("5", "C5", "shipped"), ("6", "C6", "paid")]
        .iter()
        .map(|(a, b, c)| vec![Some(a.to_string()), Some(b.to_string()), Some(c.to_string())])
        .collect();
    assert_eq!(got, want, "only the included columns, and only rows passing every check");

    // A column added at the source later stays out under include_columns.
    source.client.batch_execute("ALTER TABLE customers ADD COLUMN vip bool; INSERT INTO customers VALUES (7, 'C7', NULL, NULL, NULL, 'n', 'DE', 1, 'new', true)").await.unwrap();
    let out = lf(&s, &["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rows(&pg, "SELECT * FROM public.customers WHERE id = 7").await, ["7|C7|new"]);
    assert_eq!(my.rows("SELECT * FROM customers WHERE id = 7").await.first().map(Vec::len), Some(3));
}
