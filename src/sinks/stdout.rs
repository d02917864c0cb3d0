//! Stdout target.
