//! A strict parser of the Prometheus text exposition format (0.0.4), for
//! checking `/metrics`: it refuses what Prometheus would refuse or
//! misread — bad metric or label names, bad escapes in label values,
//! values that are not floats, a `# TYPE` after a family's samples or
//! given twice, a family's samples not together, a series twice, a
//! histogram whose buckets are not cumulative or do not end at `+Inf`
//! equal to `_count`.

use std::collections::{BTreeMap, HashSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A metric family: its TYPE, HELP and samples.
#[derive(Debug, Clone, Default)]
pub struct Family {
    pub kind: String,
    pub help: String,
    pub samples: Vec<Sample>,
}

/// A parsed scrape, by family name.
#[derive(Debug, Default)]
pub struct Scrape {
    pub families: BTreeMap<String, Family>,
}

impl Scrape {
    /// Samples of family `family` whose labels include `labels`.
    pub fn series(&self, family: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.families
            .get(family)
            .map(|f| f.samples.iter().filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(v))).collect())
            .unwrap_or_default()
    }

    /// The value of the one sample named `name` with exactly these labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.families.values().flat_map(|f| &f.samples).find(|s| s.name == name && s.labels.len() == labels.len() && labels.iter().all(|(k, v)| s.label(k) == Some(v))).map(|s| s.value)
    }
}

fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_' || ch == ':') && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
}

fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_') && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => s.parse().map_err(|_| format!("value {s:?} is not a float")),
        _ => Err(format!("value {s:?} is not a float")),
    }
}

/// The family a sample name belongs to, given the TYPEs seen.
fn family_of(name: &str, types: &BTreeMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if matches!(types.get(base).map(String::as_str), Some("histogram") | Some("summary")) && !(suffix == "_bucket" && types.get(base).map(String::as_str) == Some("summary")) {
                return base.to_string();
            }
        }
    }
    name.to_string()
}

/// A sample's labels, in order.
type Labels = Vec<(String, String)>;

/// `{a="x",b="y\"z"}` after the name: the labels and the rest of the line.
fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("a label without =")?;
        let name = rest[..eq].trim();
        if !valid_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or_else(|| format!("label {name}: value not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("label {name}: unterminated value")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("label {name}: bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err(format!("label {name}: raw newline")),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(k, _): &(String, String)| k == name) {
            return Err(format!("label {name} twice"));
        }
        labels.push((name.to_string(), value));
        rest = &rest[end + 1..];
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

/// Parses a scrape; `Err` names the line and what is wrong.
pub fn parse(text: &str) -> Result<Scrape, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: HashSet<String> = HashSet::new();
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut series: HashSet<String> = HashSet::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let at = |m: String| format!("line {}: {m}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        // A family's lines are together: switching families closes the one before.
        let mut enter = |name: &str, current: &mut Option<String>| -> Result<(), String> {
            if current.as_deref() != Some(name) {
                if finished.contains(name) {
                    return Err(format!("family {name} continues after another family"));
                }
                if let Some(c) = current.take() {
                    finished.insert(c);
                }
                *current = Some(name.to_string());
            }
            Ok(())
        };
        if let Some(rest) = line.strip_prefix('#') {
            let mut parts = rest.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), help) => {
                    if !valid_metric_name(name) {
                        return Err(at(format!("bad metric name {name:?}")));
                    }
                    enter(name, &mut current).map_err(at)?;
                    if !helps.insert(name.to_string()) {
                        return Err(at(format!("second HELP for {name}")));
                    }
                    families.entry(name.into()).or_default().help = help.unwrap_or("").to_string();
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !valid_metric_name(name) {
                        return Err(at(format!("bad metric name {name:?}")));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at(format!("unknown type {kind:?}")));
                    }
                    enter(name, &mut current).map_err(at)?;
                    if types.contains_key(name) {
                        return Err(at(format!("second TYPE for {name}")));
                    }
                    if families.get(name).is_some_and(|f| !f.samples.is_empty()) {
                        return Err(at(format!("TYPE for {name} after its samples")));
                    }
                    types.insert(name.into(), kind.into());
                    families.entry(name.into()).or_default().kind = kind.to_string();
                }
                _ => {} // other comments
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("a sample without a value".into()))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') { parse_labels(&line[name_end..]).map_err(at)? } else { (Vec::new(), &line[name_end..]) };
        let mut fields = rest.split_whitespace();
        let value = parse_value(fields.next().ok_or_else(|| at("no value".into()))?).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| at(format!("bad timestamp {ts:?}")))?;
        }
        if fields.next().is_some() {
            return Err(at("text after the timestamp".into()));
        }
        let family = family_of(name, &types);
        enter(&family, &mut current).map_err(at)?;
        let mut key: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        key.sort();
        if !series.insert(format!("{name}{{{}}}", key.join(","))) {
            return Err(at("the same series twice".into()));
        }
        families.entry(family).or_default().samples.push(Sample { name: name.into(), labels, value });
    }
    for (name, f) in &families {
        if f.kind == "histogram" {
            check_histogram(name, f)?;
        }
    }
    Ok(Scrape { families })
}

/// Per label set (without `le`): buckets ascending and cumulative, ending
/// with `+Inf` equal to `_count`.
fn check_histogram(name: &str, f: &Family) -> Result<(), String> {
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for s in &f.samples {
        let key: Vec<String> = s.labels.iter().filter(|(k, _)| k != "le").map(|(k, v)| format!("{k}={v}")).collect();
        let key = key.join(",");
        if s.name == format!("{name}_bucket") {
            let le = s.label("le").ok_or_else(|| format!("{name}_bucket without le"))?;
            groups.entry(key).or_default().push((parse_value(le)?, s.value));
        } else if s.name == format!("{name}_count") {
            counts.insert(key, s.value);
        } else if s.name != format!("{name}_sum") {
            return Err(format!("{} in histogram {name}", s.name));
        }
    }
    for (key, buckets) in &groups {
        if !buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1) {
            return Err(format!("{name}{{{key}}}: buckets not ascending and cumulative: {buckets:?}"));
        }
        let last = buckets.last().expect("non-empty");
        if last.0 != f64::INFINITY || counts.get(key) != Some(&last.1) {
            return Err(format!("{name}{{{key}}}: the +Inf bucket {last:?} is not the _count {:?}", counts.get(key)));
        }
    }
    Ok(())
}
