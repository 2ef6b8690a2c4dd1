//! Web sessions: a random session id in an `HttpOnly`, `SameSite=Strict` cookie, mapped in
//! memory to the principal who signed in with a token, and a CSRF token per session that
//! every form that writes must carry. A session ends on sign-out, after twelve hours, or as
//! soon as the principal's access is revoked (checked on every request against the same
//! access table the API uses).

use kroniek_core::catalogue::AccessRole;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie holding the session id.
pub const SESSION_COOKIE: &str = "kroniek_session";
/// The cookie holding the sign-in form's CSRF token (before there is a session).
pub const LOGIN_COOKIE: &str = "kroniek_login";
/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// One signed-in principal.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: String,
    pub role: AccessRole,
    /// The token's BLAKE3, so a new token for the same name ends this session.
    pub token_blake3: [u8; 32],
    pub csrf: String,
    started: Instant,
}

/// Every open session.
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex.
pub fn random_hex() -> Option<String> {
    let bytes = kroniek_core::random::random32().ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares two strings in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// Opens a session; returns its id, or `None` when no randomness could be had.
    pub fn open(
        &self,
        principal: String,
        role: AccessRole,
        token_blake3: [u8; 32],
    ) -> Option<String> {
        let id = random_hex()?;
        let csrf = random_hex()?;
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.retain(|_, s| s.started.elapsed() < SESSION_LIFETIME);
        open.insert(
            id.clone(),
            Session {
                principal,
                role,
                token_blake3,
                csrf,
                started: Instant::now(),
            },
        );
        Some(id)
    }

    /// The session with this id, if it is open and not expired.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match open.get(id) {
            Some(s) if s.started.elapsed() < SESSION_LIFETIME => Some(s.clone()),
            Some(_) => {
                open.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` when the server
/// is reached over https (`kroniek serve --public-url https://…`).
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> String {
    let age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_look_up_and_close() {
        let sessions = Sessions::default();
        let id = sessions
            .open("alice".into(), AccessRole::Board, [7; 32])
            .expect("randomness");
        let s = sessions.get(&id).expect("open");
        assert_eq!((s.principal.as_str(), s.csrf.len()), ("alice", 64));
        assert!(sessions.get("other").is_none());
        sessions.close(&id);
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = "a=1; kroniek_session=abc; kroniek_sessionx=no";
        assert_eq!(cookie(h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(h, "b"), None);
        assert!(
            set_cookie("x", "y", Some(5), false).contains("HttpOnly; SameSite=Strict; Max-Age=5")
        );
        assert!(set_cookie("x", "y", Some(5), true).contains("SameSite=Strict; Secure; Max-Age=5"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
