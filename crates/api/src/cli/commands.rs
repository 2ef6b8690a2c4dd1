//! The command line's commands: each reads its input, calls the core, and prints the result.

use super::error::CliError;
use super::progress;
use super::tables;
use crate::location::Location;
use kroniek_core::record::Record;
use kroniek_core::types::{hex, Date};
use kroniek_core::{AppendOutcome, ChainVerifier, CoreError, ProposedEvent, Refusal, Rule};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use kroniek_app::append::refused_line_messages;
pub use kroniek_app::append::LOCAL_ACTOR;

fn open_input(file: &Path) -> Result<Box<dyn BufRead + Send>, CliError> {
    if file.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(file)
        .map_err(CliError::io(format!("cannot read {}", file.display())))?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
}

/// A buffered writer to `out` (a file) or standard output, and how to name it in messages.
fn open_output(out: Option<&Path>) -> Result<(BufWriter<Box<dyn Write>>, String), CliError> {
    let (sink, what): (Box<dyn Write>, String) = match out {
        Some(path) => (
            Box::new(
                std::fs::File::create(path)
                    .map_err(CliError::io(format!("cannot write {}", path.display())))?,
            ),
            path.display().to_string(),
        ),
        None => (Box::new(std::io::stdout().lock()), "standard output".into()),
    };
    Ok((BufWriter::with_capacity(1 << 20, sink), what))
}

/// `kroniek init`.
pub fn init(data: &Location, origin: &str) -> Result<(), CliError> {
    let store = data.init(origin)?;
    let key = store.signing_key()?;
    println!(
        "created a ledger in {} with origin {}",
        data,
        store.origin()
    );
    println!("verifier key: {}", key.verifier_key());
    Ok(())
}

/// Lines per message from the thread that reads and parses an input file.
const LINES_PER_MESSAGE: usize = 1_024;
/// Messages that thread may be ahead of the appending thread.
const READ_AHEAD_MESSAGES: usize = 4;

/// What the thread reading an input file hands the appending thread.
enum LinesRead {
    /// Non-blank lines, parsed, with their line numbers (from 1).
    Parsed(Vec<(u64, Result<ProposedEvent, Refusal>)>),
    /// Reading failed: the input ends here.
    Failed(std::io::Error),
}

/// Reads `input` line by line, parses each non-blank line, and sends them on in messages of
/// [`LINES_PER_MESSAGE`]; stops at a failed read (sent last) or when nobody listens.
fn read_and_parse(input: Box<dyn BufRead + Send>, to: &std::sync::mpsc::SyncSender<LinesRead>) {
    let mut parsed = Vec::with_capacity(LINES_PER_MESSAGE);
    for (n, line) in input.split(b'\n').enumerate() {
        let bytes = match line {
            Ok(bytes) => bytes,
            Err(e) => {
                let _ = to.send(LinesRead::Parsed(parsed));
                let _ = to.send(LinesRead::Failed(e));
                return;
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let event = match std::str::from_utf8(&bytes) {
            Ok(text) => ProposedEvent::parse_line(text),
            Err(_) => Err(Refusal::new(
                Rule::MalformedField,
                "the line is not UTF-8 text",
            )),
        };
        parsed.push((n as u64 + 1, event));
        if parsed.len() == LINES_PER_MESSAGE {
            let full = std::mem::replace(&mut parsed, Vec::with_capacity(LINES_PER_MESSAGE));
            if to.send(LinesRead::Parsed(full)).is_err() {
                return;
            }
        }
    }
    let _ = to.send(LinesRead::Parsed(parsed));
}

/// `kroniek append FILE`.
pub fn append(data: &Location, file: &Path) -> Result<(), CliError> {
    let input = open_input(file)?;
    let created = data.is_new();
    let store = data.open_or_init()?;
    let bar = progress::bar("appending", None);
    let mut line_numbers: Vec<u64> = Vec::new();
    let mut read_error: Option<std::io::Error> = None;
    // A thread of its own reads and parses the lines while the store checks and writes the
    // events before them (a bounded queue keeps memory flat on a large file).
    let (lines_read, lines) = std::sync::mpsc::sync_channel(READ_AHEAD_MESSAGES);
    let result = std::thread::scope(|scope| {
        scope.spawn(move || read_and_parse(input, &lines_read));
        let events = lines
            .into_iter()
            .flat_map(|message| match message {
                LinesRead::Parsed(parsed) => parsed,
                LinesRead::Failed(e) => {
                    read_error = Some(e);
                    // A failed read ends the input and refuses the batch: a partial file is
                    // never appended.
                    vec![(
                        0,
                        Err(Refusal::new(
                            Rule::MalformedField,
                            "the file could not be read to its end",
                        )),
                    )]
                }
            })
            .map(|(n, event)| {
                line_numbers.push(n);
                event
            });
        store.append_iter(events, LOCAL_ACTOR, &mut |n| bar.set_position(n))
    });
    bar.finish_and_clear();
    if let Some(e) = read_error {
        // The batch was refused for the failed read (nothing written), unless the store
        // failed first.
        let refused = matches!(result, Err(CoreError::Refused(_)));
        drop(store);
        if refused && created {
            data.discard_new();
        }
        return Err(CliError::Io {
            what: format!("cannot read {}; nothing was written", file.display()),
            source: e,
        });
    }
    match result {
        Ok(AppendOutcome::Appended { first, count, head }) => {
            if count == 0 {
                println!("appended 0 events, head {}", head.hash_hex());
            } else {
                println!(
                    "appended {count} events (positions {first}..{}), head {}",
                    first + count - 1,
                    head.hash_hex()
                );
            }
            Ok(())
        }
        Ok(AppendOutcome::AlreadyRecorded { positions, head }) => {
            println!(
                "appended 0 events ({} already recorded), head {}",
                positions.len(),
                head.hash_hex()
            );
            Ok(())
        }
        Err(CoreError::Refused(refusals)) => {
            drop(store);
            if created {
                // The folder did not exist: leave no empty ledger behind a refused file.
                data.discard_new();
            }
            let (messages, refused_lines) = refused_line_messages(&refusals, &line_numbers);
            for message in messages {
                eprintln!("{message}");
            }
            Err(CliError::Failed(format!(
                "{refused_lines} of {} lines refused; nothing was written",
                line_numbers.len()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// `kroniek verify [--export FILE]`.
pub fn verify(data: &Location, export: Option<&Path>, json: bool) -> Result<(), CliError> {
    let verified = match export {
        Some(file) => verify_export(file)?,
        None => {
            let store = data.open_with(kroniek_core::store::OpenMode::Inspect)?;
            let bar = progress::bar("verifying", Some(store.head().count));
            let result = store.verify(&mut |n| bar.set_position(n));
            bar.finish_and_clear();
            // A read that failed is an error with its own exit status, not a verdict.
            result?
        }
    };
    if json {
        let value = match &verified {
            Ok(v) => {
                serde_json::json!({"verified": true, "count": v.count, "head": hex(&v.head), "erased": v.erased, "withheld": v.withheld})
            }
            Err(b) => serde_json::json!({"verified": false, "position": b.position, "why": b.why}),
        };
        println!("{value}");
        return match verified {
            Ok(_) => Ok(()),
            Err(_) => Err(CliError::Failed("the chain does not verify".into())),
        };
    }
    match verified {
        Ok(v) => {
            println!("verified {} events, head {}", v.count, hex(&v.head));
            if v.erased > 0 || v.withheld > 0 {
                eprintln!(
                    "({} with erased personal data, {} withheld)",
                    v.erased, v.withheld
                );
            }
            Ok(())
        }
        Err(broken) => {
            println!("{broken}");
            Err(CliError::Failed("the chain does not verify".into()))
        }
    }
}

fn verify_export(
    file: &Path,
) -> Result<Result<kroniek_core::Verified, kroniek_core::Broken>, CliError> {
    let input = open_input(file)?;
    let bar = progress::bar("verifying", None);
    let mut chain = ChainVerifier::new();
    let mut blank_at: Option<u64> = None;
    for (n, line) in input.split(b'\n').enumerate() {
        let line = line.map_err(CliError::io(format!("cannot read {}", file.display())))?;
        if n % 65_536 == 0 {
            bar.set_position(n as u64);
        }
        if line.is_empty() {
            blank_at.get_or_insert(chain.finish().count);
            continue;
        }
        if let Some(position) = blank_at {
            return Ok(Err(kroniek_core::Broken {
                position,
                why: "an empty line inside the export".into(),
            }));
        }
        if let Err(broken) = chain.check_export_line(&line) {
            bar.finish_and_clear();
            return Ok(Err(broken));
        }
    }
    bar.finish_and_clear();
    Ok(chain.complete())
}

/// `kroniek export`.
pub fn export(data: &Location, out: Option<&Path>, with_personal: bool) -> Result<(), CliError> {
    let store = data.open()?;
    let head = store.head();
    let (mut sink, what) = open_output(out)?;
    let bar = progress::bar("exporting", Some(head.count));
    for (n, record) in store.iter_from(0).enumerate() {
        let record = record?;
        let mut line = store.export_line(&record, with_personal)?;
        line.push(b'\n');
        sink.write_all(&line)
            .map_err(CliError::io(format!("cannot write {what}")))?;
        if n % 65_536 == 0 {
            bar.set_position(n as u64);
        }
    }
    sink.flush()
        .map_err(CliError::io(format!("cannot write {what}")))?;
    bar.finish_and_clear();
    if out.is_some() {
        eprintln!(
            "exported {} events to {what}, head {}",
            head.count,
            head.hash_hex()
        );
    }
    Ok(())
}

/// `kroniek restore FILE`.
/// `kroniek rebuild`.
pub fn rebuild(data: &Location) -> Result<(), CliError> {
    let store = data.open()?;
    let bar = progress::bar("rebuilding", Some(store.head().count));
    let started = std::time::Instant::now();
    let outcome = kroniek_app::snapshot::rebuild_and_compare(&store, &mut progress::reporter(&bar));
    bar.finish_and_clear();
    let outcome = outcome?;
    for why in &outcome.ignored {
        println!("snapshot ignored: {why}");
    }
    println!(
        "rebuilt every read model from {} records in {:.2} s",
        outcome.records,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &outcome.saved {
        println!("saved {}", path.display());
    }
    match outcome.snapshot {
        None => {
            println!("there was no snapshot to compare");
            Ok(())
        }
        Some((at, true)) => {
            println!("the snapshot at {at} records, caught up, equals the rebuild in every read model");
            Ok(())
        }
        Some((at, false)) => Err(CliError::Failed(format!(
            "the snapshot at {at} records, caught up, differs from the rebuild (it is replaced; a defect: please report it)"
        ))),
    }
}

/// `kroniek migrate --to TARGET`.
pub fn migrate(data: &Location, target: &Location) -> Result<(), CliError> {
    if data == target {
        return Err(CliError::Usage(format!(
            "--to {target} is where the ledger already is: name another folder or database"
        )));
    }
    let source = data.open()?;
    let key = source.signing_key()?;
    let created = target.is_new();
    let copy = target.init_with_key(&key)?;
    let head = source.head();
    let bar = progress::bar("copying", Some(head.count));
    let copied = source.copy_into(&copy, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    let proved = copied.and_then(|verified| {
        let root = source.tree_root(head.count)?;
        let copy_root = copy.tree_root(head.count)?;
        if copy.head() != head || verified.head != head.hash || copy_root != root {
            return Err(CoreError::Invalid(format!(
                "the copy differs: head {} with root {}, the original {} with root {}",
                copy.head().hash_hex(),
                hex(&copy_root),
                head.hash_hex(),
                hex(&root)
            )));
        }
        Ok(root)
    });
    match proved {
        Ok(root) => {
            println!(
                "copied {} events from {data} to {target}: the same head {} and Merkle root {} in both",
                head.count,
                head.hash_hex(),
                hex(&root)
            );
            if let Some((_, checkpoint)) = copy.latest_checkpoint()? {
                println!(
                    "the last signed checkpoint (size {}) went with it",
                    checkpoint.size
                );
            }
            Ok(())
        }
        Err(e) => {
            drop(copy);
            if created {
                target.discard_new();
            }
            Err(CliError::Failed(format!(
                "the copy failed, and {target} is not to be used: {e}"
            )))
        }
    }
}

pub fn restore(data: &Location, file: &Path) -> Result<(), CliError> {
    let input = open_input(file)?;
    let created = data.is_new();
    let store = data.open_or_init()?;
    let bar = progress::bar("restoring", None);
    let result = store.restore(input, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    match result {
        Ok(v) => {
            println!("restored {} events, head {}", v.count, hex(&v.head));
            // A folder that kept its key and last checkpoint: the restored ledger must extend it.
            store.check_against_last_checkpoint().map_err(|e| {
                CliError::Failed(format!(
                    "the restored ledger does not extend the last signed checkpoint: {e}"
                ))
            })?;
            Ok(())
        }
        Err(e) => {
            drop(store);
            if created {
                data.discard_new();
            }
            Err(match e {
                CoreError::Restore(why) => {
                    CliError::Failed(format!("cannot restore: {why}; nothing was written"))
                }
                other => other.into(),
            })
        }
    }
}

/// `kroniek erase SUBJECT --reason TEXT`.
pub fn erase(
    data: &Location,
    subject: &str,
    reason: &str,
    effective: Option<&str>,
) -> Result<(), CliError> {
    let effective = match effective {
        Some(text) => Date::parse(text).map_err(CliError::Usage)?,
        None => today(),
    };
    let store = data.open()?;
    let erased = kroniek_core::erasure::erasure_event(&store, subject, reason, effective).and_then(
        |event| {
            let stream = event.stream.to_string();
            store.append(&[event], LOCAL_ACTOR).map(|o| (o, stream))
        },
    );
    match erased {
        Ok((AppendOutcome::Appended { first, head, .. }, stream)) => {
            println!(
                "erased the personal data of {subject}: PersonalDataErased recorded in {stream} at position {first}, head {}",
                head.hash_hex()
            );
            Ok(())
        }
        Ok((AppendOutcome::AlreadyRecorded { .. }, _)) => Ok(()),
        Err(CoreError::Refused(refusals)) => {
            for r in &refusals {
                eprintln!("{}: {}", r.refusal.rule, r.refusal.message);
            }
            Err(CliError::Failed(
                "the erasure was refused; nothing was written".into(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// `kroniek log`.
pub fn log(
    data: &Location,
    stream: Option<&str>,
    from: u64,
    limit: Option<u64>,
    json: bool,
) -> Result<(), CliError> {
    let store = data.open()?;
    let limit = limit.unwrap_or(u64::MAX);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut print = |record: &Record| -> Result<(), CliError> {
        let text = if json {
            String::from_utf8_lossy(&store.export_line(record, true)?).into_owned()
        } else {
            format!(
                "{:>8}  {}  {:<32} {:<22} v{:<4} {}",
                record.position,
                record.effective,
                record.stream,
                record.event_type,
                record.version,
                &hex(&record.hash)[..16]
            )
        };
        writeln!(out, "{text}").map_err(CliError::io("cannot write to standard output"))
    };
    match stream {
        Some(s) => {
            kroniek_core::StreamName::parse(s).map_err(CliError::Usage)?;
            for record in store
                .read_stream(s, from)?
                .iter()
                .take(limit.try_into().unwrap_or(usize::MAX))
            {
                print(record)?;
            }
        }
        None => {
            for record in store
                .iter_from(from)
                .take(limit.try_into().unwrap_or(usize::MAX))
            {
                print(&record?)?;
            }
        }
    }
    out.flush()
        .map_err(CliError::io("cannot write to standard output"))?;
    Ok(())
}

/// `kroniek generate`.
pub fn generate(events: u64, seed: u64, out: Option<&Path>) -> Result<(), CliError> {
    let (mut sink, what) = open_output(out)?;
    kroniek_app::synthetic::generate(events, seed, &mut sink)
        .map_err(CliError::io(format!("cannot write {what}")))?;
    sink.flush()
        .map_err(CliError::io(format!("cannot write {what}")))?;
    Ok(())
}

/// Rebuilds every read model from the ledger, with personal data (the local admin sees it).
fn projections(data: &Location) -> Result<kroniek_projections::Projections, CliError> {
    let store = data.open()?;
    let bar = progress::bar("reading the ledger", Some(store.head().count));
    let p = kroniek_app::ledger::rebuild(&store, &mut progress::reporter(&bar))?;
    bar.finish_and_clear();
    Ok(p)
}

fn as_of(text: Option<&str>) -> Result<Date, CliError> {
    match text {
        Some(t) => Date::parse(t).map_err(CliError::Usage),
        None => Ok(today()),
    }
}

fn print_view<T: serde::Serialize>(
    view: &T,
    json: bool,
    table: impl Fn(&T) -> String,
) -> Result<(), CliError> {
    let text = if json {
        serde_json::to_string_pretty(view).map_err(|e| CliError::Failed(e.to_string()))? + "\n"
    } else {
        table(view)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .map_err(CliError::io("cannot write to standard output"))?;
    Ok(())
}

fn not_found(e: kroniek_projections::ProjectionError) -> CliError {
    CliError::Failed(e.to_string())
}

/// `kroniek composition`.
pub fn composition(
    data: &Location,
    body_id: &str,
    date: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    let d = as_of(date)?;
    let view = projections(data)?
        .composition(body_id, d)
        .map_err(not_found)?;
    print_view(&view, json, tables::composition)
}

/// `kroniek terms`.
pub fn terms(data: &Location, body_id: &str, json: bool) -> Result<(), CliError> {
    let view = projections(data)?.terms(body_id).map_err(not_found)?;
    print_view(&view, json, tables::terms)
}

/// `kroniek member`.
pub fn member(
    data: &Location,
    member_id: &str,
    date: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    let d = as_of(date)?;
    let view = projections(data)?.member(member_id, d).map_err(not_found)?;
    print_view(&view, json, tables::member)
}

/// `kroniek members`.
pub fn members(data: &Location, date: Option<&str>, json: bool) -> Result<(), CliError> {
    let d = as_of(date)?;
    let view = projections(data)?.membership_count(d);
    print_view(&view, json, tables::members)
}

/// `kroniek timeline`.
pub fn timeline(
    data: &Location,
    filter: kroniek_projections::views::TimelineFilter,
    json: bool,
) -> Result<(), CliError> {
    for d in [&filter.from, &filter.to].into_iter().flatten() {
        Date::parse(d).map_err(CliError::Usage)?;
    }
    let view = projections(data)?.timeline(&filter);
    print_view(&view, json, |v| tables::timeline(v))
}

/// `kroniek election`.
pub fn election(data: &Location, election_id: &str, json: bool) -> Result<(), CliError> {
    let view = projections(data)?
        .election(election_id)
        .map_err(not_found)?;
    print_view(&view, json, tables::election)
}

/// `kroniek meeting`.
pub fn meeting(data: &Location, meeting_id: &str, json: bool) -> Result<(), CliError> {
    let view = projections(data)?.meeting(meeting_id).map_err(not_found)?;
    print_view(&view, json, tables::meeting)
}

/// `kroniek case`.
pub fn case(
    data: &Location,
    case_id: &str,
    date: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    let d = as_of(date)?;
    let view = projections(data)?.case(case_id, d).map_err(not_found)?;
    print_view(&view, json, tables::case)
}

/// `kroniek conduct`.
pub fn conduct(data: &Location, date: Option<&str>, json: bool) -> Result<(), CliError> {
    let d = as_of(date)?;
    let view = projections(data)?.conduct(d);
    print_view(&view, json, tables::conduct)
}

/// Today in the Netherlands, as a ledger date.
pub fn today() -> Date {
    kroniek_app::clock::today()
}

/// `kroniek token create`.
pub fn token_create(data: &Location, role: &str, principal: &str) -> Result<(), CliError> {
    let role = kroniek_app::tokens::parse_role(role)?;
    let store = data.open_or_init()?;
    let token = kroniek_app::tokens::grant_new(&store, principal, role, LOCAL_ACTOR, today())?;
    println!("{token}");
    eprintln!(
        "granted {principal} the {} role; the token above is shown once (only its hash is kept)",
        role.as_str()
    );
    Ok(())
}

/// `kroniek token list`.
pub fn token_list(data: &Location, json: bool) -> Result<(), CliError> {
    let store = data.open()?;
    let table = kroniek_app::tokens::access_table(&store)?;
    let rows: Vec<serde_json::Value> = table
        .principals()
        .map(|p| serde_json::json!({"principal": p.name, "role": p.role.as_str(), "granted": p.granted, "revoked": p.revoked}))
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| CliError::Failed(e.to_string()))?
        );
    } else {
        println!(
            "{:<24} {:<10} {:<10} revoked",
            "principal", "role", "granted"
        );
        for p in table.principals() {
            println!(
                "{:<24} {:<10} {:<10} {}",
                p.name,
                p.role.as_str(),
                p.granted,
                p.revoked.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(())
}

/// `kroniek token revoke`.
pub fn token_revoke(data: &Location, principal: &str) -> Result<(), CliError> {
    let store = data.open()?;
    kroniek_app::tokens::revoke(&store, principal, LOCAL_ACTOR, today())?;
    println!("revoked {principal}");
    Ok(())
}
