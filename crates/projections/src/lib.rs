//! Read models rebuilt from events (step 2).
