//! Where a command's ledger is: a folder (sled, the default) or a PostgreSQL database
//! (`--store postgres://…`), and opening it there.

use kroniek_core::error::CoreError;
use kroniek_core::store::{OpenMode, Store, DEFAULT_ORIGIN};
use std::path::{Path, PathBuf};

/// A ledger's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder holding a sled database (`--data`).
    Folder(PathBuf),
    /// A PostgreSQL database (`--store postgres://…`), by its connection URL.
    Postgres(String),
}

impl Location {
    /// The location `--store` names when given (it must be a `postgres://` URL), else the
    /// folder `--data`.
    pub fn from_options(data: &Path, store: Option<&str>) -> Result<Location, CoreError> {
        match store {
            None => Ok(Location::Folder(data.to_owned())),
            Some(url) if kroniek_postgres::is_postgres_url(url) => {
                Ok(Location::Postgres(url.to_owned()))
            }
            Some(other) => Err(CoreError::Invalid(format!(
                "--store {other}: give a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE), or leave --store out to use the folder --data"
            ))),
        }
    }

    /// Whether a command that creates the ledger here may remove it again when it fails
    /// (the folder does not exist yet; never a database).
    pub fn is_new(&self) -> bool {
        match self {
            Location::Folder(dir) => !dir.exists(),
            Location::Postgres(_) => false,
        }
    }

    /// Opens the ledger there.
    pub fn open(&self) -> Result<Store, CoreError> {
        self.open_with(OpenMode::Normal)
    }

    /// Opens the ledger there in `mode`.
    pub fn open_with(&self, mode: OpenMode) -> Result<Store, CoreError> {
        match self {
            Location::Folder(dir) => Store::open_with(dir, mode),
            Location::Postgres(url) => {
                let backend = kroniek_postgres::PostgresBackend::connect(url, false)?;
                Store::open_on(backend.into_backend(), mode)
            }
        }
    }

    /// Creates a ledger there with `origin`.
    pub fn init(&self, origin: &str) -> Result<Store, CoreError> {
        match self {
            Location::Folder(dir) => Store::init(dir, origin),
            Location::Postgres(url) => {
                let backend = kroniek_postgres::PostgresBackend::connect(url, true)?;
                Store::init_on(backend.into_backend(), origin)
            }
        }
    }

    /// Opens the ledger there, or creates one with the default origin when there is none.
    pub fn open_or_init(&self) -> Result<Store, CoreError> {
        match self {
            Location::Folder(dir) => Store::open_or_init(dir),
            Location::Postgres(url) => {
                let backend = kroniek_postgres::PostgresBackend::connect(url, true)?;
                match Store::open_on(backend.clone().into_backend(), OpenMode::Normal) {
                    Err(CoreError::NoLedger(_)) => {
                        Store::init_on(backend.into_backend(), DEFAULT_ORIGIN)
                    }
                    other => other,
                }
            }
        }
    }

    /// Removes a ledger this command created and then could not fill (a folder; a database
    /// keeps its empty ledger, which a retry uses).
    pub fn discard_new(&self) {
        if let Location::Folder(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Folder(dir) => write!(f, "{}", dir.display()),
            Location::Postgres(url) => write!(f, "{}", kroniek_postgres::describe(url)),
        }
    }
}
