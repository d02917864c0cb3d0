//! `[[pipeline.table]]` as written, and the checks that need only the file.
use super::*;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTableRule {
    #[serde(rename = "match")]
    matches: String,
    rename: Option<String>,
    include_columns: Option<Vec<String>>,
    exclude_columns: Option<Vec<String>>,
    #[serde(default)]
    rename_columns: BTreeMap<String, String>,
    #[serde(default)]
    mask: BTreeMap<String, RawMask>,
    filter: Option<String>,
    key: Option<Vec<String>>,
    on_invalid: Option<RawOnInvalid>,
    #[serde(default)]
    validate: BTreeMap<String, RawColumnChecks>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawMask {
    Hash,
    Redact,
    Null,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawOnInvalid {
    DeadLetter,
    Stop,
    Skip,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumnChecks {
    regex: Option<String>,
    min: Option<RawNumber>,
    max: Option<RawNumber>,
    not_null: Option<bool>,
    max_length: Option<i64>,
    one_of: Option<Vec<RawScalar>>,
}

/// A bound: an integer, a float, or a decimal written as a string ("12.50",
/// exact where a TOML float would not be).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawNumber {
    Int(i64),
    Float(f64),
    Text(String),
}

/// An element of `one_of`: compared with the value's canonical text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawScalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// True when `s` is a decimal number: optional sign, digits with at most
/// one point, optional exponent.
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (s, None),
    };
    let digits = mantissa.chars().filter(char::is_ascii_digit).count();
    let points = mantissa.chars().filter(|&c| c == '.').count();
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    digits > 0 && points <= 1 && digits + points == mantissa.len() && exp_ok
}

impl RawNumber {
    fn text(self, key: String) -> Result<String, Invalid> {
        match self {
            RawNumber::Int(i) => Ok(i.to_string()),
            RawNumber::Float(f) if f.is_finite() => Ok(f.to_string()),
            RawNumber::Float(f) => Err(invalid(key, format!("found {f}; expected a finite number"))),
            RawNumber::Text(s) if is_decimal(s.trim()) => Ok(s.trim().to_string()),
            RawNumber::Text(s) => Err(invalid(
                key,
                format!("found {s:?}; expected a number, like 0, 99.5 or \"12.50\" (a string keeps every digit exact)"),
            )),
        }
    }
}

impl RawTableRule {
    pub(super) fn validate(self, key: String) -> Result<TableRule, Invalid> {
        let matches = self.matches.trim().to_string();
        if matches.is_empty() {
            return Err(invalid(
                format!("{key}.match"),
                "is empty; expected a source table name or glob, as in the source's `tables` (e.g. \"public.customers\")",
            ));
        }
        let rename = match self.rename.map(|r| r.trim().to_string()) {
            None => None,
            Some(r) => {
                let parts: Vec<&str> = r.split('.').collect();
                if parts.len() > 2 || parts.iter().any(|p| p.is_empty()) || r.contains(['*', '?']) {
                    return Err(invalid(
                        format!("{key}.rename"),
                        format!("{r:?} is not a table name; expected \"schema.table\" or \"table\" (keeps the source's schema)"),
                    ));
                }
                Some(r)
            }
        };
        let columns = match (self.include_columns, self.exclude_columns) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    key,
                    "has both include_columns and exclude_columns; expected one of them: include_columns keeps only \
                     the listed columns, exclude_columns drops the listed ones",
                ))
            }
            (Some(list), None) => {
                non_empty_names(&format!("{key}.include_columns"), &list)?;
                ColumnSelection::Include(list)
            }
            (None, Some(list)) => {
                non_empty_names(&format!("{key}.exclude_columns"), &list)?;
                ColumnSelection::Exclude(list)
            }
            (None, None) => ColumnSelection::All,
        };
        for (from, to) in &self.rename_columns {
            if to.trim().is_empty() {
                return Err(invalid(format!("{key}.rename_columns.{from}"), "is empty; expected the column's name on the targets"));
            }
        }
        let row_key = match self.key {
            Some(k) if k.is_empty() => {
                return Err(invalid(
                    format!("{key}.key"),
                    "is empty; expected the columns that identify a row, e.g. [\"customer_no\"] (or leave `key` out)",
                ))
            }
            Some(k) => {
                non_empty_names(&format!("{key}.key"), &k)?;
                Some(k)
            }
            None => None,
        };
        let filter = match self.filter {
            Some(f) if f.trim().is_empty() => {
                return Err(invalid(format!("{key}.filter"), "is empty; expected an expression like \"country = 'DE'\" (or leave `filter` out)"))
            }
            f => f,
        };
        let mut validate = Vec::with_capacity(self.validate.len());
        for (column, c) in self.validate {
            let k = format!("{key}.validate.{column}");
            let checks = ColumnChecks {
                regex: c.regex,
                min: c.min.map(|n| n.text(format!("{k}.min"))).transpose()?,
                max: c.max.map(|n| n.text(format!("{k}.max"))).transpose()?,
                not_null: c.not_null.unwrap_or(false),
                max_length: match c.max_length {
                    Some(n) if n < 0 => return Err(invalid(format!("{k}.max_length"), format!("found {n}; expected 0 or more"))),
                    n => n.map(|n| n as usize),
                },
                one_of: c.one_of.map(|list| {
                    list.into_iter()
                        .map(|s| match s {
                            RawScalar::Text(t) => t,
                            RawScalar::Int(i) => i.to_string(),
                            RawScalar::Float(f) => f.to_string(),
                            RawScalar::Bool(b) => b.to_string(),
                        })
                        .collect()
                }),
            };
            if checks == ColumnChecks::default() {
                return Err(invalid(
                    k,
                    "has no check; expected at least one of regex, min, max, not_null, max_length, one_of",
                ));
            }
            validate.push((column, checks));
        }
        Ok(TableRule {
            key,
            matches,
            rename,
            columns,
            rename_columns: self.rename_columns.into_iter().collect(),
            mask: self
                .mask
                .into_iter()
                .map(|(c, m)| {
                    let m = match m {
                        RawMask::Hash => MaskKind::Hash,
                        RawMask::Redact => MaskKind::Redact,
                        RawMask::Null => MaskKind::Null,
                    };
                    (c, m)
                })
                .collect(),
            filter,
            row_key,
            on_invalid: match self.on_invalid {
                None | Some(RawOnInvalid::DeadLetter) => OnInvalid::DeadLetter,
                Some(RawOnInvalid::Stop) => OnInvalid::Stop,
                Some(RawOnInvalid::Skip) => OnInvalid::Skip,
            },
            validate,
        })
    }
}

fn non_empty_names(key: &str, names: &[String]) -> Result<(), Invalid> {
    if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
        return Err(invalid(format!("{key}[{i}]"), "is empty; expected a column name"));
    }
    Ok(())
}

/// The rules of a pipeline and its `mask_key`: a key is required when a
/// rule hashes, and refused (as a likely mistake) when none does.
pub(super) fn transform_config(
    key: &str,
    mask_key: Option<String>,
    tables: Vec<RawTableRule>,
) -> Result<TransformConfig, Invalid> {
    let mut rules = Vec::with_capacity(tables.len());
    for (i, raw) in tables.into_iter().enumerate() {
        rules.push(raw.validate(format!("{key}.table[{i}]"))?);
    }
    let hashing = rules.iter().find(|r| r.mask.iter().any(|(_, m)| *m == MaskKind::Hash));
    let mask_key = match (mask_key, hashing) {
        (Some(k), Some(_)) if k.is_empty() => {
            return Err(invalid(
                format!("{key}.mask_key"),
                "is empty; mask = \"hash\" needs a secret key, e.g. mask_key = \"${LOGFERRY_MASK_KEY}\" \
                 (make one with: head -c 32 /dev/urandom | base64)",
            ))
        }
        (Some(k), _) => Some(Secret::new(k)),
        (None, Some(rule)) => {
            return Err(invalid(
                format!("{key}.mask_key"),
                format!(
                    "is missing; {}.mask hashes a column, which needs a secret key: mask_key = \"${{LOGFERRY_MASK_KEY}}\" \
                     (make one with: head -c 32 /dev/urandom | base64)",
                    rule.key
                ),
            ))
        }
        (None, None) => None,
    };
    Ok(TransformConfig { mask_key, tables: rules })
}

#[cfg(test)]
mod tests {
    use super::is_decimal;

    #[test]
    fn decimal_texts() {
        for ok in ["0", "-1", "+2.5", "12.50", ".5", "5.", "1e3", "1.5E-2"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", "-", ".", "1.2.3", "1e", "abc", "1,5", "NaN", "1e+"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }
}
