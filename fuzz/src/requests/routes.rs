//! The routes of docs/protocol.md an input picks by byte, with their methods.

use axum::http::Method;

/// The routes of docs/protocol.md, and a made-up path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Register,
    Vouch,
    Config,
    Batches,
    Changes,
    DeleteClient,
    CreateInvite,
    Redeem,
    RevokeInvite,
    PutUser,
    DeleteUser,
    CreateKey,
    ListKeys,
    ActivateKey,
    AdminMatch,
    Other,
    PutUsers,
    GetUser,
    ListUsers,
    RevokeClient,
    RotateAdminToken,
    PrivateEvaluate,
    PrivateLookup,
    PrivateFilter,
    PrivateFilterChanges,
}

/// The routes an input's byte picks (new routes go at the end: the seeds' bytes keep their
/// meaning).
pub(super) const ROUTES: [Route; 25] = [
    Route::Register,
    Route::Vouch,
    Route::Config,
    Route::Batches,
    Route::Changes,
    Route::DeleteClient,
    Route::CreateInvite,
    Route::Redeem,
    Route::RevokeInvite,
    Route::PutUser,
    Route::DeleteUser,
    Route::CreateKey,
    Route::ListKeys,
    Route::ActivateKey,
    Route::AdminMatch,
    Route::Other,
    Route::PutUsers,
    Route::GetUser,
    Route::ListUsers,
    Route::RevokeClient,
    Route::RotateAdminToken,
    Route::PrivateEvaluate,
    Route::PrivateLookup,
    Route::PrivateFilter,
    Route::PrivateFilterChanges,
];

impl Route {
    /// The route a method on this route's path reaches: the route itself with its own method
    /// (or `HEAD` for `GET`), its sibling on the same path, or none (`404`).
    pub(super) fn reached_by(self, method: &Method) -> Option<Route> {
        let siblings: &[Route] = match self {
            Route::CreateKey | Route::ListKeys => &[Route::CreateKey, Route::ListKeys],
            Route::PutUser | Route::DeleteUser | Route::GetUser => {
                &[Route::PutUser, Route::DeleteUser, Route::GetUser]
            }
            Route::PutUsers | Route::ListUsers => &[Route::PutUsers, Route::ListUsers],
            _ => &[],
        };
        std::iter::once(self)
            .chain(siblings.iter().copied())
            .find(|r| {
                *method == r.method() || (*method == Method::HEAD && r.method() == Method::GET)
            })
    }

    pub(super) fn method(self) -> Method {
        match self {
            Route::Config
            | Route::Changes
            | Route::ListKeys
            | Route::GetUser
            | Route::ListUsers
            | Route::PrivateFilter
            | Route::PrivateFilterChanges => Method::GET,
            Route::DeleteClient | Route::RevokeInvite | Route::DeleteUser | Route::RevokeClient => {
                Method::DELETE
            }
            Route::PutUser => Method::PUT,
            _ => Method::POST,
        }
    }
}

pub(super) const OTHER_METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::HEAD,
    Method::OPTIONS,
];
