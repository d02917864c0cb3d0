//! PostgreSQL text values to canonical values.
