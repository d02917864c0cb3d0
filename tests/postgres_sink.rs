//! The postgres target against the real server.
