//! `kind = "mysql"` target.
