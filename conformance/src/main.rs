//! fw-conformance: runs the conformance suite against an implementation.

fn main() {
    eprintln!("fw-conformance: the runner is not built yet");
    std::process::exit(2);
}
