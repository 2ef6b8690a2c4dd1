//! kroniek's PostgreSQL storage engine: the store's six key spaces as tables with typed
//! columns (the schema is in `events/FORMAT.md`), each unit of work one transaction.
//!
//! The core stays synchronous: this crate uses the `postgres` crate, the blocking client
//! over `tokio-postgres` (each connection drives itself on a small runtime of its own, inside
//! the client), so the store calls it as it calls sled, from plain threads.
//!
//! - **Durability.** Every connection sets `synchronous_commit = on`: a commit returns once
//!   the primary's WAL is flushed (with a synchronous standby configured, once that standby
//!   has it too; `remote_apply` would also make it visible there before it returns).
//! - **One writer at a time.** The store writes from one thread at a time; its writes are
//!   kept in order and sent as a few multi-row statements in one transaction, which begins by
//!   locking the `head` row (`SELECT … FOR UPDATE`, [`Backend::begin`]): a second process
//!   waits for the lock, then reads the head the first one committed and takes its records in
//!   before it checks its own appends (never two records at one position, never a fork).
//!   Each commit sends `NOTIFY kroniek_commit`, which [`Backend::wait_for_commit`] listens
//!   for, so other processes' read sides follow.
//! - **Reads** on the writing thread use the writing connection (they see the unit's own
//!   writes); other threads read committed rows through a small pool of connections.
//! - **TLS.** With `sslmode=require` in the URL (or `sslrootcert=FILE`, which implies it),
//!   every connection is TLS (rustls) and the server's certificate is verified, name
//!   included, as libpq's `verify-full` does: against the certificate authorities of
//!   `sslrootcert` (a managed database's CA bundle), else the public ones (Mozilla's list).
//!   Without them, connections are plain, as before.

use kroniek_core::error::CoreError;
use kroniek_core::store::{Backend, BackendIter, Entry, KeySpace};
use postgres::types::ToSql;
use postgres::{Client, NoTls};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

/// Rows per page of a range scan.
const PAGE: i64 = 2_048;
/// Idle reading connections kept.
const POOL: usize = 8;

/// The schema, created by `init` (all or nothing, in one transaction).
pub const SCHEMA: &str = r#"
CREATE TABLE kroniek_records (
    position bigint PRIMARY KEY,
    hash     bytea  NOT NULL,
    body     bytea  NOT NULL
);
CREATE TABLE kroniek_streams (
    stream   text COLLATE "C" NOT NULL,
    version  bigint NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (stream, version)
);
CREATE TABLE kroniek_ids (
    id       uuid   PRIMARY KEY,
    position bigint NOT NULL
);
CREATE TABLE kroniek_personal (
    position bigint PRIMARY KEY,
    salt     bytea  NOT NULL,
    personal bytea  NOT NULL
);
CREATE TABLE kroniek_merkle (
    level      smallint NOT NULL,
    node_index bigint   NOT NULL,
    hash       bytea    NOT NULL,
    PRIMARY KEY (level, node_index)
);
CREATE TABLE kroniek_meta (
    name  text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);
CREATE TABLE kroniek_files (
    name    text PRIMARY KEY,
    content bytea NOT NULL
);
"#;

/// The tables of [`SCHEMA`], for the size.
const TABLES: [&str; 7] = [
    "kroniek_records",
    "kroniek_streams",
    "kroniek_ids",
    "kroniek_personal",
    "kroniek_merkle",
    "kroniek_meta",
    "kroniek_files",
];

/// A key of one key space, as its table's columns.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Position(i64),
    Stream(String, i64),
    Id(Vec<u8>),
    Node(i16, i64),
    Name(String),
}

fn defect(why: impl std::fmt::Display) -> CoreError {
    CoreError::Backend(format!("{why} (a defect: please report it)"))
}

fn be_i64(bytes: &[u8]) -> Result<i64, CoreError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| defect("a key is not 8 bytes"))?;
    // Positions, versions and indexes stay below 2^63; a larger one (u64::MAX as an open
    // upper bound) is the largest the column holds.
    Ok(i64::try_from(u64::from_be_bytes(array)).unwrap_or(i64::MAX))
}

fn be_bytes(v: i64) -> [u8; 8] {
    u64::try_from(v).unwrap_or(0).to_be_bytes()
}

impl Key {
    fn decode(space: KeySpace, bytes: &[u8]) -> Result<Key, CoreError> {
        Ok(match space {
            KeySpace::Records | KeySpace::Personal => Key::Position(be_i64(bytes)?),
            KeySpace::Streams => {
                if bytes.len() < 9 || bytes[bytes.len() - 9] != 0 {
                    return Err(defect("a stream key is not name, 0, version"));
                }
                let (name, version) = bytes.split_at(bytes.len() - 9);
                let name = String::from_utf8(name.to_vec())
                    .map_err(|_| defect("a stream name is not UTF-8"))?;
                Key::Stream(name, be_i64(&version[1..])?)
            }
            KeySpace::Ids => {
                if bytes.len() != 16 {
                    return Err(defect("an event id key is not 16 bytes"));
                }
                Key::Id(bytes.to_vec())
            }
            KeySpace::Merkle => {
                if bytes.len() != 9 {
                    return Err(defect("a tree node key is not 9 bytes"));
                }
                Key::Node(i16::from(bytes[0]), be_i64(&bytes[1..])?)
            }
            KeySpace::Meta => Key::Name(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| defect("a meta name is not UTF-8"))?,
            ),
        })
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Key::Position(p) => be_bytes(*p).to_vec(),
            Key::Stream(name, version) => {
                let mut k = name.as_bytes().to_vec();
                k.push(0);
                k.extend_from_slice(&be_bytes(*version));
                k
            }
            Key::Id(id) => id.clone(),
            Key::Node(level, index) => {
                let mut k = vec![u8::try_from(*level).unwrap_or(0)];
                k.extend_from_slice(&be_bytes(*index));
                k
            }
            Key::Name(name) => name.as_bytes().to_vec(),
        }
    }

    /// The key as query parameters, in the order of [`Table::key_columns`].
    fn params(&self) -> Vec<Box<dyn ToSql + Sync + Send>> {
        match self {
            Key::Position(p) => vec![Box::new(*p)],
            Key::Stream(name, version) => vec![Box::new(name.clone()), Box::new(*version)],
            Key::Id(id) => vec![Box::new(id.clone())],
            Key::Node(level, index) => vec![Box::new(*level), Box::new(*index)],
            Key::Name(name) => vec![Box::new(name.clone())],
        }
    }
}

/// How one key space is laid out as a table.
struct Table {
    name: &'static str,
    /// The key's columns, in order.
    key_columns: &'static [&'static str],
    /// How each key parameter is written in SQL (`$n` is replaced by its number).
    key_params: &'static [&'static str],
    /// The key's columns as selected (in the order [`Table::row`] reads them).
    key_select: &'static str,
    /// The value's columns.
    value_columns: &'static [&'static str],
}

const RECORDS: Table = Table {
    name: "kroniek_records",
    key_columns: &["position"],
    key_params: &["$n::bigint"],
    key_select: "position",
    value_columns: &["hash", "body"],
};
const STREAMS: Table = Table {
    name: "kroniek_streams",
    key_columns: &["stream", "version"],
    key_params: &["$n::text", "$n::bigint"],
    key_select: "stream, version",
    value_columns: &["position"],
};
const IDS: Table = Table {
    name: "kroniek_ids",
    key_columns: &["id"],
    key_params: &["encode($n::bytea, 'hex')::uuid"],
    key_select: "uuid_send(id)",
    value_columns: &["position"],
};
const PERSONAL: Table = Table {
    name: "kroniek_personal",
    key_columns: &["position"],
    key_params: &["$n::bigint"],
    key_select: "position",
    value_columns: &["salt", "personal"],
};
const MERKLE: Table = Table {
    name: "kroniek_merkle",
    key_columns: &["level", "node_index"],
    key_params: &["$n::smallint", "$n::bigint"],
    key_select: "level, node_index",
    value_columns: &["hash"],
};
const META: Table = Table {
    name: "kroniek_meta",
    key_columns: &["name"],
    key_params: &["$n::text"],
    key_select: "name",
    value_columns: &["value"],
};

fn table(space: KeySpace) -> &'static Table {
    match space {
        KeySpace::Records => &RECORDS,
        KeySpace::Streams => &STREAMS,
        KeySpace::Ids => &IDS,
        KeySpace::Personal => &PERSONAL,
        KeySpace::Merkle => &MERKLE,
        KeySpace::Meta => &META,
    }
}

impl Table {
    fn space(&self) -> KeySpace {
        match self.name {
            "kroniek_records" => KeySpace::Records,
            "kroniek_streams" => KeySpace::Streams,
            "kroniek_ids" => KeySpace::Ids,
            "kroniek_personal" => KeySpace::Personal,
            "kroniek_merkle" => KeySpace::Merkle,
            _ => KeySpace::Meta,
        }
    }

    /// `(col, …)` of the key.
    fn key_tuple(&self) -> String {
        format!("({})", self.key_columns.join(", "))
    }

    /// `(p1, …)` of the key's parameters, numbered from `first`.
    fn param_tuple(&self, first: usize) -> String {
        let params: Vec<String> = self
            .key_params
            .iter()
            .enumerate()
            .map(|(i, p)| p.replace("$n", &format!("${}", first + i)))
            .collect();
        format!("({})", params.join(", "))
    }

    fn select(&self) -> String {
        format!(
            "SELECT {}, {} FROM {}",
            self.key_select,
            self.value_columns.join(", "),
            self.name
        )
    }

    /// A selected row as the store's key and value bytes.
    fn row(&self, row: &postgres::Row) -> Result<Entry, CoreError> {
        let get_bytes = |i: usize| -> Result<Vec<u8>, CoreError> { row.try_get(i).map_err(pg) };
        let get_i64 = |i: usize| -> Result<i64, CoreError> { row.try_get(i).map_err(pg) };
        let key = match self.space() {
            KeySpace::Records | KeySpace::Personal => Key::Position(get_i64(0)?),
            KeySpace::Streams => Key::Stream(row.try_get(0).map_err(pg)?, get_i64(1)?),
            KeySpace::Ids => Key::Id(get_bytes(0)?),
            KeySpace::Merkle => Key::Node(row.try_get(0).map_err(pg)?, get_i64(1)?),
            KeySpace::Meta => Key::Name(row.try_get(0).map_err(pg)?),
        };
        let first_value = self.key_columns.len();
        let value = match self.space() {
            KeySpace::Records | KeySpace::Personal => {
                let mut v = get_bytes(first_value)?;
                v.extend_from_slice(&get_bytes(first_value + 1)?);
                v
            }
            KeySpace::Streams | KeySpace::Ids => be_bytes(get_i64(first_value)?).to_vec(),
            KeySpace::Merkle | KeySpace::Meta => get_bytes(first_value)?,
        };
        Ok((key.encode(), value))
    }
}

fn pg(e: postgres::Error) -> CoreError {
    let mut why = e.to_string();
    if let Some(db) = e.as_db_error() {
        why = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            why.push_str(&format!(" ({detail})"));
        }
    } else if let Some(source) = std::error::Error::source(&e) {
        why = format!("{why}: {source}");
    }
    CoreError::Backend(format!("PostgreSQL: {why}"))
}

/// One write of a unit of work.
enum Op {
    Insert(KeySpace, Vec<u8>, Vec<u8>),
    Remove(KeySpace, Vec<u8>),
    Clear(KeySpace),
}

/// The writing connection and its unit of work.
struct Writer {
    client: Client,
    ops: Vec<Op>,
    /// Whether `BEGIN` was sent (the unit has sent writes).
    begun: bool,
    /// A write of this unit failed: its commit must fail too.
    failed: Option<String>,
}

/// How to reach the database: its settings, and the TLS connector when TLS is required.
struct Target {
    config: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

struct Shared {
    target: Target,
    describe: String,
    writer: Mutex<Writer>,
    /// The thread whose unit of work is open.
    owner: Mutex<Option<ThreadId>>,
    pool: Mutex<Vec<Client>>,
    /// The connection that listens for other processes' commits (made on first use).
    listener: Mutex<Option<Client>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A ledger's store on PostgreSQL (see the module's documentation).
#[derive(Clone)]
pub struct PostgresBackend {
    shared: Arc<Shared>,
}

/// Whether `location` names a PostgreSQL ledger (a `postgres://` or `postgresql://` URL).
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// A connection URL without its password, for messages.
pub fn describe(url: &str) -> String {
    match parse_url(url) {
        Ok((config, _)) => describe_url(&config),
        Err(_) => "a PostgreSQL database (the URL cannot be read)".into(),
    }
}

/// Reads a connection URL. `sslrootcert=FILE` is kroniek's (the client library does not know
/// it): taken out, returned, and it makes TLS required.
pub fn parse_url(url: &str) -> Result<(postgres::Config, Option<std::path::PathBuf>), String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut root = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("sslrootcert=") {
            Some(path) if !path.is_empty() => root = Some(std::path::PathBuf::from(path)),
            Some(_) => return Err("sslrootcert= names no file".into()),
            None => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config = url.parse::<postgres::Config>().map_err(|e| e.to_string())?;
    if root.is_some() {
        config.ssl_mode(postgres::config::SslMode::Require);
    }
    Ok((config, root))
}

/// The TLS connector for `sslmode=require`: the server's certificate verified against the
/// authorities in `root` (PEM), else the public ones.
fn tls_connector(
    root: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, CoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(path) => {
            use rustls_pki_types::pem::PemObject;
            let bad =
                |why: String| CoreError::Invalid(format!("sslrootcert {}: {why}", path.display()));
            let certificates = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(format!("cannot be read as PEM: {e}")))?;
            for certificate in certificates {
                let certificate =
                    certificate.map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
                roots
                    .add(certificate)
                    .map_err(|e| bad(format!("a certificate that cannot be a root: {e}")))?;
            }
            if roots.is_empty() {
                return Err(bad("holds no certificate".into()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    // The crypto provider of rustls's features: ring.
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A connection's settings as a URL without its password, for messages.
pub fn describe_url(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}{host}:{port}/{}",
        config
            .get_user()
            .map(|u| format!("{u}@"))
            .unwrap_or_default(),
        config.get_dbname().unwrap_or("")
    )
}

fn connect(target: &Target, describe: &str) -> Result<Client, CoreError> {
    let connected = match &target.tls {
        Some(tls) => target.config.connect(tls.clone()),
        None => target.config.connect(NoTls),
    };
    let mut client = connected.map_err(|e| {
        CoreError::Backend(format!(
            "cannot connect to {describe}: {} (is the server running, and the URL right?)",
            match pg(e) {
                CoreError::Backend(why) => why,
                other => other.to_string(),
            }
        ))
    })?;
    client
        .batch_execute("SET synchronous_commit = on")
        .map_err(pg)?;
    Ok(client)
}

impl PostgresBackend {
    /// Connects to the database at `url`. With `create`, makes the schema when the database
    /// has none (an empty database for `init`).
    pub fn connect(url: &str, create: bool) -> Result<PostgresBackend, CoreError> {
        let (config, root) = parse_url(url).map_err(|e| {
            CoreError::Invalid(format!(
                "{} is not a PostgreSQL URL ({e}): write postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=require[&sslrootcert=CA.pem]]",
                describe(url)
            ))
        })?;
        let describe = describe_url(&config);
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(tls_connector(root.as_deref())?),
            _ => None,
        };
        let target = Target { config, tls };
        let mut client = connect(&target, &describe)?;
        let has_schema: Option<String> = client
            .query_one("SELECT to_regclass('kroniek_meta')::text", &[])
            .map_err(pg)?
            .try_get(0)
            .map_err(pg)?;
        if has_schema.is_none() && create {
            let mut tx = client.transaction().map_err(pg)?;
            tx.batch_execute(SCHEMA).map_err(pg)?;
            tx.commit().map_err(pg)?;
        }
        Ok(PostgresBackend {
            shared: Arc::new(Shared {
                target,
                describe,
                writer: Mutex::new(Writer {
                    client,
                    ops: Vec::new(),
                    begun: false,
                    failed: None,
                }),
                owner: Mutex::new(None),
                pool: Mutex::new(Vec::new()),
                listener: Mutex::new(None),
            }),
        })
    }

    /// The backend as the store takes it.
    pub fn into_backend(self) -> Arc<dyn Backend> {
        Arc::new(self)
    }
}

impl Shared {
    fn is_owner(&self) -> bool {
        *lock(&self.owner) == Some(std::thread::current().id())
    }

    /// Runs `f` on the right connection: the writer's (its unit's writes sent first) on the
    /// thread whose unit is open, else a pooled one.
    fn read<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, CoreError>) -> Result<T, CoreError> {
        if self.is_owner() {
            let mut writer = lock(&self.writer);
            self.send_ops(&mut writer)?;
            return f(&mut writer.client);
        }
        let pooled = lock(&self.pool).pop();
        let mut client = match pooled {
            Some(c) if !c.is_closed() => c,
            _ => connect(&self.target, &self.describe)?,
        };
        let result = f(&mut client);
        if result.is_ok() {
            let mut pool = lock(&self.pool);
            if pool.len() < POOL {
                pool.push(client);
            }
        }
        result
    }

    /// Makes this thread the one whose unit of work is open.
    fn own(&self) -> Result<(), CoreError> {
        let mut owner = lock(&self.owner);
        let me = std::thread::current().id();
        match *owner {
            Some(o) if o != me => Err(defect("two threads write to one PostgreSQL ledger at once")),
            _ => {
                *owner = Some(me);
                Ok(())
            }
        }
    }

    /// Adds a write to the current unit of work, opening it.
    fn write(&self, op: Op) -> Result<(), CoreError> {
        self.own()?;
        lock(&self.writer).ops.push(op);
        Ok(())
    }

    /// Begins the unit's transaction unless it has begun, and locks the `head` row (so other
    /// processes' units wait for this one). Returns the stored head.
    fn begin_transaction(&self, writer: &mut Writer) -> Result<Option<Vec<u8>>, CoreError> {
        if !writer.begun {
            writer.client.batch_execute("BEGIN").map_err(pg)?;
            writer.begun = true;
        }
        let row = writer
            .client
            .query_opt(
                "SELECT value FROM kroniek_meta WHERE name = 'head' FOR UPDATE",
                &[],
            )
            .map_err(pg)?;
        match row {
            Some(r) => Ok(Some(r.try_get(0).map_err(pg)?)),
            None => Ok(None),
        }
    }

    /// Sends the unit's pending writes (in order, consecutive inserts into one table as one
    /// statement), beginning the transaction first.
    fn send_ops(&self, writer: &mut Writer) -> Result<(), CoreError> {
        if let Some(why) = &writer.failed {
            return Err(CoreError::Backend(why.clone()));
        }
        if writer.ops.is_empty() {
            return Ok(());
        }
        let result = self.try_send_ops(writer);
        if let Err(e) = &result {
            writer.failed = Some(e.to_string());
        }
        result
    }

    fn try_send_ops(&self, writer: &mut Writer) -> Result<(), CoreError> {
        if !writer.begun {
            self.begin_transaction(writer)?;
        }
        let ops = std::mem::take(&mut writer.ops);
        let mut i = 0;
        while i < ops.len() {
            match &ops[i] {
                Op::Insert(space, _, _) => {
                    let space = *space;
                    let mut rows: Vec<(&[u8], &[u8])> = Vec::new();
                    while let Some(Op::Insert(s, k, v)) = ops.get(i) {
                        if *s != space {
                            break;
                        }
                        rows.push((k, v));
                        i += 1;
                    }
                    insert_rows(&mut writer.client, space, &rows)?;
                }
                Op::Remove(space, _) => {
                    let space = *space;
                    let mut keys: Vec<&[u8]> = Vec::new();
                    while let Some(Op::Remove(s, k)) = ops.get(i) {
                        if *s != space {
                            break;
                        }
                        keys.push(k);
                        i += 1;
                    }
                    remove_rows(&mut writer.client, space, &keys)?;
                }
                Op::Clear(space) => {
                    writer
                        .client
                        .batch_execute(&format!("DELETE FROM {}", table(*space).name))
                        .map_err(pg)?;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn end_unit(&self, writer: &mut Writer) {
        writer.ops.clear();
        writer.begun = false;
        writer.failed = None;
        *lock(&self.owner) = None;
    }
}

/// Inserts (or replaces) rows of one table in one statement; a key written twice keeps its
/// last value.
fn insert_rows(
    client: &mut Client,
    space: KeySpace,
    rows: &[(&[u8], &[u8])],
) -> Result<(), CoreError> {
    let mut unique: Vec<(&[u8], &[u8])> = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashMap::with_capacity(rows.len());
    for (k, v) in rows {
        match seen.get(k) {
            Some(&at) => unique[at] = (*k, *v),
            None => {
                seen.insert(*k, unique.len());
                unique.push((*k, *v));
            }
        }
    }
    let split = |v: &[u8]| -> Result<Entry, CoreError> {
        if v.len() < 32 {
            return Err(defect("a record or personal value is under 32 bytes"));
        }
        Ok((v[..32].to_vec(), v[32..].to_vec()))
    };
    let t = table(space);
    match space {
        KeySpace::Records | KeySpace::Personal => {
            let (mut keys, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
            for (k, v) in &unique {
                keys.push(be_i64(k)?);
                let (a, b) = split(v)?;
                first.push(a);
                second.push(b);
            }
            let (a, b) = (t.value_columns[0], t.value_columns[1]);
            let sql = format!(
                "INSERT INTO {name} (position, {a}, {b}) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) \
                 ON CONFLICT (position) DO UPDATE SET {a} = excluded.{a}, {b} = excluded.{b}",
                name = t.name
            );
            client
                .execute(&sql, &[&keys, &first, &second])
                .map_err(pg)?;
        }
        KeySpace::Streams => {
            let (mut names, mut versions, mut positions) = (Vec::new(), Vec::new(), Vec::new());
            for (k, v) in &unique {
                let Key::Stream(name, version) = Key::decode(space, k)? else {
                    return Err(defect("a stream key did not decode as one"));
                };
                names.push(name);
                versions.push(version);
                positions.push(be_i64(v)?);
            }
            client
                .execute(
                    "INSERT INTO kroniek_streams (stream, version, position) \
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) \
                     ON CONFLICT (stream, version) DO UPDATE SET position = excluded.position",
                    &[&names, &versions, &positions],
                )
                .map_err(pg)?;
        }
        KeySpace::Ids => {
            let (mut ids, mut positions) = (Vec::new(), Vec::new());
            for (k, v) in &unique {
                Key::decode(space, k)?;
                ids.push(k.to_vec());
                positions.push(be_i64(v)?);
            }
            client
                .execute(
                    "INSERT INTO kroniek_ids (id, position) \
                     SELECT encode(i, 'hex')::uuid, p FROM unnest($1::bytea[], $2::bigint[]) AS u(i, p) \
                     ON CONFLICT (id) DO UPDATE SET position = excluded.position",
                    &[&ids, &positions],
                )
                .map_err(pg)?;
        }
        KeySpace::Merkle => {
            let (mut levels, mut indexes, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
            for (k, v) in &unique {
                let Key::Node(level, index) = Key::decode(space, k)? else {
                    return Err(defect("a tree node key did not decode as one"));
                };
                levels.push(level);
                indexes.push(index);
                hashes.push(v.to_vec());
            }
            client
                .execute(
                    "INSERT INTO kroniek_merkle (level, node_index, hash) \
                     SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) \
                     ON CONFLICT (level, node_index) DO UPDATE SET hash = excluded.hash",
                    &[&levels, &indexes, &hashes],
                )
                .map_err(pg)?;
        }
        KeySpace::Meta => {
            let (mut names, mut values) = (Vec::new(), Vec::new());
            for (k, v) in &unique {
                let Key::Name(name) = Key::decode(space, k)? else {
                    return Err(defect("a meta key did not decode as one"));
                };
                names.push(name);
                values.push(v.to_vec());
            }
            client
                .execute(
                    "INSERT INTO kroniek_meta (name, value) \
                     SELECT * FROM unnest($1::text[], $2::bytea[]) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &[&names, &values],
                )
                .map_err(pg)?;
        }
    }
    Ok(())
}

/// The key's parameters as the references a query takes.
fn refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Removes the rows of `keys` from one table (one statement per key: removals are rare, the
/// leftovers of a refused batch and erasures).
fn remove_rows(client: &mut Client, space: KeySpace, keys: &[&[u8]]) -> Result<(), CoreError> {
    let t = table(space);
    let sql = format!(
        "DELETE FROM {} WHERE {} = {}",
        t.name,
        t.key_tuple(),
        t.param_tuple(1)
    );
    let statement = client.prepare(&sql).map_err(pg)?;
    for k in keys {
        let params = Key::decode(space, k)?.params();
        client.execute(&statement, &refs(&params)).map_err(pg)?;
    }
    Ok(())
}

/// How a scan bounds its keys: `(key, inclusive)` at each end.
#[derive(Debug, Clone)]
struct Scan {
    space: KeySpace,
    lower: Option<(Key, bool)>,
    upper: Option<(Key, bool)>,
    /// A prefix of stream names (for `scan_prefix` of the streams).
    stream_prefix: Option<String>,
}

impl Scan {
    /// The next page after `after` (exclusive), at most [`PAGE`] rows.
    fn page(&self, client: &mut Client, after: Option<&Key>) -> Result<Vec<Entry>, CoreError> {
        let t = table(self.space);
        let mut conditions = Vec::new();
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let bound = |key: &Key,
                     op: &str,
                     conditions: &mut Vec<String>,
                     params: &mut Vec<Box<dyn ToSql + Sync + Send>>| {
            conditions.push(format!(
                "{} {op} {}",
                t.key_tuple(),
                t.param_tuple(params.len() + 1)
            ));
            params.extend(key.params());
        };
        match (after, &self.lower) {
            (Some(key), _) => bound(key, ">", &mut conditions, &mut params),
            (None, Some((key, true))) => bound(key, ">=", &mut conditions, &mut params),
            (None, Some((key, false))) => bound(key, ">", &mut conditions, &mut params),
            (None, None) => {}
        }
        match &self.upper {
            Some((key, true)) => bound(key, "<=", &mut conditions, &mut params),
            Some((key, false)) => bound(key, "<", &mut conditions, &mut params),
            None => {}
        }
        if let Some(prefix) = &self.stream_prefix {
            conditions.push(format!("starts_with(stream, ${}::text)", params.len() + 1));
            params.push(Box::new(prefix.clone()));
        }
        let sql = format!(
            "{}{} ORDER BY {} LIMIT {PAGE}",
            t.select(),
            if conditions.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conditions.join(" AND "))
            },
            t.key_columns.join(", ")
        );
        let rows = client.query(&sql, &refs(&params)).map_err(pg)?;
        rows.iter().map(|r| t.row(r)).collect()
    }
}

/// A range scan read a page at a time (keyset paging: each page starts after the last key).
struct Pages {
    shared: Arc<Shared>,
    scan: Scan,
    buffered: std::collections::VecDeque<Entry>,
    last: Option<Key>,
    done: bool,
}

impl Iterator for Pages {
    type Item = Result<Entry, CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffered.is_empty() && !self.done {
            let scan = self.scan.clone();
            let last = self.last.clone();
            match self.shared.read(|client| scan.page(client, last.as_ref())) {
                Ok(rows) => {
                    self.done = (rows.len() as i64) < PAGE;
                    self.buffered.extend(rows);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        let (k, v) = self.buffered.pop_front()?;
        match Key::decode(self.scan.space, &k) {
            Ok(key) => self.last = Some(key),
            Err(e) => {
                self.done = true;
                self.buffered.clear();
                return Some(Err(e));
            }
        }
        Some(Ok((k, v)))
    }
}

fn one_error(e: CoreError) -> BackendIter {
    Box::new(std::iter::once(Err(e)))
}

impl Backend for PostgresBackend {
    fn describe(&self) -> String {
        self.shared.describe.clone()
    }

    fn get(&self, space: KeySpace, key: &[u8]) -> Result<Option<Vec<u8>>, CoreError> {
        let t = table(space);
        let k = Key::decode(space, key)?;
        let sql = format!(
            "{} WHERE {} = {}",
            t.select(),
            t.key_tuple(),
            t.param_tuple(1)
        );
        let params = k.params();
        let found = self.shared.read(|client| {
            let row = client.query_opt(&sql, &refs(&params)).map_err(pg)?;
            row.map(|r| t.row(&r)).transpose()
        })?;
        Ok(found.map(|(_, v)| v))
    }

    fn range(&self, space: KeySpace, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> BackendIter {
        let bound = |b: Bound<Vec<u8>>| -> Result<Option<(Key, bool)>, CoreError> {
            Ok(match b {
                Bound::Included(k) => Some((Key::decode(space, &k)?, true)),
                Bound::Excluded(k) => Some((Key::decode(space, &k)?, false)),
                Bound::Unbounded => None,
            })
        };
        let (lower, upper) = match (bound(lower), bound(upper)) {
            (Ok(l), Ok(u)) => (l, u),
            (Err(e), _) | (_, Err(e)) => return one_error(e),
        };
        Box::new(Pages {
            shared: self.shared.clone(),
            scan: Scan {
                space,
                lower,
                upper,
                stream_prefix: None,
            },
            buffered: Default::default(),
            last: None,
            done: false,
        })
    }

    fn scan_prefix(&self, space: KeySpace, prefix: &[u8]) -> BackendIter {
        if space != KeySpace::Streams {
            return one_error(defect(
                "a prefix scan of a key space other than the streams",
            ));
        }
        let scan = match prefix.split_last() {
            // One stream: its name and the 0 that ends it.
            Some((0, name)) => match String::from_utf8(name.to_vec()) {
                Ok(name) => Scan {
                    space,
                    lower: Some((Key::Stream(name.clone(), 0), true)),
                    upper: Some((Key::Stream(name, i64::MAX), true)),
                    stream_prefix: None,
                },
                Err(_) => return one_error(defect("a stream name is not UTF-8")),
            },
            // The streams whose names start with `prefix` (a category's `election/`).
            _ => match String::from_utf8(prefix.to_vec()) {
                Ok(p) => Scan {
                    space,
                    lower: Some((Key::Stream(p.clone(), 0), true)),
                    upper: None,
                    stream_prefix: Some(p),
                },
                Err(_) => return one_error(defect("a stream prefix is not UTF-8")),
            },
        };
        Box::new(Pages {
            shared: self.shared.clone(),
            scan,
            buffered: Default::default(),
            last: None,
            done: false,
        })
    }

    fn last_with_prefix(&self, space: KeySpace, prefix: &[u8]) -> Result<Option<Entry>, CoreError> {
        let Some((0, name)) = prefix.split_last() else {
            return Err(defect("a last-key lookup other than a stream's"));
        };
        if space != KeySpace::Streams {
            return Err(defect("a last-key lookup other than a stream's"));
        }
        let name =
            String::from_utf8(name.to_vec()).map_err(|_| defect("a stream name is not UTF-8"))?;
        self.shared.read(|client| {
            let row = client
                .query_opt(
                    "SELECT stream, version, position FROM kroniek_streams WHERE stream = $1 ORDER BY version DESC LIMIT 1",
                    &[&name],
                )
                .map_err(pg)?;
            row.map(|r| STREAMS.row(&r)).transpose()
        })
    }

    fn insert(&self, space: KeySpace, key: &[u8], value: &[u8]) -> Result<(), CoreError> {
        self.shared
            .write(Op::Insert(space, key.to_vec(), value.to_vec()))
    }

    fn remove(&self, space: KeySpace, key: &[u8]) -> Result<(), CoreError> {
        self.shared.write(Op::Remove(space, key.to_vec()))
    }

    fn clear(&self, space: KeySpace) -> Result<(), CoreError> {
        self.shared.write(Op::Clear(space))
    }

    fn commit(&self) -> Result<(), CoreError> {
        if !self.shared.is_owner() {
            return Ok(()); // nothing written on this thread
        }
        let mut writer = lock(&self.shared.writer);
        let sent = self.shared.send_ops(&mut writer);
        let result = match sent {
            // Other processes that follow this ledger hear of the commit.
            Ok(()) if writer.begun => writer
                .client
                .batch_execute("NOTIFY kroniek_commit; COMMIT")
                .map_err(pg),
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = writer.client.batch_execute("ROLLBACK");
                Err(e)
            }
        };
        self.shared.end_unit(&mut writer);
        result
    }

    fn begin(&self) -> Result<Option<Vec<u8>>, CoreError> {
        self.shared.own()?;
        let mut writer = lock(&self.shared.writer);
        let result = self
            .shared
            .send_ops(&mut writer)
            .and_then(|()| self.shared.begin_transaction(&mut writer));
        if let Err(e) = &result {
            writer.failed = Some(e.to_string());
        }
        result
    }

    fn wait_for_commit(&self, timeout: std::time::Duration) -> Result<(), CoreError> {
        let mut listener = lock(&self.shared.listener);
        if listener.is_none() {
            let mut client = connect(&self.shared.target, &self.shared.describe)?;
            client.batch_execute("LISTEN kroniek_commit").map_err(pg)?;
            *listener = Some(client);
        }
        let Some(client) = listener.as_mut() else {
            return Ok(());
        };
        use postgres::fallible_iterator::FallibleIterator;
        let first = {
            let mut notifications = client.notifications();
            let first = notifications.timeout_iter(timeout).next().map(|_| ());
            if first.is_ok() {
                // Take whatever else arrived meanwhile (without waiting): one look at the head
                // covers them all.
                while let Ok(Some(_)) = notifications.iter().next() {}
            }
            first
        };
        match first {
            Ok(_) => Ok(()),
            Err(e) => {
                *listener = None;
                Err(pg(e))
            }
        }
    }

    fn abort(&self) {
        let mut writer = lock(&self.shared.writer);
        if writer.begun {
            let _ = writer.client.batch_execute("ROLLBACK");
        }
        self.shared.end_unit(&mut writer);
    }

    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>, CoreError> {
        self.shared.read(|client| {
            let row = client
                .query_opt(
                    "SELECT content FROM kroniek_files WHERE name = $1",
                    &[&name],
                )
                .map_err(pg)?;
            row.map(|r| r.try_get(0).map_err(pg)).transpose()
        })
    }

    fn write_file(&self, name: &str, content: &[u8]) -> Result<(), CoreError> {
        let mut client = connect(&self.shared.target, &self.shared.describe)?;
        client
            .execute(
                "INSERT INTO kroniek_files (name, content) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET content = excluded.content",
                &[&name, &content],
            )
            .map_err(pg)?;
        Ok(())
    }

    fn size(&self) -> Result<u64, CoreError> {
        let tables: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
        self.shared.read(|client| {
            let row = client
                .query_one(
                    "SELECT coalesce(sum(pg_total_relation_size(t::regclass)), 0)::bigint FROM unnest($1::text[]) AS t",
                    &[&tables],
                )
                .map_err(pg)?;
            let size: i64 = row.try_get(0).map_err(pg)?;
            Ok(u64::try_from(size).unwrap_or(0))
        })
    }
}
