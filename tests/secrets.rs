//! Secrets in every form: passwords in a URL's query parameters
//! (`password=`, `sslpassword=`, `tlsCertificateKeyFilePassword=`, tokens)
//! are printed as `***`, as the userinfo password is, by `check` and by
//! the errors of a run that cannot reach its servers.

use crate::support::binary::{text, Scratch};

/// Every secret of the config below; none may be printed.
const SECRETS: [&str; 8] = ["zz-pw-1", "zz-pw-2", "zz-pw-3", "zz-pw-4", "zz-pw-5", "zz-pw-6", "zz-pw-7", "zz-pw-8"];

/// Servers on a closed port (1) of 127.0.0.1: every connection is refused
/// at once, so `check` and `run` print their URLs in errors.
fn config(source: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "p"
[pipeline.source]
{source}
[[pipeline.target]]
kind = "mysql"
url = "mysql://root:zz-pw-3@127.0.0.1:1/db?ssl-mode=DISABLED"
[[pipeline.target]]
kind = "mongodb"
url = "mongodb://127.0.0.1:1/?tls=true&tlsCertificateKeyFilePassword=zz-pw-4&serverSelectionTimeoutMS=500"
[[pipeline.target]]
kind = "http"
url = "http://127.0.0.1:1/hook?token=zz-pw-5&api_key=zz-pw-6"
[[pipeline.target]]
kind = "nats"
url = "nats://n:zz-pw-7@127.0.0.1:1?auth_token=zz-pw-8"
subject = "x"
"#
    )
}

fn assert_no_secret(what: &str, out: &std::process::Output) -> String {
    let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    for s in SECRETS {
        assert!(!all.contains(s), "{what} printed the secret {s}:\n{all}");
    }
    all
}

#[test]
fn check_and_run_print_urls_with_query_passwords_masked() {
    for source in [
        "kind = \"postgres\"\nurl = \"postgres://logferry@127.0.0.1:1/shop?sslmode=disable&password=zz-pw-1\"\ntables = [\"public.items\"]",
        // tokio-postgres knows no sslpassword: the URL is refused, unprinted.
        "kind = \"postgres\"\nurl = \"postgres://logferry:zz-pw-1@127.0.0.1:1/shop?sslpassword=zz-pw-2\"\ntables = [\"public.items\"]",
        "kind = \"mysql\"\nurl = \"mysql://root@127.0.0.1:1/shop?password=zz-pw-1\"\ntables = [\"shop.items\"]\nserver_id = 4100018999",
        "kind = \"mongodb\"\nurl = \"mongodb://u:zz-pw-1@127.0.0.1:1/?authSource=admin&serverSelectionTimeoutMS=500&tlsCertificateKeyFilePassword=zz-pw-2\"\ncollections = [\"shop.items\"]",
    ] {
        let s = Scratch::new(&config(source));
        let out = s.run(&["check"]);
        let all = assert_no_secret("check", &out);
        assert_eq!(out.status.code(), Some(1), "nothing is reachable: {all}");
        // The URLs are still there, to say which server was meant.
        for shown in [
            "mysql://root:***@127.0.0.1:1/db?ssl-mode=DISABLED",
            "mongodb://127.0.0.1:1/?tls=true&tlsCertificateKeyFilePassword=***&serverSelectionTimeoutMS=500",
            "http://127.0.0.1:1/hook?token=***&api_key=***",
            "nats://n:***@127.0.0.1:1?auth_token=***",
        ] {
            assert!(all.contains(shown), "check shows {shown}: {all}");
        }
        let out = s.run(&["check", "--json"]);
        assert_no_secret("check --json", &out);
        let out = s.run(&["run", "--once"]);
        let all = assert_no_secret("run", &out);
        assert_ne!(out.status.code(), Some(0), "{all}");
    }
}
