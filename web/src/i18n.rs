//! UI languages and their message catalogues.
//!
//! Each language has one TOML file per area of the interface (`i18n/<lang>/<area>.toml`);
//! a message's key is `<area>.<key>`. English is complete by construction, and a test keeps
//! French and German complete too, with the same `{placeholders}`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// A language of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English (the fallback).
    En,
    /// French.
    Fr,
    /// German.
    De,
}

impl Lang {
    /// Every language offered, in the order of the language switch.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::De];

    /// The BCP 47 code (`en`, `fr`, `de`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::De => "de",
        }
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Fr => "Français",
            Lang::De => "Deutsch",
        }
    }

    /// The language with this code (`fr`, `fr-CH`, `FR` all give French).
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next()?.trim();
        Lang::ALL
            .into_iter()
            .find(|lang| lang.code().eq_ignore_ascii_case(primary))
    }

    /// The language to answer in: the one chosen with the switch (its cookie) if any, else
    /// the best of `Accept-Language` by quality, else English.
    pub fn negotiate(chosen: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = chosen.and_then(Lang::from_code) {
            return lang;
        }
        let mut best: Option<(Lang, f32)> = None;
        for range in accept_language.unwrap_or_default().split(',') {
            let mut parts = range.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_code) else {
                continue;
            };
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((lang, quality));
            }
        }
        best.map_or(Lang::En, |(lang, _)| lang)
    }

    /// This language's messages.
    pub fn catalog(self) -> &'static Catalog {
        match self {
            Lang::En => &EN,
            Lang::Fr => &FR,
            Lang::De => &DE,
        }
    }
}

/// The messages of one language, by key.
#[derive(Debug)]
pub struct Catalog {
    messages: BTreeMap<String, String>,
    json: String,
}

impl Catalog {
    fn load(files: &[(&str, &str)]) -> Catalog {
        let mut messages = BTreeMap::new();
        for (area, source) in files {
            // The catalogues are part of the binary and checked by tests: a broken one is a
            // build defect, not a runtime condition.
            #[allow(clippy::expect_used)]
            let table: toml::Table =
                toml::from_str(source).unwrap_or_else(|e| panic!("message catalogue {area}: {e}"));
            flatten(area, &table, &mut messages);
        }
        #[allow(clippy::expect_used)]
        let json = serde_json::to_string(&messages).expect("strings serialise");
        Catalog { messages, json }
    }

    /// The message for `key`: this language's, else English, else the key itself (so a
    /// missing string shows, and a test catches it).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.messages
            .get(key)
            .or_else(|| EN.messages.get(key))
            .map_or(key, String::as_str)
    }

    /// Every key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.messages.keys().map(String::as_str)
    }

    /// The whole catalogue as a JSON object, for the pages' scripts.
    pub fn json(&self) -> &str {
        &self.json
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let key = format!("{prefix}.{key}");
        match value {
            toml::Value::String(text) => {
                out.insert(key, text.clone());
            }
            toml::Value::Table(inner) => flatten(&key, inner, out),
            other => panic!("message {key} is not a string: {other}"),
        }
    }
}

macro_rules! catalog {
    ($lang:literal: $($area:literal),+ $(,)?) => {
        LazyLock::new(|| {
            Catalog::load(&[$(($area, include_str!(concat!("../i18n/", $lang, "/", $area, ".toml")))),+])
        })
    };
}

static EN: LazyLock<Catalog> = catalog!("en": "common", "auth", "cases", "case", "share", "shares", "account", "link", "org", "history", "errors");
static FR: LazyLock<Catalog> = catalog!("fr": "common", "auth", "cases", "case", "share", "shares", "account", "link", "org", "history", "errors");
static DE: LazyLock<Catalog> = catalog!("de": "common", "auth", "cases", "case", "share", "shares", "account", "link", "org", "history", "errors");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_switch_then_quality() {
        assert_eq!(Lang::negotiate(Some("de"), Some("fr")), Lang::De);
        assert_eq!(Lang::negotiate(Some("xx"), Some("fr-CH")), Lang::Fr);
        assert_eq!(
            Lang::negotiate(None, Some("it, de;q=0.5, fr;q=0.8")),
            Lang::Fr
        );
        assert_eq!(Lang::negotiate(None, Some("de;q=0, en;q=0.1")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("es, it")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("DE-at")), Lang::De);
    }

    fn placeholders(text: &str) -> Vec<&str> {
        let mut found: Vec<&str> = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        found.sort_unstable();
        found
    }

    #[test]
    fn every_language_has_every_message_with_the_same_placeholders() {
        let english: Vec<&str> = EN.keys().collect();
        assert!(english.len() > 100, "the English catalogue loads");
        for lang in [Lang::Fr, Lang::De] {
            let catalog = lang.catalog();
            let keys: Vec<&str> = catalog.keys().collect();
            let missing: Vec<&&str> = english.iter().filter(|k| !keys.contains(k)).collect();
            let extra: Vec<&&str> = keys.iter().filter(|k| !english.contains(k)).collect();
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
            assert!(extra.is_empty(), "{lang:?} has unknown {extra:?}");
            for key in &english {
                assert_eq!(
                    placeholders(EN.get(key)),
                    placeholders(catalog.get(key)),
                    "{lang:?} {key}"
                );
                assert!(
                    !catalog.get(key).trim().is_empty(),
                    "{lang:?} {key} is empty"
                );
            }
        }
    }

    #[test]
    fn a_missing_key_shows_itself() {
        assert_eq!(Lang::Fr.catalog().get("no.such.key"), "no.such.key");
    }
}
