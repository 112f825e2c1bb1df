//! Running the server: [`run`] on the caller's runtime, [`start`] on a thread of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::ServerConfig;
use crate::error::ServerError;
use crate::http;
use crate::service::Service;
use crate::storage::{SqliteStorage, Storage};

/// How often expired invites and old batch answers are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
/// How long a shutdown waits for requests in progress before dropping their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Worker threads of the runtime [`start`] makes: the async side only waits on sockets.
const WORKER_THREADS: usize = 2;
/// Blocking threads (database work) of the runtime [`start`] makes.
const BLOCKING_THREADS: usize = 8;

/// Opens the `SQLite` database of `config.db`, binds `config.listen` and serves until `shutdown`
/// completes; then stops accepting, lets requests in progress finish (for at most ten seconds)
/// and returns.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config.validate()?;
    let db = config.db.clone();
    let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&db))
        .await
        .map_err(|e| ServerError::Runtime(e.to_string()))??;
    run_with_storage(config, Arc::new(storage), shutdown).await
}

/// [`run`] with another [`Storage`] (`config.db` is not used).
pub async fn run_with_storage(
    config: ServerConfig,
    storage: Arc<dyn Storage>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let service = tokio::task::spawn_blocking(move || prepare(config, storage, addr))
        .await
        .map_err(|e| ServerError::Runtime(e.to_string()))??;
    serve(listener, service, shutdown).await
}

/// Makes the service and the first key (blocking).
fn prepare(
    mut config: ServerConfig,
    storage: Arc<dyn Storage>,
    addr: SocketAddr,
) -> Result<Arc<Service>, ServerError> {
    let public_url = config
        .public_url
        .take()
        .unwrap_or_else(|| format!("http://{}", reachable(addr)));
    let service = Service::new(storage, &config, &public_url);
    service.ensure_key(service.now())?;
    Ok(Arc::new(service))
}

/// Serves on `listener` until `shutdown`, sweeping in the background.
async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener.local_addr()?;
    let sweeper = tokio::spawn(sweep_periodically(Arc::clone(&service)));
    let app = http::router(service);
    tracing::info!(%addr, "contactsync server listening");

    // The shutdown signal starts axum's graceful shutdown and, separately, the grace period
    // after which connections still busy (a client that never finishes its request) are dropped.
    let (signalled_tx, signalled_rx) = oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = signalled_tx.send(());
    };
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .into_future(),
    );
    let abort = server.abort_handle();
    let deadline = tokio::spawn(async move {
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
            tracing::warn!("requests still running after the grace period: dropping them");
            abort.abort();
        }
    });
    let result = server.await;
    deadline.abort();
    sweeper.abort();
    tracing::info!(%addr, "contactsync server stopped");
    match result {
        Ok(outcome) => outcome.map_err(ServerError::Io),
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(ServerError::Runtime(e.to_string())),
    }
}

async fn sweep_periodically(service: Arc<Service>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        let service = Arc::clone(&service);
        match tokio::task::spawn_blocking(move || service.sweep(service.now())).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "sweep failed"),
            Err(e) => tracing::warn!(error = %e, "sweep task failed"),
        }
    }
}

/// An address a local client can reach: the unspecified address (listening on every interface)
/// becomes loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Starts a server on a thread of its own with its own tokio runtime (two worker threads), and
/// returns once it is listening (port 0 in `config.listen`: a free port; see
/// [`RunningServer::addr`]). The database is opened and migrated before this returns, so a bad
/// path or a newer database is an error here, not a failed first request.
pub fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    config.validate()?;
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&config.db)?);
    let listener = std::net::TcpListener::bind(config.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let service = prepare(config, storage, addr)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_name("contactsync-server")
        .enable_all()
        .build()?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("contactsync-server".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                serve(listener, service, async move {
                    // A dropped sender (the RunningServer is gone) stops the server too.
                    let _ = stop_rx.await;
                })
                .await
            })
        })?;
    Ok(RunningServer {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// A server started by [`start`]. Dropping it stops it, as [`RunningServer::stop`] does.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:PORT` (the unspecified address as loopback).
    pub fn url(&self) -> String {
        format!("http://{}", reachable(self.addr))
    }

    /// Stops accepting, lets requests in progress finish, and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "the server failed"),
                Err(_) => tracing::error!("the server thread panicked"),
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
