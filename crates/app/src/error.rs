//! The application layer's one error type. Front ends turn it into their own: the command
//! line into an exit status (`cli::CliError`), the server into an RFC 9457 problem.

use kroniek_core::CoreError;

/// What a use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The core refused an event, found damage, or failed.
    #[error(transparent)]
    Core(#[from] CoreError),

    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },

    /// The input makes no sense (a bad date, a malformed key or checkpoint, missing options):
    /// the caller must change it.
    #[error("{0}")]
    Invalid(String),

    /// A check failed, or a stored record could not be read as the catalogue says.
    #[error("{0}")]
    Failed(String),
}

impl AppError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppError {
        let what = what.into();
        move |source| AppError::Io { what, source }
    }
}
