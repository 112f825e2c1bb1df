//! The hook the fuzz targets need (feature `fuzzing`, enabled only by `fuzz/`): the real router
//! over a real [`Storage`], exactly as [`crate::run`] serves it, without a socket. The fuzzer
//! drives it in-process with `tower::ServiceExt::oneshot`, so every request body goes through the
//! real extractors, handlers, service rules and storage. Not an API: nothing else enables it.

use std::sync::Arc;

use crate::service::Service;
use crate::{ServerConfig, ServerError, Storage};

/// The server's router over `storage`, with the first hashing key made. `config.db` and
/// `config.listen` are not used; invite links start with `config.public_url` (default
/// `http://127.0.0.1`).
pub fn router(
    config: &ServerConfig,
    storage: Arc<dyn Storage>,
) -> Result<axum::Router, ServerError> {
    config.validate()?;
    let public_url = config.public_url.as_deref().unwrap_or("http://127.0.0.1");
    let service = Service::new(storage, config, public_url);
    service.ensure_key(service.now())?;
    // The body gate as a served router has it (its address only names log lines).
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let bodies = crate::bodies::BodyGate::new(&config.connections, addr);
    Ok(crate::http::router(Arc::new(service), Arc::new(bodies)))
}
