//! Logging: to stderr, which is the journal under systemd. One line per event; the journal gets
//! a syslog priority prefix and no timestamps or colours of ours.

use crate::config::LogFormat;

/// "context: cause: root cause" on one line, each cause once: many error types (sqlx's, and
/// ours that wrap an io::Error) already print their source in their own message. For the
/// command line's errors, the journal and systemd's status line alike.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if line.contains(&cause) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&cause);
    }
    line
}

/// Logs go to stderr: the journal under systemd. `KLACHTD_LOG` sets the filter (default
/// `info`; complaint text and personal data are never logged at info).
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("KLACHTD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        // The journal adds its own timestamps, wants no colours, and reads the priority of a
        // line from a syslog-style "<N>" prefix (so `journalctl -p warning` works).
        LogFormat::Auto if stderr_is_journal() => {
            // Without colours on the builder too: span fields are formatted when the span opens.
            let format = tracing_subscriber::fmt::format().without_time().with_ansi(false).with_target(false);
            builder.with_ansi(false).event_format(JournalPriority(format)).try_init()
        }
        _ => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
    };
}

/// systemd sets `JOURNAL_STREAM=DEV:INODE` for the stream it connects; it is ours only if
/// stderr is still that stream (a child of a service inherits the variable, not the stream).
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else { return false };
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(m) => dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino()),
        Err(_) => false,
    }
}

/// Prefixes each log line with its syslog priority for the journal.
struct JournalPriority<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for JournalPriority<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
}
