//! Running the server: [`run`] on the caller's runtime, [`start`] on a thread of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bodies::BodyGate;
use crate::connections::Slots;
use crate::error::ServerError;
use crate::metrics::{self, Scrape};
use crate::service::Service;
use crate::storage::Storage;
use crate::{ConnectionLimits, ServerConfig, connections, http};

/// How often expired invites and old batch answers are deleted.
/// Worker threads of the runtime [`start`] makes: the async side only waits on sockets.
const WORKER_THREADS: usize = 2;
/// The listen backlog: where new connections wait while the server is at its connection cap
/// (std's `TcpListener::bind` gives 128; the kernel may lower it to `net.core.somaxconn`).
const BACKLOG: u32 = 1024;
/// Connections open at once on the metrics listener (a scraper or two, and an operator's curl).
const METRICS_CONNECTIONS: usize = 16;
/// How long a shutdown lets a scrape in progress finish.
const METRICS_GRACE: Duration = Duration::from_secs(1);

/// The bound listeners: the public one, and the metrics one with the recorder it renders.
struct Listeners {
    public: TcpListener,
    metrics: Option<(TcpListener, PrometheusHandle)>,
}

impl Listeners {
    /// Binds `config.listen` and `config.metrics_listen` (in a runtime), installing the metrics
    /// recorder if there is a metrics address.
    fn bind(config: &ServerConfig) -> Result<Self, ServerError> {
        let public = bind(config.listen)?;
        let metrics = config
            .metrics_listen
            .map(|addr| Ok::<_, ServerError>((bind(addr)?, metrics::install()?)))
            .transpose()?;
        Ok(Listeners { public, metrics })
    }

    fn metrics_addr(&self) -> Result<Option<SocketAddr>, ServerError> {
        Ok(match &self.metrics {
            Some((listener, _)) => Some(listener.local_addr()?),
            None => None,
        })
    }
}

/// Opens the database of `config.db` (`SQLite` or PostgreSQL), binds `config.listen` and serves until `shutdown`
/// completes; then stops accepting, closes idle connections, lets requests in progress finish
/// (for at most `config.connections.shutdown_grace`, ten seconds by default) and returns.
///
/// The runtime must have its timers and I/O enabled (`enable_all`): the connection and body
/// timeouts run on tokio's timer.
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config.validate()?;
    let db = config.db.clone();
    let storage = tokio::task::spawn_blocking(move || db.open())
        .await
        .map_err(|e| ServerError::Runtime(e.to_string()))??;
    run_with_storage(config, storage, shutdown).await
}

/// [`run`] with another [`Storage`] (`config.db` is not used).
pub async fn run_with_storage(
    config: ServerConfig,
    storage: Arc<dyn Storage>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config.validate()?;
    let listeners = Listeners::bind(&config)?;
    let addr = listeners.public.local_addr()?;
    let (limits, sweep_every) = (config.connections, config.sweep_every);
    let (service, _) = {
        let storage = Arc::clone(&storage);
        tokio::task::spawn_blocking(move || prepare(config, storage, addr))
            .await
            .map_err(|e| ServerError::Runtime(e.to_string()))??
    };
    serve(listeners, service, storage, limits, sweep_every, shutdown).await
}

/// Binds `addr` with a listen backlog of [`BACKLOG`] (in a runtime).
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's and tokio's `bind` do: a restarted server can bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Makes the service and the first key (blocking); says whether the admin API has no token yet.
fn prepare(
    mut config: ServerConfig,
    storage: Arc<dyn Storage>,
    addr: SocketAddr,
) -> Result<(Arc<Service>, bool), ServerError> {
    let public_url = config
        .public_url
        .take()
        .unwrap_or_else(|| format!("http://{}", reachable(addr)));
    let needs_admin_token = config.admin_token.is_none()
        && !crate::service::admin_credential::has_stored(storage.as_ref())?;
    if needs_admin_token {
        tracing::warn!(
            "no admin token yet: the admin API refuses every call until one is made \
             (`contactsync admin token rotate --db <this database>`, or `--admin-token-file`)"
        );
    }
    let service = Service::new(storage, &config, &public_url);
    service.ensure_key(service.now())?;
    Ok((Arc::new(service), needs_admin_token))
}

/// Serves on the listeners until `shutdown`, sweeping in the background.
async fn serve(
    listeners: Listeners,
    service: Arc<Service>,
    storage: Arc<dyn Storage>,
    limits: ConnectionLimits,
    sweep_every: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let Listeners { public, metrics } = listeners;
    let addr = public.local_addr()?;
    let slots = Slots::new(connections::connection_cap(limits.max_connections)?);
    let bodies = Arc::new(BodyGate::new(&limits, addr));
    let metrics = match metrics {
        Some((listener, handle)) => {
            let scrape = Scrape {
                handle,
                storage,
                connections: slots.clone(),
                bodies: Arc::clone(&bodies),
            };
            Some(serve_metrics(listener, scrape, limits)?)
        }
        None => None,
    };
    let sweeper = tokio::spawn(sweep_periodically(Arc::clone(&service), sweep_every));
    let app = http::router(service, bodies);
    tracing::info!(%addr, max_connections = slots.cap(), "contactsync server listening");
    connections::serve(public, addr, app, limits, slots, shutdown).await;
    sweeper.abort();
    // The metrics listener stops last: a scrape during the shutdown still answers.
    if let Some((stop, task)) = metrics {
        let _ = stop.send(());
        let _ = task.await;
    }
    tracing::info!(%addr, "contactsync server stopped");
    Ok(())
}

/// Serves `GET /metrics` on `listener` (a task of its own) until the sender is used or dropped.
fn serve_metrics(
    listener: TcpListener,
    scrape: Scrape,
    limits: ConnectionLimits,
) -> Result<(oneshot::Sender<()>, JoinHandle<()>), ServerError> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let limits = ConnectionLimits {
        shutdown_grace: METRICS_GRACE,
        ..limits
    };
    tracing::info!(%addr, "metrics listening");
    let task = tokio::spawn(connections::serve(
        listener,
        addr,
        metrics::router(scrape),
        limits,
        Slots::new(METRICS_CONNECTIONS),
        async move {
            let _ = stopped.await;
        },
    ));
    Ok((stop, task))
}

async fn sweep_periodically(service: Arc<Service>, sweep_every: Duration) {
    let mut every = tokio::time::interval(sweep_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
    let storage = config.db.open()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        // Database work: as many requests at once as the storage can serve at once (more would
        // only wait for a connection, holding a thread).
        .max_blocking_threads(storage.concurrency())
        .thread_name("contactsync-server")
        .enable_all()
        .build()?;
    let listeners = {
        // A tokio listener is made in its runtime (bound here, so a taken port fails `start`).
        let _runtime = runtime.enter();
        Listeners::bind(&config)?
    };
    let addr = listeners.public.local_addr()?;
    let metrics_addr = listeners.metrics_addr()?;
    let (limits, sweep_every) = (config.connections, config.sweep_every);
    let (service, needs_admin_token) = prepare(config, Arc::clone(&storage), addr)?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("contactsync-server".into())
        .spawn(move || {
            runtime.block_on(async move {
                serve(
                    listeners,
                    service,
                    storage,
                    limits,
                    sweep_every,
                    async move {
                        // A dropped sender (the RunningServer is gone) stops the server too.
                        let _ = stop_rx.await;
                    },
                )
                .await
            })
        })?;
    Ok(RunningServer {
        addr,
        needs_admin_token,
        metrics_addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// A server started by [`start`]. Dropping it stops it, as [`RunningServer::stop`] does.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    needs_admin_token: bool,
    metrics_addr: Option<SocketAddr>,
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

    /// Whether the admin API had no token when the server started: none configured and none
    /// stored in the database (one stored later works at once).
    pub fn needs_admin_token(&self) -> bool {
        self.needs_admin_token
    }

    /// The address `GET /metrics` is served on, if `ServerConfig::metrics_listen` asked for one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The metrics listener's base URL, `http://127.0.0.1:PORT` (scrape `URL/metrics`).
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_addr
            .map(|a| format!("http://{}", reachable(a)))
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
