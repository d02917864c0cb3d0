//! The least a source or target user needs, as statements to run, for
//! `logferry check`. Derived from the config alone (the user in the URL,
//! the table selectors, `create_tables`), so it is printed whether or not
//! the server is reachable.

use crate::config::{MysqlFlavor, SourceConfig, TargetConfig};

/// The user name in a `scheme://user:password@host/…` URL.
fn user_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.rsplit_once('@') {
        Some((cred, _)) => {
            let user = cred.split(':').next().unwrap_or_default();
            if user.is_empty() {
                "<user>".into()
            } else {
                user.into()
            }
        }
        None => "<user>".into(),
    }
}

/// The database in a `scheme://…@host:port/<database>?…` URL.
fn database_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let after_host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let db = after_host.split_once('/')?.1.split('?').next()?;
    (!db.is_empty()).then(|| db.to_string())
}

/// SQL for the tables a selector list names: whole schemas for `schema.*`,
/// else the tables (globs other than `schema.*` need one grant per match).
fn table_objects(tables: &[String]) -> Vec<String> {
    tables
        .iter()
        .map(|t| match t.strip_suffix(".*") {
            Some(schema) if !schema.contains(['*', '?']) => format!("ALL TABLES IN SCHEMA {schema}"),
            _ if t.contains(['*', '?']) => format!("<each table matching {t}>"),
            _ => t.clone(),
        })
        .collect()
}

fn schemas(tables: &[String]) -> Vec<String> {
    let mut out: Vec<String> = tables.iter().filter_map(|t| t.split_once('.').map(|(s, _)| s.to_string())).filter(|s| !s.contains(['*', '?'])).collect();
    out.sort();
    out.dedup();
    out
}

/// What the source's user needs.
pub fn source(cfg: &SourceConfig) -> Vec<String> {
    match cfg {
        SourceConfig::Postgres(pg) => {
            let user = user_of(pg.db.url.expose());
            let mut out = vec![format!("ALTER ROLE {user} WITH LOGIN REPLICATION;")];
            for s in schemas(&pg.db.tables) {
                out.push(format!("GRANT USAGE ON SCHEMA {s} TO {user};"));
            }
            for o in table_objects(&pg.db.tables) {
                out.push(format!("GRANT SELECT ON {o} TO {user};"));
            }
            out.push(format!(
                "-- publication `{}`: logferry creates it if {user} owns the tables; else, as their owner: CREATE PUBLICATION {} FOR TABLE <the tables>;",
                pg.publication, pg.publication
            ));
            out
        }
        SourceConfig::Mysql(my) => {
            let user = user_of(my.db.url.expose());
            let mut privileges = vec!["SELECT", "REPLICATION SLAVE"];
            match my.flavor {
                MysqlFlavor::Mysql => privileges.extend(["REPLICATION CLIENT", "RELOAD"]),
                _ => privileges.push("BINLOG MONITOR"),
            }
            let mut out = vec![format!("GRANT {} ON *.* TO '{user}'@'<host>';", privileges.join(", "))];
            out.push(
                "-- MariaDB: BINLOG MONITOR reads the binlog position; Oracle MySQL: REPLICATION CLIENT for that, RELOAD for the brief FLUSH TABLES WITH READ LOCK of the copy"
                    .into(),
            );
            out
        }
        SourceConfig::Mongodb(m) => {
            let user = user_of(m.db.url.expose());
            let dbs = schemas(&m.db.tables);
            if dbs.is_empty() || m.db.tables.iter().any(|t| t.split('.').next().is_some_and(|d| d.contains(['*', '?']))) {
                vec![format!("db.getSiblingDB(\"admin\").grantRolesToUser(\"{user}\", [\"readAnyDatabase\"])  // a deployment-wide stream")]
            } else {
                let roles: Vec<String> = dbs.iter().map(|d| format!("{{role: \"read\", db: \"{d}\"}}")).collect();
                vec![format!("db.getSiblingDB(\"admin\").grantRolesToUser(\"{user}\", [{}])", roles.join(", "))]
            }
        }
        SourceConfig::Generate(_) | SourceConfig::Kafka(_) => Vec::new(),
    }
}

/// What a target's user needs.
pub fn target(cfg: &TargetConfig) -> Vec<String> {
    match cfg {
        TargetConfig::Postgres(t) => {
            let user = user_of(t.url.expose());
            let schema = t.schema.clone().unwrap_or_else(|| "<each source schema>".into());
            let mut out = vec![
                format!("GRANT USAGE ON SCHEMA {schema} TO {user};"),
                format!("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA {schema} TO {user};"),
            ];
            if t.create_tables {
                out.push(format!("GRANT CREATE ON SCHEMA {schema} TO {user};  -- create_tables: it creates and alters the tables it owns"));
            }
            let home = t.progress_schema.clone().unwrap_or_else(|| "public".into());
            out.push(format!(
                "GRANT USAGE, CREATE ON SCHEMA {home} TO {user};  -- logferry_progress, its record of what each lane applied \
                 (exactly once); or create {home}.logferry_progress yourself and GRANT SELECT, INSERT, UPDATE, DELETE on it"
            ));
            out
        }
        TargetConfig::Mysql(t) => {
            let user = user_of(t.url.expose());
            let db = t.database.clone().or_else(|| database_of(t.url.expose())).unwrap_or_else(|| "<database>".into());
            let mut privileges = vec!["SELECT", "INSERT", "UPDATE", "DELETE", "DROP"];
            if t.create_tables {
                privileges.extend(["CREATE", "ALTER"]);
            }
            let mut out = vec![format!("GRANT {} ON `{db}`.* TO '{user}'@'<host>';  -- DROP is what TRUNCATE needs", privileges.join(", "))];
            let home = t.progress_schema.clone().unwrap_or_else(|| db.clone());
            if home != db || !t.create_tables {
                out.push(format!(
                    "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `{home}`.* TO '{user}'@'<host>';  -- logferry_progress, its record \
                     of what each lane applied (exactly once)"
                ));
            }
            out
        }
        TargetConfig::Mongodb(t) => {
            let user = user_of(t.url.expose());
            let db = t.database.clone().unwrap_or_else(|| "<each source database>".into());
            vec![format!("db.getSiblingDB(\"admin\").grantRolesToUser(\"{user}\", [{{role: \"readWrite\", db: \"{db}\"}}])")]
        }
        TargetConfig::File(_) | TargetConfig::Stdout(_) | TargetConfig::Discard | TargetConfig::Kafka(_) | TargetConfig::Nats(_) | TargetConfig::Http(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn grants_name_the_user_the_tables_and_what_each_engine_needs() {
        let text = r#"
[[pipeline]]
name = "shop"
[pipeline.source]
kind = "postgres"
url = "postgres://repl:secret@127.0.0.1:5432/shop"
tables = ["public.*", "sales.orders"]
[[pipeline.target]]
kind = "mysql"
url = "mysql://writer:pw@127.0.0.1:3306/replica"
[[pipeline.target]]
kind = "postgres"
url = "postgres://w@127.0.0.1/x"
schema = "mirror"
create_tables = false
"#;
        let cfg = Config::parse(text, Path::new("t.toml"), &|_| None).unwrap();
        let p = &cfg.pipelines[0];
        let src = source(&p.source).join("\n");
        for want in [
            "ALTER ROLE repl WITH LOGIN REPLICATION;",
            "GRANT USAGE ON SCHEMA public TO repl;",
            "GRANT USAGE ON SCHEMA sales TO repl;",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO repl;",
            "GRANT SELECT ON sales.orders TO repl;",
            "CREATE PUBLICATION logferry_shop",
        ] {
            assert!(src.contains(want), "missing {want:?} in\n{src}");
        }
        assert!(!src.contains("secret"), "no password: {src}");
        let my = target(&p.targets[0]).join("\n");
        assert!(my.contains("GRANT SELECT, INSERT, UPDATE, DELETE, DROP, CREATE, ALTER ON `replica`.* TO 'writer'@'<host>';"), "{my}");
        let pg = target(&p.targets[1]).join("\n");
        assert!(pg.contains("TRUNCATE ON ALL TABLES IN SCHEMA mirror TO w;") && !pg.contains("CREATE ON SCHEMA mirror"), "{pg}");
        assert!(pg.contains("GRANT USAGE, CREATE ON SCHEMA public TO w;  -- logferry_progress"), "{pg}");
    }

    #[test]
    fn user_is_read_from_the_url() {
        assert_eq!(user_of("postgres://a:b@h/d"), "a");
        assert_eq!(user_of("mysql://root@h:1"), "root");
        assert_eq!(user_of("mongodb://h:1/?x=y"), "<user>");
        assert_eq!(user_of("postgres://u:p@ss@h/d"), "u");
        assert_eq!(database_of("mysql://u:p@h:1/replica?ssl-mode=REQUIRED").as_deref(), Some("replica"));
        assert_eq!(database_of("mysql://u:p@h:1"), None);
    }
}
