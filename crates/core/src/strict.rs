//! Stricter JSON reading than serde's derive gives: a struct read from a JSON object only.
//! serde's derived struct impls also take a JSON array (fields by position), so `[null, null]`
//! would pass as an object whose fields are all absent; the published schemas, the validator
//! and the OpenAPI document all say "object". Everything read from a request goes through this.

use serde::Deserialize;

/// `T` read from a JSON object only: `"source": [null]` must not pass as an empty source.
pub struct ObjectOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Visitor(std::marker::PhantomData))
            .map(ObjectOnly)
    }
}

pub fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    ObjectOnly::<T>::deserialize(d).map(|ObjectOnly(t)| t)
}

pub fn opt_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<ObjectOnly<T>>::deserialize(d).map(|o| o.map(|ObjectOnly(t)| t))
}

pub fn opt_objects<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<ObjectOnly<T>>>::deserialize(d)
        .map(|o| o.map(|v| v.into_iter().map(|ObjectOnly(t)| t).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Pair {
        a: Option<u8>,
        b: Option<u8>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        #[serde(default, deserialize_with = "opt_object")]
        inner: Option<Pair>,
    }

    #[test]
    fn objects_only() {
        let pair = |text: &str| serde_json::from_str::<ObjectOnly<Pair>>(text).map(|o| o.0);
        assert_eq!(
            pair(r#"{"a": 1}"#).unwrap(),
            Pair {
                a: Some(1),
                b: None
            }
        );
        assert!(
            serde_json::from_str::<Pair>("[1, 2]").is_ok(),
            "what serde's derive takes"
        );
        assert!(pair("[1, 2]").is_err());
        assert!(pair("[]").is_err());
        let outer = |text: &str| serde_json::from_str::<Outer>(text);
        assert_eq!(outer(r#"{"inner": null}"#).unwrap(), Outer { inner: None });
        assert_eq!(outer("{}").unwrap(), Outer { inner: None });
        assert!(outer(r#"{"inner": [null, null]}"#).is_err());
        let list: Result<Option<Vec<Pair>>, _> =
            opt_objects(&mut serde_json::Deserializer::from_str("[[1]]"));
        assert!(list.is_err());
        let list: Result<Option<Vec<Pair>>, _> =
            opt_objects(&mut serde_json::Deserializer::from_str(r#"[{"b": 2}]"#));
        assert_eq!(
            list.unwrap(),
            Some(vec![Pair {
                a: None,
                b: Some(2)
            }])
        );
    }
}
