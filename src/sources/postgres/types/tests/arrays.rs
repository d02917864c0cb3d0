//! Arrays: nesting, quoting, NULLs, bounds, delimiters, and bad or hostile input.
use super::*;

#[test]
fn arrays() {
    let int4s = builtin_oid(1007).unwrap();
    let texts = builtin_oid(1009).unwrap();
    let i = Kind::Int64;
    assert_eq!(ok(&int4s, "{}"), arr("int4", vec![]));
    assert_eq!(ok(&int4s, "{1,2,NULL}"), arr("int4", vec![i(1), i(2), null()]));
    assert_eq!(
        ok(&int4s, "{{1,2},{3,4}}"),
        arr("int4", vec![arr("int4", vec![i(1), i(2)]), arr("int4", vec![i(3), i(4)])])
    );
    // Lower bounds other than 1 are kept, one per dimension, on the outermost array.
    let bounded = |lows: Vec<i32>, k: Kind| match k {
        Kind::Array(mut a) => {
            a.lower_bounds = lows;
            Kind::Array(a)
        }
        other => other,
    };
    assert_eq!(ok(&int4s, "[0:1]={5,6}"), bounded(vec![0], arr("int4", vec![i(5), i(6)])));
    assert_eq!(
        ok(&int4s, "[0:1][-2:-1]={{1,2},{3,4}}"),
        bounded(vec![0, -2], arr("int4", vec![arr("int4", vec![i(1), i(2)]), arr("int4", vec![i(3), i(4)])]))
    );
    // All bounds 1 is the default: nothing kept.
    assert_eq!(ok(&int4s, "[1:2]={5,6}"), arr("int4", vec![i(5), i(6)]));
    assert!(err(&int4s, "[2:1]={5}").to_string().contains("upper bound"));
    let mut six = arr("int4", vec![i(1)]);
    for _ in 0..5 {
        six = arr("int4", vec![six]);
    }
    assert_eq!(ok(&int4s, "{{{{{{1}}}}}}"), six);
    assert_eq!(
        ok(&texts, r#"{"a \"b\"","","NULL",NULL,"x\\y"," sp ","a,b","{}",null,ü}"#),
        arr(
            "text",
            vec![
                text("a \"b\""),
                text(""),
                text("NULL"),
                null(),
                text("x\\y"),
                text(" sp "),
                text("a,b"),
                text("{}"),
                null(),
                text("ü")
            ]
        )
    );
    // As captured from pgoutput (testdata/types.hex).
    assert_eq!(
        ok(&texts, r#"{a,NULL,"b c","\"q\""}"#),
        arr("text", vec![text("a"), null(), text("b c"), text("\"q\"")])
    );
    // Input syntax the server accepts: spaces around elements, escapes
    // in unquoted elements (an escaped NULL is text).
    assert_eq!(ok(&texts, "{ a , b\\ c\\  ,N\\ULL}"), arr("text", vec![text("a"), text("b c "), text("NULL")]));
    assert_eq!(
        ok(&texts, r#"{{"a,b"},{NULL}}"#),
        arr("text", vec![arr("text", vec![text("a,b")]), arr("text", vec![null()])])
    );
    // Elements are converted with the element type.
    let tstz = builtin_oid(1185).unwrap();
    assert_eq!(
        ok(&tstz, r#"{"2024-01-01 00:00:00+00",infinity}"#),
        arr(
            "timestamptz",
            vec![Kind::Timestamptz(ts(1_704_067_200, 0)), Kind::Timestamptz(special_ts(Special::PosInfinity))]
        )
    );
    assert_eq!(
        ok(&builtin_oid(1001).unwrap(), r#"{"\\x00ff",NULL}"#),
        arr("bytea", vec![Kind::Bytes(Bytes::from_static(&[0, 0xff])), null()])
    );
    assert_eq!(
        ok(&builtin_oid(1187).unwrap(), r#"{"1 day",-00:00:01}"#),
        arr("interval", vec![interval(0, 1, 0), interval(0, 0, -1_000_000)])
    );
    assert_eq!(
        ok(&builtin_oid(1231).unwrap(), "{1.5,NaN}"),
        arr("numeric", vec![Kind::Decimal("1.5".into()), Kind::Decimal("NaN".into())])
    );
    assert_eq!(ok(&builtin_oid(1000).unwrap(), "{t,f}"), arr("bool", vec![Kind::Bool(true), Kind::Bool(false)]));
    // box uses ';' between elements, ',' inside them.
    let boxes = builtin_oid(1020).unwrap();
    let bx = |t: &str| Kind::Other(Other { type_name: "box".into(), text: t.into() });
    assert_eq!(ok(&boxes, "{(1,1),(0,0);(3,3),(2,2)}"), arr("box", vec![bx("(1,1),(0,0)"), bx("(3,3),(2,2)")]));
    // Composite elements are quoted with escaped inner quotes.
    let composite = PgType::Array {
        name: "public._pair".into(),
        element: Box::new(PgType::Other { name: "public.pair".into() }),
        delimiter: b',',
    };
    assert_eq!(
        ok(&composite, r#"{"(1,\"a b\")"}"#),
        arr(
            "public.pair",
            vec![Kind::Other(Other { type_name: "public.pair".into(), text: r#"(1,"a b")"#.into() })]
        )
    );
    // Enum arrays.
    let moods = PgType::Array {
        name: "public._mood".into(),
        element: Box::new(PgType::Enum { name: "public.mood".into() }),
        delimiter: b',',
    };
    assert_eq!(
        ok(&moods, "{sad,happy}"),
        arr("public.mood", vec![Kind::EnumLabel("sad".into()), Kind::EnumLabel("happy".into())])
    );
}

#[test]
fn bad_arrays() {
    let int4s = builtin_oid(1007).unwrap();
    let texts = builtin_oid(1009).unwrap();
    for bad in [
        "",
        "{",
        "}",
        "{1,2",
        "{1,,2}",
        "{,}",
        "{1 2}x",
        "{1}}",
        "{1}x",
        "1,2",
        "{{{{{{{1}}}}}}}",
        "[1:2]{1,2}",
        "[1:2",
        "[a:2]={1}",
        "{\"1\"",
        "{1\\",
        "{a\"b}",
        "[1:1][1:1][1:1][1:1][1:1][1:1][1:1]={{{{{{{1}}}}}}}",
    ] {
        let e = err(&texts, bad);
        assert_eq!(e.type_name, "_text", "{bad}: {e}");
    }
    // An element error names the element type and the element.
    let e = err(&int4s, "{1,x}");
    assert_eq!(e.to_string(), "invalid int4 value \"x\": not a 32-bit integer (an element of a _int4 value)");
    err(&int4s, "{\"\"}");
}

/// Found by the `pg_text` fuzz target: a non-ASCII delimiter byte
/// matched inside a multibyte character and slicing there panicked.
#[test]
fn non_ascii_array_delimiter_is_an_error() {
    for delimiter in [0x90, 0xac, 0xff] {
        let ty = PgType::Array { name: "_x".into(), element: Box::new(b(TEXT)), delimiter };
        for text in ["{\u{350}}", "{\u{eb10};\u{eb10}}", "{}", "{a}"] {
            let e = err(&ty, text);
            assert_eq!(e.reason, "the type's array delimiter is not an ASCII character", "{text}");
        }
    }
}

#[test]
fn arrays_do_not_recurse_without_bound() {
    let texts = builtin_oid(1009).unwrap();
    let deep = format!("{}{}", "{".repeat(100_000), "}".repeat(100_000));
    err(&texts, &deep);
}
