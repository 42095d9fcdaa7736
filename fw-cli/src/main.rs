//! fw-cli: the reference devcontainer egress firewall.

fn main() {
    println!("fw-cli {}", env!("CARGO_PKG_VERSION"));
}
