//! The system calls baton makes outside its crates, in one place: those `nix` covers as
//! thin safe wrappers over it, and the few it does not (`sched_setscheduler`,
//! `setpriority`, raw `setsockopt`, `AF_PACKET` binding, `recvmsg` with control messages,
//! registering a descriptor with tokio).
//!
//! This is the only module of baton with `unsafe` code. Each function wraps one
//! system call with a safe signature: arguments are checked or typed so that the
//! call cannot touch memory it does not own, and every `unsafe` block says why it
//! is sound. Control messages (`cmsg`) are encoded and decoded here as plain bytes,
//! in safe code, so a malformed control buffer can never cause an out-of-bounds read.
//!
//! Linux only (network namespaces, `AF_PACKET`, `IPV6_RECVPKTINFO`).

use std::fs::File;
use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use tokio::io::unix::AsyncFd;

/// Move the **calling thread** into the network namespace at `path`
/// (e.g. `/run/netns/NAME` or `/proc/PID/ns/net`).
///
/// Network namespaces are per thread on Linux: `setns(CLONE_NEWNET)` changes only
/// the thread that calls it, and sockets keep the namespace they were created in.
/// So a test (or a helper process) that wants to work inside a namespace does this
/// in a dedicated `std::thread`, then builds a tokio *current-thread* runtime in that
/// thread: every socket the runtime's tasks create is then in the namespace. Do not
/// call it on a thread of a multi-thread runtime (its other workers stay outside).
pub fn enter_netns(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
}

/// The index of the interface called `name` in the calling thread's namespace.
pub fn if_nametoindex(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(io::Error::from)
}

/// The id of group `name`, if it exists.
pub fn group_id(name: &str) -> Option<u32> {
    let group = nix::unistd::Group::from_name(name).ok()??;
    Some(group.gid.as_raw())
}

/// The uid and primary gid of user `name`, if it exists.
pub fn user_ids(name: &str) -> Option<(u32, u32)> {
    let user = nix::unistd::User::from_name(name).ok()??;
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

/// Send SIGKILL to every process of process group `pgid` (a hook that timed out and
/// whatever it started).
pub fn kill_process_group(pgid: u32) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a process group"))?;
    // Checked above to be > 1: never "every process" (-1) nor the caller's own group (0).
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .map_err(io::Error::from)
}

/// Create a FIFO at `path` with `mode` (`mkfifo(3)`); an existing FIFO is fine.
pub fn make_fifo(path: &Path, mode: u32) -> io::Result<()> {
    let mode = nix::sys::stat::Mode::from_bits_truncate(mode);
    let Err(errno) = nix::unistd::mkfifo(path, mode) else {
        return Ok(());
    };
    let err = io::Error::from(errno);
    if err.kind() == io::ErrorKind::AlreadyExists {
        use std::os::unix::fs::FileTypeExt;
        // Not followed: a symbolic link in its place is not a FIFO.
        let kind = std::fs::symlink_metadata(path)?.file_type();
        if kind.is_fifo() {
            return Ok(());
        }
        let what = if kind.is_symlink() {
            "a symbolic link (not followed)"
        } else {
            "not a FIFO"
        };
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("exists and is {what}"),
        ));
    }
    Err(err)
}

/// Run the calling process (its main thread, and every thread it creates afterwards) under
/// the real-time round-robin policy `SCHED_RR` at `priority` (1-99), so that busy ordinary
/// processes cannot delay its adverts. Needs `CAP_SYS_NICE`.
pub fn set_realtime(priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: `param` is a live, initialised sched_param that the kernel only reads;
    // pid 0 means the calling thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Keep the calling thread's scheduling policy and priority, and set
/// `SCHED_RESET_ON_FORK` on it: every process (and thread) it starts afterwards begins
/// under `SCHED_OTHER`, and with nice 0 when the caller's nice value is negative
/// (sched(7)). So hooks, and the services they start, do not inherit the daemon's
/// real-time priority or its raised nice value.
pub fn reset_scheduling_on_fork() -> io::Result<()> {
    // SAFETY: sched_getscheduler takes only a pid; 0 means the calling thread.
    let policy = unsafe { libc::sched_getscheduler(0) };
    if policy < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a live sched_param the kernel writes; pid 0 is the calling thread.
    if unsafe { libc::sched_getparam(0, &mut param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `param` is a live, initialised sched_param that the kernel only reads.
    let rc = unsafe { libc::sched_setscheduler(0, policy | libc::SCHED_RESET_ON_FORK, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Lock every page the process has and will have into RAM (`mlockall(MCL_CURRENT |
/// MCL_FUTURE)`), so it never waits for a page to come back from swap. Needs
/// `CAP_IPC_LOCK` or a large enough `RLIMIT_MEMLOCK`.
pub fn lock_memory() -> io::Result<()> {
    use nix::sys::mman::MlockAllFlags;
    nix::sys::mman::mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE)
        .map_err(io::Error::from)
}

/// Set the nice value of the calling process (-20 highest to 19 lowest).
pub fn set_nice(nice: i8) -> io::Result<()> {
    // SAFETY: setpriority takes only integers; who 0 with PRIO_PROCESS is this process.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, i32::from(nice)) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `setsockopt(fd, level, name, &value, sizeof(int))` for an integer option that
/// socket2 does not expose (e.g. `IPV6_RECVPKTINFO`).
pub fn setsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> io::Result<()> {
    let len = socklen_of::<libc::c_int>();
    // SAFETY: `value` is a live c_int on the stack and `len` is its exact size; the
    // kernel copies at most `len` bytes from it. `fd` is a borrowed, open descriptor.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Bind an `AF_PACKET` socket to interface `ifindex` for ethertype `protocol`
/// (host byte order; 0 = receive nothing, send only).
pub fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32, protocol: u16) -> io::Result<()> {
    let index = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too large"))?;
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = index;
    // SAFETY: `sll` is a fully initialised sockaddr_ll that outlives the call and
    // the length passed is its exact size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sll).cast::<libc::sockaddr>(),
            socklen_of::<libc::sockaddr_ll>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Register a socket with the current tokio runtime's reactor.
///
/// Errors (instead of panicking) when called outside a runtime. The owned
/// `socket2::Socket` keeps its descriptor open and unchanged for as long as the
/// returned `AsyncFd` owns it, which is what tokio requires.
pub fn register_async(socket: socket2::Socket) -> io::Result<AsyncFd<socket2::Socket>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other("no tokio runtime on this thread"));
    }
    // SAFETY: `socket` owns its descriptor (an OwnedFd inside socket2::Socket), so
    // it is valid and open until the AsyncFd drops it, and `as_raw_fd` always
    // returns that same descriptor. baton never replaces the socket through
    // `AsyncFd::get_mut`.
    unsafe { AsyncFd::register(socket) }.map_err(io::Error::from)
}

/// A timerfd (from nix), as tokio's `AsyncFd` wants it.
pub struct TimerFd(nix::sys::timerfd::TimerFd);

impl TimerFd {
    pub fn timer(&self) -> &nix::sys::timerfd::TimerFd {
        &self.0
    }
}

impl std::os::fd::AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

/// Register a timerfd with the current tokio runtime's reactor.
pub fn register_timer(timer: nix::sys::timerfd::TimerFd) -> io::Result<AsyncFd<TimerFd>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other("no tokio runtime on this thread"));
    }
    // SAFETY: nix's TimerFd owns its descriptor (an OwnedFd), so it is valid and open
    // until the AsyncFd drops it, and `as_raw_fd` always returns that same descriptor.
    // The field is never replaced: the AsyncFd is only read through `get_ref`.
    unsafe { AsyncFd::register(TimerFd(timer)) }.map_err(io::Error::from)
}

/// What [`recvmsg`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvMsg {
    /// Bytes written to the front of the data buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC`).
    pub truncated: bool,
    /// The control buffer was too small for all control messages (`MSG_CTRUNC`).
    pub control_truncated: bool,
    /// The sender, for IPv4/IPv6 sockets.
    pub src: Option<SocketAddr>,
    /// Bytes of control messages written to the front of the control buffer.
    pub control_len: usize,
}

/// `recvmsg(2)` with one data buffer and one control buffer, non-blocking as the
/// socket is. Decode the control messages with [`cmsgs`].
pub fn recvmsg(fd: BorrowedFd<'_>, buf: &mut [u8], control: &mut [u8]) -> io::Result<RecvMsg> {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast::<libc::c_void>(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut name).cast::<libc::c_void>();
    msg.msg_namelen = socklen_of::<libc::sockaddr_storage>();
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast::<libc::c_void>();
    msg.msg_controllen = control.len() as _;
    // SAFETY: every pointer in `msg` refers to a live, exclusively borrowed buffer
    // (`name`, `iov` -> `buf`, `control`) whose length is the one given; the kernel
    // writes at most those lengths. `fd` is a borrowed, open descriptor.
    let rc = unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, 0) };
    let len = usize::try_from(rc).map_err(|_| io::Error::last_os_error())?;
    // msg_controllen is size_t on glibc and socklen_t on musl: widening either way.
    let control_len = (msg.msg_controllen as usize).min(control.len());
    Ok(RecvMsg {
        len: len.min(buf.len()),
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
        src: sockaddr_to_std(&name),
        control_len,
    })
}

/// Convert a kernel-filled `sockaddr_storage` (IPv4 or IPv6) to a std address.
fn sockaddr_to_std(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in; storage is
            // larger than and aligned for every sockaddr type.
            let sin = unsafe { &*(std::ptr::from_ref(storage).cast::<libc::sockaddr_in>()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*(std::ptr::from_ref(storage).cast::<libc::sockaddr_in6>()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn socklen_of<T>() -> libc::socklen_t {
    // Socket address and option types are a few hundred bytes at most.
    libc::socklen_t::try_from(size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

// ---- control messages, as bytes (safe code) ----
//
// Linux layout: struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }
// followed by the data; each header and each message start is aligned to
// sizeof(size_t). (musl declares cmsg_len as a 32-bit field plus padding, which has
// the same bytes on little-endian machines.)

const CMSG_ALIGN_TO: usize = size_of::<usize>();
const CMSG_HDR_LEN: usize = size_of::<libc::cmsghdr>();

const fn cmsg_align(len: usize) -> usize {
    (len + CMSG_ALIGN_TO - 1) & !(CMSG_ALIGN_TO - 1)
}

/// Bytes a control message with `data_len` bytes of data occupies (`CMSG_SPACE`).
pub const fn cmsg_space(data_len: usize) -> usize {
    cmsg_align(CMSG_HDR_LEN) + cmsg_align(data_len)
}

/// Append one control message (`level`, `kind`, `data`) to `out`, padded to
/// [`cmsg_space`].
pub fn push_cmsg(out: &mut Vec<u8>, level: i32, kind: i32, data: &[u8]) {
    let start = out.len();
    let cmsg_len = cmsg_align(CMSG_HDR_LEN) + data.len();
    out.extend_from_slice(&cmsg_len.to_ne_bytes());
    out.extend_from_slice(&level.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.resize(start + cmsg_align(CMSG_HDR_LEN), 0);
    out.extend_from_slice(data);
    out.resize(start + cmsg_space(data.len()), 0);
}

/// An `in_pktinfo` for `IP_PKTINFO` on send: leave from `ifindex` with source `src`.
pub fn in_pktinfo(ifindex: u32, src: Ipv4Addr) -> Vec<u8> {
    // struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst, ipi_addr; }
    let mut data = Vec::with_capacity(12);
    data.extend_from_slice(&ifindex.to_ne_bytes());
    data.extend_from_slice(&src.octets());
    data.extend_from_slice(&[0; 4]);
    data
}

/// An `in6_pktinfo` for `IPV6_PKTINFO` on send: leave from `ifindex` with source `src`.
pub fn in6_pktinfo(ifindex: u32, src: Ipv6Addr) -> Vec<u8> {
    // struct in6_pktinfo { struct in6_addr ipi6_addr; unsigned int ipi6_ifindex; }
    let mut data = Vec::with_capacity(20);
    data.extend_from_slice(&src.octets());
    data.extend_from_slice(&ifindex.to_ne_bytes());
    data
}

/// One control message: level, type and its data bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cmsg<'a> {
    /// `cmsg_level` (e.g. `IPPROTO_IPV6`).
    pub level: i32,
    /// `cmsg_type` (e.g. `IPV6_HOPLIMIT`).
    pub kind: i32,
    /// The data after the header.
    pub data: &'a [u8],
}

/// Iterate over the control messages in `control` (the first `control_len` bytes
/// of a [`recvmsg`] control buffer). Stops at the first malformed header.
pub fn cmsgs(control: &[u8]) -> impl Iterator<Item = Cmsg<'_>> {
    let mut rest = control;
    std::iter::from_fn(move || {
        let header = rest.get(..CMSG_HDR_LEN)?;
        let len = usize::from_ne_bytes(header.get(..CMSG_ALIGN_TO)?.try_into().ok()?);
        let level = i32::from_ne_bytes(
            header
                .get(CMSG_ALIGN_TO..CMSG_ALIGN_TO + 4)?
                .try_into()
                .ok()?,
        );
        let kind = i32::from_ne_bytes(
            header
                .get(CMSG_ALIGN_TO + 4..CMSG_ALIGN_TO + 8)?
                .try_into()
                .ok()?,
        );
        let data = rest.get(cmsg_align(CMSG_HDR_LEN)..len)?;
        rest = rest.get(cmsg_align(len)..).unwrap_or(&[]);
        Some(Cmsg { level, kind, data })
    })
}

/// Decode an `in6_pktinfo` (the received packet's destination and interface).
pub fn parse_in6_pktinfo(data: &[u8]) -> Option<(Ipv6Addr, u32)> {
    let addr: [u8; 16] = data.get(..16)?.try_into().ok()?;
    let index = u32::from_ne_bytes(data.get(16..20)?.try_into().ok()?);
    Some((Ipv6Addr::from(addr), index))
}

/// Decode an `int` control message (e.g. `IPV6_HOPLIMIT`).
pub fn parse_cmsg_int(data: &[u8]) -> Option<i32> {
    Some(i32::from_ne_bytes(data.get(..4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmsg_roundtrip() {
        let mut buf = Vec::new();
        push_cmsg(
            &mut buf,
            libc::IPPROTO_IPV6,
            libc::IPV6_HOPLIMIT,
            &255i32.to_ne_bytes(),
        );
        let info = in6_pktinfo(7, Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));
        push_cmsg(&mut buf, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &info);
        assert_eq!(buf.len(), cmsg_space(4) + cmsg_space(20));
        let all: Vec<_> = cmsgs(&buf).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].kind, libc::IPV6_HOPLIMIT);
        assert_eq!(parse_cmsg_int(all[0].data), Some(255));
        assert_eq!(
            parse_in6_pktinfo(all[1].data),
            Some((Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12), 7))
        );
    }

    #[test]
    fn cmsgs_never_read_past_a_bad_length() {
        let mut buf = Vec::new();
        push_cmsg(&mut buf, 1, 2, &[1, 2, 3, 4]);
        buf[0] = 0xff; // cmsg_len larger than the buffer
        assert_eq!(cmsgs(&buf).count(), 0);
        assert_eq!(cmsgs(&buf[..3]).count(), 0);
        assert_eq!(cmsgs(&[]).count(), 0);
    }

    #[test]
    fn matches_libc_cmsg_space() {
        // SAFETY: CMSG_SPACE is pure arithmetic on its argument.
        let libc_space = unsafe { libc::CMSG_SPACE(20) } as usize;
        assert_eq!(cmsg_space(20), libc_space);
    }
}
