//! One error type for the whole crate. Every variant says what went wrong,
//! where (file, line/position) and, where possible, what to do about it.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong. `Input` and `Usage` errors are the user's to fix
/// (exit code 2); the rest are internal or environmental (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input data: names the file, the position and what to do.
    #[error("{}{}: {msg}", path.display(), pos.as_deref().map(|p| format!(":{p}")).unwrap_or_default())]
    Input {
        /// The offending file (or folder).
        path: PathBuf,
        /// Line, entry or dataset inside the file, when known.
        pos: Option<String>,
        /// What is wrong and what to do next.
        msg: String,
    },
    /// The data cannot be analysed as given (e.g. nothing left after filtering).
    #[error("{0}")]
    Data(String),
    /// Bad combination of parameters or options.
    #[error("{0}")]
    Usage(String),
    /// The job would not fit in memory or exceeds a documented limit.
    #[error("{0}")]
    Resources(String),
    /// Reading or writing failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A numerical failure that should not happen (a bug or extreme input).
    #[error("numerical failure: {0}")]
    Numeric(String),
    /// The run was stopped by its driver (Ctrl-C, KeyboardInterrupt).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// An input error at `pos` (e.g. "line 12") in `path`.
    pub fn input(
        path: impl Into<PathBuf>,
        pos: impl Into<Option<String>>,
        msg: impl Into<String>,
    ) -> Self {
        Error::Input {
            path: path.into(),
            pos: pos.into(),
            msg: msg.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Process exit code for this error: 2 for the user's input or usage, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. } | Error::Data(_) | Error::Usage(_) | Error::Resources(_) => 2,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => 2,
            Error::Interrupted => 130,
            _ => 1,
        }
    }
}
