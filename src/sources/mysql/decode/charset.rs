//! Text column bytes to UTF-8: the character sets the server may log text
//! in, and MySQL's own latin1 (Windows-1252 with the C1 gaps filled).

use super::problem::Problem;

/// Character sets the text columns are converted from.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Charset {
    Utf8,
    Latin1,
    Utf16Be,
    Utf16Le,
    Utf32,
    Unsupported(String),
}

impl Charset {
    pub(super) fn of(name: Option<&str>) -> Charset {
        // A text column always has a charset; assume UTF-8 if the catalog did not say.
        let Some(name) = name else {
            return Charset::Utf8;
        };
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("utf8mb4") || is("utf8mb3") || is("utf8") || is("ascii") {
            Charset::Utf8
        } else if is("latin1") {
            Charset::Latin1
        } else if is("utf16") || is("ucs2") {
            Charset::Utf16Be
        } else if is("utf16le") {
            Charset::Utf16Le
        } else if is("utf32") {
            Charset::Utf32
        } else {
            Charset::Unsupported(name.to_string())
        }
    }
}

/// The MySQL latin1 (Windows-1252) code points of bytes 0x80..=0x9F. The
/// five bytes 1252 leaves undefined map to the C1 controls, as in MySQL.
pub(super) const LATIN1_80_9F: [char; 32] = [
    '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{2c6}', '\u{2030}',
    '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}', '\u{8f}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}',
    '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}',
    '\u{17e}', '\u{178}',
];

pub(super) fn decode_charset(b: &[u8], charset: &Charset) -> Result<String, Problem> {
    Ok(match charset {
        Charset::Utf8 => String::from_utf8(b.to_vec()).map_err(|_| "not valid UTF-8")?,
        Charset::Latin1 => b
            .iter()
            .map(|&x| if (0x80..=0x9f).contains(&x) { LATIN1_80_9F[usize::from(x - 0x80)] } else { char::from(x) })
            .collect(),
        Charset::Utf16Be | Charset::Utf16Le => {
            if b.len() % 2 != 0 {
                return Err("odd number of bytes in UTF-16 text".into());
            }
            let units = b.chunks_exact(2).map(|p| match charset {
                Charset::Utf16Le => u16::from_le_bytes([p[0], p[1]]),
                _ => u16::from_be_bytes([p[0], p[1]]),
            });
            char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| "invalid UTF-16")?
        }
        Charset::Utf32 => {
            if b.len() % 4 != 0 {
                return Err("byte count of UTF-32 text is not a multiple of 4".into());
            }
            b.chunks_exact(4)
                .map(|p| char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]])))
                .collect::<Option<String>>()
                .ok_or("invalid UTF-32")?
        }
        Charset::Unsupported(name) => return Err(Problem::Charset(name.clone())),
    })
}
