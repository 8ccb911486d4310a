//! The layering of defaults, the TOML file and the environment.
//!
//! The file and the `CASEVAULT__…` variables are merged into one tree of [`Node`]s (an
//! environment variable replaces whatever the file says at its path), and [`Settings`] is
//! deserialized from that tree; fields absent from both keep their defaults. Environment
//! values are strings, so the tree's deserializer parses them into whatever type the field
//! asks for (`"9443"` into a `u16`, `"true"` into a `bool`), which a plain TOML value could
//! not do. `serde_path_to_error` supplies the dotted name of a failing setting.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::value::{Error as DeError, MapDeserializer, StringDeserializer};
use serde::de::{self, Error as _, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::{ConfigError, Settings};

/// The prefix of environment variables read as settings.
pub const ENV_PREFIX: &str = "CASEVAULT__";

/// Reads the file (if any), overlays the environment and deserializes the settings.
pub(super) fn merge(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let mut root = match file {
        Some(path) => read_file(path)?,
        None => Node::Table(BTreeMap::new()),
    };
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    for (name, value) in vars {
        let path = env_path(&name)?;
        root.insert(&path, Node::Env(value));
    }
    serde_path_to_error::deserialize(root).map_err(|err| {
        let setting = err.path().to_string();
        ConfigError::invalid(setting, err.into_inner().to_string())
    })
}

fn read_file(path: &Path) -> Result<Node, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|err| ConfigError::Syntax {
        path: path.to_owned(),
        message: err.to_string(),
    })?;
    if let Some(toml::Value::Table(security)) = table.get("security")
        && security.contains_key("master_key")
    {
        return Err(ConfigError::invalid(
            "security.master_key",
            "may only come from the environment (CASEVAULT__SECURITY__MASTER_KEY); \
             in a file, use security.master_key_file",
        ));
    }
    Ok(Node::from_toml(toml::Value::Table(table)))
}

/// `CASEVAULT__HTTP__PORT` → `["http", "port"]`.
fn env_path(name: &str) -> Result<Vec<String>, ConfigError> {
    let rest = &name[ENV_PREFIX.len()..];
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::invalid(
            name,
            "environment variable names are CASEVAULT__SECTION__KEY, \
             with single words between double underscores",
        ));
    }
    Ok(path)
}

/// One level of the merged settings tree.
#[derive(Debug)]
enum Node {
    /// A table (section) from the file or created by an environment variable.
    Table(BTreeMap<String, Node>),
    /// A non-table value from the TOML file.
    Value(toml::Value),
    /// A value from the environment, parsed on demand.
    Env(String),
}

impl Node {
    fn from_toml(value: toml::Value) -> Self {
        match value {
            toml::Value::Table(table) => Node::Table(
                table
                    .into_iter()
                    .map(|(k, v)| (k, Node::from_toml(v)))
                    .collect(),
            ),
            other => Node::Value(other),
        }
    }

    /// Sets `path` to `value`, creating tables on the way and replacing non-tables.
    fn insert(&mut self, path: &[String], value: Node) {
        let Some((first, rest)) = path.split_first() else {
            *self = value;
            return;
        };
        if !matches!(self, Node::Table(_)) {
            *self = Node::Table(BTreeMap::new());
        }
        if let Node::Table(map) = self {
            let child = map
                .entry(first.clone())
                .or_insert_with(|| Node::Table(BTreeMap::new()));
            child.insert(rest, value);
        }
    }
}

impl<'de> IntoDeserializer<'de, DeError> for Node {
    type Deserializer = Node;

    fn into_deserializer(self) -> Node {
        self
    }
}

/// Parses an environment string into the number or boolean a field expects.
macro_rules! parse_env {
    ($($method:ident => $visit:ident: $ty:ty, $what:literal;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self {
                Node::Env(s) => match s.trim().parse::<$ty>() {
                    Ok(v) => visitor.$visit(v),
                    Err(_) => Err(DeError::custom(format!("cannot read {s:?} as {}", $what))),
                },
                other => other.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Table(map) => visitor.visit_map(MapDeserializer::new(map.into_iter())),
            Node::Value(value) => value.deserialize_any(visitor).map_err(DeError::custom),
            Node::Env(s) => visitor.visit_string(s),
        }
    }

    parse_env! {
        deserialize_bool => visit_bool: bool, "true or false";
        deserialize_u8 => visit_u8: u8, "an integer from 0 to 255";
        deserialize_u16 => visit_u16: u16, "an integer from 0 to 65535";
        deserialize_u32 => visit_u32: u32, "an integer from 0 to 4294967295";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "an integer";
        deserialize_i64 => visit_i64: i64, "an integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self {
            Node::Env(s) => {
                let access: StringDeserializer<DeError> = s.into_deserializer();
                visitor.visit_enum(access)
            }
            Node::Value(value) => value
                .deserialize_enum(name, variants, visitor)
                .map_err(DeError::custom),
            table @ Node::Table(_) => table.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple tuple_struct
        map struct identifier
    }
}
