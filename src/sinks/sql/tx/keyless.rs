//! A batch's records of tables without a key: per table, in order, through
//! [`KeylessPlan`] and the dialect's `keyless_work` (see
//! [`crate::sinks::plan::keyless`]). Tables are independent, so each
//! table's records keep their order and the tables follow each other in
//! first-seen order.

use super::Tx;
use crate::record::Change;
use crate::sinks::plan::KeylessPlan;
use crate::sinks::sql::{Dialect, Failure, TableKey};
use std::collections::HashMap;

impl<D: Dialect> Tx<'_, D> {
    /// Applies the records (all without key columns) of a row step.
    pub(super) async fn keyless_rows(&mut self, records: &[&Change]) -> Result<(), Failure<D>> {
        if records.is_empty() {
            return Ok(());
        }
        let mut plans: Vec<KeylessPlan<D::Table>> = Vec::new();
        let mut by_table: HashMap<TableKey, usize> = HashMap::new();
        for c in records {
            let key = self.target_table(c.table.as_ref())?;
            let i = match by_table.get(&key) {
                Some(&i) => i,
                None => {
                    let info = self.existing_table(&key).await?;
                    plans.push(KeylessPlan::new(info));
                    by_table.insert(key, plans.len() - 1);
                    plans.len() - 1
                }
            };
            plans[i].add(c).map_err(|m| self.definite(m))?;
        }
        let sink = self.sink;
        for plan in plans {
            let info = plan.info().clone();
            sink.dialect.keyless_work(self.conn, &info, plan.finish()).await?;
        }
        Ok(())
    }
}
