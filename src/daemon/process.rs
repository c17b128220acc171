//! Running one external command for the daemon (notify hooks, track scripts): in its own
//! process group, as its configured user, with a timeout after which the whole group is
//! killed, keeping the tail of what it wrote on stderr.
//!
//! A script is refused before it runs if `enable_script_security` is set and a non-root
//! user could change it (the file or any directory above it).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use crate::config::{self, RunAs};

/// At most this much of a command's stderr is kept (its end).
const STDERR_TAIL: usize = 400;

/// After the command exits, how long its stderr is still read (a child it left behind may
/// hold the pipe open; it is not waited for).
const STDERR_GRACE: Duration = Duration::from_millis(100);

/// Everything needed to run one command.
#[derive(Clone, Debug)]
pub struct Spec {
    pub command: config::Command,
    /// Appended to the command's own arguments (the generic `notify` gets four).
    pub extra_args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The user to run as: the hook's own, else `script_user`, else root.
    pub run_as: Option<RunAs>,
    pub timeout: Duration,
    /// `enable_script_security`.
    pub secure: bool,
}

pub use crate::control::status::RunOutcome as Outcome;

impl Outcome {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && self.error.is_none()
    }

    /// One line for the log and `status`: "exit status 0", "killed after 5s timeout"...
    pub fn describe(&self) -> String {
        let what = if let Some(e) = &self.error {
            e.clone()
        } else if self.timed_out {
            format!(
                "timed out after {:.1}s; its process group was killed",
                self.duration_s
            )
        } else if let Some(code) = self.exit_code {
            format!("exit status {code}")
        } else if let Some(signal) = self.signal {
            format!("killed by signal {signal}")
        } else {
            "ended".to_string()
        };
        if self.stderr_tail.is_empty() {
            what
        } else {
            format!("{what}: {}", self.stderr_tail)
        }
    }
}

/// Run `spec` to completion (or to its timeout).
pub async fn run(spec: &Spec) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome {
        command: spec.command.to_string(),
        exit_code: None,
        signal: None,
        timed_out: false,
        error: None,
        duration_s: 0.0,
        stderr_tail: String::new(),
    };
    match prepare(spec) {
        Ok(command) => execute(command, spec.timeout, &mut outcome).await,
        Err(e) => outcome.error = Some(e),
    }
    outcome.duration_s = started.elapsed().as_secs_f64();
    outcome
}

/// Start a command that runs as long as the daemon (a `notify_fifo_script`), in its own
/// process group; its stderr goes to the daemon's.
pub fn spawn_long_running(spec: &Spec) -> Result<tokio::process::Child, String> {
    let mut command = prepare(spec)?;
    command.stderr(Stdio::inherit());
    command.spawn().map_err(|e| e.to_string())
}

/// Build the command: program or `/bin/sh -c`, arguments, environment, user, process group.
///
/// Under `enable_script_security` the program is checked along the path as configured
/// (every directory walked, also those holding a symbolic link on the way) and the
/// symlink-free path that was checked is what runs: nothing can be swapped in between,
/// because every directory on it and the file itself can only be changed by root. (Running
/// an open descriptor with `fexecve` was not chosen: a `#!` script run that way needs the
/// descriptor left open across exec, so the interpreter can open `/dev/fd/N`, which leaks
/// it into the script and needs /proc; the checked root-only path gives the same
/// guarantee.) A shell line is refused: the commands it runs cannot all be checked.
fn prepare(spec: &Spec) -> Result<tokio::process::Command, String> {
    // Under script security a line with only glob characters runs directly with its words,
    // as keepalived runs every script; one with a shell operator cannot run at all.
    let shell = spec.command.shell.as_ref().filter(|_| !spec.secure);
    if spec.secure
        && let Some(line) = &spec.command.shell
        && crate::config::validate::values::has_shell_operators(line)
    {
        return Err(shell_refusal(line));
    }
    let mut program = resolve_program(&spec.command, shell.is_some())?;
    if spec.secure {
        program = check_secure(&program)?;
    }
    let mut command = match shell {
        // `sh -c LINE sh ARGS...`: the extra arguments become "$1"... for the line.
        Some(line) => {
            let mut c = tokio::process::Command::new("/bin/sh");
            let line = if spec.extra_args.is_empty() {
                line.clone()
            } else {
                format!("{line} \"$@\"")
            };
            c.arg("-c").arg(line).arg("sh");
            c
        }
        None => {
            let mut c = tokio::process::Command::new(&program);
            // The program sees the name it was configured with.
            c.arg0(&spec.command.program);
            c.args(&spec.command.args);
            c
        }
    };
    command
        .args(&spec.extra_args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // systemd's notify socket and watchdog are the daemon's, not its hooks'.
    for variable in super::systemd::VARIABLES {
        command.env_remove(variable);
    }
    if let Some(run_as) = &spec.run_as {
        let (uid, gid) = ids(run_as)?;
        command.uid(uid).gid(gid);
    }
    Ok(command)
}

/// Why a shell line does not run under `enable_script_security`.
fn shell_refusal(line: &str) -> String {
    format!(
        "refused by enable_script_security: `{line}` is a shell line, and the commands a \
         shell line runs cannot be checked; put the line in a root-owned script and \
         configure that script instead"
    )
}

async fn execute(mut command: tokio::process::Command, timeout: Duration, outcome: &mut Outcome) {
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            outcome.error = Some(format!("cannot run {}: {e}", outcome.command));
            return;
        }
    };
    let pgid = child.id();
    let mut abandoned = Abandoned(pgid);
    let mut stderr = child.stderr.take();
    let tail = tokio::task::spawn_local(async move {
        let mut kept = Vec::new();
        if let Some(pipe) = stderr.as_mut() {
            read_tail(pipe, &mut kept).await;
        }
        kept
    });
    let status = tokio::time::timeout(timeout, child.wait()).await;
    if matches!(status, Ok(Ok(_))) {
        // Whatever it left running in its group (a service it started) is not ours.
        abandoned.0 = None;
    }
    match status {
        Ok(Ok(status)) => record_status(status, outcome),
        Ok(Err(e)) => outcome.error = Some(format!("waiting for {}: {e}", outcome.command)),
        Err(_) => {
            outcome.timed_out = true;
            if let Some(pgid) = pgid {
                // The hook and everything it started; the group may already be gone.
                let _ = crate::sys::kill_process_group(pgid);
            }
            if let Ok(status) = child.wait().await {
                record_status(status, outcome);
            }
        }
    }
    abandoned.0 = None;
    let kept = match tokio::time::timeout(STDERR_GRACE, tail).await {
        Ok(Ok(kept)) => kept,
        _ => Vec::new(),
    };
    outcome.stderr_tail = tail_text(&kept);
}

/// The process group of a command whose run was given up while its leader still ran
/// (the task ended by a reload or by the daemon stopping): killed whole, not just the
/// leader, when this is dropped armed.
struct Abandoned(Option<u32>);

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = crate::sys::kill_process_group(pgid);
        }
    }
}

fn record_status(status: ExitStatus, outcome: &mut Outcome) {
    use std::os::unix::process::ExitStatusExt;
    outcome.exit_code = status.code();
    outcome.signal = status.signal();
}

/// Read a pipe to its end, keeping only the last `STDERR_TAIL` bytes or so.
async fn read_tail(pipe: &mut tokio::process::ChildStderr, kept: &mut Vec<u8>) {
    let mut buf = [0u8; 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                kept.extend_from_slice(buf.get(..n).unwrap_or_default());
                if kept.len() > 4 * STDERR_TAIL {
                    let cut = kept.len() - STDERR_TAIL;
                    kept.drain(..cut);
                }
            }
        }
    }
}

/// The last lines of `bytes`, at most `STDERR_TAIL` characters, newlines shown as " | ".
fn tail_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let joined = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    let count = joined.chars().count();
    joined
        .chars()
        .skip(count.saturating_sub(STDERR_TAIL))
        .collect()
}

/// The program as a path: absolute as configured, else found on `PATH`. A line run through
/// the shell runs `/bin/sh`.
fn resolve_program(command: &config::Command, shell: bool) -> Result<PathBuf, String> {
    if shell {
        return Ok(PathBuf::from("/bin/sh"));
    }
    let program = Path::new(&command.program);
    if program.components().count() > 1 {
        return Ok(program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("{} not found on PATH", command.program))
}

/// At most this many symbolic links are followed while resolving a script (as the kernel).
const MAX_SYMLINKS: usize = 40;

/// `enable_script_security`: refuse a program that a non-root user could replace or edit:
/// the file itself, or any directory walked to reach it, is owned by a non-root user, or
/// writable by a non-root group or by everyone (a sticky directory such as /tmp is safe for
/// files root owns). The configured path is walked one name at a time, so a directory
/// that only holds a symbolic link on the way is checked too, and so is every directory
/// the link leads through. Returns the resolved path, free of symbolic links, that was
/// checked: run that one, not the configured path.
pub fn check_secure(program: &Path) -> Result<PathBuf, String> {
    let refuse = |path: &Path, why: String| {
        format!(
            "refused by enable_script_security: {} {why} (on the way to {})",
            path.display(),
            program.display()
        )
    };
    let start = if program.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir().map_err(|e| format!("{}: {e}", program.display()))?
    };
    // The names still to walk, the next one last: the starting directory's, then the
    // program's.
    let mut pending = names(&start);
    pending.extend(names(program));
    pending.reverse();
    let mut current = PathBuf::from("/");
    let root = std::fs::symlink_metadata("/").map_err(|e| format!("/: {e}"))?;
    if let Some(why) = insecure(&root, false) {
        return Err(refuse(Path::new("/"), why));
    }
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            current.pop();
            continue;
        }
        let next = current.join(&name);
        let meta =
            std::fs::symlink_metadata(&next).map_err(|e| format!("{}: {e}", next.display()))?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(format!("{}: too many symbolic links", program.display()));
            }
            let target =
                std::fs::read_link(&next).map_err(|e| format!("{}: {e}", next.display()))?;
            if target.is_absolute() {
                current = PathBuf::from("/");
            }
            pending.extend(names(&target).into_iter().rev());
            continue;
        }
        let is_file = pending.is_empty();
        if !is_file && !meta.is_dir() {
            return Err(format!("{}: not a directory", next.display()));
        }
        if is_file && !meta.is_file() {
            return Err(format!("{}: not a regular file", next.display()));
        }
        if let Some(why) = insecure(&meta, is_file) {
            return Err(refuse(&next, why));
        }
        current = next;
    }
    Ok(current)
}

/// The names of `path`, in order; `..` kept, `.` and the root dropped.
fn names(path: &Path) -> Vec<std::ffi::OsString> {
    use std::path::Component;
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Why `meta` lets a non-root user change what lies at or below it, if it does.
fn insecure(meta: &std::fs::Metadata, is_file: bool) -> Option<String> {
    const GROUP_WRITE: u32 = 0o020;
    const OTHER_WRITE: u32 = 0o002;
    const STICKY: u32 = 0o1000;
    let mode = meta.mode();
    if meta.uid() != 0 {
        return Some(format!("is owned by uid {}", meta.uid()));
    }
    if mode & GROUP_WRITE != 0 && meta.gid() != 0 {
        return Some(format!("is writable by group id {}", meta.gid()));
    }
    if mode & OTHER_WRITE != 0 && (is_file || mode & STICKY == 0) {
        return Some("is writable by every user".to_string());
    }
    None
}

/// Why root must not use a file it opened (without following a symbolic link) for
/// the daemon: it is owned by a user other than root, the daemon's own user and the
/// `allowed` ones (the script user, the user configured for the file).
pub fn foreign_owner(meta: &std::fs::Metadata, allowed: &[u32]) -> Option<String> {
    let uid = meta.uid();
    (!trusted_owner(uid) && !allowed.contains(&uid))
        .then(|| format!("is owned by uid {uid}, neither root nor the script user; not used"))
}

/// A file owned by root, or by the user the daemon runs as (a daemon run as another user,
/// with capabilities, writes its own state files; trusting them trusts nobody new).
pub fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// Open `path` for writing without following a symbolic link in its last place
/// (`O_NOFOLLOW`) or blocking (`O_NONBLOCK`), creating it (mode 0644) if `create`.
/// A symbolic link gets a plain error instead of ELOOP.
pub fn open_nofollow(path: &Path, create: bool) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                "is a symbolic link; not followed".to_string()
            } else {
                e.to_string()
            }
        })
}

/// The uid and gid of `run_as`.
fn ids(run_as: &RunAs) -> Result<(u32, u32), String> {
    let (uid, primary) = crate::sys::user_ids(&run_as.user)
        .ok_or_else(|| format!("no user named {}", run_as.user))?;
    let gid = match &run_as.group {
        Some(group) => {
            crate::sys::group_id(group).ok_or_else(|| format!("no group named {group}"))?
        }
        None => primary,
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_on_one_line() {
        assert_eq!(
            tail_text(b"first\n\nsecond  \nthird\n"),
            "first | second | third"
        );
        let long = "x".repeat(1000);
        assert_eq!(tail_text(long.as_bytes()).len(), STDERR_TAIL);
    }

    /// A root-owned, private directory for files (the tests run as root).
    fn private_dir() -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        dir
    }

    fn executable(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, "#!/bin/sh\nexit 0\n").expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[test]
    fn script_security_checks_the_directory_holding_a_link_and_returns_what_it_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = private_dir();
        if std::fs::metadata(dir.path()).expect("stat").uid() != 0 {
            return; // only root can make root-owned files
        }
        let real = dir.path().join("real.sh");
        executable(&real);
        // Reached through a link in a root-owned directory: the real file is what runs.
        let safe_link = dir.path().join("safe-link");
        std::os::unix::fs::symlink(&real, &safe_link).expect("link");
        let checked = check_secure(&safe_link).expect("secure");
        assert_eq!(checked, real.canonicalize().expect("canonical"));
        // The same link in a directory everyone may write to is refused, even though
        // the script it points to is safe.
        let open = dir.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let link = open.join("hook.sh");
        std::os::unix::fs::symlink(&real, &link).expect("link");
        let e = check_secure(&link).expect_err("insecure");
        assert!(
            e.contains("refused by enable_script_security")
                && e.contains(&open.display().to_string())
                && e.contains("writable by every user"),
            "{e}"
        );
    }

    #[test]
    fn a_shell_line_is_refused_under_script_security() {
        let command = crate::config::validate::values::split_command("/bin/true && /bin/false")
            .expect("command");
        assert!(command.shell.is_some());
        let spec = Spec {
            command,
            extra_args: Vec::new(),
            env: Vec::new(),
            run_as: None,
            timeout: Duration::from_secs(1),
            secure: true,
        };
        let e = prepare(&spec).expect_err("refused");
        assert!(e.contains("put the line in a root-owned script"), "{e}");
    }

    #[test]
    fn a_glob_only_line_runs_directly_under_script_security() {
        let command =
            crate::config::validate::values::split_command("/bin/echo health?x *").expect("cmd");
        assert!(
            command.shell.is_some(),
            "a shell line without script security"
        );
        let spec = Spec {
            command,
            extra_args: Vec::new(),
            env: Vec::new(),
            run_as: None,
            timeout: Duration::from_secs(1),
            secure: true,
        };
        let prepared = prepare(&spec).expect("runs directly");
        let std = prepared.as_std();
        let real = std::fs::canonicalize("/bin/echo").expect("echo");
        assert_eq!(std.get_program(), real.as_os_str(), "not /bin/sh");
        let args: Vec<_> = std.get_args().collect();
        assert_eq!(args, ["health?x", "*"], "the words as written, no glob");
    }

    #[test]
    fn describe_says_what_happened() {
        let mut o = Outcome {
            command: "/bin/false".into(),
            exit_code: Some(1),
            signal: None,
            timed_out: false,
            error: None,
            duration_s: 0.01,
            stderr_tail: "boom".into(),
        };
        assert!(!o.success());
        assert_eq!(o.describe(), "exit status 1: boom");
        o.exit_code = None;
        o.timed_out = true;
        o.duration_s = 5.0;
        assert!(o.describe().starts_with("timed out after 5.0s"));
    }
}
