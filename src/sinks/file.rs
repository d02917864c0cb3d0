//! File target.
