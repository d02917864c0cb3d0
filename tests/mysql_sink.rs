use crate::support::mariadb::fresh_db;
use mysql_async::prelude::Queryable;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread")]
async fn experiment_protocols() {
    let db = fresh_db("exp").await;
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&db.url).unwrap()).await.unwrap();
    conn.query_drop("CREATE TABLE t (id bigint primary key, v varchar(100), n int not null) CHARSET utf8mb4").await.unwrap();
    conn.query_drop("CREATE TABLE u (id bigint primary key, v varchar(100), n int not null) CHARSET utf8mb4").await.unwrap();
    let batches = 100;
    let rows = 1000;
    for round in 0..2 {
    // text
    let t0 = Instant::now();
    for b in 0..batches {
        let mut sql = String::from("START TRANSACTION; INSERT INTO t (id, v, n) VALUES ");
        for r in 0..rows {
            let id = (b * rows + r) as i64;
            if r > 0 { sql.push(','); }
            sql.push_str(&format!("({id},'value {id} round {round}',{r})"));
        }
        sql.push_str(" ON DUPLICATE KEY UPDATE v = VALUES(v), n = VALUES(n)");
        conn.query_drop(sql).await.unwrap();
        conn.query_drop("COMMIT").await.unwrap();
    }
    let text = t0.elapsed();
    // binary
    let mut stmt_sql = String::from("INSERT INTO u (id, v, n) VALUES ");
    for r in 0..rows { if r > 0 { stmt_sql.push(','); } stmt_sql.push_str("(?,?,?)"); }
    stmt_sql.push_str(" ON DUPLICATE KEY UPDATE v = VALUES(v), n = VALUES(n)");
    let stmt = conn.prep(&stmt_sql).await.unwrap();
    let t0 = Instant::now();
    for b in 0..batches {
        conn.query_drop("START TRANSACTION").await.unwrap();
        let mut params: Vec<mysql_async::Value> = Vec::with_capacity(rows * 3);
        for r in 0..rows {
            let id = (b * rows + r) as i64;
            params.push(id.into());
            params.push(format!("value {id} round {round}").into());
            params.push((r as i64).into());
        }
        conn.exec_drop(&stmt, params).await.unwrap();
        conn.query_drop("COMMIT").await.unwrap();
    }
    let bin = t0.elapsed();
    eprintln!("round {round}: text {:.0} rows/s, binary {:.0} rows/s", (batches * rows) as f64 / text.as_secs_f64(), (batches * rows) as f64 / bin.as_secs_f64());
    }
}
