//! The verifying follower (`kroniek follow`): a local, read-only copy of a remote ledger kept
//! over its HTTP API. Each round reads the leader's head, takes the records after the copy's
//! head in pages (`GET /v1/events`), appends them through [`Store::replicate`] (every hash,
//! link, stream version and personal commitment checked, erasures repeated), then accepts the
//! leader's signed checkpoint only when its signature is the leader's key, it is not smaller
//! than the last accepted, and the copy's own tree has its root at its size (so the two
//! checkpoints are consistent: both are roots of the one chain the copy verified). Between
//! rounds it waits on the leader's live subscription (`GET /v1/subscribe`). A rewind, a fork
//! or another key stops the follower: the copy keeps what it had, and the process says why
//! and exits with status 1 (a failed check, as `verify`'s).
//!
//! The token's role (`GET /v1/whoami`) sets what the copy holds: every record whole for an
//! admin; for any other role, that role's view (records it may not see withheld, personal
//! data it may not see left out, see [`Store::view`]), checked line by line, and the copy
//! stays that role's. The follower's own token signs in on its copy (a copy of a role that
//! reads no access records holds no one else's).

use super::state::AppState;
use kroniek_core::catalogue::AccessRole;
use kroniek_core::error::CoreError;
use kroniek_core::note::{Checkpoint, Note};
use kroniek_core::store::Store;
use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

/// The leader and how to reach it.
#[derive(Debug, Clone)]
pub struct Follow {
    /// The leader's base URL (`http://host:port`).
    pub leader: String,
    /// A token of the leader's. An admin's makes a copy of every record whole; another role's
    /// a copy of what that role may read (see [`Store::view`]).
    pub token: String,
    /// The leader's verifier key (`kroniek key show` on the leader); needed the first time.
    pub key: Option<String>,
    /// For an https leader: a PEM file of the certificate authorities to trust instead of the
    /// built-in public ones (Mozilla's list).
    pub ca: Option<std::path::PathBuf>,
}

/// Records per page asked of the leader (its largest page).
const PAGE: u64 = 1_000;
/// How long one wait on the subscription lasts before the follower looks anyway.
const WAIT: Duration = Duration::from_secs(10);
/// The pause after the leader could not be reached.
const RETRY: Duration = Duration::from_secs(2);

/// Why a round ended early.
#[derive(Debug)]
enum Stop {
    /// The leader showed a history this copy must not take: stop for good.
    Refused(String),
    /// The leader could not be reached or answered oddly: try again.
    Retry(String),
}

/// Who the follower's token stands for at the leader (`GET /v1/whoami`).
pub(crate) type Identity = kroniek_core::access::Principal;

/// The view a copy made with `role`'s token holds: every record whole for an admin.
fn view_of(role: AccessRole) -> Option<AccessRole> {
    (role != AccessRole::Admin).then_some(role)
}

/// Opens the follower's copy in `dir`, making it (with the leader's key, holding the view of
/// the token's role) when the folder is new. A folder holding a ledger of its own, a copy of
/// another key, or a copy of another role's view is refused. Also returns who the token
/// stands for, when the leader could be asked (a copy that exists opens without it).
pub fn open_copy(
    dir: &std::path::Path,
    follow: &Follow,
) -> Result<(Store, Option<Identity>), CoreError> {
    let identity = match whoami(&agent(follow)?, follow) {
        Ok(identity) => Some(identity),
        Err(Stop::Refused(why)) => return Err(CoreError::Invalid(why)),
        Err(Stop::Retry(why)) if Store::exists(dir) => {
            eprintln!("kroniek follow: {why} (serving the copy; retrying)");
            None
        }
        Err(Stop::Retry(why)) => {
            return Err(CoreError::Invalid(format!(
                "cannot ask the leader whom the token stands for: {why}"
            )))
        }
    };
    let view = identity.as_ref().map(|i| view_of(i.role));
    if !Store::exists(dir) {
        let Some(key) = &follow.key else {
            return Err(CoreError::Invalid(
                "the first follow into a folder needs the leader's verifier key: --key \"$(kroniek key show)\" as printed on the leader".into(),
            ));
        };
        let store = Store::init_follower(dir, key, view.flatten())?;
        return Ok((store, identity));
    }
    let store = Store::open(dir)?;
    if let (None, Some(key), 0, Some(view)) =
        (store.leader_key()?, &follow.key, store.head().count, view)
    {
        // An empty store: a first follow cut off after the folder was made.
        store.become_follower(key, view)?;
    }
    let Some(kept) = store.leader_key()? else {
        return Err(CoreError::Invalid(format!(
            "{} holds a ledger of its own, not a follower's copy: follow into a new folder",
            dir.display()
        )));
    };
    if let Some(given) = &follow.key {
        let given = kroniek_core::note::VerifierKey::parse(given).map_err(CoreError::Invalid)?;
        if given.key != kept.key || given.name != kept.name {
            return Err(CoreError::Invalid(format!(
                "{} follows the ledger with key {}+{}, not the one given: follow into a new folder",
                dir.display(),
                kept.name,
                kroniek_core::types::hex(&kept.id)
            )));
        }
    }
    if let Some(view) = view {
        check_view(&store, view)?;
    }
    Ok((store, identity))
}

/// Refuses a copy of another view than the token's role reads.
fn check_view(store: &Store, view: Option<AccessRole>) -> Result<(), CoreError> {
    let name = |v: Option<AccessRole>| v.map_or("admin (every record whole)", AccessRole::as_str);
    if store.view() != view {
        return Err(CoreError::Invalid(format!(
            "{} holds the {} view, but the token's role is {}: follow with a token of the copy's role, or into a new folder",
            store.location(),
            name(store.view()),
            name(view)
        )));
    }
    Ok(())
}

/// The follower's HTTP client: TLS (rustls) for an https leader, with the public roots, or
/// only the certificate authorities of `--ca`.
fn agent(follow: &Follow) -> Result<ureq::Agent, CoreError> {
    let mut builder = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout_read(WAIT + Duration::from_secs(5));
    if let Some(path) = &follow.ca {
        builder = builder.tls_config(Arc::new(tls_trusting(path)?));
    }
    Ok(builder.build())
}

/// A TLS client configuration that trusts exactly the certificate authorities in `path`.
fn tls_trusting(path: &std::path::Path) -> Result<rustls::ClientConfig, CoreError> {
    use rustls_pki_types::pem::PemObject;
    let bad = |why: String| CoreError::Invalid(format!("--ca {}: {why}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    let certificates = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("cannot be read as PEM: {e}")))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
        roots
            .add(certificate)
            .map_err(|e| bad(format!("a certificate that cannot be a root: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    // The crypto provider of rustls's features: ring, as ureq's own default configuration.
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Who the token stands for at the leader.
fn whoami(agent: &ureq::Agent, follow: &Follow) -> Result<Identity, Stop> {
    let body = get(agent, follow, "/v1/whoami")?;
    let value: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| Stop::Retry(format!("the leader's /v1/whoami is not JSON: {e}")))?;
    let role: AccessRole = serde_json::from_value(value["role"].clone())
        .map_err(|e| Stop::Retry(format!("the leader's /v1/whoami names no role: {e}")))?;
    let name = value["principal"]
        .as_str()
        .ok_or_else(|| Stop::Retry("the leader's /v1/whoami names no principal".into()))?;
    Ok(Identity {
        name: name.to_owned(),
        role,
        token_blake3: kroniek_core::access::token_hash(&follow.token),
        granted: String::new(),
        revoked: None,
    })
}

/// Starts the thread that keeps the copy up to date.
pub fn spawn(state: Arc<AppState>, follow: Follow) -> Result<(), CoreError> {
    let mut chain = state.store.chain_verifier()?;
    let agent = agent(&follow)?;
    std::thread::Builder::new()
        .name("follow-leader".into())
        .spawn(move || {
            let mut last_problem = String::new();
            loop {
                match round(&state, &agent, &follow, &mut chain) {
                    Ok(()) => {
                        last_problem.clear();
                        wait_for_news(&agent, &follow, state.store.head().count);
                    }
                    Err(Stop::Refused(why)) => {
                        eprintln!(
                            "kroniek follow: refused: {why}. The copy keeps its {} records and the last checkpoint it accepted; nothing more is taken from {}",
                            state.store.head().count,
                            follow.leader
                        );
                        std::process::exit(1);
                    }
                    Err(Stop::Retry(why)) => {
                        if why != last_problem {
                            eprintln!("kroniek follow: {why} (retrying)");
                            last_problem = why;
                        }
                        std::thread::sleep(RETRY);
                    }
                }
            }
        })
        .map_err(|e| CoreError::Invalid(format!("cannot start the follower's thread: {e}")))?;
    Ok(())
}

/// One round: the records the leader has past the copy's head, then its checkpoint.
fn round(
    state: &AppState,
    agent: &ureq::Agent,
    follow: &Follow,
    chain: &mut kroniek_core::verify::ChainVerifier,
) -> Result<(), Stop> {
    let known = state
        .follower_token
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_some();
    if !known {
        // The copy opened while the leader could not be asked.
        let identity = whoami(agent, follow)?;
        check_view(&state.store, view_of(identity.role))
            .map_err(|e| Stop::Refused(e.to_string()))?;
        *state
            .follower_token
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(identity);
    }
    let count = leader_count(agent, follow)?;
    let ours = state.store.head().count;
    if count < ours {
        return Err(Stop::Refused(format!(
            "the leader now holds {count} records, this copy already {ours}: its ledger was rewound"
        )));
    }
    let mut taken = false;
    while state.store.head().count < count {
        let from = state.store.head().count;
        let body = get(
            agent,
            follow,
            &format!("/v1/events?from={from}&limit={PAGE}"),
        )?;
        let page: Vec<serde_json::Value> = serde_json::from_str(&body)
            .map_err(|e| Stop::Retry(format!("a page of the leader's records is not JSON: {e}")))?;
        if page.is_empty() {
            break;
        }
        let lines: Vec<Vec<u8>> = page
            .iter()
            .map(|v| serde_json::to_vec(v).unwrap_or_default())
            .collect();
        match state.store.replicate(&lines, chain) {
            Ok(_) => taken = true,
            Err(CoreError::Restore(why)) => return Err(Stop::Refused(why)),
            Err(e) => return Err(Stop::Retry(format!("the copy could not be written: {e}"))),
        }
    }
    if taken {
        state
            .catch_up()
            .map_err(|e| Stop::Retry(format!("the read models could not fold the records: {e}")))?;
    }
    // Every record whose personal data is missing must be explained by an erasure the copy
    // holds. The leader commits an erasure with what it erases, so a page that showed data
    // erased was read after the erasure was committed: a head read now includes it. Taken by
    // the next round when it is past this copy's head; else nothing explains it.
    if let Err(broken) = chain.complete() {
        if leader_count(agent, follow)? > state.store.head().count {
            return Ok(());
        }
        return Err(Stop::Refused(format!(
            "record {}: {}",
            broken.position, broken.why
        )));
    }
    accept_checkpoint(state, agent, follow)
}

/// The number of records the leader holds (`GET /v1/head`).
fn leader_count(agent: &ureq::Agent, follow: &Follow) -> Result<u64, Stop> {
    let head = get(agent, follow, "/v1/head")?;
    let head: serde_json::Value = serde_json::from_str(&head)
        .map_err(|e| Stop::Retry(format!("the leader's /v1/head is not JSON: {e}")))?;
    head["count"]
        .as_u64()
        .ok_or_else(|| Stop::Retry("the leader's /v1/head has no count".into()))
}

/// Takes the leader's latest checkpoint when the copy can check it.
fn accept_checkpoint(state: &AppState, agent: &ureq::Agent, follow: &Follow) -> Result<(), Stop> {
    let text = get(agent, follow, "/v1/checkpoint")?;
    let note = Note::parse(&text)
        .map_err(|e| Stop::Refused(format!("the leader's checkpoint is not a signed note: {e}")))?;
    let checkpoint = Checkpoint::parse_body(&note.text)
        .map_err(|e| Stop::Refused(format!("the leader's checkpoint cannot be read: {e}")))?;
    if let Ok(Some((kept, _))) = state.store.latest_checkpoint() {
        // The same note (cosignatures included) was checked when it was accepted; any other,
        // even of the same tree, is checked anew: its signature may be another key's.
        if kept.to_text() == note.to_text() {
            return Ok(());
        }
    }
    if checkpoint.size > state.store.head().count {
        // Signed after the pages were read: the next round takes it.
        return Ok(());
    }
    match state.store.adopt_checkpoint(&note) {
        Ok(()) => Ok(()),
        Err(CoreError::Invalid(why)) => Err(Stop::Refused(format!(
            "the leader's checkpoint of {} records: {why}",
            checkpoint.size
        ))),
        Err(e) => Err(Stop::Retry(format!(
            "the checkpoint could not be kept: {e}"
        ))),
    }
}

/// A GET of the leader's, with the token; the body as text.
fn get(agent: &ureq::Agent, follow: &Follow, path: &str) -> Result<String, Stop> {
    let address = format!("{}{path}", follow.leader.trim_end_matches('/'));
    match agent
        .get(&address)
        .set("Authorization", &format!("Bearer {}", follow.token))
        .call()
    {
        Ok(response) => response
            .into_string()
            .map_err(|e| Stop::Retry(format!("GET {address}: {e}"))),
        Err(ureq::Error::Status(code @ (401 | 403), _)) => Err(Stop::Refused(format!(
            "GET {address} answered {code}: the token is not valid there, or its role may not read this"
        ))),
        Err(ureq::Error::Status(code, response)) => Err(Stop::Retry(format!(
            "GET {address} answered {code}: {}",
            response.into_string().unwrap_or_default()
        ))),
        Err(e) => Err(Stop::Retry(format!("GET {address}: {e}"))),
    }
}

/// Waits until the leader's subscription sends a record past `from`, or [`WAIT`] passes, or
/// the subscription fails (then a short pause).
fn wait_for_news(agent: &ureq::Agent, follow: &Follow, from: u64) {
    let address = format!(
        "{}/v1/subscribe?from={from}",
        follow.leader.trim_end_matches('/')
    );
    let response = agent
        .get(&address)
        .timeout(WAIT)
        .set("Authorization", &format!("Bearer {}", follow.token))
        .call();
    let Ok(response) = response else {
        std::thread::sleep(RETRY);
        return;
    };
    let reader = std::io::BufReader::new(response.into_reader());
    for line in reader.lines() {
        match line {
            Ok(line) if line.starts_with("data:") || line.starts_with("id:") => return,
            Ok(_) => continue,
            Err(_) => return,
        }
    }
}
