//! One `/services/collector/event` envelope, read without building a `serde_json::Value` for
//! it: a string value (the event text, metadata) is borrowed from the body when it has no
//! escapes and copied once when it has; any other value (an object event, a numeric time,
//! `fields`) becomes a `Value`. The last of repeated keys wins and unknown keys are skipped,
//! as when the envelope was read into a JSON object.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// An envelope's value: a string, or anything else as JSON.
#[derive(Debug, PartialEq)]
pub enum Field<'a> {
    Str(Cow<'a, str>),
    Json(Value),
}

/// The keys HEC gives a meaning to; `null` reads as absent.
#[derive(Debug, Default)]
pub struct Envelope<'a> {
    pub event: Option<Field<'a>>,
    pub time: Option<Field<'a>>,
    pub host: Option<Field<'a>>,
    pub source: Option<Field<'a>>,
    pub sourcetype: Option<Field<'a>>,
    pub index: Option<Field<'a>>,
    pub fields: Option<Field<'a>>,
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Json(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Json(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Json(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Field::Json(Value::from(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Json(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Json(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Field::deserialize(d)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Field::Json)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Field::Json)
    }
}

/// An envelope key: one HEC reads, or another (skipped).
enum Key {
    Event,
    Time,
    Host,
    Source,
    Sourcetype,
    Index,
    Fields,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "event" => Key::Event,
            "time" => Key::Time,
            "host" => Key::Host,
            "source" => Key::Source,
            "sourcetype" => Key::Sourcetype,
            "index" => Key::Index,
            "fields" => Key::Fields,
            _ => Key::Other,
        })
    }
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HEC event envelope (a JSON object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut env = Envelope::default();
        while let Some(key) = map.next_key::<Key>()? {
            let slot = match key {
                Key::Event => &mut env.event,
                Key::Time => &mut env.time,
                Key::Host => &mut env.host,
                Key::Source => &mut env.source,
                Key::Sourcetype => &mut env.sourcetype,
                Key::Index => &mut env.index,
                Key::Fields => &mut env.fields,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = match map.next_value::<Field<'de>>()? {
                Field::Json(Value::Null) => None,
                v => Some(v),
            };
        }
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Envelope<'_> {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn strings_are_borrowed_unless_escaped_and_other_values_are_json() {
        let env = read(r#"{"event":"plain","host":"a\"b","time":1.5,"fields":{"k":[1,"v"]},"index":7}"#);
        assert!(matches!(env.event, Some(Field::Str(Cow::Borrowed("plain")))));
        assert!(matches!(&env.host, Some(Field::Str(Cow::Owned(h))) if h == "a\"b"));
        assert_eq!(env.time, Some(Field::Json(serde_json::json!(1.5))));
        assert_eq!(env.fields, Some(Field::Json(serde_json::json!({"k": [1, "v"]}))));
        assert_eq!(env.index, Some(Field::Json(serde_json::json!(7))));
        assert_eq!((env.source, env.sourcetype), (None, None));
    }

    #[test]
    fn last_repeated_key_wins_nulls_are_absent_and_unknown_keys_are_skipped() {
        let env = read(r#"{"event":"a","x":{"deep":[{"y":null}]},"event":{"b":[true,null,2]},"host":"h","host":null,"time":null}"#);
        assert_eq!(env.event, Some(Field::Json(serde_json::json!({"b": [true, null, 2]}))));
        assert_eq!((env.host, env.time), (None, None));
        assert!(serde_json::from_str::<Envelope>(r#"["event","a"]"#).is_err());
        assert!(serde_json::from_str::<Envelope>(r#""event""#).is_err());
        assert!(serde_json::from_str::<Envelope>(r#"{"event":"a","x":[1,}"#).is_err(), "skipped values are still checked");
    }
}
