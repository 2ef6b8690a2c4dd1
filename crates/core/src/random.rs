//! Randomness from the operating system: salts, event ids, tokens, temporary file names.

use crate::error::CoreError;

/// A fresh random 32 bytes from the operating system.
pub fn random32() -> Result<[u8; 32], CoreError> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b)
        .map_err(|e| CoreError::Io(std::io::Error::other(e.to_string())))?;
    Ok(b)
}
