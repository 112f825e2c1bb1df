//! Import benchmark (being written).

fn main() {}
