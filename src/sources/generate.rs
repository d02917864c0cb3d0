//! Synthetic source.
