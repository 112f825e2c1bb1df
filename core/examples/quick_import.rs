#![allow(clippy::unwrap_used, clippy::print_stdout)]
use contactsync_core::*;
use std::time::Instant;
fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("qi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("q.db");
    let mut cfg = Config::with_region(Region::new("DE").unwrap());
    cfg.workers = std::env::var("W").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let e = Engine::open(&path, cfg).unwrap();
    e.set_key("k1", &[7u8; 32], &NoProgress).unwrap();
    let book = |i: usize| {
        let mut c = RawContact::new(format!("{}", 1000 + i), format!("Person Number {i}"))
            .with(IdentifierKind::Phone, Some("mobile"), format!("0151 {:08}", 10_000_000 + i));
        if i % 2 == 0 { c.push(IdentifierKind::Email, None, format!("person.{i}@example.org")); }
        if i % 3 == 0 { c.push(IdentifierKind::Phone, Some("home"), format!("+44 7700 9{:05}", i % 100_000)); }
        c.version = Some("1700000000".into());
        c
    };
    let t = Instant::now();
    let r = e.import_snapshot((0..n).map(book), &NoProgress).unwrap();
    println!("first {:?} {:?}", t.elapsed(), (r.added, r.normalized, r.rejected));
    let t = Instant::now();
    let r = e.import_snapshot((0..n).map(book), &NoProgress).unwrap();
    println!("again {:?} {:?}", t.elapsed(), (r.unchanged, r.normalized));
    println!("{:?}", e.status().unwrap());
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    println!("{}", s.lines().find(|l| l.starts_with("VmHWM")).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
