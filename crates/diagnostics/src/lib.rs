//! Fathom's log file and the diagnostics report people paste into a bug report.
//!
//! [`start_logging`] sends the `log` crate's records to a file in the platform's log folder
//! (`AppDirs::logs`, file `fathom_rCURRENT.log`), rotated by size so it never grows without bound, and to standard error; it
//! also logs panics (with where and why) before the default hook runs, so a crash leaves its trace
//! in the file. [`Report`] is what "Copy diagnostics" copies: versions, the system, memory, the
//! device, the model, the library's size and the log's tail. It holds counts and names only, never
//! the text of a document; the caller fills it from what the app knows.
//!
//! ```no_run
//! let logs = std::path::Path::new("/tmp/fathom-logs");
//! let _guard = fathom_diagnostics::start_logging(logs, "info", true).expect("log folder");
//! log::info!("started");
//! let tail = fathom_diagnostics::log_tail(logs, 50);
//! assert!(tail.contains("started"));
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use flexi_logger::{
    Cleanup, Criterion, Duplicate, FileSpec, Logger, LoggerHandle, Naming, WriteMode,
};

/// The log files' name in the log folder: flexi_logger writes `fathom_rCURRENT.log` and renames it
/// to `fathom_r00000.log`, `fathom_r00001.log`, … when it rotates.
pub const LOG_BASENAME: &str = "fathom";
/// A file is rotated past this size; the newest few rotated files are kept.
pub const MAX_LOG_BYTES: u64 = 2_000_000;
pub const KEEP_ROTATED: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum DiagnosticsError {
    #[error("cannot write Fathom's log in {dir}: {reason}")]
    Logging { dir: String, reason: String },
}

/// Keeps the log running; flushes it when dropped.
pub struct LogGuard(LoggerHandle);

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.0.flush();
    }
}

/// Starts logging to [`log_file`] in `dir` (rotated past [`MAX_LOG_BYTES`], [`KEEP_ROTATED`] old
/// files kept), and to standard error too when `echo`, at `spec` unless `RUST_LOG` says otherwise;
/// and logs panics. Call once per process, first thing.
pub fn start_logging(dir: &Path, spec: &str, echo: bool) -> Result<LogGuard, DiagnosticsError> {
    let fail = |reason: String| DiagnosticsError::Logging {
        dir: dir.display().to_string(),
        reason,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let handle = Logger::try_with_env_or_str(spec)
        .map_err(|e| fail(e.to_string()))?
        .log_to_file(
            FileSpec::default()
                .directory(dir)
                .basename(LOG_BASENAME)
                .suppress_timestamp(),
        )
        .append()
        .rotate(
            Criterion::Size(MAX_LOG_BYTES),
            Naming::Numbers,
            Cleanup::KeepLogFiles(KEEP_ROTATED),
        )
        .duplicate_to_stderr(if echo {
            Duplicate::All
        } else {
            Duplicate::None
        })
        .format_for_files(flexi_logger::detailed_format)
        // Each record reaches the file when it is logged: a crash right after loses nothing.
        .write_mode(WriteMode::Direct)
        .start()
        .map_err(|e| fail(e.to_string()))?;
    log_panics();
    Ok(LogGuard(handle))
}

/// Panics go to the log (message, place, thread) before the default hook prints them.
fn log_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        log::error!(
            "panic in thread {thread} at {place}: {what}\n{}",
            std::backtrace::Backtrace::force_capture()
        );
        log::logger().flush();
        previous(info);
    }));
}

/// The log file that is being written.
pub fn log_file(dir: &Path) -> PathBuf {
    dir.join(format!("{LOG_BASENAME}_rCURRENT.log"))
}

/// The last `lines` lines of the current log file ("" when there is none).
pub fn log_tail(dir: &Path, lines: usize) -> String {
    let text = std::fs::read(log_file(dir)).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What "Copy diagnostics" copies. Every field is a fact the app already shows somewhere; none is
/// the content of a document or a conversation, nor a token.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub app_version: String,
    /// `linux x86_64`, `macos aarch64`.
    pub platform: String,
    /// The OS by name and version, as the system reports it.
    pub os: String,
    pub memory: String,
    /// The compute device, and why it cannot run models if it cannot.
    pub device: String,
    pub model: String,
    pub library: String,
    pub semantic: String,
    /// `name: value` lines of settings, secrets left out by the caller.
    pub settings: Vec<(String, String)>,
    pub data_dir: String,
    pub log_dir: String,
    pub log_tail: String,
}

impl Report {
    /// Plain text, one fact a line, the log's tail last.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Fathom {} ({})", self.app_version, self.platform);
        for (k, v) in [
            ("OS", &self.os),
            ("Memory", &self.memory),
            ("Device", &self.device),
            ("Model", &self.model),
            ("Library", &self.library),
            ("Semantic search", &self.semantic),
            ("Data", &self.data_dir),
            ("Logs", &self.log_dir),
        ] {
            let _ = writeln!(s, "{k}: {v}");
        }
        for (k, v) in &self.settings {
            let _ = writeln!(s, "Setting {k}: {v}");
        }
        let _ = writeln!(s, "--- last lines of the log ---");
        s.push_str(&self.log_tail);
        if !s.ends_with('\n') {
            s.push('\n');
        }
        s
    }
}
