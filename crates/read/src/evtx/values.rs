//! Text of BinXML substitution values and literals, exactly as the `evtx` crate (0.15.1)
//! renders them to XML: the formatting below is ported from its `binxml/value_render.rs`,
//! `utils/windows.rs` and the `utf16-simd` crate's scalar XML escaper (all MIT/Apache-2.0), so
//! that [`crate::evtx::binxml`] writes byte-identical XML without the crate's private renderer.
//!
//! Every writer returns `None` for what it does not render identically (floats, non-ASCII ANSI
//! strings, arrays, unknown types, sizes that do not fit the type): the record then goes
//! through the crate (see [`crate::evtx::binxml`]).

/// Substitution value types (MS-EVEN6 2.2.4.1) this module knows.
pub(crate) mod ty {
    pub const NULL: u8 = 0x00;
    pub const UTF16: u8 = 0x01;
    pub const ANSI: u8 = 0x02;
    pub const INT8: u8 = 0x03;
    pub const UINT8: u8 = 0x04;
    pub const INT16: u8 = 0x05;
    pub const UINT16: u8 = 0x06;
    pub const INT32: u8 = 0x07;
    pub const UINT32: u8 = 0x08;
    pub const INT64: u8 = 0x09;
    pub const UINT64: u8 = 0x0a;
    pub const BOOL: u8 = 0x0d;
    pub const BINARY: u8 = 0x0e;
    pub const GUID: u8 = 0x0f;
    pub const SIZE_T: u8 = 0x10;
    pub const FILETIME: u8 = 0x11;
    pub const SYSTIME: u8 = 0x12;
    pub const SID: u8 = 0x13;
    pub const HEX_INT32: u8 = 0x14;
    pub const HEX_INT64: u8 = 0x15;
    pub const BIN_XML: u8 = 0x21;
}

/// The UTF-16LE code units of `bytes` before the first NUL unit (the crate's `until_nul`). An
/// odd trailing byte is ignored, as there.
pub(crate) fn until_nul(bytes: &[u8]) -> &[u8] {
    // Four units at a time: a NUL unit is a zero 16-bit lane.
    const LO: u64 = 0x0001_0001_0001_0001;
    const HI: u64 = 0x8000_8000_8000_8000;
    let mut i = 0;
    for w in bytes.as_chunks::<8>().0 {
        let x = u64::from_le_bytes(*w);
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        i += 8;
    }
    while i + 1 < bytes.len() {
        if bytes[i] == 0 && bytes[i + 1] == 0 {
            return &bytes[..i];
        }
        i += 2;
    }
    &bytes[..i]
}

/// Whether a substitution value's size is what its type takes (the crate's pre-flight check
/// of its compiled lane). The crate decodes values one after the other, and a value read at
/// another size than its descriptor says moves where the next ones start, so an instance with
/// any such value, used or not, is left to the crate.
pub(crate) fn valid_size(t: u8, bytes: &[u8]) -> bool {
    let len = bytes.len();
    match t {
        ty::NULL | ty::ANSI | ty::BINARY | ty::BIN_XML => true,
        ty::UTF16 | 0x81 => len.is_multiple_of(2),
        ty::INT8 | ty::UINT8 => len == 1,
        ty::INT16 | ty::UINT16 => len == 2,
        ty::INT32 | ty::UINT32 | 0x0b | ty::BOOL | ty::HEX_INT32 => len == 4,
        ty::INT64 | ty::UINT64 | 0x0c | ty::FILETIME | ty::HEX_INT64 => len == 8,
        ty::GUID | ty::SYSTIME => len == 16,
        ty::SIZE_T => len == 4 || len == 8,
        ty::SID => bytes.get(1).is_some_and(|&n| len == 8 + 4 * usize::from(n)),
        _ => false,
    }
}

/// Whether a substitution value counts as empty (the crate's `slot_empty`).
pub(crate) fn is_empty(t: u8, bytes: &[u8]) -> bool {
    match t {
        ty::NULL => true,
        ty::UTF16 => bytes.len() < 2 || bytes.starts_with(&[0, 0]),
        ty::ANSI => bytes.iter().all(|&b| b == 0),
        ty::BINARY | ty::BIN_XML => bytes.is_empty(),
        _ => false,
    }
}

/// Whether a substitution value is NULL (an element depending on it is left out).
pub(crate) fn is_null(t: u8, bytes: &[u8]) -> bool {
    t == ty::NULL || (t == ty::BIN_XML && bytes.is_empty())
}

/// The XML escape of an ASCII byte, `None` when it is written as it is: `&`, `<`, `>`, the
/// quotes in attributes, and `_` for the C0 controls but tab, LF and CR.
#[inline(always)]
fn escape_ascii(b: u8, in_attr: bool) -> Option<&'static [u8]> {
    match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'"' if in_attr => Some(b"&quot;"),
        b'\'' if in_attr => Some(b"&apos;"),
        b'\t' | b'\n' | b'\r' => None,
        0..=0x1f => Some(b"_"),
        _ => None,
    }
}

/// Writes UTF-16LE text (already cut at its NUL) as UTF-8, XML-escaped: `&`, `<`, `>` (and
/// both quotes in attributes) as entities, `_` for C0 controls but tab/LF/CR, lone surrogates
/// and U+FFFE/U+FFFF. This is the evtx crate's own escaper (`utf16-simd`), through `scratch`.
pub(crate) fn write_utf16(out: &mut Vec<u8>, scratch: &mut Vec<u8>, bytes: &[u8], in_attr: bool) {
    let n = bytes.len() / 2;
    // Runs of ASCII written as it is (most text) are copied here, four units at a time: the
    // library call costs more than that on the short values events hold.
    let mut i = 0;
    for w in bytes.as_chunks::<8>().0 {
        let x = u64::from_le_bytes(*w);
        if !plain4(x, in_attr) {
            break;
        }
        out.extend_from_slice(&[x as u8, (x >> 16) as u8, (x >> 32) as u8, (x >> 48) as u8]);
        i += 4;
    }
    let plain = if in_attr { &PLAIN_ATTR } else { &PLAIN_TEXT };
    while let Some(&[lo, 0]) = bytes.get(2 * i..2 * i + 2) {
        if !plain[usize::from(lo)] {
            break;
        }
        out.push(lo);
        i += 1;
    }
    // The rest (it starts on a unit boundary after ASCII, so no surrogate pair is split).
    if i < n {
        utf16_simd::escape_xml_utf16le_into(&bytes[2 * i..2 * n], n - i, scratch, in_attr);
        out.extend_from_slice(scratch);
    }
}

/// Whether four UTF-16 units (a little-endian `u64`) are ASCII written as it is: 0x20-0x7F but
/// `&`, `<`, `>` (and both quotes in attributes).
#[inline(always)]
fn plain4(x: u64, in_attr: bool) -> bool {
    const L: u64 = 0x0001_0001_0001_0001;
    const H: u64 = 0x8000_8000_8000_8000;
    const LANE_80: u64 = 0x0080_0080_0080_0080;
    if x & 0xff80_ff80_ff80_ff80 != 0 || (x + 0x0060 * L) & LANE_80 != LANE_80 {
        return false; // not ASCII, or a control character
    }
    let has = |c: u8| {
        let y = x ^ (u64::from(c) * L);
        y.wrapping_sub(L) & !y & H != 0
    };
    !(has(b'&') || has(b'<') || has(b'>') || in_attr && (has(b'"') || has(b'\'')))
}

/// ASCII bytes written as they are, in element text and in attribute values.
static PLAIN_TEXT: [bool; 256] = plain_table(false);
static PLAIN_ATTR: [bool; 256] = plain_table(true);

const fn plain_table(in_attr: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x80 {
        t[b] = match b as u8 {
            b'&' | b'<' | b'>' => false,
            b'"' | b'\'' => !in_attr,
            _ => true,
        };
        b += 1;
    }
    t
}

/// Writes a value's text. `bytes` is the descriptor-sized value window. `None`: not rendered
/// here (the record falls back).
pub(crate) fn write_value(out: &mut Vec<u8>, scratch: &mut Vec<u8>, t: u8, bytes: &[u8], in_attr: bool) -> Option<()> {
    match t {
        ty::NULL => {}
        ty::UTF16 => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            write_utf16(out, scratch, until_nul(bytes), in_attr);
        }
        ty::ANSI => {
            // Windows-1252 decodes ASCII to itself; NULs are dropped. Anything else falls back.
            if bytes.iter().any(|&b| b >= 0x80) {
                return None;
            }
            for &b in bytes.iter().filter(|&&b| b != 0) {
                match escape_ascii(b, in_attr) {
                    Some(e) => out.extend_from_slice(e),
                    None => out.push(b),
                }
            }
        }
        ty::INT8 => write_i64(out, i64::from(*fixed::<1>(bytes)?.first()? as i8)),
        ty::UINT8 => write_u64(out, u64::from(*fixed::<1>(bytes)?.first()?)),
        ty::INT16 => write_i64(out, i64::from(i16::from_le_bytes(*fixed(bytes)?))),
        ty::UINT16 => write_u64(out, u64::from(u16::from_le_bytes(*fixed(bytes)?))),
        ty::INT32 => write_i64(out, i64::from(i32::from_le_bytes(*fixed(bytes)?))),
        ty::UINT32 => write_u64(out, u64::from(u32::from_le_bytes(*fixed(bytes)?))),
        ty::INT64 => write_i64(out, i64::from_le_bytes(*fixed(bytes)?)),
        ty::UINT64 => write_u64(out, u64::from_le_bytes(*fixed(bytes)?)),
        ty::BOOL => match i32::from_le_bytes(*fixed(bytes)?) {
            0 => out.extend_from_slice(b"false"),
            1 => out.extend_from_slice(b"true"),
            v => write_i64(out, i64::from(v)),
        },
        ty::BINARY => {
            for &b in bytes {
                out.extend_from_slice(&[HEX_UPPER[usize::from(b >> 4)], HEX_UPPER[usize::from(b & 15)]]);
            }
        }
        ty::GUID => write_guid(out, fixed(bytes)?),
        ty::SIZE_T if bytes.len() == 4 => write_hex(out, u64::from(u32::from_le_bytes(*fixed(bytes)?))),
        ty::SIZE_T => write_hex(out, u64::from_le_bytes(*fixed(bytes)?)),
        ty::FILETIME => write_datetime(out, filetime_fields(u64::from_le_bytes(*fixed(bytes)?))),
        ty::SYSTIME => write_datetime(out, systime_fields(fixed(bytes)?)),
        ty::SID => write_sid(out, bytes)?,
        ty::HEX_INT32 => write_hex(out, u64::from(u32::from_le_bytes(*fixed(bytes)?))),
        ty::HEX_INT64 => write_hex(out, u64::from_le_bytes(*fixed(bytes)?)),
        // An empty BinXML value renders as nothing; a non-empty one is an element, not text.
        ty::BIN_XML if bytes.is_empty() => {}
        _ => return None,
    }
    Some(())
}

fn fixed<const N: usize>(bytes: &[u8]) -> Option<&[u8; N]> {
    bytes.try_into().ok()
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; vigil_model::value::DECIMAL_LEN];
    out.extend_from_slice(vigil_model::value::decimal_u64(v, &mut buf).as_bytes());
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// `0x` and lowercase hex digits without leading zeros (`0x0` for zero).
fn write_hex(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(b"0x");
    let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
    for k in (0..digits).rev() {
        out.push(HEX_LOWER[((v >> (4 * k)) & 15) as usize]);
    }
}

/// `{d1-d2-d3-d4[0..2]-d4[2..8]}` in lowercase, data1-3 little-endian.
fn write_guid(out: &mut Vec<u8>, b: &[u8; 16]) {
    const ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    out.push(b'{');
    for (i, &idx) in ORDER.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.extend_from_slice(&[HEX_LOWER[usize::from(b[idx] >> 4)], HEX_LOWER[usize::from(b[idx] & 15)]]);
    }
    out.push(b'}');
}

/// `S-R-A-S1-..-Sn`. The size must be what the sub-authority count says (the crate's compiled
/// lane requires it too); anything else falls back.
fn write_sid(out: &mut Vec<u8>, b: &[u8]) -> Option<()> {
    let &[revision, count, a0, a1, a2, a3, a4, a5, ref subs @ ..] = b else { return None };
    if subs.len() != 4 * usize::from(count) {
        return None;
    }
    out.extend_from_slice(b"S-");
    write_u64(out, u64::from(revision));
    out.push(b'-');
    write_u64(out, u64::from_be_bytes([0, 0, a0, a1, a2, a3, a4, a5]));
    for sub in subs.chunks_exact(4) {
        out.push(b'-');
        write_u64(out, u64::from(u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]])));
    }
    Some(())
}

/// Date and time parts, `ticks` in 100 ns.
#[derive(Debug, Default, PartialEq, Eq)]
struct DateTime {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    ticks: u32,
}

const TICKS_PER_SEC: u64 = 10_000_000;
const TICKS_PER_DAY: u64 = 86_400 * TICKS_PER_SEC;

/// A FILETIME's parts (all zero past `i64::MAX`, as the crate does).
fn filetime_fields(ft: u64) -> DateTime {
    if ft > i64::MAX as u64 {
        return DateTime::default();
    }
    let (days, ticks) = (ft / TICKS_PER_DAY, ft % TICKS_PER_DAY);
    // FILETIME counts from 1601-01-01, 134 774 days before 1970-01-01.
    let (year, month, day) = vigil_model::calendar::civil_from_days(days as i64 - 134_774);
    let secs = ticks / TICKS_PER_SEC;
    DateTime {
        year: (year % 10_000) as u32,
        month,
        day,
        hour: (secs / 3_600) as u32,
        minute: (secs / 60 % 60) as u32,
        second: (secs % 60) as u32,
        ticks: (ticks % TICKS_PER_SEC) as u32,
    }
}

/// A SYSTEMTIME's parts; an invalid one is 1601-01-01T00:00:00, as the crate renders it.
fn systime_fields(b: &[u8; 16]) -> DateTime {
    let f = |i: usize| u32::from(u16::from_le_bytes([b[2 * i], b[2 * i + 1]]));
    let (year, month, day, hour, minute, second, ms) = (f(0), f(1), f(3), f(4), f(5), f(6), f(7));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let valid = (1601..=30827).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
        && ms < 1000;
    if !valid {
        return DateTime { year: 1601, month: 1, day: 1, ..DateTime::default() };
    }
    DateTime { year: year % 10_000, month, day, hour, minute, second, ticks: ms * 10_000 }
}

/// `YYYY-MM-DDTHH:MM:SS.fffffffZ`, zero-padded (each part modulo its width).
fn write_datetime(out: &mut Vec<u8>, dt: DateTime) {
    let mut buf = *b"0000-00-00T00:00:00.0000000Z";
    let mut pack = |range: std::ops::Range<usize>, mut v: u32| {
        for b in buf[range].iter_mut().rev() {
            *b = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    pack(0..4, dt.year);
    pack(5..7, dt.month);
    pack(8..10, dt.day);
    pack(11..13, dt.hour);
    pack(14..16, dt.minute);
    pack(17..19, dt.second);
    pack(20..27, dt.ticks);
    out.extend_from_slice(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: u8, bytes: &[u8], in_attr: bool) -> Option<String> {
        let mut out = Vec::new();
        write_value(&mut out, &mut Vec::new(), t, bytes, in_attr)?;
        Some(String::from_utf8(out).expect("utf-8"))
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn units(u: &[u16]) -> Vec<u8> {
        u.iter().flat_map(|c| c.to_le_bytes()).collect()
    }

    #[test]
    fn strings_are_escaped_as_the_crate_does() {
        let s = utf16("<a & \"b\"> 'c' ünï 日本 😀");
        assert_eq!(text(ty::UTF16, &s, false).unwrap(), "&lt;a &amp; \"b\"&gt; 'c' ünï 日本 😀");
        assert_eq!(text(ty::UTF16, &s, true).unwrap(), "&lt;a &amp; &quot;b&quot;&gt; &apos;c&apos; ünï 日本 😀");
        // Controls but tab, LF and CR, lone surrogates and U+FFFE/U+FFFF become `_`.
        let odd = units(&[0x41, 0x01, 0x1f, 0x09, 0x0a, 0x0d, 0xd800, 0x42, 0xdc00, 0xfffe, 0xffff, 0xfffd]);
        assert_eq!(text(ty::UTF16, &odd, false).unwrap(), "A__\t\n\r_B___\u{fffd}");
        // A high surrogate at the very end is lone.
        assert_eq!(text(ty::UTF16, &units(&[0x41, 0xd83d]), false).unwrap(), "A_");
        // Cut at the first NUL (also past the first four units); an odd size falls back.
        assert_eq!(text(ty::UTF16, &utf16("abcdefgh\0ij"), false).unwrap(), "abcdefgh");
        assert_eq!(text(ty::UTF16, &utf16("abcde\0fghij"), false).unwrap(), "abcde");
        assert_eq!(text(ty::UTF16, &units(&[0x100, 0x4100, 0x41, 0x42, 0x43, 0]), false).unwrap(), "Ā䄀ABC");
        assert_eq!(text(ty::UTF16, &units(&[0x41, 0, 0x42]), false).unwrap(), "A");
        assert_eq!(text(ty::UTF16, b"A\0B", false), None);
        assert!(is_empty(ty::UTF16, &units(&[0, 0x41])));
        assert!(!is_empty(ty::UTF16, &units(&[0x41])));
    }

    /// The ASCII fast path agrees with the library on every mix of plain and special units.
    #[test]
    fn fast_path_agrees_with_utf16_simd() {
        let pieces: [&[u16]; 12] =
            [&[0x41], &[0x26], &[0x3c], &[0x3e], &[0x22], &[0x27], &[0x09], &[0x0d], &[0x7f], &[0xe9], &[0xd83d, 0xde00], &[0x1f]];
        let mut seed = 42u64;
        for _ in 0..2000 {
            let mut u: Vec<u16> = Vec::new();
            for _ in 0..(seed % 23) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                u.extend_from_slice(pieces[(seed >> 33) as usize % pieces.len()]);
                u.extend(std::iter::repeat_n(0x61, (seed >> 40) as usize % 6));
            }
            let b = units(&u);
            for in_attr in [false, true] {
                let mut want = Vec::new();
                utf16_simd::escape_xml_utf16le_into(&b, u.len(), &mut want, in_attr);
                let mut got = Vec::new();
                write_utf16(&mut got, &mut Vec::new(), &b, in_attr);
                assert_eq!(got, want, "{u:x?} {in_attr}");
            }
        }
    }

    #[test]
    fn ansi_strings() {
        assert_eq!(text(ty::ANSI, b"a\0b<'", true).unwrap(), "ab&lt;&apos;");
        assert_eq!(text(ty::ANSI, b"caf\xe9", false), None);
        assert!(is_empty(ty::ANSI, b"\0\0"));
    }

    #[test]
    fn integers_bools_and_hex() {
        assert_eq!(text(ty::INT8, &[0xff], false).unwrap(), "-1");
        assert_eq!(text(ty::UINT8, &[0xff], false).unwrap(), "255");
        assert_eq!(text(ty::INT16, &(-32768i16).to_le_bytes(), false).unwrap(), "-32768");
        assert_eq!(text(ty::UINT16, &65535u16.to_le_bytes(), false).unwrap(), "65535");
        assert_eq!(text(ty::INT32, &i32::MIN.to_le_bytes(), false).unwrap(), "-2147483648");
        assert_eq!(text(ty::UINT32, &0u32.to_le_bytes(), false).unwrap(), "0");
        assert_eq!(text(ty::INT64, &i64::MIN.to_le_bytes(), false).unwrap(), "-9223372036854775808");
        assert_eq!(text(ty::UINT64, &u64::MAX.to_le_bytes(), false).unwrap(), "18446744073709551615");
        assert_eq!(text(ty::BOOL, &0i32.to_le_bytes(), false).unwrap(), "false");
        assert_eq!(text(ty::BOOL, &1i32.to_le_bytes(), false).unwrap(), "true");
        assert_eq!(text(ty::BOOL, &(-2i32).to_le_bytes(), false).unwrap(), "-2");
        assert_eq!(text(ty::HEX_INT32, &0u32.to_le_bytes(), false).unwrap(), "0x0");
        assert_eq!(text(ty::HEX_INT32, &0xABCu32.to_le_bytes(), false).unwrap(), "0xabc");
        assert_eq!(text(ty::HEX_INT64, &0x8000000000000000u64.to_le_bytes(), false).unwrap(), "0x8000000000000000");
        assert_eq!(text(ty::SIZE_T, &0x10u32.to_le_bytes(), false).unwrap(), "0x10");
        assert_eq!(text(ty::SIZE_T, &0x1_0000_0000u64.to_le_bytes(), false).unwrap(), "0x100000000");
        // Wrong sizes fall back.
        assert_eq!(text(ty::UINT32, &[1, 2], false), None);
        assert_eq!(text(ty::SIZE_T, &[1, 2], false), None);
        assert_eq!(text(0x0b, &[0; 4], false), None); // floats are not rendered here
        assert_eq!(text(0x81, &[0; 4], false), None); // nor arrays
    }

    #[test]
    fn binary_guid_sid() {
        assert_eq!(text(ty::BINARY, &[0x00, 0xab, 0x1f], false).unwrap(), "00AB1F");
        assert_eq!(text(ty::BINARY, &[], false).unwrap(), "");
        let guid = [0x5f, 0x38, 0x70, 0x57, 0x2a, 0xc2, 0xe0, 0x43, 0xbf, 0x4c, 0x06, 0xf5, 0x69, 0x8f, 0xfb, 0xd9];
        assert_eq!(text(ty::GUID, &guid, false).unwrap(), "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}");
        let sid = [1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0];
        assert_eq!(text(ty::SID, &sid, false).unwrap(), "S-1-5-18");
        let sid = [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0];
        assert_eq!(text(ty::SID, &sid, false).unwrap(), "S-1-5-32-544");
        assert_eq!(text(ty::SID, &[1, 0, 0, 0, 0, 0, 0x12, 0x34], false).unwrap(), "S-1-4660");
        // A size that disagrees with the sub-authority count falls back.
        assert_eq!(text(ty::SID, &[1, 2, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0], false), None);
        assert_eq!(text(ty::SID, &[1, 2, 0], false), None);
    }

    #[test]
    fn times() {
        // 2026-08-14T16:03:29.7579260Z
        let ft: u64 = (1_786_723_409 + 11_644_473_600) * 10_000_000 + 7_579_260;
        assert_eq!(text(ty::FILETIME, &ft.to_le_bytes(), false).unwrap(), "2026-08-14T16:03:29.7579260Z");
        assert_eq!(text(ty::FILETIME, &0u64.to_le_bytes(), false).unwrap(), "1601-01-01T00:00:00.0000000Z");
        assert_eq!(text(ty::FILETIME, &u64::MAX.to_le_bytes(), false).unwrap(), "0000-00-00T00:00:00.0000000Z");
        // A leap day.
        let ft: u64 = (951_782_400 + 11_644_473_600) * 10_000_000; // 2000-02-29
        assert_eq!(text(ty::FILETIME, &ft.to_le_bytes(), false).unwrap(), "2000-02-29T00:00:00.0000000Z");
        let st = |f: [u16; 8]| f.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        assert_eq!(text(ty::SYSTIME, &st([2019, 3, 5, 1, 12, 34, 56, 789]), false).unwrap(), "2019-03-01T12:34:56.7890000Z");
        assert_eq!(text(ty::SYSTIME, &st([2019, 2, 0, 29, 0, 0, 0, 0]), false).unwrap(), "1601-01-01T00:00:00.0000000Z");
        assert_eq!(text(ty::SYSTIME, &st([2020, 2, 0, 29, 23, 59, 59, 999]), false).unwrap(), "2020-02-29T23:59:59.9990000Z");
        assert_eq!(text(ty::SYSTIME, &[0; 8], false), None);
    }

    #[test]
    fn sizes_as_the_types_take_them() {
        assert!(valid_size(ty::UINT32, &[0; 4]) && !valid_size(ty::UINT32, &[0; 2]));
        assert!(valid_size(ty::SID, &[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]) && !valid_size(ty::SID, &[1, 2, 0, 0, 0, 0, 0, 5]));
        assert!(valid_size(ty::SIZE_T, &[0; 8]) && !valid_size(ty::SIZE_T, &[0; 6]));
        assert!(valid_size(ty::UTF16, &[0; 6]) && !valid_size(ty::UTF16, &[0; 5]));
        assert!(valid_size(ty::NULL, &[0; 5]) && valid_size(ty::BINARY, &[]));
        assert!(!valid_size(0x83, &[0; 4]) && !valid_size(0x20, &[]));
    }

    #[test]
    fn null_and_binxml() {
        assert_eq!(text(ty::NULL, &[1, 2, 3], false).unwrap(), "");
        assert!(is_null(ty::NULL, &[1]) && is_empty(ty::NULL, &[1]));
        assert!(is_null(ty::BIN_XML, &[]) && !is_null(ty::BIN_XML, &[0x0f]));
        assert_eq!(text(ty::BIN_XML, &[], false).unwrap(), "");
        assert_eq!(text(ty::BIN_XML, &[0x0f], false), None);
    }
}
