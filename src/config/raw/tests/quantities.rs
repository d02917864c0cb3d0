//! Durations and sizes: accepted forms, and the messages for bad ones.
use super::*;

#[test]
fn bad_durations_name_the_key_and_the_form() {
    for (value, found) in [
        ("\"20\"", "\"20\", a number without a unit"),
        ("20", "20, a number without a unit"),
        ("1.5", "1.5, a number without a unit"),
        ("\"-5ms\"", "\"-5ms\""),
        ("\"\"", "\"\""),
        ("\"5 fortnights\"", "\"5 fortnights\""),
        ("\"ms\"", "\"ms\""),
        ("\"1.2.3s\"", "\"1.2.3s\""),
    ] {
        let (key, message) = invalid(&with_apply(&format!("batch_max_wait = {value}")));
        assert_eq!(key, "pipeline[shop].apply.batch_max_wait");
        assert_eq!(
            message,
            format!(
                "found {found}; expected a duration like \"20ms\" or \"5s\" \
                 (units: us, ms, s, m, h)"
            )
        );
    }
    let (key, message) = invalid(&with_apply("retry_backoff = \"0s\""));
    assert_eq!(key, "pipeline[shop].apply.retry_backoff");
    assert!(message.contains("expected more than 0"), "{message}");
    let (key, _) = invalid(&with_apply(
        "retry_backoff = \"1m\"\nretry_max_backoff = \"5s\"",
    ));
    assert_eq!(key, "pipeline[shop].apply.retry_max_backoff");
    let e = error(&with_apply("checkpoint_interval = true"));
    assert!(
        e.contains("`pipeline[shop].apply.checkpoint_interval`"),
        "{e}"
    );
    assert!(e.contains("a string with a unit"), "{e}");
}

#[test]
fn durations() {
    let d = |s: &str| parse_duration(&Quantity::Text(s.to_owned()));
    assert_eq!(d("20ms"), Ok(Duration::from_millis(20)));
    assert_eq!(d("0ms"), Ok(Duration::ZERO));
    assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(d(" 3 s "), Ok(Duration::from_secs(3)));
    assert_eq!(d("250us"), Ok(Duration::from_micros(250)));
    assert_eq!(d(".5m"), Ok(Duration::from_secs(30)));
    assert_eq!(d("2h"), Ok(Duration::from_secs(7200)));
    assert_eq!(d("0.000000001s"), Ok(Duration::from_nanos(1)));
    for bad in [
        "",
        "s",
        "20",
        "-1s",
        "1e3ms",
        "20 MS",
        "1,5s",
        "99999999999999999999h",
    ] {
        assert!(d(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn sizes() {
    let s = |t: &str| parse_size(&Quantity::Text(t.to_owned()));
    assert_eq!(s("512KiB"), Ok(512 << 10));
    assert_eq!(s("64MiB"), Ok(64 << 20));
    assert_eq!(s("1GiB"), Ok(1 << 30));
    assert_eq!(s("10MB"), Ok(10_000_000));
    assert_eq!(s("1.5KiB"), Ok(1536));
    assert_eq!(s("100B"), Ok(100));
    assert_eq!(s("2 kb"), Ok(2000));
    assert_eq!(parse_size(&Quantity::Integer(65536)), Ok(65536));
    for bad in ["", "MiB", "1000", "-1MiB", "1 parsec"] {
        assert!(s(bad).is_err(), "{bad:?}");
    }
    assert!(parse_size(&Quantity::Integer(-1)).is_err());
    assert!(parse_size(&Quantity::Float(1.5)).is_err());

    let cfg = parse(&with_apply("queue_max_bytes = 4096")).unwrap();
    assert_eq!(cfg.pipelines[0].apply.queue_max_bytes, 4096);
    let (key, message) = invalid(&with_apply("queue_max_bytes = \"64\""));
    assert_eq!(key, "pipeline[shop].apply.queue_max_bytes");
    assert!(message.contains("a number without a unit"), "{message}");
    assert!(message.contains("\"64MiB\""), "{message}");
    let (_, message) = invalid(&with_apply("queue_max_bytes = 0"));
    assert!(message.contains("more than 0"), "{message}");
}
