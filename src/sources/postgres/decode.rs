//! pgoutput message decoding.
