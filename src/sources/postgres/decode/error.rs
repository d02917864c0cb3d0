//! Why a message could not be decoded ([`DecodeError`]) and where
//! ([`Location`]: message type, field, column, byte offset).

/// Where in a message decoding failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Message type name, e.g. `"Relation"`.
    pub message: &'static str,
    /// Field name, e.g. `"column count"`.
    pub field: &'static str,
    /// 0-based tuple or relation column, for per-column fields.
    pub column: Option<usize>,
    /// Byte offset of the field in the message (the type byte is offset 0).
    pub offset: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} message, {}", self.message, self.field)?;
        if let Some(c) = self.column {
            write!(f, " of column {c}")?;
        }
        write!(f, " at offset {}", self.offset)
    }
}

/// Why a pgoutput message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload had no bytes at all.
    #[error("empty pgoutput message")]
    Empty,
    /// The first byte is not a pgoutput message type logferry reads.
    #[error("unknown pgoutput message type {} (0x{tag:02x})", show_byte(*tag))]
    UnknownType {
        /// The type byte.
        tag: u8,
    },
    /// The message ended inside a field.
    #[error("truncated pgoutput {at}: needs {needed} bytes, {remaining} left")]
    Truncated {
        /// The field that did not fit.
        at: Location,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the message.
        remaining: usize,
    },
    /// A field has a value the protocol does not allow.
    #[error("invalid pgoutput {at}: {problem}")]
    Invalid {
        /// The bad field.
        at: Location,
        /// What is wrong with it.
        problem: String,
    },
    /// Bytes follow the end of the message's layout.
    #[error("pgoutput {message} message has {extra} unexpected bytes after its end at offset {offset}")]
    TrailingBytes {
        /// Message type name.
        message: &'static str,
        /// Where the layout ended.
        offset: usize,
        /// How many bytes follow.
        extra: usize,
    },
}

/// `'I'` for printable ASCII, else the bare hex follows anyway.
fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        "(not printable)".to_string()
    }
}

pub(super) fn bad_marker(found: u8, expected: &str) -> String {
    format!("expected {expected}, found {} (0x{found:02x})", show_byte(found))
}
