//! `--name value` arguments for the two binaries, without a parser dependency.

use std::collections::HashMap;

/// The binary's `--name value` pairs; prints `usage` and exits on `--help`
/// or on anything else.
pub fn parse(usage: &str, known: &[&str]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let name = arg.strip_prefix("--").unwrap_or("");
        if arg == "--help" || !known.contains(&name) {
            eprintln!("{usage}");
            std::process::exit(if arg == "--help" { 0 } else { 2 });
        }
        let Some(value) = args.next() else {
            eprintln!("--{name} needs a value\n{usage}");
            std::process::exit(2);
        };
        out.insert(name.to_string(), value);
    }
    out
}

/// The value of `--name` as a `T`, or `default`; exits with a message when
/// it does not parse.
pub fn get<T: std::str::FromStr>(args: &HashMap<String, String>, name: &str, default: T) -> T {
    match args.get(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("--{name}: cannot read {v:?}");
            std::process::exit(2);
        }),
    }
}
