//! The benchmark's one error type.

use kroniek_core::CoreError;

/// What a benchmark run can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The core refused or failed.
    #[error(transparent)]
    Core(#[from] CoreError),

    /// A use case of the application layer failed.
    #[error(transparent)]
    App(#[from] kroniek_app::AppError),

    /// A file, a process or a socket failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },

    /// A measurement could not be made (a step failed, a proof did not verify).
    #[error("{0}")]
    Failed(String),
}

impl BenchError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }
}
