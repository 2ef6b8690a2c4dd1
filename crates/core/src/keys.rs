//! The ledger's Ed25519 signing key and its C2SP `signed-note` names.
//!
//! The key file holds one line in the note format that Go's `golang.org/x/mod/sumdb/note`
//! and other C2SP tools read: `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`. The key
//! ID is the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key); the verifier key is
//! `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`. Step 4 signs checkpoints with it.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

/// The key ID of a C2SP signed-note key: SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4].
pub fn key_id(name: &str, kind: u8, public: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, kind]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// Signature type of Ed25519 in C2SP signed notes.
pub const ED25519_TYPE: u8 = 0x01;

/// The ledger's signing key and the name (the checkpoint origin) it signs under.
#[derive(Clone)]
pub struct LedgerKey {
    pub name: String,
    pub signing: SigningKey,
}

impl std::fmt::Debug for LedgerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("LedgerKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// True for a key name (origin) that C2SP allows: non-empty, no spaces, no `+`, printable.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic() && c != '+')
}

impl LedgerKey {
    /// A key from a 32-byte seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> LedgerKey {
        LedgerKey {
            name: name.to_owned(),
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The 4-byte key ID of C2SP signed notes.
    pub fn key_id(&self) -> [u8; 4] {
        key_id(
            &self.name,
            ED25519_TYPE,
            self.signing.verifying_key().as_bytes(),
        )
    }

    /// `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`.
    pub fn verifier_key(&self) -> String {
        verifier_key_text(&self.name, ED25519_TYPE, &self.signing)
    }

    /// The key file's text.
    pub fn to_file_text(&self) -> String {
        key_file_text(&self.name, ED25519_TYPE, &self.signing)
    }

    /// Reads a key file's text.
    pub fn from_file_text(text: &str) -> Result<LedgerKey, String> {
        let (name, seed) = parse_key_file(text, ED25519_TYPE)?;
        Ok(LedgerKey::from_seed(&name, seed))
    }
}

/// `<name>+<hex key ID>+<base64(type ‖ public key)>` of a signing key.
pub(crate) fn verifier_key_text(name: &str, kind: u8, key: &SigningKey) -> String {
    let public = key.verifying_key();
    let mut body = vec![kind];
    body.extend_from_slice(public.as_bytes());
    let id = key_id(name, kind, public.as_bytes());
    format!("{name}+{}+{}", crate::types::hex(&id), BASE64.encode(body))
}

/// A private key file: `PRIVATE+KEY+<name>+<hex key ID>+<base64(type ‖ seed)>` (the format of
/// Go's golang.org/x/mod/sumdb/note).
pub(crate) fn key_file_text(name: &str, kind: u8, key: &SigningKey) -> String {
    let mut body = vec![kind];
    body.extend_from_slice(key.as_bytes());
    let id = key_id(name, kind, key.verifying_key().as_bytes());
    format!(
        "PRIVATE+KEY+{name}+{}+{}\n",
        crate::types::hex(&id),
        BASE64.encode(body)
    )
}

/// Reads a private key file of signature type `kind`: its name and seed, the ID checked.
pub(crate) fn parse_key_file(text: &str, kind: u8) -> Result<(String, [u8; 32]), String> {
    let rest = text
        .trim()
        .strip_prefix("PRIVATE+KEY+")
        .ok_or("the key file does not start with PRIVATE+KEY+")?;
    // The name and the hex ID hold no `+`; base64 may.
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("the key file is not PRIVATE+KEY+<name>+<id>+<key>".into());
    };
    let bytes = BASE64
        .decode(body)
        .map_err(|e| format!("the key is not base64: {e}"))?;
    let seed: [u8; 32] = match bytes.split_first() {
        Some((k, seed)) if *k == kind => seed.try_into().map_err(|_| "the key is not 32 bytes")?,
        _ => return Err(format!("the key is not of signature type 0x{kind:02x}")),
    };
    let public = SigningKey::from_bytes(&seed).verifying_key();
    if crate::types::hex(&key_id(name, kind, public.as_bytes())) != id {
        return Err("the key ID in the key file does not match the key".into());
    }
    Ok((name.to_owned(), seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_and_verifier_shape() {
        let key = LedgerKey::from_seed("ledger.example-party.nl/kroniek", [42; 32]);
        let back = LedgerKey::from_file_text(&key.to_file_text()).unwrap();
        assert_eq!(back.signing.as_bytes(), key.signing.as_bytes());
        assert_eq!(back.name, key.name);
        let vkey = key.verifier_key();
        let parts: Vec<&str> = vkey.splitn(3, '+').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "ledger.example-party.nl/kroniek");
        assert_eq!(parts[1].len(), 8);
        assert!(LedgerKey::from_file_text("PRIVATE+KEY+x+00000000+AAAA").is_err());
    }
}
