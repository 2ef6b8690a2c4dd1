//! The event parser: bytes as a line of a `.jsonl` file and as an HTTP body (one event or an
//! array) to proposed events. Never a panic; an event that parses parses again, the same, from
//! its canonical form.
#![no_main]

use kroniek_core::canonical;
use kroniek_core::envelope::ProposedEvent;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        // The HTTP body's first check; the bytes path must refuse, not panic, too.
        let _ = canonical::parse_strict_bytes(data);
        return;
    };
    if let Ok(event) = ProposedEvent::parse_line(text) {
        let again = ProposedEvent::parse_line(text).expect("the same line parses twice");
        assert_eq!(event, again);
    }
    let Ok(value) = canonical::parse_strict(text) else {
        return;
    };
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    for item in items {
        if let Ok(event) = ProposedEvent::parse(item.clone()) {
            // What was accepted is accepted again from its canonical form (JCS).
            let bytes = canonical::to_canonical(&item);
            let text = String::from_utf8(bytes).expect("the canonical form is UTF-8");
            let again = ProposedEvent::parse_line(&text).expect("the canonical form parses");
            assert_eq!(event, again, "{text}");
        }
    }
});
