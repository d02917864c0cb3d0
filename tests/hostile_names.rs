//! Hostile identifiers: schema, table and column names with quotes,
//! spaces, unicode, SQL keywords and an injection attempt replicate
//! PostgreSQL → PostgreSQL and PostgreSQL → MariaDB as names, never as SQL.

use crate::support::binary::{text, Scratch};
use crate::support::{mariadb, pg};

/// A table whose name tries to end the statement and drop another table.
const EVIL_TABLE: &str = r#"evil"; DROP TABLE canary; --"#;

#[test]
fn quoted_unicode_keyword_and_injection_names_replicate_as_names() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target, maria) =
        rt.block_on(async { (pg::fresh_db("hostile").await, pg::fresh_db("hostiledst").await, mariadb::fresh_db("hostile").await) });
    rt.block_on(source.client.batch_execute(&format!(
        r#"CREATE SCHEMA "Sch ema";
           CREATE TABLE "Sch ema"."{t}" ("select" int PRIMARY KEY, "we""ird col" text, "naïve ✓" text, "from" int);
           INSERT INTO "Sch ema"."{t}" VALUES (1, 'a''b', 'ü', 7), (2, NULL, '"; DROP TABLE canary; --', 8);"#,
        t = EVIL_TABLE.replace('"', "\"\"")
    )))
    .unwrap();
    // On both targets, a table the injection would drop.
    rt.block_on(target.client.batch_execute("CREATE TABLE canary (id int); INSERT INTO canary VALUES (1);")).unwrap();
    rt.block_on(maria.exec("CREATE TABLE canary (id int); INSERT INTO canary VALUES (1);"));
    // The selector names the table exactly (globs would do too).
    let selector = format!("Sch ema.{EVIL_TABLE}").replace('\\', "\\\\").replace('"', "\\\"");
    let s = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"hostile\"\n[pipeline.source]\nkind = \"postgres\"\nurl = \"{src}\"\n\
         tables = [\"{selector}\"]\nslot = \"{slot}\"\npublication = \"{slot}\"\n\
         [[pipeline.target]]\nkind = \"postgres\"\nurl = \"{dst}\"\n\
         [[pipeline.target]]\nkind = \"mysql\"\nurl = \"{maria}\"\n",
        src = source.url,
        slot = source.name,
        dst = target.url,
        maria = maria.url,
    ));
    let once = |what: &str| {
        let out = s.run(&["run", "--once"]);
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
    };
    once("copy");
    rt.block_on(source.client.batch_execute(&format!(
        r#"UPDATE "Sch ema"."{t}" SET "we""ird col" = 'x"y`z' WHERE "select" = 1;
           INSERT INTO "Sch ema"."{t}" VALUES (3, '`; DROP TABLE canary; --', 'ß', 9);
           DELETE FROM "Sch ema"."{t}" WHERE "select" = 2;"#,
        t = EVIL_TABLE.replace('"', "\"\"")
    )))
    .unwrap();
    once("stream");
    let q = format!(
        r#"SELECT "select"::text, "we""ird col", "naïve ✓", "from"::text FROM "Sch ema"."{t}" ORDER BY 1"#,
        t = EVIL_TABLE.replace('"', "\"\"")
    );
    rt.block_on(async {
        let want = pg::rows(&source, &q).await;
        assert_eq!(want.len(), 2);
        assert_eq!(pg::rows(&target, &q).await, want, "PostgreSQL target");
        assert_eq!(pg::rows(&target, "SELECT count(*)::text FROM canary").await, ["1"], "canary survived on PostgreSQL");
        let got = maria
            .rows(&format!(
                "SELECT CAST(`select` AS CHAR), `we\"ird col`, `naïve ✓`, CAST(`from` AS CHAR) FROM `{}` ORDER BY `select`",
                EVIL_TABLE.replace('`', "``")
            ))
            .await;
        let got: Vec<String> =
            got.iter().map(|r| r.iter().map(|c| c.clone().unwrap_or("∅".into())).collect::<Vec<_>>().join("|")).collect();
        assert_eq!(got, want, "MariaDB target");
        assert_eq!(maria.rows("SELECT COUNT(*) FROM canary").await, [[Some("1".to_string())]], "canary survived on MariaDB");
    });
}
