//! The process's health, for orchestrators and load balancers: `GET /healthz` (the process
//! answers) and `GET /readyz` (the storage answers, at this server's schema version). Neither is
//! authenticated; neither says more than its status.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use contactsync_core::protocol::encoding::Encoding;

use super::{Route, Service};
use crate::error::ServerError;
use crate::http::extract::encoded_bytes;

pub(super) fn routes() -> Vec<Route> {
    vec![("/healthz", get(healthz)), ("/readyz", get(readyz))]
}

impl Service {
    /// `GET /readyz`: the storage answers and is at this server's schema version.
    fn ready(&self) -> Result<(), ServerError> {
        self.storage.ready()
    }
}

/// `GET /healthz`: the process answers. No authentication, no storage.
async fn healthz() -> Response {
    encoded_bytes(
        Encoding::Json,
        StatusCode::OK,
        br#"{"status":"ok"}"#.to_vec(),
    )
}

/// `GET /readyz`: the storage answers and is at this server's schema version (`503` otherwise,
/// with the reason in the log, not in the answer: the endpoint is unauthenticated). One cheap
/// read, no authentication.
async fn readyz(State(service): State<Arc<Service>>) -> Response {
    let ready = match tokio::task::spawn_blocking(move || service.ready()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "the readiness check failed");
            false
        }
    };
    if ready {
        encoded_bytes(
            Encoding::Json,
            StatusCode::OK,
            br#"{"status":"ready"}"#.to_vec(),
        )
    } else {
        encoded_bytes(
            Encoding::Json,
            StatusCode::SERVICE_UNAVAILABLE,
            br#"{"status":"unavailable"}"#.to_vec(),
        )
    }
}
