//! The storage floor's runs of the import benchmark: each floor variant measured in a child
//! process of its own ([`floor_child`]), their medians ([`measure_floor`]) and their lines in
//! the report ([`print_floors`]). The rows and the ways of writing them are
//! `contactsync_tests::floor`'s.

use std::path::Path;

use contactsync_tests::floor;
use contactsync_tests::synthetic::{Book, DEFAULT_REGION};

use super::{KEY, SEED, median, peak_rss_kib, spawn_self, written_bytes};

/// One floor measurement in this process: the rows are computed first, then only their writing
/// is timed; prints `millis cpu_millis rss_kib written_bytes`.
pub(crate) fn floor_child(db: &Path, size: usize, variant: &str) {
    let book = Book { seed: SEED, size };
    let key = contactsync_core::HashKey::new("bench-key", &KEY).expect("key");
    let variant = floor::Variant::parse(variant);
    let conn = floor::create(db, DEFAULT_REGION, &variant);
    let rows = floor::Rows::new(book.contacts(), DEFAULT_REGION, &key);
    let before = written_bytes();
    let (elapsed, cpu) = floor::write(conn, &rows, &variant);
    println!(
        "{} {} {} {}",
        elapsed.as_secs_f64() * 1000.0,
        cpu.as_secs_f64() * 1000.0,
        peak_rss_kib(),
        written_bytes() - before
    );
    if !variant.contacts_rowid && !variant.identifiers_rowid {
        floor::check_readable(db, &rows, DEFAULT_REGION);
    }
}

/// The floor variants measured, `;`-separated ([`floor::Variant::parse`]): the floor (every row
/// in key order) and the same rows as the engine orders them (the empty variant: input order,
/// in windows growing to 16,384 contacts, each sorted).
const FLOOR_VARIANTS: &str = "sorted;";

/// The medians of one floor variant's measurements.
pub(crate) struct Floor {
    pub(crate) variant: String,
    pub(crate) millis: f64,
    pub(crate) cpu: f64,
    /// MiB written to files.
    pub(crate) written: f64,
}

/// Medians of `runs` floor measurements of each variant.
pub(crate) fn measure_floor(dir: &Path, size: usize, runs: usize) -> Vec<Floor> {
    let variants = std::env::var("CS_FLOOR").unwrap_or_else(|_| FLOOR_VARIANTS.to_owned());
    let mut out = Vec::new();
    for variant in variants.split(';') {
        let (mut millis, mut cpu, mut written) = (vec![], vec![], vec![]);
        for run in 0..runs {
            let db = dir.join(format!("floor-{run}-{}.db", out.len()));
            let f: Vec<f64> = spawn_self(&[
                "--floor",
                &db.display().to_string(),
                &size.to_string(),
                variant,
            ])
            .iter()
            .map(|x| x.parse().expect("number"))
            .collect();
            millis.push(f[0]);
            cpu.push(f[1]);
            written.push(f[3] / 1024.0 / 1024.0);
            for path in [db.clone(), db.with_extension("template")] {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
        }
        let label = if variant.is_empty() {
            "engine's order: input order, windows growing to 16,384 contacts, each sorted"
                .to_owned()
        } else {
            variant.to_owned()
        };
        out.push(Floor {
            variant: label,
            millis: median(millis),
            cpu: median(cpu),
            written: median(written),
        });
    }
    out
}

/// The floor lines of the report: each variant, and the engine's first import against it.
pub(crate) fn print_floors(floors: &[Floor], first: f64, first_cpu: f64) {
    for f in floors {
        println!(
            "floor: plain SQLite, the same rows precomputed ({}): {:.0} ms, CPU {:.0} ms, \
             {:.0} MiB written (first import = {:.2}x that, CPU {:.2}x; target <= 1.20x)",
            f.variant,
            f.millis,
            f.cpu,
            f.written,
            first / f.millis,
            first_cpu / f.cpu
        );
    }
}
