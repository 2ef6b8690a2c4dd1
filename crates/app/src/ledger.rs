//! Opening a ledger for a use case, and rebuilding the read models from it with progress
//! reported to the caller.

use crate::AppError;
use kroniek_core::store::Store;
use kroniek_projections::Projections;
use std::path::Path;

/// Opens the ledger in `data` for reading; refuses a folder that holds none.
pub fn open(data: &Path) -> Result<Store, AppError> {
    Ok(Store::open(data)?)
}

/// Opens the ledger in `data`, creating an empty one with the default origin if there is none
/// (what `append`, `restore`, `serve` and `token create` do).
pub fn open_or_init(data: &Path) -> Result<Store, AppError> {
    Ok(Store::open_or_init(data)?)
}

/// Every read model rebuilt from `store`, with personal data (the local admin sees it).
/// `progress(done, total)` is called every 65,536 records.
pub fn rebuild(store: &Store, progress: &mut dyn FnMut(u64, u64)) -> Result<Projections, AppError> {
    let total = store.head().count;
    let mut p = Projections::new();
    store.replay(0, |record, personal| -> Result<(), AppError> {
        p.apply(record, personal)
            .map_err(|e| AppError::Failed(e.to_string()))?;
        if record.position % 65_536 == 0 {
            progress(record.position, total);
        }
        Ok(())
    })?;
    Ok(p)
}
