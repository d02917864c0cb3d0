//! `kind = "postgres"` target.
