//! The `casevault` binary.

fn main() {}
