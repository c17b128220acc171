use clap::Parser;

/// baton: a VRRP daemon that keeps a virtual IP on one server of a group.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
