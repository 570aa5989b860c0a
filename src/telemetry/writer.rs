//! Where log lines go: a shared buffer that a background thread writes to
//! stderr every [`FLUSH_EVERY`], instead of one `write(2)` per line under
//! stderr's lock. Under load that lock was the server's most contended one
//! (the workers took turns at it for every access line) and the write its
//! only syscall beyond the socket's (BENCHMARKS.md). Warnings and errors are
//! written at once, with everything before them, and so is a buffer that
//! grows past [`MAX_BUFFERED`]; [`flush`] runs at exit and on a panic. What a
//! SIGKILL can take is the last [`FLUSH_EVERY`] of info lines.

use std::{
    io::{self, Write},
    sync::{Mutex, OnceLock},
    time::Duration,
};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
pub const MAX_BUFFERED: usize = 1 << 20;

/// Lines not yet written, and the output, locked in that order by [`flush`]
/// so that chunks reach it in the order they were logged.
struct Shared {
    pending: Mutex<Vec<u8>>,
    out: Mutex<Box<dyn Write + Send>>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// The writer for the fmt layer; starts the flushing thread on first use.
#[derive(Clone, Copy)]
pub struct Buffered {
    shared: &'static Shared,
}

impl Buffered {
    /// Buffered lines to stderr (once per process: later calls share it).
    pub fn stderr() -> Self {
        Self::to(Box::new(io::stderr()))
    }

    fn to(out: Box<dyn Write + Send>) -> Self {
        let mut started = false;
        let shared = SHARED.get_or_init(|| {
            started = true;
            Shared {
                pending: Mutex::new(Vec::with_capacity(64 * 1024)),
                out: Mutex::new(out),
            }
        });
        if started {
            let _ = std::thread::Builder::new()
                .name("log-flush".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(FLUSH_EVERY);
                        flush();
                    }
                });
        }
        Self { shared }
    }
}

/// Writes every buffered line now.
pub fn flush() {
    if let Some(shared) = SHARED.get() {
        shared.flush();
    }
}

impl Shared {
    fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let chunk = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.is_empty() {
                return;
            }
            std::mem::replace(&mut *pending, Vec::with_capacity(64 * 1024))
        };
        // Nowhere to report a failing stderr; the lines are dropped.
        let _ = out.write_all(&chunk);
        let _ = out.flush();
    }
}

/// One event's line: appended to the buffer; written out when it drops if
/// the event is a warning or an error, or the buffer is full.
pub struct Line {
    shared: &'static Shared,
    urgent: bool,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        pending.extend_from_slice(bytes);
        self.urgent |= pending.len() > MAX_BUFFERED;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.urgent {
            self.shared.flush();
        }
    }
}

impl<'a> MakeWriter<'a> for Buffered {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            shared: self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        Line {
            shared: self.shared,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tracing_subscriber::{fmt, prelude::*};

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn lines(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| l.split_whitespace().last().unwrap_or_default().to_owned())
                .collect()
        }
    }

    #[test]
    fn info_waits_for_a_flush_warnings_and_a_full_buffer_go_at_once_in_order() {
        let sink = Sink::default();
        // A buffer of this test's own, without the flushing thread.
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            pending: Mutex::new(Vec::new()),
            out: Mutex::new(Box::new(sink.clone())),
        }));
        let subscriber = tracing_subscriber::registry().with(
            fmt::layer()
                .without_time()
                .with_ansi(false)
                .with_writer(Buffered { shared }),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("one");
            assert!(sink.lines().is_empty(), "an info line waits");
            tracing::warn!("two");
            assert_eq!(
                sink.lines(),
                ["one", "two"],
                "a warning takes what came before"
            );
            tracing::info!("three");
            shared.flush();
            assert_eq!(sink.lines(), ["one", "two", "three"]);
            let big = "x".repeat(MAX_BUFFERED);
            tracing::info!("{big}");
            assert_eq!(sink.lines().len(), 4, "a full buffer is written at once");
        });
    }
}
