//! Log set-up and the log lines other modules share.
//!
//! Text logs are coloured only on a terminal. JSON logs are one object per line with every
//! field at the top level; fields that hold lists (see [`list`]) are JSON arrays there, not
//! strings, so log pipelines can filter on them.

use std::collections::BTreeSet;
use std::fmt;
use std::io::IsTerminal;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::plan::PlannedChange;

/// Fields whose value is a list written with [`list`]: JSON logs carry them as arrays.
const LIST_FIELDS: [&str; 4] = ["clusters", "listeners", "hosted_zones", "hosts"];

/// Log line format (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber on stderr (stdout stays clean for `--output json`). The
/// level comes from `RUST_LOG` (default `info`).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Escape codes are noise in files and log collectors.
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation (tests running main logic twice) is harmless: keep the first.
    let _ = match format {
        LogFormat::Json => builder.event_format(JsonLines).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A list as one log field value: `["a","b"]` (a JSON array in JSON logs).
pub fn list<T: AsRef<str>>(items: &[T]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&items).unwrap_or_default()
}

/// A change that was made.
pub(crate) fn change_applied(planned: &PlannedChange) {
    let c = &planned.change;
    tracing::info!(
        service = %planned.service,
        action = c.action(),
        kind = c.kind().as_str(),
        resource = %c.resource(),
        reason = %planned.reason,
        change = %c,
        "applied"
    );
}

/// A change that AWS refused or that could not be sent.
pub(crate) fn change_failed(planned: &PlannedChange, error: &dyn fmt::Display) {
    let c = &planned.change;
    tracing::warn!(
        service = %planned.service,
        action = c.action(),
        kind = c.kind().as_str(),
        resource = %c.resource(),
        reason = %planned.reason,
        error = %error,
        change = %c,
        "change failed"
    );
}

/// A change a dry run would make.
pub(crate) fn change_not_made(planned: &PlannedChange) {
    let c = &planned.change;
    tracing::info!(
        service = %planned.service,
        action = c.action(),
        kind = c.kind().as_str(),
        resource = %c.resource(),
        reason = %planned.reason,
        change = %c,
        "dry run: would apply"
    );
}

/// One JSON object per event: `timestamp`, `level`, `target`, `message` and every field.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = serde_json::Map::new();
        let now = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
        fields.insert("timestamp".into(), now.into());
        let meta = event.metadata();
        fields.insert("level".into(), meta.level().as_str().into());
        fields.insert("target".into(), meta.target().into());
        event.record(&mut JsonFields {
            fields: &mut fields,
            lists: LIST_FIELDS.into_iter().collect(),
        });
        writeln!(writer, "{}", serde_json::Value::Object(fields))
    }
}

/// Collects an event's fields as JSON values.
struct JsonFields<'a> {
    fields: &'a mut serde_json::Map<String, serde_json::Value>,
    lists: BTreeSet<&'static str>,
}

impl JsonFields<'_> {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        self.fields.insert(field.name().to_string(), value);
    }
}

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        let as_list = self
            .lists
            .contains(field.name())
            .then(|| serde_json::from_str::<Vec<serde_json::Value>>(&text).ok())
            .flatten();
        match as_list {
            Some(items) => self.put(field, items.into()),
            None => self.put(field, text.into()),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A writer tests read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn json_line(log: impl FnOnce()) -> serde_json::Value {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let bytes = out.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let text = String::from_utf8(bytes).expect("utf-8 log");
        serde_json::from_str(text.trim()).expect("one JSON object")
    }

    #[test]
    fn lists_are_arrays_and_fields_are_top_level() {
        let line = json_line(|| {
            tracing::warn!(
                service = "main/web",
                clusters = %list(&["a", "b"]),
                reason = "[not a list",
                n = 3,
                "something"
            )
        });
        assert_eq!(line["message"], "something");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["service"], "main/web");
        assert_eq!(line["clusters"], serde_json::json!(["a", "b"]));
        assert_eq!(line["reason"], "[not a list");
        assert_eq!(line["n"], 3);
    }
}
