//! Access tokens: granting a principal a role with a new token (only its BLAKE3 hash is kept
//! in the ledger), revoking it, and the first admin of a store that has none.

use crate::AppError;
use kroniek_core::access::AccessTable;
use kroniek_core::catalogue::{AccessRole, Category};
use kroniek_core::store::Store;
use kroniek_core::types::{hex, Date};
use kroniek_core::ProposedEvent;

/// A new random access token, `krn_` and 64 hex digits.
pub fn new_token() -> Result<String, AppError> {
    let r = kroniek_core::random::random32()?;
    Ok(format!("krn_{}", hex(&r)))
}

/// Parses a role name as the catalogue spells it.
pub fn parse_role(role: &str) -> Result<AccessRole, AppError> {
    serde_json::from_value(serde_json::Value::String(role.to_owned())).map_err(|_| {
        AppError::Invalid(format!(
            "{role} is not a role: use admin, secretary, board, auditor, disputes or member"
        ))
    })
}

/// The access table folded from the store's `access/…` records.
pub fn access_table(store: &Store) -> Result<AccessTable, AppError> {
    let mut table = AccessTable::default();
    for record in store.read_category(Category::Access)? {
        let event = record.event_data().map_err(|(f, w)| {
            AppError::Failed(format!("record {}: data.{f}: {w}", record.position))
        })?;
        table.apply(&event, &record.effective);
    }
    Ok(table)
}

/// Grants `principal` the role `role` with a new token, recorded as an `AccessGranted` by
/// `actor`; returns the token. The store's rules refuse a malformed principal name.
pub fn grant(
    store: &Store,
    principal: &str,
    role: AccessRole,
    actor: &str,
    today: Date,
) -> Result<String, AppError> {
    let token = new_token()?;
    let event = ProposedEvent::parse(serde_json::json!({
        "stream": format!("access/{principal}"),
        "type": "AccessGranted",
        "effective": today.to_string(),
        "data": {"principal": principal, "role": role.as_str(), "token_blake3": hex(&kroniek_core::access::token_hash(&token))},
    }))
    .map_err(|r| AppError::Invalid(format!("{}: {}", r.rule, r.message)))?;
    store.append(&[event], actor)?;
    Ok(token)
}

/// Grants a principal who has no standing access a role; refuses one whose access stands.
pub fn grant_new(
    store: &Store,
    principal: &str,
    role: AccessRole,
    actor: &str,
    today: Date,
) -> Result<String, AppError> {
    if access_table(store)?
        .get(principal)
        .is_some_and(|p| p.revoked.is_none())
    {
        return Err(AppError::Invalid(format!(
            "principal {principal} has access already: revoke it first, or choose another name"
        )));
    }
    grant(store, principal, role, actor, today)
}

/// Revokes `principal`'s access, recorded as an `AccessRevoked` by `actor`.
pub fn revoke(store: &Store, principal: &str, actor: &str, today: Date) -> Result<(), AppError> {
    match access_table(store)?.get(principal) {
        None => {
            return Err(AppError::Invalid(format!(
                "no principal {principal}: see kroniek token list"
            )))
        }
        Some(p) if p.revoked.is_some() => {
            return Err(AppError::Invalid(format!(
                "principal {principal} was revoked already"
            )))
        }
        Some(_) => {}
    }
    let event = ProposedEvent::parse(serde_json::json!({
        "stream": format!("access/{principal}"),
        "type": "AccessRevoked",
        "effective": today.to_string(),
        "data": {"principal": principal},
    }))
    .map_err(|r| AppError::Invalid(r.message))?;
    store.append(&[event], actor)?;
    Ok(())
}

/// The name for a store's first admin: `admin`, or `admin-2`, `admin-3`, … when a revoked
/// principal holds the name.
pub fn first_admin_name(table: &AccessTable) -> String {
    (1..)
        .map(|n| {
            if n == 1 {
                "admin".to_owned()
            } else {
                format!("admin-{n}")
            }
        })
        .find(|n| table.get(n).is_none())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = Store::open_or_init(&dir.path().join("d")).expect("store");
        (dir, store)
    }

    fn day() -> Date {
        Date::parse("2024-03-01").expect("date")
    }

    #[test]
    fn a_granted_token_is_known_by_its_hash_only_and_a_second_grant_is_refused() {
        let (_dir, store) = store();
        let token = grant_new(
            &store,
            "penningmeester",
            AccessRole::Board,
            "admin:local",
            day(),
        )
        .expect("granted");
        assert!(token.starts_with("krn_") && token.len() == 68);
        let table = access_table(&store).expect("table");
        assert_eq!(
            table.get("penningmeester").map(|p| p.role),
            Some(AccessRole::Board)
        );
        let again = grant_new(
            &store,
            "penningmeester",
            AccessRole::Board,
            "admin:local",
            day(),
        );
        assert!(matches!(again, Err(AppError::Invalid(m)) if m.contains("has access already")));
    }

    #[test]
    fn revoke_twice_or_unknown_is_refused_and_the_first_admin_name_skips_revoked_ones() {
        let (_dir, store) = store();
        grant(&store, "admin", AccessRole::Admin, "admin:local", day()).expect("granted");
        revoke(&store, "admin", "admin:local", day()).expect("revoked");
        assert!(matches!(
            revoke(&store, "admin", "admin:local", day()),
            Err(AppError::Invalid(_))
        ));
        assert!(matches!(
            revoke(&store, "nobody", "admin:local", day()),
            Err(AppError::Invalid(_))
        ));
        assert_eq!(
            first_admin_name(&access_table(&store).expect("table")),
            "admin-2"
        );
        assert!(matches!(parse_role("koning"), Err(AppError::Invalid(_))));
    }
}
