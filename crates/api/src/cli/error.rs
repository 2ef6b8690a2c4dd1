//! The command line's one error type, and the exit status each error maps to.

use kroniek_core::CoreError;

/// What a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The core refused or failed.
    #[error(transparent)]
    Core(#[from] CoreError),

    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },

    /// The arguments make no sense together.
    #[error("{0}")]
    Usage(String),

    /// A check failed (verification, refusals already printed): exit status 1.
    #[error("{0}")]
    Failed(String),
}

impl From<kroniek_app::AppError> for CliError {
    fn from(e: kroniek_app::AppError) -> CliError {
        use kroniek_app::AppError;
        match e {
            AppError::Core(e) => CliError::Core(e),
            AppError::Io { what, source } => CliError::Io { what, source },
            AppError::Invalid(why) => CliError::Usage(why),
            AppError::Failed(why) => CliError::Failed(why),
        }
    }
}

impl CliError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }

    /// The exit status: 1 for refusals and failed checks, 2 for usage and I/O errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Failed(_)
            | CliError::Core(CoreError::Refused(_))
            | CliError::Core(CoreError::Damaged { .. }) => 1,
            _ => 2,
        }
    }
}
