//! Lexer and recursive-descent parser of filter expressions (grammar in
//! the parent module's docs). Errors say what was expected and what was
//! found, at the byte offset of what was found.

use super::{CmpOp, ColRef, Expr, Filter, FilterError, Lit, Operand, MAX_DEPTH};
use crate::transform::compare::{Literal, Number, TextLiteral};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    And,
    Or,
    Not,
    In,
    Is,
    Null,
    True,
    False,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A column name, bare or quoted.
    Name(String),
    Number(Number),
    Text(String),
    Kw(Kw),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Byte range in the text.
    at: usize,
    end: usize,
}

fn error(at: usize, message: impl Into<String>) -> FilterError {
    FilterError { at, message: message.into() }
}

fn keyword(word: &str) -> Option<Kw> {
    const WORDS: [(&str, Kw); 8] = [
        ("and", Kw::And),
        ("or", Kw::Or),
        ("not", Kw::Not),
        ("in", Kw::In),
        ("is", Kw::Is),
        ("null", Kw::Null),
        ("true", Kw::True),
        ("false", Kw::False),
    ];
    WORDS.iter().find(|(w, _)| w.eq_ignore_ascii_case(word)).map(|&(_, k)| k)
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

/// The tokens of `text`, ending with one `End`.
fn lex(text: &str) -> Result<Vec<Token>, FilterError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let at = i;
        let Some(&c) = b.get(i) else {
            out.push(Token { tok: Tok::End, at, end: at });
            return Ok(out);
        };
        let next = b.get(i + 1).copied();
        let (tok, len) = match c {
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'=' => (Tok::Op(CmpOp::Eq), 1),
            b'!' if next == Some(b'=') => (Tok::Op(CmpOp::Ne), 2),
            b'<' if next == Some(b'=') => (Tok::Op(CmpOp::Le), 2),
            b'<' if next == Some(b'>') => (Tok::Op(CmpOp::Ne), 2),
            b'<' => (Tok::Op(CmpOp::Lt), 1),
            b'>' if next == Some(b'=') => (Tok::Op(CmpOp::Ge), 2),
            b'>' => (Tok::Op(CmpOp::Gt), 1),
            b'\'' => {
                let (s, end) = quoted(b, i).ok_or_else(|| {
                    error(at, "unterminated text literal: the closing `'` is missing (write `''` for a quote inside)")
                })?;
                (Tok::Text(s), end - i)
            }
            b'"' => {
                let (s, end) = quoted(b, i).ok_or_else(|| {
                    error(at, "unterminated column name: the closing `\"` is missing (write `\"\"` for a quote inside)")
                })?;
                if s.is_empty() {
                    return Err(error(at, "empty column name `\"\"`"));
                }
                (Tok::Name(s), end - i)
            }
            b'-' | b'.' | b'0'..=b'9' => {
                let mut end = i + 1;
                while let Some(&d) = b.get(end) {
                    let signed_exponent = matches!(d, b'+' | b'-') && matches!(b[end - 1], b'e' | b'E');
                    if !(is_name_byte(d) || d == b'.' || signed_exponent) {
                        break;
                    }
                    end += 1;
                }
                let word = text.get(i..end).unwrap_or("");
                let n = Number::parse(word).ok_or_else(|| error(at, format!("`{word}` is not a number")))?;
                (Tok::Number(n), end - i)
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let mut end = i + 1;
                while b.get(end).copied().is_some_and(is_name_byte) {
                    end += 1;
                }
                let word = text.get(i..end).unwrap_or("");
                (keyword(word).map_or_else(|| Tok::Name(word.to_string()), Tok::Kw), end - i)
            }
            _ => {
                let ch = text.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
                let hint = match ch {
                    '!' => " (did you mean `!=`?)",
                    c if c.is_alphanumeric() => " (a column name with other characters than A-Z, a-z, 0-9, _ and $ is written in double quotes: \"Größe\")",
                    _ => "",
                };
                return Err(error(at, format!("unexpected character `{ch}`{hint}")));
            }
        };
        i += len;
        out.push(Token { tok, at, end: i });
    }
}

/// The content of a quoted token starting at `start` (its quote char
/// doubled inside stands for itself) and the offset after it; `None` when
/// it is not closed.
fn quoted(b: &[u8], start: usize) -> Option<(String, usize)> {
    let q = b[start];
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        match *b.get(i)? {
            c if c == q && b.get(i + 1) == Some(&q) => {
                out.push(q);
                i += 2;
            }
            c if c == q => return Some((String::from_utf8_lossy(&out).into_owned(), i + 1)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// Parses a whole expression.
pub(super) fn parse(text: &str) -> Result<Filter, FilterError> {
    let mut p = Parser { text, toks: lex(text)?, pos: 0, columns: Vec::new(), depth: 0 };
    let expr = p.or()?;
    if p.peek().tok != Tok::End {
        return Err(p.expected("`and`, `or` or the end of the expression"));
    }
    Ok(Filter { expr, columns: p.columns })
}

struct Parser<'t> {
    text: &'t str,
    /// Never empty: ends with `End`, which `advance` does not pass.
    toks: Vec<Token>,
    pos: usize,
    columns: Vec<String>,
    /// Current nesting of `(` and `not`.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_second(&self) -> &Tok {
        self.toks.get(self.pos + 1).map_or(&Tok::End, |t| &t.tok)
    }

    fn advance(&mut self) {
        if self.peek().tok != Tok::End {
            self.pos += 1;
        }
    }

    fn eat(&mut self, kw: Kw) -> bool {
        let hit = self.peek().tok == Tok::Kw(kw);
        if hit {
            self.advance();
        }
        hit
    }

    /// How a token appears in a message.
    fn found(&self, t: &Token) -> String {
        match t.tok {
            Tok::End => "the end of the expression".into(),
            _ => format!("`{}`", super::shown(self.text.get(t.at..t.end).unwrap_or(""))),
        }
    }

    /// "expected {what}, found {the next token}", at the next token.
    fn expected(&self, what: &str) -> FilterError {
        let t = self.peek();
        error(t.at, format!("expected {what}, found {}", self.found(t)))
    }

    fn nest(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(self.peek().at, format!("nested too deeply (more than {MAX_DEPTH} levels of `(` and `not`)")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.and()?];
        while self.eat(Kw::Or) {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.not()?];
        while self.eat(Kw::And) {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 { items.remove(0) } else { Expr::And(items) })
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        if self.peek().tok != Tok::Kw(Kw::Not) {
            return self.primary();
        }
        self.nest()?;
        self.advance();
        let inner = self.not()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(inner)))
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        if self.peek().tok == Tok::LParen {
            self.nest()?;
            self.advance();
            let inner = self.or()?;
            if self.peek().tok != Tok::RParen {
                return Err(self.expected("`)`, `and` or `or`"));
            }
            self.advance();
            self.depth -= 1;
            return Ok(inner);
        }
        let Some(left) = self.operand() else {
            return Err(self.expected("a column name, a literal, `not` or `(`"));
        };
        match self.peek().tok.clone() {
            Tok::Op(op) => {
                let op_text = self.found(self.peek());
                self.advance();
                let Some(right) = self.operand() else {
                    return Err(self.expected(&format!("a column name or a literal after {op_text}")));
                };
                match (left, right) {
                    (Operand::Col(col), rhs) => Ok(Expr::Cmp { col, op, rhs }),
                    (Operand::Lit(lit), Operand::Col(col)) => Ok(Expr::Cmp { col, op: op.mirrored(), rhs: Operand::Lit(lit) }),
                    (Operand::Lit(_), Operand::Lit(r)) => Err(error(
                        r.at,
                        format!("expected a column name (a comparison needs a column on one side), found `{}`", super::shown(&r.text)),
                    )),
                }
            }
            Tok::Kw(Kw::Is) => {
                let col = self.column_for(left, "`is null`")?;
                self.advance();
                let negated = self.eat(Kw::Not);
                if !self.eat(Kw::Null) {
                    return Err(self.expected(if negated { "`null` after `is not`" } else { "`null` or `not null` after `is`" }));
                }
                Ok(Expr::IsNull { col, negated })
            }
            Tok::Kw(Kw::In) => {
                let col = self.column_for(left, "`in`")?;
                self.advance();
                Ok(Expr::In { col, list: self.list()?, negated: false })
            }
            Tok::Kw(Kw::Not) if *self.peek_second() == Tok::Kw(Kw::In) => {
                let col = self.column_for(left, "`not in`")?;
                self.advance();
                self.advance();
                Ok(Expr::In { col, list: self.list()?, negated: true })
            }
            Tok::Kw(Kw::Not) => {
                self.advance();
                Err(self.expected("`in` after `not`"))
            }
            _ => match left {
                Operand::Lit(Lit { value: Literal::Bool(b), .. }) => Ok(Expr::Const(b)),
                left => {
                    let what = match &left {
                        Operand::Col(c) => format!("`{}`", super::shown(&self.columns[c.index])),
                        Operand::Lit(l) => format!("`{}`", super::shown(&l.text)),
                    };
                    Err(self.expected(&format!(
                        "a comparison operator (`=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`), `in`, `not in` or `is` after {what}"
                    )))
                }
            },
        }
    }

    /// The column on the left of `is` / `in`; an error for a literal.
    fn column_for(&self, left: Operand, what: &str) -> Result<ColRef, FilterError> {
        match left {
            Operand::Col(c) => Ok(c),
            Operand::Lit(l) => {
                Err(error(l.at, format!("expected a column name before {what}, found `{}`", super::shown(&l.text))))
            }
        }
    }

    /// `( literal, … )` after `in`.
    fn list(&mut self) -> Result<Vec<Lit>, FilterError> {
        if self.peek().tok != Tok::LParen {
            return Err(self.expected("`(` and a list of literals"));
        }
        self.advance();
        let mut list = Vec::new();
        loop {
            match self.operand() {
                Some(Operand::Lit(l)) => list.push(l),
                Some(Operand::Col(c)) => {
                    return Err(error(
                        c.at,
                        format!("expected a literal (number, 'text', true, false or null), found column `{}`", self.columns[c.index]),
                    ))
                }
                None => return Err(self.expected("a literal (number, 'text', true, false or null)")),
            }
            match self.peek().tok {
                Tok::Comma => self.advance(),
                Tok::RParen => {
                    self.advance();
                    return Ok(list);
                }
                _ => return Err(self.expected("`,` or `)`")),
            }
        }
    }

    /// A column or literal, consumed; `None` (nothing consumed) otherwise.
    fn operand(&mut self) -> Option<Operand> {
        let t = self.peek().clone();
        let text = self.text.get(t.at..t.end).unwrap_or("").to_string();
        let lit = |value| Some(Operand::Lit(Lit { value, at: t.at, text }));
        let operand = match t.tok {
            Tok::Name(name) => {
                let index = match self.columns.iter().position(|c| *c == name) {
                    Some(i) => i,
                    None => {
                        self.columns.push(name);
                        self.columns.len() - 1
                    }
                };
                Some(Operand::Col(ColRef { index, at: t.at }))
            }
            Tok::Number(n) => lit(Literal::Number(n)),
            Tok::Text(s) => lit(Literal::Text(TextLiteral::new(s))),
            Tok::Kw(Kw::True) => lit(Literal::Bool(true)),
            Tok::Kw(Kw::False) => lit(Literal::Bool(false)),
            Tok::Kw(Kw::Null) => lit(Literal::Null),
            _ => None,
        };
        if operand.is_some() {
            self.advance();
        }
        operand
    }
}

impl CmpOp {
    /// The operator with its operands swapped: `a < b` is `b > a`.
    fn mirrored(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            op => op,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Expr, Filter, Operand};
    use crate::transform::compare::Literal;

    /// The tree as an S-expression: `(or (Eq a 1) (and …))`.
    fn tree(text: &str) -> String {
        let f = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        render(&f.expr, &f.columns)
    }

    fn render(e: &Expr, cols: &[String]) -> String {
        let all = |l: &[Expr]| l.iter().map(|e| render(e, cols)).collect::<Vec<_>>().join(" ");
        match e {
            Expr::Const(b) => b.to_string(),
            Expr::And(l) => format!("(and {})", all(l)),
            Expr::Or(l) => format!("(or {})", all(l)),
            Expr::Not(e) => format!("(not {})", render(e, cols)),
            Expr::Cmp { col, op, rhs } => {
                let rhs = match rhs {
                    Operand::Col(c) => cols[c.index].clone(),
                    Operand::Lit(l) => l.text.clone(),
                };
                format!("({op:?} {} {rhs})", cols[col.index])
            }
            Expr::IsNull { col, negated } => format!("({} {})", if *negated { "notnull" } else { "isnull" }, cols[col.index]),
            Expr::In { col, list, negated } => {
                let items = list.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join(",");
                format!("({} {} [{items}])", if *negated { "notin" } else { "in" }, cols[col.index])
            }
        }
    }

    /// (at, message) of a parse error.
    fn fails(text: &str) -> (usize, String) {
        match Filter::parse(text) {
            Ok(f) => panic!("{text} parsed: {f:?}"),
            Err(e) => (e.at, e.message),
        }
    }

    #[test]
    fn precedence_is_or_and_not_comparison() {
        assert_eq!(tree("a = 1 or b = 2 and c = 3"), "(or (Eq a 1) (and (Eq b 2) (Eq c 3)))");
        assert_eq!(tree("a = 1 and b = 2 or c = 3"), "(or (and (Eq a 1) (Eq b 2)) (Eq c 3))");
        assert_eq!(tree("(a = 1 or b = 2) and c = 3"), "(and (or (Eq a 1) (Eq b 2)) (Eq c 3))");
        assert_eq!(tree("not a = 1 and b = 2"), "(and (not (Eq a 1)) (Eq b 2))");
        assert_eq!(tree("not (a = 1 and b = 2)"), "(not (and (Eq a 1) (Eq b 2)))");
        assert_eq!(tree("not not a is null"), "(not (not (isnull a)))");
        assert_eq!(tree("a = 1 and b = 2 and c = 3"), "(and (Eq a 1) (Eq b 2) (Eq c 3))");
        assert_eq!(tree("((a = 1))"), "(Eq a 1)");
        assert_eq!(tree("A = 1 OR B IS NOT NULL AnD c NoT In (1, 2)"), "(or (Eq A 1) (and (notnull B) (notin c [1,2])))");
    }

    #[test]
    fn every_operator_parses() {
        for (op, name) in [("=", "Eq"), ("!=", "Ne"), ("<>", "Ne"), ("<", "Lt"), ("<=", "Le"), (">", "Gt"), (">=", "Ge")] {
            assert_eq!(tree(&format!("a {op} 1")), format!("({name} a 1)"));
            assert_eq!(tree(&format!("a{op}b")), format!("({name} a b)"));
        }
        // A literal on the left: the column moves left, the operator mirrors.
        assert_eq!(tree("1 < a"), "(Gt a 1)");
        assert_eq!(tree("100 <= total"), "(Ge total 100)");
        assert_eq!(tree("'x' = a"), "(Eq a 'x')");
        assert_eq!(tree("a is null"), "(isnull a)");
        assert_eq!(tree("a is not null"), "(notnull a)");
        assert_eq!(tree("a in (1, 'x', null, true, -2.5e3)"), "(in a [1,'x',null,true,-2.5e3])");
        assert_eq!(tree("a not in ('x')"), "(notin a ['x'])");
        assert_eq!(tree("a = null"), "(Eq a null)");
        assert_eq!(tree("a >= -12.5 and b < .5 and c = 1e3"), "(and (Ge a -12.5) (Lt b .5) (Eq c 1e3))");
    }

    #[test]
    fn bare_booleans_are_whole_expressions() {
        assert_eq!(tree("true"), "true");
        assert_eq!(tree(" FALSE "), "false");
        assert_eq!(tree("true and not false"), "(and true (not false))");
        assert_eq!(tree("true = flag"), "(Eq flag true)");
    }

    #[test]
    fn names_and_text_literals_unquote() {
        assert_eq!(tree(r#""Odd Name" = 'x'"#), "(Eq Odd Name 'x')");
        assert_eq!(tree(r#""say ""hi""" = 1"#), r#"(Eq say "hi" 1)"#);
        assert_eq!(tree(r#""and" = 1"#), "(Eq and 1)");
        assert_eq!(tree("_x$1 = 1"), "(Eq _x$1 1)");
        let f = Filter::parse("a = 'it''s' or a = ''''").unwrap_or_else(|e| panic!("{e}"));
        let texts: Vec<String> = match &f.expr {
            Expr::Or(l) => l
                .iter()
                .filter_map(|e| match e {
                    Expr::Cmp { rhs: Operand::Lit(l), .. } => match &l.value {
                        Literal::Text(t) => Some(t.text.clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect(),
            e => panic!("{e:?}"),
        };
        assert_eq!(texts, ["it's", "'"]);
    }

    #[test]
    fn columns_are_listed_once_in_order_of_appearance() {
        let f = Filter::parse(r#"b = 1 and a = 2 or b = 3 and "c" is null and d < a"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.columns(), ["b", "a", "c", "d"]);
        assert!(Filter::parse("true").map(|f| f.columns().is_empty()).unwrap_or(false));
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "expected a column name, a literal, `not` or `(`, found the end of the expression"),
            ("a = ", 4, "expected a column name or a literal after `=`, found the end of the expression"),
            ("a = 1 b = 2", 6, "expected `and`, `or` or the end of the expression, found `b`"),
            ("(a = 1", 6, "expected `)`, `and` or `or`, found the end of the expression"),
            ("a = 1)", 5, "expected `and`, `or` or the end of the expression, found `)`"),
            ("a = 'x", 4, "unterminated text literal"),
            (r#""a = 1"#, 0, "unterminated column name"),
            (r#""" = 1"#, 0, "empty column name"),
            ("a in 1", 5, "expected `(` and a list of literals, found `1`"),
            ("a in ()", 6, "expected a literal (number, 'text', true, false or null), found `)`"),
            ("a in (1 2)", 8, "expected `,` or `)`, found `2`"),
            ("a in (b)", 6, "found column `b`"),
            ("1 = 2", 4, "expected a column name (a comparison needs a column on one side), found `2`"),
            ("a is 1", 5, "expected `null` or `not null` after `is`, found `1`"),
            ("a is not 1", 9, "expected `null` after `is not`, found `1`"),
            ("a not 1", 6, "expected `in` after `not`, found `1`"),
            ("a", 1, "expected a comparison operator (`=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`), `in`, `not in` or `is` after `a`, found the end"),
            ("a = 12abc", 4, "`12abc` is not a number"),
            ("a = 1e", 4, "`1e` is not a number"),
            ("a = - 1", 4, "`-` is not a number"),
            ("a == 1", 3, "expected a column name or a literal after `=`, found `=`"),
            ("a ! 1", 2, "unexpected character `!` (did you mean `!=`?)"),
            ("a = é", 4, "unexpected character `é` (a column name with other characters"),
            ("a = 1 and größe > 2", 12, "unexpected character `ö`"),
            ("a = #", 4, "unexpected character `#`"),
            ("a = 1 and", 9, "found the end of the expression"),
            ("'x' is null", 0, "expected a column name before `is null`, found `'x'`"),
            ("5 in (1)", 0, "expected a column name before `in`"),
            ("null", 4, "after `null`, found the end"),
            ("and = 1", 0, "expected a column name, a literal, `not` or `(`, found `and`"),
        ];
        for &(text, at, message) in cases {
            let (got_at, got) = fails(text);
            assert_eq!(got_at, at, "{text}: {got}");
            assert!(got.contains(message), "{text}: {got}");
        }
        let e = Filter::parse("a = ").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("at character 5: expected a column name or a literal after `=`, found the end of the expression".into())
        );
    }

    #[test]
    fn nesting_is_bounded_but_long_chains_are_flat() {
        let deep = format!("{}a = 1{}", "(".repeat(200), ")".repeat(200));
        assert!(fails(&deep).1.contains("nested too deeply"));
        assert!(fails(&format!("{}a = 1", "not ".repeat(200))).1.contains("nested too deeply"));
        let ok = format!("{}a = 1{}", "(".repeat(50), ")".repeat(50));
        assert_eq!(tree(&ok), "(Eq a 1)");
        let long = vec!["a = 1"; 10_000].join(" and ");
        assert!(Filter::parse(&long).is_ok());
    }
}
