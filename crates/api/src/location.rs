//! Where a command's ledger is: a folder (sled, the default) or a PostgreSQL database
//! (`--store postgres://…`), and opening it there.

use kroniek_core::error::CoreError;
use kroniek_core::keys::LedgerKey;
use kroniek_core::store::{key_path, OpenMode, Store, DEFAULT_ORIGIN};
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

    /// The location `--to` names: a PostgreSQL URL, else a folder.
    pub fn parse(text: &str) -> Location {
        if kroniek_postgres::is_postgres_url(text) {
            Location::Postgres(text.to_owned())
        } else {
            Location::Folder(PathBuf::from(text))
        }
    }

    /// Creates an empty ledger there with `key` as its signing key (its name the origin): the
    /// target of a copy, which keeps the ledger's identity. Refuses a place that holds a
    /// ledger, or another key.
    pub fn init_with_key(&self, key: &LedgerKey) -> Result<Store, CoreError> {
        let text = key.to_file_text();
        let other_key = |place: &str| {
            CoreError::Invalid(format!(
                "{place} already holds another signing key: copy into an empty folder or database"
            ))
        };
        match self {
            Location::Folder(dir) => {
                if Store::exists(dir) {
                    return Err(CoreError::AlreadyExists(dir.clone()));
                }
                std::fs::create_dir_all(dir)?;
                match std::fs::read_to_string(key_path(dir)) {
                    Ok(existing) if existing.trim() == text.trim() => {}
                    Ok(_) => return Err(other_key(&dir.display().to_string())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        kroniek_core::files::create_private(&key_path(dir), text.as_bytes())?;
                    }
                    Err(e) => return Err(e.into()),
                }
                Store::init(dir, &key.name)
            }
            Location::Postgres(url) => {
                use kroniek_core::store::Backend;
                let backend = kroniek_postgres::PostgresBackend::connect(url, true)?;
                match backend.read_file("signing.key")? {
                    Some(existing) if existing == text.as_bytes() => {}
                    Some(_) => return Err(other_key(&backend.describe())),
                    None => backend.write_file("signing.key", text.as_bytes())?,
                }
                Store::init_on(backend.into_backend(), &key.name)
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
