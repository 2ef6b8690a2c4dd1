//! `kroniek witness`: what a cosigner (the accountant, the kascommissie) runs on their own
//! machine, with no access to the store: make a key, cosign a checkpoint that extends the last
//! one they cosigned, or serve the C2SP tlog-witness add-checkpoint endpoint.

use super::error::CliError;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use kroniek_core::error::CoreError;
use kroniek_core::files;
use kroniek_core::note::{Checkpoint, CosignerKey, Note, VerifierKey};
use kroniek_core::witness::{add_checkpoint, Refused, Request};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A failed write of `files`, said as what was being written.
fn file_error(what: String) -> impl FnOnce(CoreError) -> CliError {
    move |e| match e {
        CoreError::Io(source) => CliError::Io { what, source },
        other => other.into(),
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(CliError::io(format!("cannot read {}", path.display())))
}

/// `kroniek witness key --name NAME --out FILE`.
pub fn key(name: &str, out: &Path) -> Result<(), CliError> {
    if !kroniek_core::keys::is_valid_key_name(name) {
        return Err(CliError::Usage(format!("\"{name}\" is not a key name: use a schema-less URL such as kascommissie.example-party.nl")));
    }
    let key = CosignerKey::from_seed(name, kroniek_core::random::random32()?);
    files::create_private(out, key.to_file_text().as_bytes()).map_err(file_error(format!(
        "cannot create {} (it must not exist yet)",
        out.display()
    )))?;
    println!("{}", key.verifier_key());
    Ok(())
}

/// The witness's memory of one log: the last checkpoint it cosigned.
struct WitnessState {
    dir: PathBuf,
    log_key: VerifierKey,
    key: CosignerKey,
}

impl WitnessState {
    fn open(log_key: &str, state: &Path, key: &Path) -> Result<WitnessState, CliError> {
        let log_key = VerifierKey::parse(log_key).map_err(CliError::Usage)?;
        if log_key.kind != kroniek_core::note::ED25519_TYPE {
            return Err(CliError::Usage(
                "--log-key must be the log's Ed25519 verifier key (kroniek key show)".into(),
            ));
        }
        let key = CosignerKey::from_file_text(&read(key)?).map_err(CliError::Usage)?;
        std::fs::create_dir_all(state)
            .map_err(CliError::io(format!("cannot create {}", state.display())))?;
        Ok(WitnessState {
            dir: state.to_owned(),
            log_key,
            key,
        })
    }

    fn file(&self) -> PathBuf {
        let safe: String = self
            .log_key
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.checkpoint"))
    }

    fn latest(&self) -> Result<Option<Checkpoint>, CliError> {
        match std::fs::read_to_string(self.file()) {
            Ok(text) => {
                let note = Note::parse(&text).map_err(|e| {
                    CliError::Failed(format!("the witness state is unreadable: {e}"))
                })?;
                Ok(Some(
                    Checkpoint::parse_body(&note.text).map_err(CliError::Failed)?,
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CliError::Io {
                what: "cannot read the witness state".into(),
                source: e,
            }),
        }
    }

    /// Judges a request; on success remembers the checkpoint and returns the cosignature line.
    fn add(&self, body: &str) -> Result<Result<String, Refused>, CliError> {
        let request = match Request::parse(body) {
            Ok(r) => r,
            Err(refused) => return Ok(Err(refused)),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let latest = self.latest()?;
        Ok(
            match add_checkpoint(&self.log_key, latest.as_ref(), &request, &self.key, now) {
                Ok((line, _)) => {
                    let mut note = request.note.clone();
                    note.add([line.clone()]);
                    // Durable before the cosignature is given: a witness that forgot it
                    // could be led to cosign a checkpoint inconsistent with it.
                    files::replace(&self.file(), note.to_text().as_bytes())
                        .map_err(file_error("cannot write the witness state".into()))?;
                    Ok(line.to_line())
                }
                Err(refused) => Err(refused),
            },
        )
    }
}

/// `kroniek witness cosign --log-key VKEY --checkpoint FILE --proof FILE --state DIR --key KEY`.
pub fn cosign(
    log_key: &str,
    checkpoint: &Path,
    proof: &Path,
    state: &Path,
    key: &Path,
) -> Result<(), CliError> {
    let w = WitnessState::open(log_key, state, key)?;
    let note = read(checkpoint)?;
    let proof = read(proof)?;
    // The proof file is a tlog-witness request body; its checkpoint, if present, must be this one.
    let body = match proof.split_once("\n\n") {
        Some((head, embedded)) => {
            if embedded != note {
                return Err(CliError::Usage(
                    "the checkpoint inside the proof file differs from --checkpoint".into(),
                ));
            }
            format!("{head}\n\n{note}")
        }
        None => format!(
            "{}\n{note}",
            if proof.ends_with('\n') {
                proof.clone()
            } else {
                format!("{proof}\n")
            }
        ),
    };
    match w.add(&body)? {
        Ok(line) => {
            print!("{line}");
            Ok(())
        }
        Err(refused) => Err(CliError::Failed(match refused.status {
            409 => format!(
                "this witness last cosigned size {}; send a proof from there",
                refused.message
            ),
            _ => format!("refused to cosign: {}", refused.message),
        })),
    }
}

/// `kroniek witness serve --listen ADDR --log-key VKEY --state DIR --key KEY`: the C2SP
/// tlog-witness `POST /add-checkpoint`.
pub fn serve(
    listen: std::net::SocketAddr,
    log_key: &str,
    state: &Path,
    key: &Path,
) -> Result<(), CliError> {
    let w = Arc::new(Mutex::new(WitnessState::open(log_key, state, key)?));
    println!(
        "witness {} for {}",
        w.lock().map(|w| w.key.verifier_key()).unwrap_or_default(),
        log_key
    );
    let app = axum::Router::new().route(
        "/add-checkpoint",
        axum::routing::post(move |body: String| {
            let w = w.clone();
            async move {
                let result = tokio::task::spawn_blocking(move || {
                    let guard = w.lock().map_err(|_| {
                        CliError::Failed("the witness state lock is poisoned".into())
                    })?;
                    guard.add(&body)
                })
                .await;
                match result {
                    Ok(Ok(Ok(line))) => (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                        line,
                    )
                        .into_response(),
                    Ok(Ok(Err(refused))) if refused.status == 409 => (
                        StatusCode::CONFLICT,
                        [(header::CONTENT_TYPE, "text/x.tlog.size")],
                        format!("{}\n", refused.message),
                    )
                        .into_response(),
                    Ok(Ok(Err(refused))) => (
                        StatusCode::from_u16(refused.status).unwrap_or(StatusCode::BAD_REQUEST),
                        format!("{}\n", refused.message),
                    )
                        .into_response(),
                    _ => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the witness failed\n".to_string(),
                    )
                        .into_response(),
                }
            }
        }),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("cannot start the async runtime"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(CliError::io(format!("cannot listen on {listen}")))?;
        let address = listener
            .local_addr()
            .map_err(CliError::io("cannot read the listening address"))?;
        println!("listening on http://{address}");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(CliError::io("the witness server failed"))
    })
}
