//! Where a `PersonalDataErased` event for a subject belongs, and the event itself.

use crate::catalogue::{names_donor, Category, ErasureSubject};
use crate::envelope::ProposedEvent;
use crate::error::CoreError;
use crate::store::Store;
use crate::types::Date;
use serde_json::json;

/// The category of the stream that records an erasure of `subject`: who may append there may
/// erase it (`access::may_append`), and no one else.
pub fn erasure_category(subject: &ErasureSubject) -> Category {
    match subject {
        ErasureSubject::Member(_) => Category::Member,
        ErasureSubject::Case(_) => Category::Case,
        ErasureSubject::Donor(_) => Category::Finance,
    }
}

/// The stream that records an erasure of `subject` (DOMAIN.md): `member/<id>`, `case/<id>`,
/// or for a donor the `finance/<year>` stream of that donor's latest gift or loan.
pub fn erasure_stream(store: &Store, subject: &ErasureSubject) -> Result<String, CoreError> {
    match subject {
        ErasureSubject::Member(m) => Ok(format!("member/{m}")),
        ErasureSubject::Case(c) => Ok(format!("case/{c}")),
        ErasureSubject::Donor(d) => {
            let mut latest: Option<i64> = None;
            for record in store.iter_from(0) {
                let record = record?;
                if names_donor(record.event_type, &record.data, d.as_str()) {
                    let year = record.data.get("year").and_then(|v| v.as_i64());
                    latest = latest.max(year);
                }
            }
            latest.map(|y| format!("finance/{y}")).ok_or_else(|| {
                CoreError::Invalid(format!(
                    "no gift or loan of donor {d} is recorded: nothing to erase"
                ))
            })
        }
    }
}

/// Builds the `PersonalDataErased` event for `subject`, dated `effective`.
pub fn erasure_event(
    store: &Store,
    subject: &str,
    reason: &str,
    effective: Date,
) -> Result<ProposedEvent, CoreError> {
    let parsed = ErasureSubject::try_from(subject.to_owned()).map_err(CoreError::Invalid)?;
    let stream = erasure_stream(store, &parsed)?;
    if let ErasureSubject::Member(_) | ErasureSubject::Case(_) = parsed {
        if store.read_stream(&stream, 0)?.is_empty() {
            return Err(CoreError::Invalid(format!(
                "{stream} holds no events: check the id"
            )));
        }
    }
    let value = json!({
        "stream": stream,
        "type": "PersonalDataErased",
        "effective": effective.to_string(),
        "data": {"subject": subject, "reason": reason},
    });
    // A refusal (an empty reason) is reported as the append would report it.
    ProposedEvent::parse(value).map_err(|refusal| {
        CoreError::Refused(vec![crate::rules::IndexedRefusal { index: 0, refusal }])
    })
}
