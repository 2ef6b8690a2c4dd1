//! The `kroniek` command line: flag parsing and glue. The work is done in `kroniek-core`;
//! errors become exit statuses in one place ([`error::CliError`]).

mod audit;
mod commands;
mod error;
mod progress;
mod proofs;
mod tables;
mod witness;

pub use error::CliError;

use crate::location::Location;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// kroniek: the hash-chained governance ledger of a political party.
///
/// Every decision, motion, candidacy, royement and code-of-conduct signature is an
/// append-only, BLAKE3-hash-chained event. Exit status: 0 on success, 1 when events are
/// refused or a verification fails, 2 for usage and I/O errors.
#[derive(Debug, Parser)]
#[command(name = "kroniek", version, about, long_about)]
struct Cli {
    /// The folder that holds the ledger.
    #[arg(
        long,
        global = true,
        env = "KRONIEK_DATA",
        default_value = "./kroniek-data"
    )]
    data: PathBuf,

    /// A PostgreSQL database to keep the ledger in instead of the folder --data
    /// (postgres://USER:PASSWORD@HOST:PORT/DATABASE); the same commands work on either.
    #[arg(long, global = true, env = "KRONIEK_STORE", value_name = "URL")]
    store: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an empty ledger with its origin and Ed25519 signing key (mode 0600).
    ///
    /// Appending to a folder without a ledger does this with the default origin.
    Init {
        /// The ledger's origin: the key name of its signed checkpoints, a schema-less URL.
        #[arg(long, default_value = kroniek_core::store::DEFAULT_ORIGIN)]
        origin: String,
    },
    /// Append every event of a JSON Lines file as one atomic batch (all or nothing).
    ///
    /// Blank lines are skipped. When any line is refused, nothing is written, each refused
    /// line is reported as `line N: <rule-id>: <what is wrong>` and the exit status is 1.
    /// Events with an `id` seen before (same content) are not written again.
    Append {
        /// The file to append; `-` reads standard input.
        file: PathBuf,
    },
    /// Verify the whole chain: hashes, links, positions, versions, personal commitments.
    Verify {
        /// Verify an export file instead of the store (no store needed).
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
        /// Check the export against this signed checkpoint (needs --key).
        #[arg(long, value_name = "FILE", requires_all = ["export", "key"])]
        checkpoint: Option<PathBuf>,
        /// Check a proof bundle (C2SP tlog-proof from `prove inclusion --bundle`; needs --key).
        #[arg(long, value_name = "FILE", requires = "key", conflicts_with_all = ["export", "checkpoint"])]
        bundle: Option<PathBuf>,
        /// An earlier checkpoint (last year's) that must be a prefix of this export.
        #[arg(long, value_name = "FILE", requires = "checkpoint")]
        previous_checkpoint: Option<PathBuf>,
        /// The log's verifier key (kroniek key show).
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        /// A witness's verifier key (repeatable).
        #[arg(long, value_name = "VKEY")]
        witness: Vec<String>,
        /// How many witnesses must have cosigned (default: every --witness given).
        #[arg(long, value_name = "K")]
        quorum: Option<usize>,
        /// Print the outcome as JSON (the store or an export without a checkpoint), as
        /// `GET /v1/verify` answers: `{"verified": true, "count", "head", "erased", "withheld"}`
        /// or `{"verified": false, "position", "why"}`.
        #[arg(long, conflicts_with_all = ["checkpoint", "bundle"])]
        json: bool,
    },
    /// Export the ledger as JSON Lines (RFC 8785 records, in position order).
    Export {
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Leave out personal data (`personal` and `personal_salt`).
        #[arg(long)]
        no_personal: bool,
    },
    /// Rebuild every read model from the first record, check the newest snapshot against it
    /// and save a fresh one.
    ///
    /// `kroniek serve` starts from the newest snapshot of its read models that matches the
    /// ledger (in DATA/snapshots, saved every 100,000 records and at a clean stop) and folds
    /// only the records after it. This folds every record instead, compares every read model
    /// with that snapshot caught up to the head, and replaces it. Exit status 1 when they
    /// differ (a defect: please report it).
    Rebuild,
    /// Copy the ledger to another place (a folder, or a PostgreSQL database) and prove the
    /// copy identical: the same head and the same Merkle root.
    ///
    /// `kroniek --data DIR migrate --to postgres://…` moves a folder's ledger into PostgreSQL;
    /// `kroniek --store URL migrate --to DIR` moves it back. The copy keeps the ledger's
    /// signing key (so its checkpoints go on from the original's) and its last signed
    /// checkpoint; every record is checked as `restore` checks an export. The target must hold
    /// no ledger. The original is left as it was: remove it once the copy is in use.
    Migrate {
        /// Where to copy the ledger to: a folder, or postgres://USER:PASSWORD@HOST:PORT/DATABASE.
        #[arg(long, value_name = "FOLDER|URL")]
        to: String,
    },
    /// Restore an export into an empty ledger, checking every record.
    Restore {
        /// The export file; `-` reads standard input.
        file: PathBuf,
    },
    /// Erase personal data: records a PersonalDataErased event and destroys the data.
    ///
    /// SUBJECT is a member id (their member records and candidacies), `donor:<donor_ref>` (that
    /// donor's gifts) or `case:<case_id>` (the case's summary). Every hash still verifies.
    Erase {
        /// The member id, `donor:<donor_ref>` or `case:<case_id>`.
        #[arg(value_name = "SUBJECT")]
        subject: String,
        /// Why the data is erased (kept in the ledger).
        #[arg(long)]
        reason: String,
        /// The date of the erasure (default: today in the Netherlands).
        #[arg(long, value_name = "YYYY-MM-DD")]
        effective: Option<String>,
    },
    /// Who sits in a body on a date: seats, holders, terms, vacancies.
    ///
    /// A seat held past its term end without reappointment or departure is listed, marked
    /// term_expired, and no longer counts; a holder who is no longer an active member is marked.
    Composition {
        /// The body (`landelijk-bestuur`, `afdeling-den-haag/bestuur`).
        body_id: String,
        #[command(flatten)]
        when: AsOf,
        #[command(flatten)]
        output: Output,
    },
    /// A body's term schedule (rooster van aftreden): every seat-term with its start, end,
    /// reappointments and how many remain.
    Terms {
        /// The body (`landelijk-bestuur`, `afdeling-den-haag/bestuur`).
        body_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// One member on a date: status and its history, branch, details, seats, signatures,
    /// net contributions per year.
    Member {
        /// The membership number (`10201`).
        member_id: String,
        #[command(flatten)]
        when: AsOf,
        #[command(flatten)]
        output: Output,
    },
    /// Members counted on a date, by status and by branch.
    Members {
        #[command(flatten)]
        when: AsOf,
        #[command(flatten)]
        output: Output,
    },
    /// Decisions and motions (with amendments and votes) in date order; revoked decisions marked.
    Timeline {
        /// Only this body.
        #[arg(long)]
        body: Option<String>,
        /// From this date (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Through this date (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Only decisions of this category (governance, appointment, financial, subsidy, disciplinary, policy).
        #[arg(long)]
        category: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// An election: candidacies, screening, anonymised profiles, tallies, who was elected.
    Election {
        /// The election id (`bestuur-2021`).
        election_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// A meeting: its convocation and agenda, attendance and quorum, the motions voted and the
    /// decisions taken, with its body's rules in force.
    Meeting {
        /// The meeting id (`alv-2020-11`).
        meeting_id: String,
        #[command(flatten)]
        output: Output,
    },
    /// A case file: its events in order, status, appeal deadline, suspensions because of it.
    Case {
        /// The case id (`r-2022-01`).
        case_id: String,
        #[command(flatten)]
        when: AsOf,
        #[command(flatten)]
        output: Output,
    },
    /// Code-of-conduct coverage: per code the version in force and how many active members signed it.
    Conduct {
        #[command(flatten)]
        when: AsOf,
        #[command(flatten)]
        output: Output,
    },
    /// Keep a verifying, read-only copy of a remote ledger in --data DIR, and serve it.
    ///
    /// Takes the leader's records page by page, then as they come (its live subscription),
    /// checking every record's hash, link and personal commitment, and every signed checkpoint
    /// against the leader's key and the last one accepted. A history that was rewound, forked
    /// or signed by another key stops it with exit status 1; the copy keeps what it had. The
    /// copy serves the same read API and web pages; writes answer 405 naming the leader.
    Follow {
        /// The leader's base URL, e.g. https://ledger.example-party.nl or http://10.0.0.5:8080
        /// (plain HTTP only on a network you trust: the token goes with every request).
        leader: String,
        /// A token of the leader's. An admin's keeps every record whole; another role's keeps
        /// what that role reads (records it may not see withheld, personal data it may not see
        /// left out), and the copy stays that role's. The copy's readers use the leader's
        /// tokens, and this one.
        #[arg(long, env = "KRONIEK_TOKEN", hide_env_values = true)]
        token: String,
        /// The leader's verifier key (`kroniek key show` on the leader); needed the first time,
        /// then kept in the copy.
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        /// For an https leader: trust only the certificate authorities in this PEM file (the
        /// party's own CA) instead of the public ones (Mozilla's list, built in).
        #[arg(long, value_name = "PEM")]
        ca: Option<std::path::PathBuf>,
        /// The address to serve the copy on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
    },
    /// Serve the HTTP API (see /openapi.json) until SIGINT or SIGTERM.
    ///
    /// A store without an admin gets one: its token is printed once (only its hash is kept).
    Serve {
        /// The address to listen on (port 0: any free port, printed at start).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Load the sample ledger into an empty store first (a store with events is left as it is).
        #[arg(long)]
        demo: bool,
        /// The largest request body, in bytes.
        #[arg(long, default_value_t = 16 * 1024 * 1024)]
        max_body_bytes: usize,
        /// The most events in one appended batch.
        #[arg(long, default_value_t = 10_000)]
        max_batch: usize,
        /// The longest a request may take, in seconds.
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
        /// Sign a checkpoint after appends at most this often, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        checkpoint_interval_ms: u64,
        /// A witness whose cosignatures POST /v1/checkpoint/cosignatures accepts (repeatable).
        #[arg(long, value_name = "VKEY")]
        witness_key: Vec<String>,
        /// The address users reach the server at (behind a reverse proxy). With `https://`
        /// the session cookies get `Secure`.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// (For tests) how long the web audit page waits for a report being made before it
        /// shows its progress instead, in milliseconds.
        #[arg(long, default_value_t = 1000, hide = true)]
        audit_page_wait_ms: u64,
    },
    /// The ledger's signing key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign a C2SP checkpoint of the current size and root (only after the records are durable,
    /// never one inconsistent with the last), print it with its cosignatures.
    Checkpoint {
        /// Write the checkpoint to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Add the cosignatures of this cosigned copy of the latest checkpoint (or the lines
        /// `kroniek witness cosign` printed).
        #[arg(long, value_name = "FILE", requires = "witness_key")]
        add_cosignature: Option<PathBuf>,
        /// A witness's verifier key (repeat for several): cosignatures must verify against one.
        #[arg(long, value_name = "VKEY")]
        witness_key: Vec<String>,
    },
    /// Inclusion and consistency proofs (sizes default to the latest checkpoint's).
    #[command(subcommand)]
    Prove(ProveCommand),
    /// The yearly audit report for the accountant (at a checkpoint of the current size).
    ///
    /// From the store, or with --export/--checkpoint/--key from an export alone.
    Audit {
        /// The report's year.
        #[arg(long)]
        year: i32,
        /// The reference date of the member count (default: 1 January of the year).
        #[arg(long, value_name = "DATE")]
        peildatum: Option<String>,
        /// The year whose contributions count (default: the report's year).
        #[arg(long)]
        contribution_year: Option<i32>,
        /// The minimum net contribution, in cents.
        #[arg(long, default_value_t = 1200)]
        min_contribution_cents: i64,
        /// Flag contributions for the year paid after this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        paid_by: Option<String>,
        /// Last year's checkpoint: prove this ledger extends it and list late entries.
        #[arg(long, value_name = "FILE")]
        previous_checkpoint: Option<PathBuf>,
        /// html, json or csv (csv: --out is a folder, one file per table).
        #[arg(long, default_value = "html")]
        format: String,
        /// The printable report's language: nl (Dutch, the default) or en.
        #[arg(long, default_value = "nl", value_parser = ["nl", "en"])]
        lang: String,
        /// Where to write (default: standard output; required for csv).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Say how one figure was computed: subsidy_count, member:<id>, gifts, financial_total.
        #[arg(long, value_name = "FIGURE")]
        explain: Option<String>,
        /// Make the report from this export instead of the store.
        #[arg(long, value_name = "FILE", requires_all = ["checkpoint", "key"])]
        export: Option<PathBuf>,
        /// The export's checkpoint.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The log's verifier key.
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
    },
    /// Cosign checkpoints as a witness (the accountant, the kascommissie), with no store.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Manage the access tokens of a local store.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write a synthetic but realistic ledger (JSON Lines): to try kroniek at a party's scale,
    /// and what `kroniek-bench` measures.
    ///
    /// The event mix of a party: many members, signatures and contributions; fewer meetings,
    /// motions, decisions, appointments, cases and gifts. The same seed gives the same file.
    Generate {
        /// How many events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// The seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List events.
    Log {
        /// Only this stream (`member/10234`).
        #[arg(long)]
        stream: Option<String>,
        /// Start at this position (or, with --stream, this version).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// At most this many events.
        #[arg(long)]
        limit: Option<u64>,
        /// Print each record as its export line (JSON).
        #[arg(long)]
        json: bool,
    },
}

/// `kroniek key …`.
#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Print the verifier key: `<name>+<hex key ID>+<base64(0x01 ‖ key)>`.
    Show,
}

/// `kroniek prove …`.
#[derive(Debug, Subcommand)]
enum ProveCommand {
    /// That the record at POSITION is in the tree: JSON, or a C2SP tlog-proof with --bundle.
    Inclusion {
        /// The record's position (0 is the first).
        position: u64,
        /// The tree size (default: the latest checkpoint's).
        #[arg(long)]
        size: Option<u64>,
        /// A C2SP tlog-proof a member can keep: the record, the proof and the checkpoint.
        #[arg(long)]
        bundle: bool,
        /// Write to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// That the tree of NEW_SIZE extends the tree of OLD_SIZE.
    Consistency {
        /// The size of the older tree (last year's checkpoint's).
        old_size: u64,
        /// Default: the latest checkpoint's size.
        new_size: Option<u64>,
        /// Print the body of a C2SP tlog-witness add-checkpoint request instead.
        #[arg(long)]
        witness: bool,
        /// Write to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `kroniek witness …`.
#[derive(Debug, Subcommand)]
enum WitnessCommand {
    /// Make a cosigner key (file mode 0600) and print its verifier key.
    Key {
        /// The cosigner's name, a schema-less URL (kascommissie.example-party.nl).
        #[arg(long)]
        name: String,
        /// The key file to create.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Cosign a checkpoint if it extends the last one this witness cosigned; print the
    /// cosignature line (cosignature/v1).
    Cosign {
        /// The log's verifier key (kroniek key show).
        #[arg(long, value_name = "VKEY")]
        log_key: String,
        /// The checkpoint to cosign.
        #[arg(long, value_name = "FILE")]
        checkpoint: PathBuf,
        /// The consistency proof from the last cosigned size: a tlog-witness request body
        /// (kroniek prove consistency OLD --witness).
        #[arg(long, value_name = "FILE")]
        proof: PathBuf,
        /// The witness's state folder (the last cosigned checkpoint per log).
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// The cosigner key file (kroniek witness key).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Serve the C2SP tlog-witness POST /add-checkpoint endpoint.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        #[arg(long, value_name = "VKEY")]
        log_key: String,
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
}

/// `kroniek token …`.
#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Grant a principal a role with a new token, printed once (only its BLAKE3 hash is kept).
    Create {
        /// admin, secretary, board, auditor, disputes or member.
        #[arg(long)]
        role: String,
        /// The principal's name (lower-case letters, digits, `.`, `_`, `-`).
        #[arg(long)]
        principal: String,
    },
    /// List the principals, their roles and whether their access stands.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Revoke a principal's access; its token stops working at once.
    Revoke {
        /// The principal's name.
        principal: String,
    },
}

/// The date a question is asked for.
#[derive(Debug, clap::Args)]
struct AsOf {
    /// The date to answer for (YYYY-MM-DD; default: today in the Netherlands).
    #[arg(long = "as-of", value_name = "DATE")]
    as_of: Option<String>,
}

/// How to print an answer.
#[derive(Debug, clap::Args)]
struct Output {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs the command line with the process's arguments and returns its exit status.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let data = match Location::from_options(&cli.data, cli.store.as_deref()) {
        Ok(location) => location,
        Err(e) => {
            eprintln!("kroniek: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Init { origin } => commands::init(&data, &origin),
        Command::Append { file } => commands::append(&data, &file),
        Command::Verify {
            export,
            checkpoint,
            bundle,
            previous_checkpoint,
            key,
            witness,
            quorum,
            json,
        } => match (checkpoint, bundle) {
            (_, Some(b)) => {
                proofs::verify_bundle(&b, key.as_deref().unwrap_or_default(), &witness, quorum)
            }
            (cp, None) => match cp {
                Some(cp) => proofs::verify_offline(
                    export.as_deref().unwrap_or(std::path::Path::new("-")),
                    &cp,
                    previous_checkpoint.as_deref(),
                    key.as_deref().unwrap_or_default(),
                    &witness,
                    quorum,
                ),
                None => commands::verify(&data, export.as_deref(), json),
            },
        },
        Command::Export { out, no_personal } => {
            commands::export(&data, out.as_deref(), !no_personal)
        }
        Command::Restore { file } => commands::restore(&data, &file),
        Command::Rebuild => commands::rebuild(&data),
        Command::Migrate { to } => commands::migrate(&data, &Location::parse(&to)),
        Command::Erase {
            subject,
            reason,
            effective,
        } => commands::erase(&data, &subject, &reason, effective.as_deref()),
        Command::Composition {
            body_id,
            when,
            output,
        } => commands::composition(&data, &body_id, when.as_of.as_deref(), output.json),
        Command::Terms { body_id, output } => commands::terms(&data, &body_id, output.json),
        Command::Member {
            member_id,
            when,
            output,
        } => commands::member(&data, &member_id, when.as_of.as_deref(), output.json),
        Command::Members { when, output } => {
            commands::members(&data, when.as_of.as_deref(), output.json)
        }
        Command::Timeline {
            body,
            from,
            to,
            category,
            output,
        } => commands::timeline(
            &data,
            kroniek_projections::views::TimelineFilter {
                body_id: body,
                from,
                to,
                category,
            },
            output.json,
        ),
        Command::Election {
            election_id,
            output,
        } => commands::election(&data, &election_id, output.json),
        Command::Meeting { meeting_id, output } => {
            commands::meeting(&data, &meeting_id, output.json)
        }
        Command::Case {
            case_id,
            when,
            output,
        } => commands::case(&data, &case_id, when.as_of.as_deref(), output.json),
        Command::Conduct { when, output } => {
            commands::conduct(&data, when.as_of.as_deref(), output.json)
        }
        Command::Follow {
            leader,
            token,
            key,
            ca,
            listen,
        } => {
            if !leader.starts_with("http://") && !leader.starts_with("https://") {
                eprintln!("kroniek follow: {leader}: give the leader's address as https://HOST[:PORT] (or http://HOST:PORT on a network you trust)");
                return ExitCode::from(2);
            }
            if ca.is_some() && !leader.starts_with("https://") {
                eprintln!("kroniek follow: --ca is for an https leader; {leader} is plain HTTP");
                return ExitCode::from(2);
            }
            let options = crate::server::ServeOptions {
                listen,
                demo: false,
                limits: crate::server::Limits {
                    max_body_bytes: 16 * 1024 * 1024,
                    max_batch: 10_000,
                    timeout_secs: 60,
                    witnesses: Vec::new(),
                    secure_cookies: false,
                    audit_page_wait: std::time::Duration::from_millis(1000),
                },
                checkpoint_every: std::time::Duration::from_millis(1000),
                today: commands::today,
                follow: Some(crate::server::Follow {
                    leader,
                    token,
                    key,
                    ca,
                }),
            };
            crate::server::serve(&data, options).map_err(CliError::from)
        }
        Command::Serve {
            listen,
            demo,
            max_body_bytes,
            max_batch,
            timeout_secs,
            checkpoint_interval_ms,
            witness_key,
            public_url,
            audit_page_wait_ms,
        } => {
            let secure_cookies = match public_url.as_deref() {
                None => false,
                Some(u) if u.starts_with("https://") => true,
                Some(u) if u.starts_with("http://") => false,
                Some(u) => {
                    eprintln!("kroniek: --public-url {u}: write it as https://… or http://…");
                    return ExitCode::from(2);
                }
            };
            let options = crate::server::ServeOptions {
                listen,
                demo,
                limits: crate::server::Limits {
                    max_body_bytes,
                    max_batch,
                    timeout_secs,
                    witnesses: witness_key,
                    secure_cookies,
                    audit_page_wait: std::time::Duration::from_millis(audit_page_wait_ms),
                },
                checkpoint_every: std::time::Duration::from_millis(checkpoint_interval_ms),
                today: commands::today,
                follow: None,
            };
            crate::server::serve(&data, options).map_err(CliError::from)
        }
        Command::Audit {
            year,
            peildatum,
            contribution_year,
            min_contribution_cents,
            paid_by,
            previous_checkpoint,
            format,
            lang,
            out,
            explain,
            export,
            checkpoint,
            key,
        } => kroniek_app::audit::params(
            year,
            peildatum.as_deref(),
            contribution_year,
            min_contribution_cents,
        )
        .and_then(|p| kroniek_app::audit::with_paid_by(p, paid_by.as_deref()))
        .map_err(CliError::from)
        .and_then(|params| {
            audit::audit(
                &data,
                &audit::AuditOptions {
                    params,
                    previous_checkpoint,
                    format,
                    lang: kroniek_app::audit::ReportLang::parse(&lang).unwrap_or_default(),
                    out,
                    explain,
                    export,
                    checkpoint,
                    key,
                },
            )
        }),
        Command::Witness(WitnessCommand::Key { name, out }) => witness::key(&name, &out),
        Command::Witness(WitnessCommand::Cosign {
            log_key,
            checkpoint,
            proof,
            state,
            key,
        }) => witness::cosign(&log_key, &checkpoint, &proof, &state, &key),
        Command::Witness(WitnessCommand::Serve {
            listen,
            log_key,
            state,
            key,
        }) => witness::serve(listen, &log_key, &state, &key),
        Command::Key(KeyCommand::Show) => proofs::key_show(&data),
        Command::Checkpoint {
            out,
            add_cosignature,
            witness_key,
        } => proofs::checkpoint(
            &data,
            out.as_deref(),
            add_cosignature.as_deref(),
            &witness_key,
        ),
        Command::Prove(ProveCommand::Inclusion {
            position,
            size,
            bundle,
            out,
        }) => proofs::prove_inclusion(&data, position, size, bundle, out.as_deref()),
        Command::Prove(ProveCommand::Consistency {
            old_size,
            new_size,
            witness,
            out,
        }) => proofs::prove_consistency(&data, old_size, new_size, witness, out.as_deref()),
        Command::Token(TokenCommand::Create { role, principal }) => {
            commands::token_create(&data, &role, &principal)
        }
        Command::Token(TokenCommand::List { output }) => commands::token_list(&data, output.json),
        Command::Token(TokenCommand::Revoke { principal }) => {
            commands::token_revoke(&data, &principal)
        }
        Command::Generate { events, seed, out } => commands::generate(events, seed, out.as_deref()),
        Command::Log {
            stream,
            from,
            limit,
            json,
        } => commands::log(&data, stream.as_deref(), from, limit, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kroniek: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
