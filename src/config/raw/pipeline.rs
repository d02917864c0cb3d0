//! The file's top level and each `[[pipeline]]`: state dir, admin
//! listener, spool, `on_error`, and the checks that tie a pipeline's
//! source, targets and apply settings together.
use super::*;
use super::rules::{transform_config, RawTableRule};

/// `state_dir` when the file does not set one.
const DEFAULT_STATE_DIR: &str = "./.logferry";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    state_dir: Option<String>,
    admin: Option<RawAdmin>,
    #[serde(default)]
    pub(super) pipeline: Vec<RawPipeline>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: String,
    ready_max_lag: Option<Quantity>,
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPipeline {
    name: String,
    /// `[pipeline.source]`, deserialized separately (see [`parse`]).
    #[serde(skip)]
    pub(super) source: Option<RawSource>,
    /// `[[pipeline.target]]`, deserialized separately (see [`parse`]).
    #[serde(skip)]
    pub(super) target: RawTargets,
    #[serde(default)]
    apply: RawApply,
    on_error: Option<RawOnError>,
    spool: Option<RawSpool>,
    mask_key: Option<String>,
    /// `[[pipeline.table]]`: validate and transform rules.
    #[serde(default)]
    table: Vec<RawTableRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    max_bytes: Option<Quantity>,
}

impl RawSpool {
    fn validate(self, key: &str) -> Result<SpoolConfig, Invalid> {
        let k = format!("{key}.max_bytes");
        let max_bytes = match self.max_bytes {
            None => SpoolConfig::DEFAULT_MAX_BYTES,
            Some(q) => match parse_size(&q) {
                Ok(0) => return Err(invalid(k, format!("found 0; expected more than 0 bytes, as {SIZE_FORM}"))),
                Ok(v) => v as u64,
                Err(m) => return Err(invalid(k, m)),
            },
        };
        Ok(SpoolConfig { max_bytes })
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawOnError {
    Stop,
    DeadLetter,
}

impl RawConfig {
    pub(super) fn validate(self, path: &Path, base: &Path) -> Result<Config, Invalid> {
        let state_dir = self.state_dir.as_deref().unwrap_or(DEFAULT_STATE_DIR);
        if state_dir.trim().is_empty() {
            return Err(invalid(
                "state_dir",
                "is empty; expected a folder for checkpoints (default \"./.logferry\")",
            ));
        }
        let admin = self.admin.map(|a| a.validate()).transpose()?;

        if self.pipeline.is_empty() {
            return Err(invalid(
                "pipeline",
                "no pipeline is defined; expected at least one [[pipeline]] section \
                 with a name, a [pipeline.source] and a [[pipeline.target]]",
            ));
        }
        let mut pipelines: Vec<PipelineConfig> = Vec::with_capacity(self.pipeline.len());
        for (index, raw) in self.pipeline.into_iter().enumerate() {
            let p = raw.validate(index, base)?;
            if let Some(first) = pipelines.iter().position(|q| q.name == p.name) {
                return Err(invalid(
                    format!("pipeline[{}].name", p.name),
                    format!(
                        "the name {:?} is used by pipelines #{} and #{}; expected unique names \
                         (a name keys the pipeline's checkpoint in the state dir)",
                        p.name,
                        first + 1,
                        index + 1
                    ),
                ));
            }
            pipelines.push(p);
        }
        let state_dir = resolve(base, state_dir);
        for p in &mut pipelines {
            if let SourceConfig::Postgres(pg) = &mut p.source {
                pg.spill_dir = state_dir.join("spill").join(&p.name);
            }
        }
        Ok(Config {
            path: path.to_path_buf(),
            state_dir,
            admin,
            pipelines,
        })
    }
}

impl RawAdmin {
    fn validate(self) -> Result<AdminConfig, Invalid> {
        let listen = self.listen.trim().parse().map_err(|_| {
            invalid(
                "admin.listen",
                format!(
                    "{:?} is not an address; expected an IP address and port like \
                     \"127.0.0.1:9187\" or \"[::1]:9187\"",
                    self.listen
                ),
            )
        })?;
        let ready_max_lag = match self.ready_max_lag {
            None => None,
            Some(q) => match parse_duration(&q) {
                Ok(d) if d.is_zero() => {
                    return Err(invalid(
                        "admin.ready_max_lag",
                        format!("found 0; expected more than 0, as {DURATION_FORM} (leave it out for no lag bound)"),
                    ))
                }
                Ok(d) => Some(d),
                Err(m) => return Err(invalid("admin.ready_max_lag", m)),
            },
        };
        let token = match self.token {
            Some(t) if t.trim().is_empty() => {
                return Err(invalid(
                    "admin.token",
                    "is empty; expected a secret, e.g. token = \"${LOGFERRY_ADMIN_TOKEN}\" (make one with: \
                     head -c 32 /dev/urandom | base64), or leave the key out on a loopback listen address",
                ))
            }
            Some(t) => Some(Secret::new(t.trim())),
            None => None,
        };
        let addr: std::net::SocketAddr = listen;
        if token.is_none() && !addr.ip().is_loopback() {
            return Err(invalid(
                "admin.token",
                format!(
                    "is missing; admin.listen {addr} is not a loopback address, so anyone who reaches it could read the \
                     status and ask for table copies: set token = \"${{LOGFERRY_ADMIN_TOKEN}}\" in [admin] (make one with: \
                     head -c 32 /dev/urandom | base64; clients send `Authorization: Bearer <token>`, probes of /health and \
                     /ready need none), or listen on 127.0.0.1"
                ),
            ));
        }
        Ok(AdminConfig { listen, ready_max_lag, token })
    }
}

impl RawPipeline {
    fn validate(self, index: usize, base: &Path) -> Result<PipelineConfig, Invalid> {
        if !valid_name(&self.name) {
            return Err(invalid(
                format!("pipeline[{index}].name"),
                format!(
                    "{:?} is not a valid pipeline name; expected letters, digits, `_` and `-` \
                     only, at least one",
                    self.name
                ),
            ));
        }
        let key = format!("pipeline[{}]", self.name);
        let Some(source) = self.source else {
            return Err(invalid(
                format!("{key}.source"),
                "the pipeline has no source; expected a [pipeline.source] section with a \
                 kind (postgres, mysql, mongodb or generate)",
            ));
        };
        let mut source = source.validate(&format!("{key}.source"), &self.name)?;
        let target = match self.target {
            RawTargets::List(list) => list,
            RawTargets::NotAList(found) => {
                return Err(invalid(
                    format!("{key}.target"),
                    format!(
                        "found a {found}; expected an array of tables, written \
                         [[pipeline.target]] (double brackets), one per target"
                    ),
                ))
            }
        };
        if target.is_empty() {
            return Err(invalid(
                format!("{key}.target"),
                "the pipeline has no target; expected at least one [[pipeline.target]] \
                 section, e.g. kind = \"stdout\"",
            ));
        }
        let mut targets: Vec<TargetConfig> = Vec::with_capacity(target.len());
        let mut target_tables = Vec::with_capacity(target.len());
        for (i, mut raw) in target.into_iter().enumerate() {
            target_tables.push(raw.take_tables(&format!("{key}.target[{i}].tables"))?);
            let t = raw.validate(&format!("{key}.target[{i}]"), base, &self.name)?;
            if let TargetConfig::File(file) = &t {
                let earlier = targets.iter().position(
                    |u| matches!(u, TargetConfig::File(other) if other.path == file.path),
                );
                if let Some(earlier) = earlier {
                    return Err(invalid(
                        format!("{key}.target[{i}].path"),
                        format!(
                            "{} is also the path of target[{earlier}]; expected each file \
                             target of a pipeline to write its own file",
                            file.path.display()
                        ),
                    ));
                }
            }
            targets.push(t);
        }
        let apply = self.apply.validate(&format!("{key}.apply"))?;
        let on_error = match self.on_error {
            None | Some(RawOnError::Stop) => OnError::Stop,
            Some(RawOnError::DeadLetter) => OnError::DeadLetter,
        };
        let spool = self.spool.map(|s| s.validate(&format!("{key}.spool"))).transpose()?;
        let transform = transform_config(&key, self.mask_key, self.table)?;
        // Row keys of keyless tables are the source's to use (it builds the records' keys).
        let row_keys: Vec<(String, Vec<String>)> =
            transform.tables.iter().filter_map(|r| r.row_key.clone().map(|k| (r.matches.clone(), k))).collect();
        if let Some(db) = source.database_mut() {
            db.row_keys = row_keys;
        }
        Ok(PipelineConfig {
            name: self.name,
            source,
            targets,
            target_tables,
            apply,
            on_error,
            spool,
            transform,
        })
    }
}
