//! YAML 1.1 scalar resolution exactly as go-yaml v2 does it, and what a resolved value
//! becomes in a Go field of each kind. The one place that knows the rules.
//!
//! From gopkg.in/yaml.v2 v2.4.0 (vendored by DAOS, src/control/vendor/gopkg.in/yaml.v2):
//! - resolve.go `resolve`: a quoted scalar without a tag is a string. A plain one is
//!   looked up by its first character: `y Y yes Yes YES true True TRUE on On ON` are
//!   true, `n N no No NO false False FALSE off Off OFF` false (no other casing: `yEs`
//!   is a string), `'' ~ null Null NULL` null, `.inf .Inf .INF` (signed) and `.nan
//!   .NaN .NAN` floats; after a digit or a sign, the text without `_` is parsed as Go's
//!   `strconv.ParseInt(s, 0, 64)` (so `0x1F`, `0o17`, `0b101`, leading-zero octal
//!   `017`, `+5`, `1_000`), then `ParseUint`, then as a float if it matches
//!   `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (`08` is the float 8);
//!   after a `.`, `ParseFloat`. Anything else is a string.
//! - an explicit tag (`!!int '5'`, `!!str 5`) resolves the text as that type, and a
//!   text that is not of it is a fatal "cannot decode" error; `!!float` takes an int.
//! - decode.go `decoder.scalar`: a null sets the zero value of the field (`port: ~`
//!   makes the port 0, `name:` makes the name empty; a pointer field becomes nil); a
//!   string field takes the text of any scalar (`name: yes` is "yes"); an int field
//!   takes an int that fits, or a float truncated (`10001.9` is 10001, `1e4` 10000);
//!   a bool field takes only a bool.

use super::ScalarRef;

/// go-yaml's long tag prefix (`!!x` is `tag:yaml.org,2002:x`).
const TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// A resolved scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// `~`, `null`, empty.
    Null,
    /// A YAML 1.1 boolean.
    Bool(bool),
    /// An integer (int64 or uint64 range).
    Int(i128),
    /// A float.
    Float(f64),
    /// Text (also timestamps: go-yaml gives a string field their text, and nothing else
    /// takes them).
    Str,
}

impl Value {
    /// go-yaml's short tag of the value, for messages (`!!str`, `!!int` ...).
    pub fn tag(self) -> &'static str {
        match self {
            Value::Null => "!!null",
            Value::Bool(_) => "!!bool",
            Value::Int(_) => "!!int",
            Value::Float(_) => "!!float",
            Value::Str => "!!str",
        }
    }
}

fn short(tag: &str) -> String {
    match tag.strip_prefix(TAG_PREFIX) {
        Some(s) => format!("!!{s}"),
        None => tag.to_string(),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint(s, 0, 64)` on text without `_`.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &body[2..]),
        Some("0o") => (8, &body[2..]),
        Some("0b") => (2, &body[2..]),
        _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..]),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        // ParseInt: down to -2^63; ParseUint takes no sign
        (v <= 1u128 << 63).then(|| -(v as i128))
    } else {
        (v <= u128::from(u64::MAX)).then_some(v as i128)
    }
}

/// resolve.go `yamlStyleFloat`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// resolve.go `resolve` for an untagged plain scalar (or a tag's text).
fn resolve_plain(s: &str) -> Value {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match s.as_bytes()[0] {
        b'.' => s.parse::<f64>().map_or(Value::Str, Value::Float),
        b'0'..=b'9' | b'+' | b'-' => {
            let plain = s.replace('_', "");
            if let Some(v) = go_parse_int(&plain) {
                Value::Int(v)
            } else if yaml_style_float(&plain) {
                plain.parse::<f64>().map_or(Value::Str, Value::Float)
            } else {
                Value::Str
            }
        }
        _ => Value::Str,
    }
}

/// Resolves a scalar as go-yaml v2 does. `Err` is go-yaml's fatal "cannot decode"
/// (an explicit tag whose text is not of that type).
pub fn resolve(s: ScalarRef<'_>) -> Result<Value, String> {
    let Some(tag) = s.tag else {
        return Ok(if s.plain {
            resolve_plain(s.value)
        } else {
            Value::Str
        });
    };
    let want = match tag.strip_prefix(TAG_PREFIX) {
        Some("str") | Some("binary") => return Ok(Value::Str),
        Some(t @ ("bool" | "int" | "float" | "null" | "timestamp")) => t,
        // any other tag: go-yaml keeps the text
        _ => return Ok(Value::Str),
    };
    let v = resolve_plain(s.value);
    let ok = match (want, v) {
        ("bool", Value::Bool(_)) | ("int", Value::Int(_)) | ("null", Value::Null) => true,
        ("float", Value::Float(_)) => true,
        ("float", Value::Int(i)) => return Ok(Value::Float(i as f64)),
        ("timestamp", Value::Str) => true,
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(format!(
            "cannot decode {} `{}` as a {}",
            v.tag(),
            s.value,
            short(tag)
        ))
    }
}

/// A Go integer field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntType {
    /// `int`, `int64`.
    Int,
    /// `int32`.
    Int32,
    /// `uint`, `uint64`.
    Uint,
    /// `uint32`.
    Uint32,
    /// `uint16`.
    Uint16,
    /// `uint8`.
    Uint8,
}

impl IntType {
    fn range(self) -> (i128, i128) {
        match self {
            IntType::Int => (i64::MIN.into(), i64::MAX.into()),
            IntType::Int32 => (i32::MIN.into(), i32::MAX.into()),
            IntType::Uint => (0, u64::MAX.into()),
            IntType::Uint32 => (0, u32::MAX.into()),
            IntType::Uint16 => (0, u16::MAX.into()),
            IntType::Uint8 => (0, u8::MAX.into()),
        }
    }

    /// The Go name (`int`, `uint32` ...).
    pub fn go_name(self) -> &'static str {
        match self {
            IntType::Int => "int",
            IntType::Int32 => "int32",
            IntType::Uint => "uint",
            IntType::Uint32 => "uint32",
            IntType::Uint16 => "uint16",
            IntType::Uint8 => "uint8",
        }
    }

    fn signed(self) -> bool {
        matches!(self, IntType::Int | IntType::Int32)
    }
}

/// What go-yaml stores in an integer field of type `ty` (decode.go `decoder.scalar`):
/// `None` is a type error ("cannot unmarshal ... into int").
pub fn to_int(v: Value, ty: IntType) -> Option<i128> {
    let (lo, hi) = ty.range();
    let n = match v {
        Value::Null => 0,
        Value::Int(i) => i,
        // `resolved <= math.MaxInt64` / `MaxUint64`, then Go's truncating conversion
        // (NaN fails the comparison; -Inf converts to the most negative int64 on amd64)
        Value::Float(f) if ty.signed() => {
            if f.is_nan() || f > i64::MAX as f64 {
                return None;
            }
            i128::from(f as i64)
        }
        Value::Float(f) => {
            if f.is_nan() || f > u64::MAX as f64 {
                return None;
            }
            if f < 0.0 {
                i128::from((f as i64) as u64)
            } else {
                i128::from(f as u64)
            }
        }
        Value::Bool(_) | Value::Str => return None,
    };
    (lo..=hi).contains(&n).then_some(n)
}

/// What go-yaml stores in a bool field: `None` is a type error.
pub fn to_bool(v: Value) -> Option<bool> {
    match v {
        Value::Null => Some(false),
        Value::Bool(b) => Some(b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Value {
        resolve(ScalarRef {
            value: s,
            plain: true,
            tag: None,
        })
        .unwrap()
    }

    #[test]
    fn yaml_1_1_as_go_yaml() {
        for t in ["y", "Yes", "YES", "on", "ON", "True"] {
            assert_eq!(plain(t), Value::Bool(true), "{t}");
        }
        for t in ["yEs", "oN", "tRue", "Y3s"] {
            assert_eq!(plain(t), Value::Str, "{t}");
        }
        assert_eq!(plain("0x2711"), Value::Int(10001));
        assert_eq!(plain("0o23421"), Value::Int(10001));
        assert_eq!(plain("023421"), Value::Int(10001));
        assert_eq!(plain("0b10011100010001"), Value::Int(10001));
        assert_eq!(plain("+10_001"), Value::Int(10001));
        assert_eq!(plain("-0x10"), Value::Int(-16));
        assert_eq!(plain("08"), Value::Float(8.0));
        assert_eq!(plain("1e4"), Value::Float(10000.0));
        assert_eq!(plain(".5"), Value::Float(0.5));
        assert_eq!(plain("1."), Value::Float(1.0));
        assert_eq!(plain("1.2.3"), Value::Str);
        assert_eq!(plain("0x"), Value::Str);
        assert_eq!(plain("2024-01-01"), Value::Str);
        assert_eq!(plain("18446744073709551615"), Value::Int(u64::MAX.into()));
        assert_eq!(plain("99999999999999999999"), Value::Float(1e20));
        assert!(matches!(plain(".NaN"), Value::Float(f) if f.is_nan()));
        assert_eq!(plain("NULL"), Value::Null);
        assert_eq!(plain("nULL"), Value::Str);
    }

    #[test]
    fn tags_and_quotes() {
        let q = |v, tag| {
            resolve(ScalarRef {
                value: v,
                plain: false,
                tag,
            })
        };
        assert_eq!(q("10001", None), Ok(Value::Str));
        assert_eq!(
            q("10001", Some("tag:yaml.org,2002:int")),
            Ok(Value::Int(10001))
        );
        assert_eq!(
            q("5", Some("tag:yaml.org,2002:float")),
            Ok(Value::Float(5.0))
        );
        assert!(q("x", Some("tag:yaml.org,2002:int")).is_err());
        assert_eq!(q("x", Some("!local")), Ok(Value::Str));
    }

    #[test]
    fn into_fields() {
        assert_eq!(to_int(Value::Float(10001.9), IntType::Int), Some(10001));
        assert_eq!(to_int(Value::Float(f64::INFINITY), IntType::Int), None);
        assert_eq!(to_int(Value::Float(f64::NAN), IntType::Int), None);
        assert_eq!(to_int(Value::Null, IntType::Int), Some(0));
        assert_eq!(to_int(Value::Int(-1), IntType::Uint), None);
        assert_eq!(to_int(Value::Int(256), IntType::Uint8), None);
        assert_eq!(to_int(Value::Bool(true), IntType::Int), None);
        assert_eq!(to_bool(Value::Null), Some(false));
        assert_eq!(to_bool(Value::Str), None);
    }
}
