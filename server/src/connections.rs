//! Accepting and serving connections: hyper's HTTP/1 server with a timer (so the header-read
//! timeout, which is also the keep-alive idle timeout, applies), a cap on open connections below
//! the descriptor limit, and a graceful shutdown that closes idle connections at once.
//!
//! `axum::serve` gives hyper no timer and accepts without limit: an idle or slow connection was
//! held for ever, and enough of them used every descriptor (docs/reliability.md, "Slow and
//! abusive clients").

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::ConnectionLimits;
use crate::error::ServerError;

/// Descriptors always kept out of the connection cap: the database (three a `SQLite` connection,
/// one connection a blocking thread), the listener, the runtime's and the logs'.
const FD_RESERVE_MIN: u64 = 64;
/// The default cap is at most this many connections, however high the descriptor limit: an idle
/// connection costs about 12 KB, and one `SQLite`-backed process gains nothing from more.
const DEFAULT_CAP_MAX: u64 = 10_000;
/// The largest read buffer of a connection, so also the largest request head (past it hyper
/// answers `431`). hyper's default (about 400 KB) let each slow head grow to that size.
const READ_BUFFER_MAX: usize = 64 * 1024;
/// How long a failed `accept` (out of descriptors, most likely) waits before the next try.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// The connection cap for `max_connections` under this process's soft `RLIMIT_NOFILE`.
pub(crate) fn connection_cap(max_connections: Option<u32>) -> Result<usize, ServerError> {
    cap_for(soft_nofile(), max_connections).map_err(ServerError::Config)
}

#[cfg(unix)]
fn soft_nofile() -> Option<u64> {
    match rlimit::Resource::NOFILE.get_soft() {
        Ok(soft) if soft != rlimit::INFINITY => Some(soft),
        _ => None,
    }
}

#[cfg(not(unix))]
fn soft_nofile() -> Option<u64> {
    None
}

/// [`connection_cap`] for a given soft limit (`None`: unlimited or unknown).
fn cap_for(soft: Option<u64>, requested: Option<u32>) -> Result<usize, String> {
    let usable = soft.map(|soft| soft.saturating_sub(FD_RESERVE_MIN));
    let cap = match requested {
        Some(0) => return Err("max_connections must be at least 1".into()),
        Some(n) => {
            let n = u64::from(n);
            if let (Some(soft), Some(usable)) = (soft, usable)
                && n > usable
            {
                return Err(format!(
                    "max_connections {n} does not fit the descriptor limit (soft RLIMIT_NOFILE \
                     {soft}, of which {FD_RESERVE_MIN} are kept for the database, logs and \
                     runtime): raise `ulimit -n` or lower max_connections"
                ));
            }
            n
        }
        None => match soft {
            Some(soft) => {
                let derived = soft.saturating_sub(FD_RESERVE_MIN.max(soft / 10));
                if derived == 0 {
                    return Err(format!(
                        "the descriptor limit (soft RLIMIT_NOFILE {soft}) leaves no room for \
                         connections: raise `ulimit -n`"
                    ));
                }
                derived.min(DEFAULT_CAP_MAX)
            }
            None => DEFAULT_CAP_MAX,
        },
    };
    Ok(usize::try_from(cap).unwrap_or(usize::MAX))
}

/// A cap being hit, as log lines: one `warn` when it is first hit, then silence while it keeps
/// being hit, and one `info` at the first use after it has not been hit for [`Episode::QUIET`].
/// A flood makes two lines, not one a connection.
#[derive(Debug, Default)]
pub(crate) struct Episode(Mutex<EpisodeState>);

#[derive(Debug, Default)]
struct EpisodeState {
    /// When the cap was last hit, while an episode lasts.
    last_hit: Option<Instant>,
    /// How often it was hit in this episode.
    hits: u64,
}

impl Episode {
    /// How long a cap must go without being hit for its episode to end.
    pub(crate) const QUIET: Duration = Duration::from_secs(60);

    /// The cap was hit: `true` when this starts an episode (log it).
    pub(crate) fn hit(&self) -> bool {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let started = state.last_hit.is_none();
        state.last_hit = Some(Instant::now());
        state.hits += 1;
        started
    }

    /// The cap was not hit: `Some(hits)` when this ends an episode (log it).
    pub(crate) fn clear(&self) -> Option<u64> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match state.last_hit {
            Some(at) if at.elapsed() >= Self::QUIET => {
                state.last_hit = None;
                Some(std::mem::take(&mut state.hits))
            }
            _ => None,
        }
    }
}

/// The places for open connections of one listener: one permit a connection.
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    open: Arc<Semaphore>,
    cap: usize,
}

impl Slots {
    pub(crate) fn new(cap: usize) -> Self {
        Slots {
            open: Arc::new(Semaphore::new(cap)),
            cap,
        }
    }

    /// Connections open now.
    pub(crate) fn in_use(&self) -> usize {
        self.cap.saturating_sub(self.open.available_permits())
    }

    /// The cap.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }
}

/// Accepts on `listener` (bound to `addr`) and serves `app` until `shutdown` completes, within
/// `limits` and `slots` (the public listener's cap: from [`connection_cap`]). Then stops
/// accepting, closes idle connections, lets requests in progress finish for
/// `limits.shutdown_grace` and drops what is left.
pub(crate) async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    slots: Slots,
    shutdown: impl Future<Output = ()>,
) {
    let (open, cap) = (slots.open, slots.cap);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(READ_BUFFER_MAX);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let at_cap = Episode::default();
    let accept_failing = Episode::default();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        while connections.try_join_next().is_some() {}
        // A place for the next connection first: at the cap, nothing is accepted (connections
        // wait in the listen backlog) until one closes.
        let permit = if let Ok(permit) = Arc::clone(&open).try_acquire_owned() {
            permit
        } else {
            if at_cap.hit() {
                tracing::warn!(
                    %addr,
                    max_connections = cap,
                    "connection cap reached: new connections wait in the listen backlog until \
                     one closes (docs/reliability.md, \"Slow and abusive clients\")"
                );
            }
            tokio::select! {
                permit = Arc::clone(&open).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break, // never closed
                },
                () = &mut shutdown => break,
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        if accept_failing.hit() {
                            tracing::warn!(
                                %addr,
                                error = %e,
                                "accepting connections fails: retrying (out of descriptors? \
                                 see max_connections)"
                            );
                        }
                        tokio::time::sleep(ACCEPT_RETRY).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Some(hits) = at_cap.clear() {
            tracing::info!(%addr, waits = hits, "connection cap no longer reached");
        }
        if let Some(failures) = accept_failing.clear() {
            tracing::info!(%addr, failures, "accepting connections works again");
        }
        // Each request carries its connection's peer address (axum's `ConnectInfo`): the limits
        // of open registration count per client address (`client_ip`).
        let app = TowerToHyperService::new(app.clone());
        let with_peer = service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.call(request)
        });
        let connection = builder.serve_connection(TokioIo::new(stream), with_peer);
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            // Closed, timed out or failed (a reset, a malformed head): nothing to log per
            // connection, or a flood of them would flood the logs.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still running after the grace period: dropping them");
        }
    }
    connections.shutdown().await;
}

/// An error of one connection being accepted (the client gave up), not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_a_reserve_under_the_soft_limit() {
        assert_eq!(cap_for(Some(1024), None), Ok(922));
        assert_eq!(cap_for(Some(256), None), Ok(192));
        assert_eq!(cap_for(Some(100), None), Ok(36));
        assert_eq!(cap_for(Some(1_048_576), None), Ok(10_000));
        assert_eq!(cap_for(None, None), Ok(10_000));
        assert!(cap_for(Some(64), None).is_err());
    }

    #[test]
    fn a_cap_above_the_soft_limit_is_refused() {
        assert_eq!(cap_for(Some(1024), Some(960)), Ok(960));
        assert!(cap_for(Some(1024), Some(961)).is_err());
        assert!(cap_for(Some(1024), Some(0)).is_err());
        assert_eq!(cap_for(None, Some(50_000)), Ok(50_000));
    }

    #[test]
    fn an_episode_logs_once() {
        let episode = Episode::default();
        assert!(episode.hit());
        assert!(!episode.hit());
        assert_eq!(episode.clear(), None);
        assert!(!episode.hit());
    }
}
