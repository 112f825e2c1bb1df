//! The checks of one answer: the status, the error code it may carry, the body's type, the
//! headers.

use axum::http::{Method, StatusCode};
use contactsync_core::protocol::private::{
    EvaluateAnswer, FILTER_MEDIA_TYPE, FilterChanges, FilterPart, LookupAnswer,
};
use contactsync_core::protocol::wire::{
    ActivateAnswer, BatchAnswer, ChangesAnswer, ConfigAnswer, DeleteReceipt, ErrorEnvelope,
    InviteAnswer, KeyInfo, KeysAnswer, MatchAnswer, RedeemAnswer, Registered, RevokeAnswer,
    UserAnswer, UserInfo, UserListAnswer, UsersAnswer, codes,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::routes::Route;
use super::server::Answer;

/// The error codes each status may carry (docs/protocol.md's table).
fn codes_for(status: StatusCode) -> &'static [&'static str] {
    match status.as_u16() {
        400 => &[codes::MALFORMED],
        401 => &[codes::UNAUTHORIZED],
        403 => &[codes::FORBIDDEN, codes::USER_REQUIRED],
        404 => &[
            codes::NOT_FOUND,
            codes::PRIVATE_DISABLED,
            codes::HASHED_DISABLED,
        ],
        408 => &[codes::REQUEST_TIMEOUT],
        409 => &[
            codes::KEY_ROTATED,
            codes::BATCH_CONFLICT,
            codes::KEY_INCOMPLETE,
            codes::SET_FULL,
            codes::EPOCH_ROTATED,
        ],
        410 => &[codes::FILTER_STALE],
        413 => &[codes::TOO_LARGE],
        429 => &[codes::TOO_MANY_REQUESTS],
        503 => &[codes::UNAVAILABLE],
        _ => &[],
    }
}

fn parses<T: DeserializeOwned>(body: &[u8]) -> bool {
    serde_json::from_slice::<T>(body).is_ok()
}

/// Checks one answer; returns it.
pub(super) fn check_answer(route: Route, method: &Method, path: &str, answer: &Answer) {
    let what = format!("{method} {path} → {}", answer.status);
    let status = answer.status;
    assert!(
        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
        "{what}: a server error: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.cache_control.as_deref(),
        Some("no-store"),
        "{what}: cacheable"
    );
    if *method == Method::HEAD && answer.body.is_empty() {
        return;
    }
    if status.is_success() && route.reached_by(method) == Some(Route::PrivateFilter) {
        assert_eq!(
            answer.content_type.as_deref(),
            Some(FILTER_MEDIA_TYPE),
            "{what}: not a filter part"
        );
        assert!(
            FilterPart::from_bytes(&answer.body).is_ok(),
            "{what}: not a filter part"
        );
        return;
    }
    assert_eq!(
        answer.content_type.as_deref(),
        Some("application/json"),
        "{what}: not JSON"
    );
    if !status.is_success() {
        let envelope: ErrorEnvelope = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
            panic!(
                "{what}: not an error envelope ({e}): {}",
                String::from_utf8_lossy(&answer.body)
            )
        });
        assert!(
            codes_for(status).contains(&envelope.error.code.as_str()),
            "{what}: code {:?} does not belong to the status",
            envelope.error.code
        );
        return;
    }
    if route == Route::Other {
        // A made-up path may spell a real one: any JSON answer will do.
        assert!(parses::<Value>(&answer.body), "{what}: not JSON");
        return;
    }
    let Some(reached) = route.reached_by(method) else {
        panic!("{what}: a success for a method the route does not have");
    };
    let typed = match reached {
        Route::Register | Route::Vouch => parses::<Registered>(&answer.body),
        Route::Config => parses::<ConfigAnswer>(&answer.body),
        Route::Batches => parses::<BatchAnswer>(&answer.body),
        Route::Changes => parses::<ChangesAnswer>(&answer.body),
        Route::DeleteClient | Route::RevokeClient => parses::<DeleteReceipt>(&answer.body),
        Route::CreateInvite => parses::<InviteAnswer>(&answer.body),
        Route::Redeem => parses::<RedeemAnswer>(&answer.body),
        Route::RevokeInvite => parses::<RevokeAnswer>(&answer.body),
        Route::PutUser | Route::DeleteUser => parses::<UserAnswer>(&answer.body),
        Route::PutUsers => parses::<UsersAnswer>(&answer.body),
        Route::GetUser => parses::<UserInfo>(&answer.body),
        Route::ListUsers => parses::<UserListAnswer>(&answer.body),
        Route::RotateAdminToken => serde_json::from_slice::<Value>(&answer.body)
            .is_ok_and(|v| v["admin_token"].is_string()),
        Route::CreateKey => parses::<KeyInfo>(&answer.body),
        Route::ActivateKey => parses::<ActivateAnswer>(&answer.body),
        Route::ListKeys => parses::<KeysAnswer>(&answer.body),
        Route::AdminMatch => parses::<MatchAnswer>(&answer.body),
        Route::PrivateEvaluate => parses::<EvaluateAnswer>(&answer.body),
        Route::PrivateLookup => parses::<LookupAnswer>(&answer.body),
        Route::PrivateFilterChanges => parses::<FilterChanges>(&answer.body),
        Route::Other | Route::PrivateFilter => false,
    };
    assert!(
        typed,
        "{what}: not the route's answer: {}",
        String::from_utf8_lossy(&answer.body)
    );
}
