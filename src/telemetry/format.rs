//! The log line, written straight into the subscriber's buffer: one JSON
//! object per event in production, `key=value` text in development. Each
//! request runs inside [`in_request`], and every event logged while it runs
//! carries its `request_id`, without a tracing span (a span per request,
//! with its fields formatted at creation and parsed back for every event,
//! cost more than the rest of a small query; see BENCHMARKS.md).

use std::{
    fmt::{self, Write as _},
    future::Future,
};

use chrono::{Datelike, Timelike, Utc};
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

tokio::task_local! {
    static REQUEST_ID: Box<str>;
}

/// Runs `fut` as the request `id`: the events it logs name it.
pub fn in_request<F: Future>(id: Box<str>, fut: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, fut)
}

#[derive(Clone, Copy)]
pub enum Lines {
    Json,
    Text,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let json = matches!(self, Self::Json);
        if json {
            w.write_str("{\"timestamp\":\"")?;
            timestamp(&mut w)?;
            write!(w, "\",\"level\":\"{}\",\"target\":", meta.level())?;
            json_str(&mut w, meta.target())?;
        } else {
            timestamp(&mut w)?;
            write!(w, " {:>5} {}:", meta.level(), meta.target())?;
        }
        let mut fields = Fields {
            w: &mut w,
            json,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        if meta.fields().field("request_id").is_none() {
            let _ =
                REQUEST_ID.try_with(|id| fields.field("request_id", |w| json_str(w, id), &&**id));
            fields.result?;
        }
        if json {
            w.write_str("}")?;
        }
        w.write_str("\n")
    }
}

/// Now, as RFC 3339 in UTC with microseconds. The part up to the second is
/// formatted once a second per thread (`write!` of seven numbers cost 2,500
/// instructions a line in the profile); the microseconds are six digits.
fn timestamp(w: &mut impl fmt::Write) -> fmt::Result {
    thread_local! {
        static SECOND: std::cell::Cell<(i64, [u8; 20])> = const { std::cell::Cell::new((i64::MIN, [0; 20])) };
    }
    let now = Utc::now();
    let second = now.timestamp();
    let (cached, mut head) = SECOND.get();
    if cached != second {
        let mut text = String::with_capacity(20);
        write!(
            text,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
            now.year(),
            now.month(),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
        )?;
        // Years past 9999 do not fit the cache; they are written whole.
        let Ok(bytes) = <[u8; 20]>::try_from(text.as_bytes()) else {
            return write!(
                w,
                "{text}{:06}Z",
                now.timestamp_subsec_micros().min(999_999)
            );
        };
        head = bytes;
        SECOND.set((second, head));
    }
    let mut micros = now.timestamp_subsec_micros().min(999_999);
    let mut digits = [b'0'; 7];
    digits[6] = b'Z';
    for d in digits[..6].iter_mut().rev() {
        *d = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    // Both are ASCII digits and punctuation.
    w.write_str(std::str::from_utf8(&head).map_err(|_| fmt::Error)?)?;
    w.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
}

/// Writes an event's fields after the line's head.
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    json: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    /// `,"name":<json>` or ` name=<text>`.
    fn field(
        &mut self,
        name: &str,
        json: impl FnOnce(&mut Writer<'_>) -> fmt::Result,
        text: &dyn fmt::Display,
    ) {
        if self.result.is_err() {
            return;
        }
        self.result = if self.json {
            self.w
                .write_str(",")
                .and_then(|()| json_str(self.w, name))
                .and_then(|()| self.w.write_str(":"))
                .and_then(|()| json(self.w))
        } else if name == "message" {
            write!(self.w, " {text}")
        } else {
            write!(self.w, " {name}={text}")
        };
    }
}

impl tracing::field::Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field.name(), |w| json_str(w, value), &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field.name(), |w| write!(w, "{value}"), &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field.name(), |w| write!(w, "{value}"), &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field.name(), |w| write!(w, "{value}"), &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        let json = |w: &mut Writer<'_>| {
            if value.is_finite() {
                write!(w, "{value}")
            } else {
                w.write_str("null")
            }
        };
        self.field(field.name(), json, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let shown = DebugAsDisplay(value);
        let json = |w: &mut Writer<'_>| {
            w.write_str("\"")?;
            fmt::write(&mut Escaped(w), format_args!("{value:?}"))?;
            w.write_str("\"")
        };
        self.field(field.name(), json, &shown);
    }
}

struct DebugAsDisplay<'a>(&'a dyn fmt::Debug);

impl fmt::Display for DebugAsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

fn json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_str("\"")?;
    Escaped(w).write_str(s)?;
    w.write_str("\"")
}

/// Escapes what JSON strings may not hold raw.
struct Escaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f | 0x7f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::{fmt::MakeWriter, prelude::*};

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn lines(format: Lines, log: impl FnOnce()) -> String {
        let buf = Buf::default();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(format)
                .with_writer(buf.clone()),
        );
        tracing::subscriber::with_default(subscriber, log);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn json_lines_parse_and_keep_every_field() {
        let out = lines(Lines::Json, || {
            tracing::info!(
                n = 3_u64,
                neg = -2_i64,
                ok = true,
                ms = 1.5,
                s = "a\"b\\c\nd\u{1}",
                "hi {}",
                "there"
            );
            tracing::warn!(error = %"bad: \"x\"", "failed");
            tracing::info!(x = f64::NAN);
        });
        let rows: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 3, "{out}");
        assert_eq!(rows[0]["level"], "INFO");
        assert_eq!(rows[0]["target"], module_path!());
        assert_eq!(rows[0]["message"], "hi there");
        assert_eq!(rows[0]["n"], 3);
        assert_eq!(rows[0]["neg"], -2);
        assert_eq!(rows[0]["ok"], true);
        assert_eq!(rows[0]["ms"], 1.5);
        assert_eq!(rows[0]["s"], "a\"b\\c\nd\u{1}");
        assert!(rows[0]["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(rows[1]["error"], "bad: \"x\"");
        assert_eq!(rows[1]["level"], "WARN");
        assert!(rows[2]["x"].is_null());
        assert!(rows.iter().all(|r| r.get("request_id").is_none()));
    }

    #[tokio::test]
    async fn events_in_a_request_name_it_once() {
        let buf = Buf::default();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(Lines::Json)
                .with_writer(buf.clone()),
        );
        let _guard = tracing::subscriber::set_default(subscriber);
        in_request("req-1".into(), async {
            tracing::info!("inside");
            tracing::info!(request_id = "req-1", "the access line names it itself");
        })
        .await;
        tracing::info!("outside");
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(rows.len(), 3, "{out}");
        for row in &rows[..2] {
            assert_eq!(row.matches("\"request_id\":\"req-1\"").count(), 1, "{row}");
        }
        assert!(!rows[2].contains("request_id"), "{out}");
    }

    #[test]
    fn timestamps_are_rfc3339_with_microseconds_and_follow_the_clock() {
        let mut first = String::new();
        timestamp(&mut first).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let mut second = String::new();
        timestamp(&mut second).unwrap();
        for t in [&first, &second] {
            let parsed = chrono::DateTime::parse_from_rfc3339(t).unwrap();
            assert_eq!(t.len(), "2026-12-02T18:00:00.000000Z".len(), "{t}");
            let off = (Utc::now() - parsed.with_timezone(&Utc)).num_seconds();
            assert!((0..5).contains(&off), "{t} is {off} s off");
        }
        assert!(second > first, "{first} then {second}");
        assert_ne!(first[..19], second[..19], "the cached second moved on");
    }

    #[test]
    fn text_lines_read_as_key_value() {
        let out = lines(Lines::Text, || {
            tracing::info!(status = 200_u64, route = "/graphql", "done")
        });
        assert!(out.ends_with(" done status=200 route=/graphql\n"), "{out}");
        assert!(out.contains(" INFO "), "{out}");
    }
}
