//! What `logferry check` asks a MySQL / MariaDB source, and the grant
//! checks of the preflight: the user's account as the server sees it (so
//! every printed `GRANT` runs as is), whether it holds REPLICATION SLAVE
//! (read from `SHOW GRANTS`: the binlog dump needs it, and without it a run
//! would fail only after its whole initial copy), and whether it can read
//! each selected table.

use super::catalog::{quote_ident, Table};
use super::{connect, definite, opts, preflight, MysqlSource};
use crate::config::MysqlSourceConfig;
use crate::sources::SourceError;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// What `logferry check` says about a mysql source. `Err` holds every
/// problem (one per line of its message), each with its fix.
pub async fn check(cfg: &MysqlSourceConfig) -> Result<String, SourceError> {
    let source = MysqlSource::new(cfg.clone()).name;
    let opts = opts(cfg.db.url.expose(), &source)?;
    let mut conn = match connect(&opts, &source).await {
        Ok(c) => c,
        Err(e) => return Err(denied_database(&e, &source).unwrap_or(e)),
    };
    let (flavor, tables) = preflight(&mut conn, cfg, &source).await?;
    let names: Vec<String> = tables.iter().map(|t| t.qualified()).collect();
    Ok(format!("{source}: ready ({flavor:?}); {} table(s): {}", names.len(), names.join(", ")))
}

/// A connection refused because the user may not use the URL's database
/// (ERROR 1044): the grant that lets it in.
fn denied_database(e: &SourceError, source: &str) -> Option<SourceError> {
    let detail = e.detail();
    let at = detail.find("ERROR 1044")?;
    // "Access denied for user 'u'@'h' to database 'db'"
    let rest = &detail[at..];
    let account = rest.split_once("for user ")?.1.split_once(" to database ")?.0;
    let db = rest.split_once(" to database '")?.1.rsplit_once('\'')?.0.trim_end_matches(['\'', '`']);
    Some(definite(
        source,
        format!(
            "user {account} may not use database {} of the url: run GRANT SELECT ON {}.* TO {account};",
            quote_ident(db),
            quote_ident(db)
        ),
    ))
}

/// `'user'@'host'` from `CURRENT_USER()`'s `user@host`.
pub(super) fn account(current_user: &str) -> String {
    let (user, host) = current_user.rsplit_once('@').unwrap_or((current_user, "%"));
    format!("'{}'@'{}'", user.replace('\'', "''"), host.replace('\'', "''"))
}

/// Whether `SHOW GRANTS` shows, for sure, no REPLICATION SLAVE on `*.*`.
/// Privileges that come through a role MySQL does not list there, so with
/// a role granted the answer is "not sure" (false): the run finds out.
pub(super) fn lacks_replication_slave(grants: &[String]) -> bool {
    if grants.is_empty() {
        return false;
    }
    let mut global = Vec::new();
    for g in grants {
        let Some(rest) = g.strip_prefix("GRANT ") else { continue };
        let Some((privileges, on)) = rest.split_once(" ON ") else {
            return false; // `GRANT role TO user`
        };
        if on.starts_with("*.*") {
            global.extend(privileges.split(',').map(|p| p.trim().to_uppercase()));
        }
    }
    !global.iter().any(|p| p == "REPLICATION SLAVE" || p == "ALL PRIVILEGES" || p == "ALL")
}

/// `SHOW GRANTS` of the connected user (empty when it cannot be read).
pub(super) async fn grants(conn: &mut Conn) -> Vec<String> {
    conn.query::<String, _>("SHOW GRANTS").await.unwrap_or_default()
}

/// The selected tables the user sees but may not SELECT from (a table it
/// has no privilege on at all is not listed by information_schema: that
/// shows as "no table matches").
pub(super) async fn unreadable(conn: &mut Conn, tables: &[Table]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables {
        if let Err(mysql_async::Error::Server(e)) = conn.query_drop(format!("SELECT 1 FROM {} LIMIT 0", t.quoted())).await {
            if matches!(e.code, 1142 | 1143) {
                out.push(t.quoted());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn replication_slave_is_read_from_the_global_grants() {
        let usage = "GRANT USAGE ON *.* TO `u`@`127.0.0.1` IDENTIFIED BY PASSWORD '*D8'";
        assert!(lacks_replication_slave(&lines(&[usage, "GRANT SELECT ON `shop`.* TO `u`@`127.0.0.1`"])));
        // A schema-level grant of the same name is not the global privilege.
        assert!(lacks_replication_slave(&lines(&["GRANT SELECT, INSERT ON `test`.* TO PUBLIC", usage])));
        assert!(!lacks_replication_slave(&lines(&["GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%`"])));
        assert!(!lacks_replication_slave(&lines(&["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"])));
        // MySQL 8 lists a role, not its privileges: not sure, not reported.
        assert!(!lacks_replication_slave(&lines(&[usage, "GRANT `replicator`@`%` TO `u`@`%`"])));
        // Nothing readable: nothing reported.
        assert!(!lacks_replication_slave(&[]));
    }

    #[test]
    fn the_account_is_quoted_for_a_grant() {
        assert_eq!(account("lf@127.0.0.1"), "'lf'@'127.0.0.1'");
        assert_eq!(account("o'brien@%"), "'o''brien'@'%'");
    }

    #[test]
    fn a_denied_database_gets_its_grant() {
        let e = definite("mysql:h:1", "connecting").caused_by(
            "Server error: `ERROR 1044 (42000): Access denied for user 'lf_u'@'127.0.0.1' to database 'shop''".to_string(),
        );
        let fixed = denied_database(&e, "mysql:h:1").unwrap().detail();
        assert_eq!(
            fixed,
            "user 'lf_u'@'127.0.0.1' may not use database `shop` of the url: run GRANT SELECT ON `shop`.* TO 'lf_u'@'127.0.0.1';"
        );
        assert!(denied_database(&definite("s", "connecting: timed out"), "s").is_none());
    }
}
