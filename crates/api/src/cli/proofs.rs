//! `kroniek key`, `checkpoint`, `prove` and the offline `verify`: the ledger's signing
//! identity, signed checkpoints, proofs ([`kroniek_app::proofs`] makes them) written out, and
//! the checks of an export or a bundle with no store.

use super::error::CliError;
use crate::location::Location;
use kroniek_app::proofs;
use kroniek_core::types::hex;
use std::path::Path;

/// `kroniek key show`: the verifier key checkpoints are signed with (a follower's copy: the
/// leader's). A folder's is read from its files, so it works while a server runs there.
pub fn key_show(data: &Location) -> Result<(), CliError> {
    if let Location::Folder(dir) = data {
        if let Some(key) = kroniek_core::store::Store::verifier_key_in_folder(dir)? {
            println!("{key}");
            return Ok(());
        }
    }
    let store = data.open()?;
    println!("{}", store.signing_key()?.verifier_key());
    Ok(())
}

fn write_or_print(out: Option<&Path>, text: &str) -> Result<(), CliError> {
    match out {
        Some(path) => std::fs::write(path, text)
            .map_err(CliError::io(format!("cannot write {}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// `kroniek checkpoint [--out FILE] [--add-cosignature FILE]`.
pub fn checkpoint(
    data: &Location,
    out: Option<&Path>,
    add: Option<&Path>,
    witness_keys: &[String],
) -> Result<(), CliError> {
    let store = data.open()?;
    let note = match add {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(CliError::io(format!("cannot read {}", file.display())))?;
            let keys = witness_keys
                .iter()
                .map(|k| kroniek_core::note::VerifierKey::parse(k).map_err(CliError::Usage))
                .collect::<Result<Vec<_>, _>>()?;
            store.add_cosignatures(&text, &keys)?
        }
        None => store.sign_checkpoint()?,
    };
    write_or_print(out, &note.to_text())
}

/// `kroniek prove inclusion POSITION [--size N] [--bundle]`.
pub fn prove_inclusion(
    data: &Location,
    position: u64,
    size: Option<u64>,
    as_bundle: bool,
    out: Option<&Path>,
) -> Result<(), CliError> {
    let store = data.open()?;
    if as_bundle {
        if size.is_some() {
            return Err(CliError::Usage(
                "a bundle proves against the latest checkpoint: leave out --size".into(),
            ));
        }
        return write_or_print(out, &proofs::bundle(&store, position)?);
    }
    let size = match size {
        Some(s) => s,
        None => proofs::latest(&store)?.1.size,
    };
    let text = serde_json::to_string_pretty(&proofs::inclusion_json(&store, position, size)?)
        .map_err(|e| CliError::Failed(e.to_string()))?
        + "\n";
    write_or_print(out, &text)
}

/// `kroniek prove consistency OLD_SIZE [NEW_SIZE] [--witness]`.
pub fn prove_consistency(
    data: &Location,
    old: u64,
    new: Option<u64>,
    witness: bool,
    out: Option<&Path>,
) -> Result<(), CliError> {
    let store = data.open()?;
    if witness {
        return write_or_print(out, &proofs::witness_request(&store, old, new)?);
    }
    let new = match new {
        Some(n) => n,
        None => proofs::latest(&store)?.1.size,
    };
    let text = serde_json::to_string_pretty(&proofs::consistency_json(&store, old, new)?)
        .map_err(|e| CliError::Failed(e.to_string()))?
        + "\n";
    write_or_print(out, &text)
}

/// `kroniek verify --export FILE --checkpoint FILE [--previous-checkpoint FILE] --key VKEY
/// [--witness VKEY]… [--quorum K]`: no store needed.
pub fn verify_offline(
    export: &Path,
    checkpoint: &Path,
    previous: Option<&Path>,
    key: &str,
    witnesses: &[String],
    quorum: Option<usize>,
) -> Result<(), CliError> {
    use kroniek_core::note::{Note, VerifierKey};
    use std::io::BufRead;
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(CliError::io(format!("cannot read {}", p.display())))
    };
    let note = |p: &Path| -> Result<Note, CliError> {
        Note::parse(&read(p)?).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))
    };
    let key = VerifierKey::parse(key).map_err(CliError::Usage)?;
    let witnesses = witnesses
        .iter()
        .map(|w| VerifierKey::parse(w).map_err(CliError::Usage))
        .collect::<Result<Vec<_>, _>>()?;
    let expect = kroniek_core::offline::Expectations {
        checkpoint: Some((note(checkpoint)?, key)),
        previous: previous.map(note).transpose()?,
        quorum: quorum.unwrap_or(witnesses.len()),
        witnesses,
    };
    let file = std::fs::File::open(export)
        .map_err(CliError::io(format!("cannot read {}", export.display())))?;
    let mut read_error = None;
    let lines = std::io::BufReader::with_capacity(1 << 20, file)
        .split(b'\n')
        .map_while(|l| l.map_err(|e| read_error = Some(e)).ok())
        .filter(|l| !l.is_empty());
    let result = kroniek_core::offline::verify(lines, &expect);
    if let Some(e) = read_error {
        return Err(CliError::Io {
            what: format!("cannot read {}", export.display()),
            source: e,
        });
    }
    match result {
        Ok(r) => {
            println!(
                "verified {} events, head {}",
                r.chain.count,
                hex(&r.chain.head)
            );
            if let Some(cp) = &r.checkpoint {
                println!(
                    "checkpoint: {} at size {}, root {}, signature verified",
                    cp.origin,
                    cp.size,
                    hex(&cp.root)
                );
            }
            if let Some(p) = &r.previous {
                println!(
                    "previous checkpoint: size {} is a prefix of this ledger",
                    p.size
                );
            }
            if !expect.witnesses.is_empty() {
                println!(
                    "cosigned by {} of {} witnesses ({}), quorum {}",
                    r.cosigned_by.len(),
                    expect.witnesses.len(),
                    r.cosigned_by.join(", "),
                    expect.quorum
                );
            }
            if r.erased_explained > 0 {
                println!("erased: {} records' personal data, each explained by a PersonalDataErased event", r.erased_explained);
            }
            if r.chain.withheld > 0 {
                println!(
                    "withheld: {} records (linked and in the tree, not recomputed)",
                    r.chain.withheld
                );
            }
            Ok(())
        }
        Err(failure) => {
            println!("{failure}");
            Err(CliError::Failed(
                "the export does not verify against the checkpoint".into(),
            ))
        }
    }
}

/// `kroniek verify --bundle FILE --key VKEY [--witness VKEY]… [--quorum K]`: checks a C2SP
/// tlog-proof that `prove inclusion --bundle` made — the record in its `extra` line, its
/// inclusion in the checkpoint's tree, the log's signature and the witnesses' cosignatures.
pub fn verify_bundle(
    bundle: &Path,
    key: &str,
    witnesses: &[String],
    quorum: Option<usize>,
) -> Result<(), CliError> {
    use kroniek_core::note::VerifierKey;
    let text = std::fs::read_to_string(bundle)
        .map_err(CliError::io(format!("cannot read {}", bundle.display())))?;
    let key = VerifierKey::parse(key).map_err(CliError::Usage)?;
    let witnesses = witnesses
        .iter()
        .map(|w| VerifierKey::parse(w).map_err(CliError::Usage))
        .collect::<Result<Vec<_>, _>>()?;
    let quorum = quorum.unwrap_or(witnesses.len());
    let report = kroniek_core::bundle::verify(&text, &key, &witnesses, quorum)
        .map_err(|why| CliError::Failed(format!("{}: {why}", bundle.display())))?;
    let (record, cp, cosigned) = (report.record, report.checkpoint, report.cosigned_by);
    let index = record.position;
    println!(
        "record {index} ({} {} {}) is in {} at size {}; signature verified{}",
        record.stream,
        record.event_type,
        record.effective,
        cp.origin,
        cp.size,
        if cosigned.is_empty() {
            String::new()
        } else {
            format!("; cosigned by {}", cosigned.join(", "))
        }
    );
    Ok(())
}
