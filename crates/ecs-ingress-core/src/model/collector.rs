//! Collected routing keys of one service, and the parsing helpers that report what is
//! wrong with them.

use std::collections::BTreeMap;

use super::intent::{IntentError, Source};

/// Longest value accepted (docker labels are unbounded; AWS tag values stop at 256).
pub const MAX_VALUE_LEN: usize = 4096;
/// Most items in a space-separated list.
pub const MAX_LIST_ITEMS: usize = 50;

/// One merged value and where it came from.
#[derive(Clone)]
pub(super) struct Value<'a> {
    pub(super) text: &'a str,
    pub(super) source: Source,
}

/// Shortens a value for an error message, at a character boundary.
pub(super) fn shorten(value: &str) -> String {
    const MAX: usize = 64;
    if value.len() <= MAX {
        return value.to_string();
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end])
}

pub(super) struct Collector<'a> {
    pub(super) prefix: &'a str,
    pub(super) values: BTreeMap<&'a str, Value<'a>>,
    pub(super) errors: Vec<IntentError>,
}

impl<'a> Collector<'a> {
    pub(super) fn error(
        &mut self,
        key: &str,
        value: Option<&Value<'_>>,
        expected: impl Into<String>,
    ) {
        self.errors.push(IntentError {
            key: format!("{}{key}", self.prefix),
            value: value.map(|v| shorten(v.text)),
            source: value.map(|v| v.source),
            expected: expected.into(),
        });
    }

    /// The value of `key`, or `None` when absent or (after reporting it) too long.
    pub(super) fn get(&mut self, key: &str) -> Option<Value<'a>> {
        let v = self.values.get(key)?.clone();
        if v.text.len() > MAX_VALUE_LEN {
            self.error(key, Some(&v), format!("at most {MAX_VALUE_LEN} characters"));
            return None;
        }
        Some(v)
    }

    /// Parses `key` with `parse`, reporting `expected` on failure.
    pub(super) fn parse<T>(
        &mut self,
        key: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let v = self.get(key)?;
        let parsed = parse(v.text.trim());
        if parsed.is_none() {
            self.error(key, Some(&v), expected);
        }
        parsed
    }

    pub(super) fn number(&mut self, key: &str, low: u32, high: u32, unit: &str) -> Option<u32> {
        // What was expected is written only for a value that is wrong: most services leave
        // most numeric keys out, and every pass computes every intent.
        let v = self.get(key)?;
        let parsed = v
            .text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (low..=high).contains(n));
        if parsed.is_none() {
            self.error(key, Some(&v), format!("expected {unit} {low}–{high}"));
        }
        parsed
    }

    /// A space-separated list whose items each pass `valid`.
    pub(super) fn list(
        &mut self,
        key: &str,
        what: &str,
        valid: impl Fn(&str) -> Option<String>,
    ) -> Option<Vec<String>> {
        let v = self.get(key)?;
        let items: Vec<&str> = v.text.split_whitespace().collect();
        if items.is_empty() {
            self.error(
                key,
                Some(&v),
                format!("expected one or more {what}, space-separated"),
            );
            return None;
        }
        if items.len() > MAX_LIST_ITEMS {
            self.error(key, Some(&v), format!("at most {MAX_LIST_ITEMS} {what}"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut bad = Vec::new();
        for item in items {
            match valid(item) {
                Some(ok) if !out.contains(&ok) => out.push(ok),
                Some(_) => {}
                None => bad.push(shorten(item)),
            }
        }
        if bad.is_empty() {
            Some(out)
        } else {
            self.error(
                key,
                Some(&v),
                format!("not valid {what}: {}", bad.join(" ")),
            );
            None
        }
    }
}
