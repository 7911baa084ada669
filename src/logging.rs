//! Logging setup: text or JSON lines to standard error, or syslog.
//!
//! Decision logs carry structured fields (route table, CIDR, targets, reason) so that both
//! formats can be grepped or parsed. `AWSNYCAST_LOG` (an `EnvFilter` directive) overrides
//! the level chosen by `-debug`.

use std::ffi::CString;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Installs the global subscriber. Fails only if syslog cannot be opened.
pub fn init(debug: bool, format: LogFormat, syslog: bool) -> Result<(), String> {
    let default = if debug { "awsnycast=debug,info" } else { "info" };
    let filter = EnvFilter::try_from_env("AWSNYCAST_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if syslog {
        // The identity must outlive the logger; a process-lifetime leak of a few bytes.
        let identity: &'static std::ffi::CStr = Box::leak(
            CString::new("awsnycast")
                .map_err(|e| e.to_string())?
                .into_boxed_c_str(),
        );
        let (options, facility) = (syslog_tracing::Options::LOG_PID, syslog_tracing::Facility::Daemon);
        let writer = syslog_tracing::Syslog::new(identity, options, facility)
            .ok_or_else(|| "syslog is already open in this process".to_owned())?;
        // syslog adds its own timestamp and level prefix handling.
        match format {
            LogFormat::Json => builder.json().without_time().with_writer(writer).init(),
            LogFormat::Text => builder.with_ansi(false).without_time().with_writer(writer).init(),
        }
    } else {
        let writer = std::io::stderr;
        match format {
            LogFormat::Json => builder.json().with_writer(writer).init(),
            // Colour only for a person at a terminal; journald and files get plain text.
            LogFormat::Text => builder
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(writer)
                .init(),
        }
    }
    Ok(())
}
