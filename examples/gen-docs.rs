//! Writes the generated documentation that the packages ship: the man pages baton(8) and
//! baton-COMMAND(8), from the clap definitions, and shell completions for bash, zsh and fish.
//!
//! `cargo run --example gen-docs -- OUTDIR` writes `OUTDIR/man/*.8` and
//! `OUTDIR/completions/{baton.bash,_baton,baton.fish}`; `packaging/build` runs it for the
//! completions. `cargo run --example gen-docs -- --man man` writes the man pages into the
//! repository's `man/`, where they are kept (beside the hand-written baton.conf(5)) and
//! packaged from; `tests/man_generated.rs` fails when they are stale.

use baton::cli::Cli;
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What baton(8) says after the generated sections: the parts clap does not know about.
const EXTRA_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
.B baton status
0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (daemon not reachable): the monitoring-plugin
convention, so that Nagios, Icinga or a Prometheus exporter can run it as it is.
.TP
.B baton status \-\-pair
The worse of the two nodes' codes (CRITICAL as well when both are MASTER of one
instance), and 4 when the peer does not answer over HTTP (the message names the address
and why); a monitoring system that knows only 0 to 3 shows 4 as UNKNOWN.
.TP
.BR "baton fallback" , " resign" , " lock" , " unlock" , " reconfigure"
0 done, 1 refused by the daemon (the reason is printed), 3 daemon not reachable.
.TP
.B baton check\-config
0 valid (warnings allowed), 1 invalid, 2 file unreadable.
.TP
.B baton run
0 after a graceful stop, 1 when the daemon could not start or failed.
.SH ENVIRONMENT
.TP
.B BATON_LOG
Log filter for
.BR "baton run" :
a level (error, warn, info, debug, trace or off) and
.IB target = level
pairs, separated by commas, for example
.B debug
to see dropped packets, or
.BR info,baton::daemon::control=debug .
The default is
.BR info,netlink_packet_route=error ;
a filter that does not parse is reported and the default is used.
.TP
.B JOURNAL_STREAM
Set by systemd; when present, plain log lines carry no timestamp (the journal adds one).
.SH FILES
.TP
.I /etc/baton/baton.conf
The configuration, in keepalived.conf syntax; see
.BR baton.conf (5).
.TP
.I /run/baton/baton.sock
The control socket the commands talk to: mode 0660, group
.BR baton ,
so members of that group can run
.B baton status
and the operator commands without root.
.TP
.I /var/lib/baton/
Locks, kept across restarts.
.TP
.I /usr/share/baton/scripts/
Hook scripts shipped with baton.
.SH SIGNALS
.B baton run
reloads its configuration on SIGHUP (as
.BR "baton reconfigure" ;
an invalid file changes nothing) and stops on SIGTERM or SIGINT: a MASTER sends a
priority\-0 advertisement, so that the backup takes over after Skew_Time, and removes its
virtual addresses.
.SH "SEE ALSO"
.BR baton.conf (5),
.BR keepalived.conf (5),
.BR systemctl (1)
"#;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let first = args.next();
    if first.as_deref() == Some(std::ffi::OsStr::new("--man")) {
        let dir = args
            .next()
            .map_or_else(|| PathBuf::from("man"), PathBuf::from);
        std::fs::create_dir_all(&dir)?;
        return write_man_pages(&dir);
    }
    let out: PathBuf = first
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/packaging"));
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    write_man_pages(&man)?;
    write_completions(&completions)?;
    Ok(())
}

fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn page(cmd: clap::Command) -> Man {
    Man::new(cmd)
        .section("8")
        .manual("System Manager's Manual")
        .source(format!("baton {}", env!("CARGO_PKG_VERSION")))
}

pub fn write_man_pages(dir: &Path) -> std::io::Result<()> {
    let cmd = command();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let path = page(sub.clone()).generate_to(dir)?;
        println!("{}", path.display());
    }
    let top = page(cmd);
    let path = dir.join(top.get_filename());
    let mut file = std::fs::File::create(&path)?;
    top.render(&mut file)?;
    file.write_all(EXTRA_SECTIONS.as_bytes())?;
    file.flush()?;
    println!("{}", path.display());
    Ok(())
}

fn write_completions(dir: &Path) -> std::io::Result<()> {
    let mut cmd = command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut cmd, "baton", dir)?;
        println!("{}", path.display());
    }
    Ok(())
}
