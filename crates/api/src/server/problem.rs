//! RFC 9457 problem responses: the one error type of the HTTP edge. Handlers return
//! `ApiError`; it never shows internals (storage errors are logged and answered with a
//! generic 500).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kroniek_core::{CoreError, IndexedRefusal, Rule};
use serde_json::{json, Value};

/// An error answered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    /// Extension members: `rule`, `index`, `field`, `errors`.
    pub extensions: serde_json::Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            title,
            detail: detail.into(),
            extensions: serde_json::Map::new(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "Bad request", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    pub fn too_large(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", detail)
    }

    /// 415: the body is not of the media type the endpoint takes.
    pub fn unsupported_media_type(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            detail,
        )
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// A refused batch: the status follows the first refusal's rule (400 for the catalogue's
    /// rules, 409 for `version-conflict` and `id-reused`, 422 for the governance rules).
    pub fn refused(refusals: &[IndexedRefusal]) -> ApiError {
        let Some(first) = refusals.first() else {
            return ApiError::bad_request("the batch was refused");
        };
        let status = match first.refusal.rule {
            Rule::UnknownType
            | Rule::MalformedField
            | Rule::TypeNotInCategory
            | Rule::StreamIdMismatch
            | Rule::NegativeAmount => StatusCode::BAD_REQUEST,
            Rule::VersionConflict | Rule::IdReused => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let errors: Vec<Value> = refusals
            .iter()
            .map(|r| json!({"index": r.index, "rule": r.refusal.rule.id(), "field": r.refusal.field, "detail": r.refusal.message}))
            .collect();
        let mut e = ApiError::new(status, "Event refused", first.refusal.message.clone())
            .with("rule", first.refusal.rule.id())
            .with("index", first.index)
            .with("errors", errors);
        if let Some(f) = &first.refusal.field {
            e = e.with("field", f.clone());
        }
        e
    }

    /// A failure that is not the caller's: counted and kept for `GET /metrics`
    /// (`kroniek_internal_errors_total`, with the last one's text), never printed (a server
    /// prints nothing for a request), answered without internals.
    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        INTERNAL_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *LAST_INTERNAL_ERROR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(what.to_string());
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "the server failed; the ledger is unchanged unless a response said otherwise",
        )
    }
}

/// Internal errors answered since the process started (see [`ApiError::internal`]).
pub static INTERNAL_ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The text of the last internal error, for `GET /metrics`.
pub static LAST_INTERNAL_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

impl ApiError {
    /// The ledger's storage failed: 507 when the disk is full, else 503. The problem says what
    /// failed and what to do; it is never a verdict about the chain.
    pub fn storage(e: &CoreError) -> ApiError {
        if e.is_disk_full() {
            ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "Disk full",
                format!("the ledger's disk is full ({e}): free space, then restart the server if /healthz answers 503; an append answered with this problem may or may not be recorded: retry it with the same event ids (recorded ones answer their positions)"),
            )
        } else {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Storage unavailable",
                format!("the ledger's storage failed ({e}): retry later; if it persists, check the disk and restart the server"),
            )
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> ApiError {
        match e {
            CoreError::Refused(r) => ApiError::refused(&r),
            CoreError::Invalid(why) => ApiError::bad_request(why),
            e @ CoreError::Storage(_) => ApiError::storage(&e),
            e @ CoreError::Io(_) if e.is_disk_full() => ApiError::storage(&e),
            CoreError::WriteFailed(why) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Store cannot write",
                format!("{why}: /healthz says the same, so a supervisor restarts the server"),
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<kroniek_app::AppError> for ApiError {
    fn from(e: kroniek_app::AppError) -> ApiError {
        use kroniek_app::AppError;
        match e {
            AppError::Core(e) => e.into(),
            AppError::Invalid(why) => ApiError::bad_request(why),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("type".into(), Value::String("about:blank".into()));
        body.insert("title".into(), Value::String(self.title.into()));
        body.insert("status".into(), Value::from(self.status.as_u16()));
        body.insert("detail".into(), Value::String(self.detail));
        body.extend(self.extensions);
        let text = Value::Object(body).to_string();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            text,
        )
            .into_response()
    }
}
