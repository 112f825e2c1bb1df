//! CPU time of this process and of the reference server's threads within it, from `/proc`
//! (Linux; 10 ms ticks), for benchmarks that run the server in their own process
//! (`benches/discovery.rs`): the device's share is the process's less the server's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// This process's CPU time (user + system, every thread that ever ran), from `/proc/self/stat`.
pub fn process_cpu() -> Duration {
    ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// utime + stime of a `stat` line, in `USER_HZ` (100 per second on Linux).
fn ticks(stat: &str) -> Duration {
    // The command name may hold spaces: the fields are counted after its closing parenthesis.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let at = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    Duration::from_millis((at(11) + at(12)) * 10)
}

/// Samples the server's threads' CPU time every 50 ms, keeping each thread's last reading, so a
/// thread that exits (tokio's blocking pool lets idle threads go) still counts.
#[derive(Debug)]
pub struct CpuSampler {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<SamplerState>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct SamplerState {
    server: HashMap<String, Duration>,
    own: Duration,
}

impl CpuSampler {
    /// Starts sampling on a thread of its own (named `cpu-sampler`).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start() -> std::io::Result<CpuSampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(SamplerState::default()));
        let thread = {
            let (stop, state) = (Arc::clone(&stop), Arc::clone(&state));
            std::thread::Builder::new()
                .name("cpu-sampler".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        sample(&state);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                })?
        };
        Ok(CpuSampler {
            stop,
            state,
            thread: Some(thread),
        })
    }

    /// The server's threads' CPU time so far (as of a fresh sample).
    pub fn server(&self) -> Duration {
        sample(&self.state);
        locked(&self.state).server.values().sum()
    }

    /// The sampler's own CPU time so far.
    pub fn own(&self) -> Duration {
        locked(&self.state).own
    }

    /// Stops the sampling thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sample(state: &Mutex<SamplerState>) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    let mut readings = Vec::new();
    let mut own = None;
    for task in tasks.flatten() {
        let path = task.path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, r)| r.rsplit_once(')'))
            .map_or("", |(n, _)| n);
        if name.starts_with("contactsync-ser") {
            readings.push((
                task.file_name().to_string_lossy().into_owned(),
                ticks(&stat),
            ));
        } else if name == "cpu-sampler" {
            own = Some(ticks(&stat));
        }
    }
    let mut state = locked(state);
    for (tid, cpu) in readings {
        let slot = state.server.entry(tid).or_default();
        *slot = (*slot).max(cpu);
    }
    if let Some(own) = own {
        state.own = state.own.max(own);
    }
}

fn locked(state: &Mutex<SamplerState>) -> MutexGuard<'_, SamplerState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
