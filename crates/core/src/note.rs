//! C2SP signed notes, transparency-log checkpoints and Ed25519 cosignatures.
//!
//! - `signed-note`: text ending in a newline, a blank line, then signature lines
//!   `— <key name> base64(key ID ‖ signature)`; key ID = SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4].
//! - `tlog-checkpoint`: the note text is `origin\nsize\nbase64(root)\n` (no extension lines).
//! - `tlog-cosignature` (Ed25519, type 0x04): the signature is over
//!   `cosignature/v1\ntime <T>\n` followed by the checkpoint text, and the signature bytes are
//!   key ID ‖ T (u64 big-endian) ‖ Ed25519 signature.
//! - Verifier keys: `<name>+<hex key ID>+base64(type ‖ public key)`.

use crate::keys::LedgerKey;
use crate::merkle::TreeHash;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Signature type of C2SP Ed25519 cosignatures.
pub const COSIGNATURE_TYPE: u8 = 0x04;
/// Signature type of plain Ed25519 note signatures.
pub const ED25519_TYPE: u8 = crate::keys::ED25519_TYPE;

const DASH: &str = "\u{2014} ";

pub use crate::keys::key_id;

/// A checkpoint: the log's origin, its size, and the root at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: TreeHash,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Reads a checkpoint note text (extension lines are refused: kroniek writes none).
    pub fn parse_body(text: &str) -> Result<Checkpoint, String> {
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or("a checkpoint text ends in a newline")?
            .split('\n')
            .collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(format!(
                "a checkpoint has three lines (origin, size, root), not {}",
                lines.len()
            ));
        };
        if origin.is_empty() {
            return Err("the checkpoint's origin line is empty".into());
        }
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| *size == "0" || !size.starts_with('0'))
            .ok_or_else(|| format!("\"{size}\" is not a tree size"))?;
        let root: TreeHash = BASE64
            .decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("\"{root}\" is not a base64 SHA-256 root"))?;
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
        })
    }
}

/// One signature line: the key name and the decoded signature bytes (key ID first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLine {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl SignatureLine {
    /// The line, with its newline.
    pub fn to_line(&self) -> String {
        format!("{DASH}{} {}\n", self.name, BASE64.encode(&self.bytes))
    }

    /// The key ID (the first four bytes).
    pub fn key_id(&self) -> Option<[u8; 4]> {
        self.bytes.get(..4).and_then(|b| b.try_into().ok())
    }
}

/// A signed note: its text (with the final newline) and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<SignatureLine>,
}

impl Note {
    /// Reads a signed note.
    pub fn parse(s: &str) -> Result<Note, String> {
        if s.chars().any(|c| c < ' ' && c != '\n') {
            return Err("a note holds no control characters other than newline".into());
        }
        let split = s
            .rfind("\n\n")
            .ok_or("a note has its text, a blank line, and signature lines")?;
        let text = &s[..split + 1];
        let mut signatures = Vec::new();
        for line in s[split + 2..].split_terminator('\n') {
            let rest = line
                .strip_prefix(DASH)
                .ok_or_else(|| format!("\"{line}\" is not a signature line (— name signature)"))?;
            let (name, sig) = rest
                .split_once(' ')
                .ok_or_else(|| format!("\"{line}\" has no signature"))?;
            let bytes = BASE64
                .decode(sig)
                .map_err(|_| format!("the signature of {name} is not base64"))?;
            if name.is_empty() || name.contains('+') || bytes.len() < 5 {
                return Err(format!("\"{line}\" is not a valid signature line"));
            }
            signatures.push(SignatureLine {
                name: name.to_owned(),
                bytes,
            });
        }
        if signatures.is_empty() {
            return Err("the note has no signature".into());
        }
        if !s.ends_with('\n') {
            return Err("a note ends in a newline".into());
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note as text.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out
    }

    /// Adds signature lines not already present.
    pub fn add(&mut self, lines: impl IntoIterator<Item = SignatureLine>) {
        for l in lines {
            if !self.signatures.contains(&l) {
                self.signatures.push(l);
            }
        }
    }
}

/// Signs `text` with the ledger's key: an Ed25519 note signature (type 0x01).
pub fn sign(key: &LedgerKey, text: &str) -> SignatureLine {
    let sig = key.signing.sign(text.as_bytes());
    let mut bytes = key.key_id().to_vec();
    bytes.extend_from_slice(&sig.to_bytes());
    SignatureLine {
        name: key.name.clone(),
        bytes,
    }
}

/// The message an Ed25519 cosignature signs.
fn cosigned_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A cosigner's key (a witness: the accountant, the kascommissie).
#[derive(Clone)]
pub struct CosignerKey {
    pub name: String,
    pub signing: SigningKey,
}

impl std::fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("CosignerKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CosignerKey {
    /// A key from a 32-byte seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> CosignerKey {
        CosignerKey {
            name: name.to_owned(),
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The key ID (type 0x04).
    pub fn key_id(&self) -> [u8; 4] {
        key_id(
            &self.name,
            COSIGNATURE_TYPE,
            self.signing.verifying_key().as_bytes(),
        )
    }

    /// `<name>+<hex key ID>+base64(0x04 ‖ public key)`.
    pub fn verifier_key(&self) -> String {
        crate::keys::verifier_key_text(&self.name, COSIGNATURE_TYPE, &self.signing)
    }

    /// The key file: `PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 ‖ seed)`.
    pub fn to_file_text(&self) -> String {
        crate::keys::key_file_text(&self.name, COSIGNATURE_TYPE, &self.signing)
    }

    /// Reads a key file.
    pub fn from_file_text(text: &str) -> Result<CosignerKey, String> {
        let (name, seed) = crate::keys::parse_key_file(text, COSIGNATURE_TYPE)?;
        Ok(CosignerKey::from_seed(&name, seed))
    }

    /// Cosigns a checkpoint text at `timestamp` (POSIX seconds).
    pub fn cosign(&self, text: &str, timestamp: u64) -> SignatureLine {
        let sig = self
            .signing
            .sign(cosigned_message(text, timestamp).as_bytes());
        let mut bytes = self.key_id().to_vec();
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&sig.to_bytes());
        SignatureLine {
            name: self.name.clone(),
            bytes,
        }
    }
}

/// A verifier key: a log's (type 0x01) or a cosigner's (type 0x04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub id: [u8; 4],
    pub kind: u8,
    pub key: VerifyingKey,
}

impl VerifierKey {
    /// Reads `<name>+<hex key ID>+base64(type ‖ public key)`, checking the ID.
    pub fn parse(vkey: &str) -> Result<VerifierKey, String> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "\"{vkey}\" is not a verifier key: <name>+<hex key ID>+<base64 key>"
            ));
        };
        let bytes = BASE64
            .decode(body)
            .map_err(|_| "the verifier key is not base64".to_owned())?;
        let (kind, public) = bytes.split_first().ok_or("the verifier key is empty")?;
        if *kind != ED25519_TYPE && *kind != COSIGNATURE_TYPE {
            return Err(format!(
                "signature type 0x{kind:02x} is not supported (Ed25519 0x01, cosignature 0x04)"
            ));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| "the public key is not 32 bytes")?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| "the public key is not a valid Ed25519 key")?;
        let computed = key_id(name, *kind, &public);
        if crate::types::hex(&computed) != id {
            return Err(format!(
                "the key ID {id} does not match the key (it should be {})",
                crate::types::hex(&computed)
            ));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id: computed,
            kind: *kind,
            key,
        })
    }

    /// The signature lines of `note` that claim this key.
    fn claims<'a>(&'a self, note: &'a Note) -> impl Iterator<Item = &'a SignatureLine> + 'a {
        note.signatures
            .iter()
            .filter(|s| s.name == self.name && s.key_id() == Some(self.id))
    }

    /// Verifies a note signature by this (log) key; `Ok(false)` when the note has none.
    pub fn verify_signature(&self, note: &Note) -> Result<bool, String> {
        let mut found = false;
        for line in self.claims(note) {
            let sig = Signature::from_slice(&line.bytes[4..])
                .map_err(|_| format!("the signature of {} is malformed", self.name))?;
            self.key
                .verify(note.text.as_bytes(), &sig)
                .map_err(|_| format!("the signature of {} does not verify", self.name))?;
            found = true;
        }
        Ok(found)
    }

    /// Verifies a cosignature by this (cosigner) key; returns its timestamp, or `None` when
    /// the note has none.
    pub fn verify_cosignature(&self, note: &Note) -> Result<Option<u64>, String> {
        let mut found = None;
        for line in self.claims(note) {
            if line.bytes.len() != 4 + 8 + 64 {
                return Err(format!("the cosignature of {} is not 76 bytes", self.name));
            }
            let timestamp =
                u64::from_be_bytes(line.bytes[4..12].try_into().map_err(|_| "timestamp")?);
            let sig = Signature::from_slice(&line.bytes[12..])
                .map_err(|_| format!("the cosignature of {} is malformed", self.name))?;
            self.key
                .verify(cosigned_message(&note.text, timestamp).as_bytes(), &sig)
                .map_err(|_| format!("the cosignature of {} does not verify", self.name))?;
            found = Some(timestamp);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2sp_golden_examples() {
        // signed-note's example key and note.
        let vkey = VerifierKey::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        assert_eq!(crate::types::hex(&vkey.id), "530d903a");
        let note = Note::parse("This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n").unwrap();
        assert!(vkey.verify_signature(&note).unwrap());
        let mut forged = note.clone();
        forged.text = "This is an example message!\n".into();
        assert!(vkey.verify_signature(&forged).is_err());
        // The Go checksum database's key (golang.org/x/mod/sumdb).
        let sum = VerifierKey::parse(
            "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
        )
        .unwrap();
        assert_eq!(crate::types::hex(&sum.id), "033de0ae");
        assert!(VerifierKey::parse(
            "sum.golang.org+033de0af+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
        )
        .is_err());
    }

    #[test]
    fn checkpoints_sign_and_cosign() {
        let log = LedgerKey::from_seed("ledger.example-party.nl/kroniek", [7; 32]);
        let cp = Checkpoint {
            origin: log.name.clone(),
            size: 42,
            root: [9; 32],
        };
        let body = cp.body();
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), cp);
        let mut note = Note {
            text: body.clone(),
            signatures: vec![sign(&log, &body)],
        };
        let text = note.to_text();
        assert_eq!(Note::parse(&text).unwrap(), note);
        let vkey = VerifierKey::parse(&log.verifier_key()).unwrap();
        assert!(vkey.verify_signature(&note).unwrap());
        let witness = CosignerKey::from_seed("kascommissie.example-party.nl", [3; 32]);
        note.add([witness.cosign(&body, 1_700_000_000)]);
        let wkey = VerifierKey::parse(&witness.verifier_key()).unwrap();
        assert_eq!(wkey.verify_cosignature(&note).unwrap(), Some(1_700_000_000));
        // The log key does not verify as a cosigner and vice versa; an unknown key finds nothing.
        assert_eq!(
            VerifierKey::parse(&CosignerKey::from_seed("other", [4; 32]).verifier_key())
                .unwrap()
                .verify_cosignature(&note)
                .unwrap(),
            None
        );
        let mut tampered = note.clone();
        tampered.text = Checkpoint { size: 43, ..cp }.body();
        assert!(vkey.verify_signature(&tampered).is_err());
        assert!(wkey.verify_cosignature(&tampered).is_err());
        assert_eq!(
            CosignerKey::from_file_text(&witness.to_file_text())
                .unwrap()
                .verifier_key(),
            witness.verifier_key()
        );
        assert!(Checkpoint::parse_body("o\n01\nAAAA\n").is_err());
    }
}
