//! Enums, domains and `Other` types, builtin oids and names, and what errors show.
use super::*;

#[test]
fn enums_domains_others() {
    let mood = PgType::Enum { name: "public.mood".into() };
    assert_eq!(ok(&mood, "happy"), Kind::EnumLabel("happy".into()));
    let posint = PgType::Domain { name: "public.posint".into(), base: Box::new(b(INT4)) };
    assert_eq!(ok(&posint, "42"), Kind::Int64(42));
    let e = err(&posint, "x");
    assert_eq!(e.type_name, "public.posint (domain over int4)");
    let point = builtin_oid(600).unwrap();
    assert_eq!(ok(&point, "(1,2)"), Kind::Other(Other { type_name: "point".into(), text: "(1,2)".into() }));
    for (oid, t) in [
        (142, "<a/>"),
        (790, "$12.34"),
        (869, "1.2.3.4/24"),
        (650, "10.0.0.0/8"),
        (829, "08:00:2b:01:02:03"),
        (1560, "101"),
        (1562, "1"),
        (3614, "'a' 'b'"),
        (3904, "[1,5)"),
        (4451, "{[1,3),[5,7)}"),
        (3220, "0/16B3748"),
    ] {
        let ty = builtin_oid(oid).unwrap();
        let name = type_name(&ty);
        assert_eq!(ok(&ty, t), Kind::Other(Other { type_name: name, text: t.into() }));
    }
    // A Builtin oid for a kept-as-text type works too; an unknown one is an error.
    assert_eq!(ok(&b(142), "<a/>"), Kind::Other(Other { type_name: "xml".into(), text: "<a/>".into() }));
    assert_eq!(err(&b(99999), "x").type_name, "oid 99999");
}

#[test]
fn builtin_oids_and_names() {
    assert_eq!(builtin_oid(23), Some(b(INT4)));
    assert_eq!(
        builtin_oid(1007),
        Some(PgType::Array { name: "_int4".into(), element: Box::new(b(INT4)), delimiter: b',' })
    );
    assert_eq!(
        builtin_oid(1020),
        Some(PgType::Array {
            name: "_box".into(),
            element: Box::new(PgType::Other { name: "box".into() }),
            delimiter: b';'
        })
    );
    assert_eq!(builtin_oid(142), Some(PgType::Other { name: "xml".into() }));
    assert_eq!(builtin_oid(16384), None);
    assert_eq!(type_name(&b(INT4)), "int4");
    assert_eq!(type_name(&builtin_oid(1007).unwrap()), "_int4");
    assert_eq!(type_name(&PgType::Enum { name: "public.mood".into() }), "public.mood");
    // Every builtin and its array resolve, and names are unique.
    for &(oid, name, array, native) in BUILTINS {
        assert_eq!(type_name(&builtin_oid(oid).unwrap()), name);
        assert_eq!(type_name(&builtin_oid(array).unwrap()), format!("_{name}"));
        assert_eq!(matches!(builtin_oid(oid), Some(PgType::Builtin(_))), native);
        assert_eq!(BUILTINS.iter().filter(|e| e.1 == name || e.0 == oid || e.2 == array).count(), 1);
    }
}

#[test]
fn errors_name_the_type_and_cut_the_text() {
    let e = err(&b(INT4), "abc");
    assert_eq!(e.to_string(), "invalid int4 value \"abc\": not a 32-bit integer");
    let long = "x".repeat(1000);
    let e = err(&b(DATE), &long);
    assert_eq!(e.text, format!("{}…", "x".repeat(ERROR_TEXT_LIMIT)));
    let e = err(&b(UUID), &"é".repeat(100));
    assert_eq!(e.text.chars().count(), ERROR_TEXT_LIMIT + 1);
}
