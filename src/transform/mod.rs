//! The "validate and transform" stage: typed comparisons and per-table filters.
pub mod compare;
pub mod filter;
