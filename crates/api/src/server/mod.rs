//! The HTTP API (axum on tokio): `/v1` for appending, reading and the read models, with
//! bearer-token access control per role, RFC 9457 problem responses, request limits and a
//! graceful shutdown. Handlers are thin; the store and the read models do the work, on
//! blocking threads where sled is touched.

mod extract;
pub mod follow;
pub use follow::Follow;
pub mod metrics;
pub mod openapi;
pub mod paging;
pub mod policy;
pub mod problem;
pub(crate) mod routes;
pub mod state;
#[cfg(test)]
mod tests;

pub use state::Limits;

use axum::routing::{get, post};
use axum::Router;
use kroniek_app::AppError;
use kroniek_core::catalogue::AccessRole;
use kroniek_core::error::CoreError;
use kroniek_core::types::Date;
use kroniek_core::AppendOutcome;
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The router, with every route and layer.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = Duration::from_secs(state.limits.timeout_secs);
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/v1/events", post(routes::append).get(routes::events))
        .route("/v1/streams/{*stream}", get(routes::stream))
        .route("/v1/head", get(routes::head))
        .route("/v1/whoami", get(routes::whoami))
        .route("/v1/bodies/{id}/composition", get(routes::composition))
        .route("/v1/bodies/{id}/terms", get(routes::terms))
        .route("/v1/members/{id}", get(routes::member))
        .route("/v1/members", get(routes::members))
        .route("/v1/timeline", get(routes::timeline))
        .route("/v1/elections/{id}", get(routes::election))
        .route("/v1/meetings/{id}", get(routes::meeting))
        .route("/v1/cases/{id}", get(routes::case))
        .route("/v1/conduct", get(routes::conduct))
        .route("/v1/subscribe", get(routes::subscribe))
        .route("/v1/verify", get(routes::verify))
        .route("/v1/export", get(routes::export))
        .route("/v1/members/{id}/erase", post(routes::erase))
        .route("/metrics", get(routes::metrics))
        .route("/v1/tokens", post(routes::create_token))
        .route("/v1/checkpoint", get(routes::checkpoint))
        .route(
            "/v1/checkpoint/cosignatures",
            post(routes::add_cosignatures),
        )
        .route("/v1/proofs/inclusion/{pos}", get(routes::inclusion))
        .route("/v1/proofs/consistency", get(routes::consistency))
        .route("/v1/audit/{year}", get(routes::audit))
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", openapi::document()))
        .merge(crate::web::routes())
        .fallback(crate::web::fallback)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_your_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_only,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::middleware::from_fn(request_size))
        .with_state(state)
}

/// Every request is served from a read side that holds every acknowledged append: when an
/// append was answered while a snapshot's encoding held the read side, the read side is
/// caught up first (see [`AppState::catch_up_after_append`]). An append reads only the access
/// table (its token): it goes on unless the appends not yet folded changed access.
async fn read_your_writes(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let append =
        request.method() == axum::http::Method::POST && request.uri().path() == "/v1/events";
    let lagging = if append {
        state.is_lagging_access()
    } else {
        state.is_lagging()
    };
    if lagging {
        let st = state.clone();
        let caught_up = tokio::task::spawn_blocking(move || st.catch_up_if_lagging())
            .await
            .map_err(problem::ApiError::internal)
            .and_then(|done| done.map_err(problem::ApiError::from));
        if let Err(e) = caught_up {
            return e.into_response();
        }
    }
    next.run(request).await
}

/// On a follower: every request that would write (anything but GET, HEAD and OPTIONS, and the
/// web pages' sign-in and sign-out) answers 405 with the leader's URL, in the problem and in
/// a `Link: <…>; rel="leader"` header.
async fn read_only(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    use axum::response::IntoResponse;
    let Some(leader) = &state.leader else {
        return next.run(request).await;
    };
    let reads = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if reads || matches!(request.uri().path(), "/login" | "/logout") {
        return next.run(request).await;
    }
    let mut response = problem::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "Read-only follower",
        format!(
            "this server keeps a read-only copy of {leader}: send {} {} there",
            request.method(),
            request.uri().path()
        ),
    )
    .with("leader", leader.clone())
    .into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static("GET, HEAD"),
    );
    if let Ok(link) = axum::http::HeaderValue::from_str(&format!("<{leader}>; rel=\"leader\"")) {
        headers.insert(axum::http::header::LINK, link);
    }
    response
}

/// The longest request target served, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header fields in a request.
pub const MAX_HEADERS: usize = 100;
/// The most header bytes in a request (names and values).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Refuses a request whose target or headers are too large with an RFC 9457 problem: 414 or
/// 431. (hyper reads up to [`HYPER_MAX_HEADERS`] fields, so that the problem is ours; beyond
/// that, or beyond hyper's buffer, hyper answers itself, with no body.)
async fn request_size(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    // The target's length as sent, without writing it out: `scheme://authority` (absolute
    // form) and the path with its query.
    let target = request.uri();
    let uri = target.scheme_str().map_or(0, |s| s.len() + 3)
        + target.authority().map_or(0, |a| a.as_str().len())
        + target.path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri > MAX_URI_BYTES {
        return problem::ApiError::new(
            StatusCode::URI_TOO_LONG,
            "URI too long",
            format!("the request target is {uri} bytes; at most {MAX_URI_BYTES} are served: send long filters in fewer parameters"),
        )
        .into_response();
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return problem::ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request header fields too large",
            format!(
                "{} header fields, {bytes} bytes; at most {MAX_HEADERS} fields and {MAX_HEADER_BYTES} bytes are served",
                headers.len()
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// How many header fields hyper reads before answering 431 itself.
pub const HYPER_MAX_HEADERS: usize = 1000;

/// Times every request for the latency histogram.
async fn observe(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.observe(started.elapsed());
    response
}

/// How `kroniek serve` runs: where it listens, its limits, how often it signs checkpoints.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on (port 0: any free port, printed at start).
    pub listen: SocketAddr,
    /// Load the sample ledger into an empty store first.
    pub demo: bool,
    pub limits: Limits,
    /// Sign a checkpoint after appends at most this often.
    pub checkpoint_every: Duration,
    /// Today's date (the command line's clock; tests may fix it).
    pub today: fn() -> Date,
    /// Serve a follower's read-only copy of this leader, kept up to date (`kroniek follow`).
    pub follow: Option<follow::Follow>,
}

/// `kroniek serve`: the one entry point of the server. Opens (or makes) the ledger in `data`,
/// builds the read side, grants a first admin when there is none (its token printed once),
/// and serves until SIGINT or SIGTERM; then flushes.
pub fn serve(data: &crate::location::Location, options: ServeOptions) -> Result<(), AppError> {
    let ServeOptions {
        listen,
        demo,
        limits,
        checkpoint_every,
        today,
        follow,
    } = options;
    let mut follower = None;
    let store = Arc::new(match (&follow, data) {
        (None, _) => data.open_or_init()?,
        (Some(f), crate::location::Location::Folder(dir)) => {
            let (store, identity) = follow::open_copy(dir, f)?;
            follower = identity;
            store
        }
        (Some(_), crate::location::Location::Postgres(_)) => {
            return Err(AppError::Core(CoreError::Invalid(
                "a follower keeps its copy in a folder: give --data DIR, not --store".into(),
            )))
        }
    });
    if demo && follow.is_none() && store.head().count == 0 {
        if let AppendOutcome::Appended { count, .. } = kroniek_app::append::append_sample(&store)? {
            println!("loaded the sample ledger: {count} events");
        }
    }
    let started = std::time::Instant::now();
    let mut state = AppState::new(store.clone(), limits, today)?;
    state.leader = follow.as_ref().map(|f| f.leader.clone());
    state.follower_token = std::sync::RwLock::new(follower);
    let state = state.into_shared();
    for why in &state.ignored_snapshots {
        eprintln!(
            "kroniek serve: snapshot ignored, read models rebuilt from the first record: {why}"
        );
    }
    let applied = state.read().applied;
    match state.started_from {
        Some(at) => println!(
            "read models from the snapshot at {at} records, {} folded since, in {:.2} s; verifying the chain in the background",
            applied - at,
            started.elapsed().as_secs_f64()
        ),
        None => println!(
            "read models rebuilt from {applied} records (chain verified on the same pass) in {:.2} s",
            started.elapsed().as_secs_f64()
        ),
    }
    if state.started_from.is_some() {
        let st = state.clone();
        std::thread::spawn(move || {
            if let Err(e) = st.verify_and_remember() {
                eprintln!(
                    "kroniek serve: the background verification could not read the ledger: {e}"
                );
            }
        });
    }
    if !store.is_folder() {
        // Other kroniek servers may append to the same database: follow their records.
        spawn_with_state(
            &state,
            "follow-others",
            "follows other servers",
            follow_others,
        )?;
    }
    spawn_with_state(
        &state,
        "verify-when-idle",
        "verifies the chain when the ledger is quiet",
        verify_when_idle,
    )?;
    if let Some(f) = follow.clone() {
        println!(
            "following {} from record {} (read-only; appends go to the leader)",
            f.leader,
            store.head().count
        );
        follow::spawn(state.clone(), f)?;
    } else if !state.read().access.has_admin() {
        let name = kroniek_app::tokens::first_admin_name(&state.read().access);
        let token = kroniek_app::tokens::grant(
            &store,
            &name,
            AccessRole::Admin,
            kroniek_app::append::LOCAL_ACTOR,
            today(),
        )?;
        state.catch_up()?;
        println!("admin token for principal {name} (shown once, keep it safe): {token}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(AppError::io("cannot start the async runtime"))?;
    runtime.block_on(async {
        let shutdown = ShutdownSignal::install()?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(AppError::io(format!("cannot listen on {listen}")))?;
        let address = listener
            .local_addr()
            .map_err(AppError::io("cannot read the listening address"))?;
        println!("listening on http://{address}");
        if follow.is_none() {
            tokio::spawn(sign_checkpoints(state.clone(), checkpoint_every));
        }
        tokio::spawn(save_snapshots(state.clone()));
        // (The overview's verification was made while the read side was built.)
        accept_loop(listener, router(state.clone()), shutdown).await;
        Ok::<(), AppError>(())
    })?;
    store.flush()?;
    if let Err(e) = state.save_snapshot_at_stop() {
        eprintln!("kroniek serve: no snapshot of the read models saved at the stop: {e}");
    }
    println!("stopped; every acknowledged event is on disk");
    Ok(())
}

/// How long the follower waits for another server's commit before it looks at the head
/// anyway (a notification can be lost with its connection).
const FOLLOW_POLL: Duration = Duration::from_secs(1);

/// How long the head must stay where it is before the chain is walked again in the background.
const QUIET: Duration = Duration::from_secs(5);

/// Starts the named background thread `run` with the server's state; `what` says what it does
/// when it cannot be started.
fn spawn_with_state(
    state: &Arc<AppState>,
    name: &str,
    what: &str,
    run: fn(&AppState),
) -> Result<(), AppError> {
    let st = state.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(&st))
        .map_err(AppError::io(format!("cannot start the thread that {what}")))?;
    Ok(())
}

/// Walks the chain again whenever the ledger has been quiet for [`QUIET`] since records were
/// appended, so that the last walk covers the head: the audit report (which states the walk of
/// its size) and the overview then need no walk of their own. One walk per quiet spell; none
/// while appends go on. A walk that cannot read the store is retried at the next spell.
fn verify_when_idle(state: &AppState) {
    let mut seen = state.store.head().count;
    loop {
        std::thread::sleep(QUIET);
        let head = state.store.head().count;
        let quiet = head == seen;
        seen = head;
        if quiet && state.last_walk_size() != Some(head) && !state.verifying() {
            let _ = state.verify_and_remember();
        }
    }
}

/// For a ledger other servers append to (PostgreSQL): waits for their commits (LISTEN/NOTIFY,
/// and a look every [`FOLLOW_POLL`]), then makes their records visible and folds them into
/// the read side, which wakes the subscriptions (they read by position: no gap, no
/// duplicate). A failure is printed once per distinct message and retried.
fn follow_others(state: &AppState) {
    let mut last_failure = String::new();
    loop {
        let step = state
            .store
            .wait_for_others(FOLLOW_POLL)
            .and_then(|()| state.store.follow())
            .and_then(|moved| if moved { state.catch_up() } else { Ok(()) });
        match step {
            Ok(()) => last_failure.clear(),
            Err(e) => {
                let why = e.to_string();
                if why != last_failure {
                    eprintln!(
                        "kroniek serve: cannot follow the other servers' records (retrying): {why}"
                    );
                    last_failure = why;
                }
                std::thread::sleep(FOLLOW_POLL);
            }
        }
    }
}

/// How long a client may take to send a request's headers: a client that drips them (one
/// line every few seconds) is cut off, so it cannot hold a connection for ever. Bodies are
/// bounded by the request timeout (`--timeout-secs`), which covers reading them.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; past it a new connection is closed at once, so half-sent
/// requests cannot use up the process's file descriptors (`/healthz` keeps answering once
/// the slow ones time out).
pub const MAX_CONNECTIONS: usize = 512;

/// How long a stop waits for requests under way (a subscription never ends by itself).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Accepts connections until SIGINT or SIGTERM: HTTP/1.1 with [`HEADER_READ_TIMEOUT`], at most
/// [`MAX_CONNECTIONS`] at once; then lets the requests under way finish (up to
/// [`SHUTDOWN_GRACE`]).
async fn accept_loop(listener: tokio::net::TcpListener, app: Router, mut shutdown: ShutdownSignal) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown.received());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let Ok((stream, _)) = accepted else {
            // Out of descriptors or a reset during accept: wait a moment, go on.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_headers(HYPER_MAX_HEADERS)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Signs a checkpoint after appends, at most once per `every`.
async fn sign_checkpoints(state: Arc<AppState>, every: Duration) {
    let mut rx = state.head.subscribe();
    loop {
        if rx.changed().await.is_err() {
            return;
        }
        let st = state.clone();
        let signed = tokio::task::spawn_blocking(move || st.store.sign_checkpoint()).await;
        if let Ok(Err(e)) = signed {
            eprintln!("kroniek serve: no checkpoint signed: {e}");
        }
        tokio::time::sleep(every).await;
    }
}

/// Saves a snapshot of the read models in the background whenever
/// [`kroniek_app::snapshot::SNAPSHOT_EVERY`] records were folded since the last one.
async fn save_snapshots(state: Arc<AppState>) {
    let mut rx = state.head.subscribe();
    loop {
        if rx.changed().await.is_err() {
            return;
        }
        if !state.snapshot_due() {
            continue;
        }
        let st = state.clone();
        let saved = tokio::task::spawn_blocking(move || st.save_snapshot()).await;
        if let Ok(Err(e)) = saved {
            eprintln!("kroniek serve: no snapshot of the read models saved: {e}");
        }
    }
}

/// SIGINT and SIGTERM, caught from the moment this is made: the server makes it before it
/// says it is listening, so a stop sent at any time after that is a clean stop (a flush and a
/// snapshot), never the signal's default of ending the process where it stands.
struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers; must run inside the runtime.
    fn install() -> Result<Self, AppError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let cannot = || AppError::io("cannot install the handler of SIGINT and SIGTERM");
            Ok(ShutdownSignal {
                interrupt: signal(SignalKind::interrupt()).map_err(cannot())?,
                terminate: signal(SignalKind::terminate()).map_err(cannot())?,
            })
        }
        #[cfg(not(unix))]
        Ok(ShutdownSignal {})
    }

    /// Resolves on SIGINT or SIGTERM.
    async fn received(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
