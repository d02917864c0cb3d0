//! One batch's transaction on one lane's connection: the steps of a batch
//! (row runs, schema changes, truncates, key changes) applied through the
//! dialect, with the batch's own view of the target tables (its overlay).

mod keyless;

use super::{Cached, Cell, Dialect, Failure, ProgressRow, SqlSink, SqlTable, TableKey};
use crate::record::{Change, Op, TableRef, TableSchema};
use crate::sinks::plan::{key_indices, key_of, PlanTable, Step, TablePlan};
use crate::sinks::schema_diff;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) struct Tx<'a, D: Dialect> {
    pub sink: &'a SqlSink<D>,
    pub conn: &'a mut D::Conn,
    /// Tables created, altered or first read by this batch; they join the
    /// shared cache only when the batch commits.
    pub overlay: HashMap<TableKey, Cached<D::Table>>,
}

impl<D: Dialect> Tx<'_, D> {
    fn dialect(&self) -> &D {
        &self.sink.dialect
    }

    fn definite(&self, message: String) -> Failure<D> {
        self.sink.definite(message).into()
    }

    fn target_table(&self, t: Option<&TableRef>) -> Result<TableKey, Failure<D>> {
        let t = t.filter(|t| !t.name.is_empty()).ok_or_else(|| self.definite("a record without a table name".into()))?;
        self.dialect().target_table(t).map_err(|m| self.definite(m))
    }

    /// Applies `steps` in one transaction; with `progress`, also upserts
    /// that row of the progress table in it, last.
    pub async fn run(&mut self, steps: Vec<Step<'_>>, progress: Option<(&TableKey, &ProgressRow)>) -> Result<(), Failure<D>> {
        let sink = self.sink;
        sink.dialect.begin(self.conn, steps.len() + usize::from(progress.is_some())).await?;
        self.steps(steps).await?;
        if let Some((table, row)) = progress {
            sink.dialect.progress_write(self.conn, table, row).await?;
        }
        sink.dialect.commit(self.conn).await
    }

    /// Applies `steps` in the transaction already begun.
    pub async fn steps(&mut self, steps: Vec<Step<'_>>) -> Result<(), Failure<D>> {
        let alone = steps.len() == 1;
        for step in steps {
            match step {
                Step::Rows(rows) => self.rows(&rows).await?,
                Step::Schema(c) => self.schema_change(c).await?,
                Step::Truncate(c) => self.truncate(c, alone).await?,
                Step::KeyChange(c) => self.key_change(c).await?,
            }
        }
        Ok(())
    }

    /// The target table: this batch's view, the shared cache, or the catalog.
    async fn table(&mut self, key: &TableKey) -> Result<Option<Cached<D::Table>>, Failure<D>> {
        if let Some(t) = self.overlay.get(key) {
            return Ok(Some(t.clone()));
        }
        if let Some(t) = super::lock(&self.sink.tables).get(key) {
            return Ok(Some(t.clone()));
        }
        self.reload(key).await
    }

    async fn reload(&mut self, key: &TableKey) -> Result<Option<Cached<D::Table>>, Failure<D>> {
        let sink = self.sink;
        let info = sink.dialect.load_table(self.conn, key).await?;
        Ok(info.map(|info| {
            let source = match self.overlay.get(key) {
                Some(t) => t.source.clone(),
                None => super::lock(&sink.sources).get(key).cloned(),
            };
            let cached = Cached { table: Arc::new(info), source };
            self.overlay.insert(key.clone(), cached.clone());
            cached
        }))
    }

    async fn existing_table(&mut self, key: &TableKey) -> Result<Arc<D::Table>, Failure<D>> {
        match self.table(key).await? {
            Some(t) => Ok(t.table),
            None => Err(self.definite(format!(
                "table {} does not exist on the target: create it, or set create_tables = true (tables are created \
                 from the source's schema-change records, so replay the table from its start or re-snapshot it)",
                self.dialect().shown(key)
            ))),
        }
    }

    async fn rows(&mut self, records: &[&Change]) -> Result<(), Failure<D>> {
        let mut plans: Vec<TablePlan<D::Table>> = Vec::new();
        let mut by_table: HashMap<TableKey, usize> = HashMap::new();
        // Runs of one table are the common case: skip the name checks for them.
        let mut last: Option<(&TableRef, usize)> = None;
        let mut keyless: Vec<&Change> = Vec::new();
        for c in records {
            if c.key_columns.is_empty() {
                keyless.push(c);
                continue;
            }
            if let (Some((t, i)), Some(ct)) = (last, c.table.as_ref()) {
                if t == ct {
                    plans[i].add(c).map_err(|m| self.definite(m))?;
                    continue;
                }
            }
            let key = self.target_table(c.table.as_ref())?;
            let i = match by_table.get(&key) {
                Some(&i) => i,
                None => {
                    let info = self.existing_table(&key).await?;
                    let plan = TablePlan::new(info.clone(), &c.key_columns).map_err(|m| self.definite(m))?;
                    let keyidx = key_indices(&*info, &c.key_columns).map_err(|m| self.definite(m))?;
                    self.dialect().check_key(&info, &keyidx).map_err(|m| self.definite(m))?;
                    plans.push(plan);
                    by_table.insert(key, plans.len() - 1);
                    plans.len() - 1
                }
            };
            last = c.table.as_ref().map(|t| (t, i));
            plans[i].add(c).map_err(|m| self.definite(m))?;
        }
        let sink = self.sink;
        for plan in plans {
            let info = plan.info().clone();
            sink.dialect.table_work(self.conn, &info, plan.finish()).await?;
        }
        self.keyless_rows(&keyless).await
    }

    async fn key_change(&mut self, c: &Change) -> Result<(), Failure<D>> {
        let key = self.target_table(c.table.as_ref())?;
        let info = self.existing_table(&key).await?;
        let definite = |m: String| Failure::from(self.sink.definite(m));
        let keyidx = key_indices(&*info, &c.key_columns).map_err(definite)?;
        self.dialect().check_key(&info, &keyidx).map_err(definite)?;
        let shown = info.display();
        let before = c.before.as_ref().ok_or_else(|| definite(format!("table {shown}: a key change without a before image")))?;
        let after = c.after.as_ref().ok_or_else(|| definite(format!("table {shown}: an update without an after image")))?;
        let old = key_of(&*info, &keyidx, before, "before").map_err(definite)?;
        // The new image's sent columns, in table order.
        let mut set: Vec<(usize, Cell<D>)> = Vec::new();
        for colv in &after.columns {
            let Some(v) = colv.value.as_ref().filter(|v| !v.is_unchanged()) else { continue };
            let i = info.column_index(&colv.name).ok_or_else(|| {
                definite(format!("table {shown}: column {} is not on the target table", info.quote(&colv.name)))
            })?;
            set.push((i, info.render(i, v).map_err(definite)?));
        }
        set.sort_by_key(|(i, _)| *i);
        if keyidx.iter().any(|k| !set.iter().any(|(i, _)| i == k)) {
            return Err(definite(format!("table {shown}: the after image of a key change lacks a key column")));
        }
        let new = key_of(&*info, &keyidx, after, "after").map_err(definite)?;
        let sink = self.sink;
        sink.dialect.move_key(self.conn, &info, &keyidx, &old, &new, &set).await?;
        // Then: delete the old key (a no-op when the row moved) and upsert the new image.
        let mut plan = TablePlan::new(info.clone(), &c.key_columns).map_err(definite)?;
        let mut delete = c.clone();
        delete.op = Op::Delete as i32;
        delete.after = None;
        let mut upsert = c.clone();
        upsert.before = None;
        plan.add(&delete).map_err(definite)?;
        plan.add(&upsert).map_err(definite)?;
        sink.dialect.table_work(self.conn, &info, plan.finish()).await
    }

    async fn truncate(&mut self, c: &Change, alone: bool) -> Result<(), Failure<D>> {
        let key = self.target_table(c.table.as_ref())?;
        match self.table(&key).await? {
            Some(cached) => {
                let sink = self.sink;
                sink.dialect.truncate(self.conn, &cached.table, alone).await
            }
            None => {
                tracing::debug!(target_name = %self.dialect().name(), table = %self.dialect().shown(&key),
                    "truncate of a table that does not exist on the target: nothing to do");
                Ok(())
            }
        }
    }

    async fn schema_change(&mut self, c: &Change) -> Result<(), Failure<D>> {
        let sink = self.sink;
        let dialect = &sink.dialect;
        let schema = schema_diff::schema_of(c).map_err(|m| self.definite(m))?;
        let key = self.target_table(schema.table.as_ref().or(c.table.as_ref()))?;
        let shown = dialect.shown(&key);
        if schema.columns.is_empty() {
            tracing::debug!(target_name = %dialect.name(), table = %shown, "schema change without columns: nothing to do");
            return Ok(());
        }
        let mut types = Vec::with_capacity(schema.columns.len());
        for col in &schema.columns {
            dialect.check_identifier(&col.name).map_err(|m| self.definite(format!("table {shown}: {m}")))?;
            let m = dialect.column_type(self.conn, &key, col).await?;
            if m.fallback {
                sink.warn_once(format!("type {shown}.{} {}", col.name, col.source_type), || {
                    tracing::warn!(target_name = %dialect.name(), table = %shown, column = %dialect.quote(&col.name),
                        source_type = %col.source_type, target_type = %m.sql_type,
                        "the source type has no counterpart on the target; the column is created as {} and values keep \
                         their text form", m.sql_type);
                });
            }
            types.push(m.sql_type);
        }
        let key_idx: Vec<usize> =
            schema.key_columns.iter().filter_map(|k| schema.columns.iter().position(|c| &c.name == k)).collect();
        dialect.adjust_types(&mut types, &key_idx);
        let context = format!("table {shown}: schema change");
        match self.table(&key).await? {
            None => {
                if !dialect.create_tables() {
                    return Err(self.definite(schema_diff::no_table(&shown)));
                }
                dialect.create_table(self.conn, &key, schema, &types).await?;
            }
            Some(cached) => self.evolve(&cached, schema, &types, &context).await?,
        }
        match self.reload(&key).await? {
            Some(mut cached) => {
                cached.source = Some(schema.clone());
                self.overlay.insert(key, cached);
                Ok(())
            }
            None => Err(self.definite(schema_diff::vanished(&shown))),
        }
    }

    /// Brings an existing table in line with a source schema: adds missing
    /// columns, refuses type changes and drops.
    async fn evolve(&mut self, cached: &Cached<D::Table>, schema: &TableSchema, types: &[String], context: &str) -> Result<(), Failure<D>> {
        let sink = self.sink;
        let dialect = &sink.dialect;
        let info = &*cached.table;
        let shown = info.display();
        if let Some(gone) = schema_diff::dropped(cached.source.as_ref(), schema) {
            return Err(self.definite(schema_diff::dropped_message(shown, &dialect.quote(&gone.name))));
        }
        for (col, ty) in schema.columns.iter().zip(types) {
            let prev = schema_diff::previous(cached.source.as_ref(), &col.name);
            let column = dialect.quote(&col.name);
            match info.column_index(&col.name) {
                None if dialect.create_tables() => dialect.ddl(self.conn, context, dialect.add_column_sql(info, &col.name, ty)).await?,
                None => return Err(self.definite(schema_diff::missing_message(shown, &column, ty))),
                Some(i) => {
                    let (target_type, not_null) = info.column_facts(i);
                    if schema_diff::type_changed(prev, col, || !dialect.same_type(info, i, ty)) {
                        let fix = dialect.alter_type_sql(info, i, ty);
                        let m = schema_diff::changed_message(shown, &column, &col.source_type, ty, target_type, &fix);
                        return Err(self.definite(m));
                    }
                    if schema_diff::relax_not_null(dialect.create_tables(), schema, col, not_null) {
                        match dialect.drop_not_null_sql(info, i) {
                            Ok(sql) => dialect.ddl(self.conn, context, sql).await?,
                            Err(why) => sink.warn_once(format!("nullable {shown}.{}", col.name), || {
                                tracing::warn!(target_name = %dialect.name(), table = %shown, column = %column, "{why}");
                            }),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
