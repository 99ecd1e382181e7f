/* Linux personality: the system calls zerg serves, one entry per call. This
 * list is the one place a call is registered; everything else is made from it:
 *   - the monitor's table (lx_table.c: lx_rows) and the handlers' prototypes
 *     (lx_int.h);
 *   - docs/linux-calls.md (`make docs`, from lx_rows);
 *   - the guest-side runtime's check (linux/rt/rt.c): its dispatch table may
 *     hold exactly the calls marked here as served in the guest, no more and
 *     no fewer, or the runtime does not build.
 * Numbers and names come from the host's <asm/unistd_64.h> (__NR_<name>), so
 * neither is typed twice. A call without an entry returns ENOSYS and is
 * logged once by name.
 *
 *   CALL(name, handler, support, guest, note)
 *     name     the call, as <asm/unistd_64.h> spells it (__NR_name)
 *     handler  the monitor's handler, int64_t handler(struct lx_call *)
 *     support  FULL, PARTIAL or REFUSED (enum lx_support, lx_int.h)
 *     guest    whether the guest-side runtime serves it, with no exit: ""
 *              (never: the monitor does), "always" (every case: the monitor's
 *              handler sees it only if the program overwrote the runtime), or
 *              the cases it serves (the others reach the monitor)
 *     note     what the docs say about it
 *
 * No include guard: the includer defines CALL, includes this, and undefines
 * CALL. Entries are in the order the table has always had (the docs sort by
 * number). */
/* clang-format off */
CALL(read, lx_sys_read, PARTIAL, "view files, devices",
     "fd 0 reads the request; view files (in the guest); /dev files")
CALL(write, lx_sys_write, PARTIAL, "the response stream while it fits the buffer; devices",
     "fd 1 writes the response (buffered in the guest), fd 2 zerg's console")
CALL(open, lx_sys_open, PARTIAL, "view files and devices, read-only",
     "the --ro view read-only (in the guest), /dev files; else ENOENT/EROFS")
CALL(close, lx_sys_close, FULL, "view files and devices (no epoll instance)",
     "view files: in the guest")
CALL(stat, lx_sys_stat, FULL, "paths of the view",
     "in the guest: the --ro view, /dev files, \"/\"")
CALL(fstat, lx_sys_fstat, FULL, "any descriptor",
     "in the guest")
CALL(lstat, lx_sys_lstat, PARTIAL, "paths of the view",
     "as stat, links not followed")
CALL(poll, lx_sys_poll, PARTIAL, "",
     "the request stream waits; the rest is always ready")
CALL(lseek, lx_sys_lseek, FULL, "view files",
     "ESPIPE on the streams; view files: in the guest")
CALL(mmap, lx_sys_mmap, PARTIAL, "",
     "anonymous: address space backed where touched (MAP_POPULATE past --mem: ENOMEM); "
     "files of the view: copied (shared and writable: EACCES)")
CALL(mprotect, lx_sys_mprotect, PARTIAL, "",
     "accepted; pages stay readable and writable")
CALL(munmap, lx_sys_munmap, FULL, "",
     "in the mmap area")
CALL(brk, lx_sys_brk, FULL, "always",
     "in the guest")
CALL(rt_sigaction, lx_sys_in_guest, PARTIAL, "always",
     "in the guest: recorded; no signal is ever delivered")
CALL(rt_sigprocmask, lx_sys_in_guest, PARTIAL, "always",
     "in the guest: recorded; no signal is delivered")
CALL(ioctl, lx_sys_ioctl, PARTIAL, "terminal requests: ENOTTY",
     "FIONBIO, FIOCLEX, FIONCLEX, FIONREAD of a pipe; no terminal: ENOTTY")
CALL(pread64, lx_sys_pread64, FULL, "view files, devices",
     "streams: ESPIPE; view files: in the guest")
CALL(pwrite64, lx_sys_pwrite64, PARTIAL, "",
     "streams: ESPIPE")
CALL(readv, lx_sys_readv, PARTIAL, "",
     "as read")
CALL(writev, lx_sys_writev, PARTIAL, "the response stream while it fits the buffer",
     "as write")
CALL(access, lx_sys_access, FULL, "",
     "writing: EROFS but /dev files")
CALL(select, lx_sys_select, PARTIAL, "",
     "as poll")
CALL(sched_yield, lx_sys_sched_yield, FULL, "with one thread",
     "the next runnable thread runs (round robin); with one thread: in the guest")
CALL(mremap, lx_sys_mremap, PARTIAL, "",
     "moves or grows anonymous mappings")
CALL(madvise, lx_sys_madvise, PARTIAL, "",
     "advice accepted; MADV_DONTNEED zeroes")
CALL(dup, lx_sys_dup, FULL, "",
     "")
CALL(dup2, lx_sys_dup2, FULL, "",
     "")
CALL(nanosleep, lx_sys_nanosleep, FULL, "",
     "a wait with a time (the scheduler), within the deadline")
CALL(alarm, lx_sys_zero, PARTIAL, "always",
     "in the guest: accepted; no SIGALRM is delivered")
CALL(getpid, lx_sys_getpid, FULL, "always",
     "in the guest: 1, each instance is its own process")
CALL(exit, lx_sys_exit_thread, FULL, "",
     "ends the thread (clear_child_tid cleared and woken); the last one ends the instance")
CALL(uname, lx_sys_uname, FULL, "",
     "the host's, nodename \"zerg\"")
CALL(fcntl, lx_sys_fcntl, PARTIAL, "",
     "F_GETFD/SETFD/GETFL/SETFL/DUPFD(_CLOEXEC)")
CALL(getcwd, lx_sys_getcwd, FULL, "",
     "")
CALL(chdir, lx_sys_chdir, FULL, "",
     "directories of the view")
CALL(fchdir, lx_sys_fchdir, FULL, "",
     "")
CALL(readlink, lx_sys_readlink, FULL, "",
     "links of the view, /proc/self/exe")
CALL(sendfile, lx_sys_sendfile, PARTIAL, "a view file to the response stream",
     "from view files (to the response: in the guest) and /dev/zero")
CALL(getdents64, lx_sys_getdents64, FULL, "",
     "directories of the view")
CALL(gettimeofday, lx_sys_gettimeofday, FULL, "by the TSC, once calibrated",
     "the host's clock; in the guest by the TSC")
CALL(getrlimit, lx_sys_getrlimit, PARTIAL, "",
     "stack, data, address space, files")
CALL(sysinfo, lx_sys_sysinfo, PARTIAL, "",
     "memory is the guest's")
CALL(getuid, lx_sys_getuid, FULL, "always",
     "in the guest: the host's ids")
CALL(getgid, lx_sys_getgid, FULL, "always",
     "in the guest: the host's ids")
CALL(geteuid, lx_sys_getuid, FULL, "always",
     "in the guest: the host's ids")
CALL(getegid, lx_sys_getgid, FULL, "always",
     "in the guest: the host's ids")
CALL(getppid, lx_sys_getppid, FULL, "always",
     "in the guest: 0")
CALL(sigaltstack, lx_sys_in_guest, PARTIAL, "always",
     "in the guest: recorded; no signal is delivered")
CALL(arch_prctl, lx_sys_arch_prctl, PARTIAL, "",
     "ARCH_SET_FS/GET_FS; CET: EINVAL")
CALL(prctl, lx_sys_zero, PARTIAL, "always",
     "in the guest: accepted")
CALL(gettid, lx_sys_gettid, FULL, "always",
     "in the guest: the main thread's is 1, others count up")
CALL(time, lx_sys_time, FULL, "by the TSC, once calibrated",
     "in the guest by the TSC")
CALL(futex, lx_sys_futex, PARTIAL, "",
     "WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, the BITSET forms, timeouts; no PI futexes")
CALL(sched_getaffinity, lx_sys_sched_getaffinity, FULL, "",
     "one CPU")
CALL(set_tid_address, lx_sys_set_tid_address, FULL, "",
     "per thread")
CALL(clock_gettime, lx_sys_clock_gettime, FULL, "REALTIME, MONOTONIC (and _COARSE) by the TSC",
     "the host's clocks; REALTIME, MONOTONIC in the guest by the TSC")
CALL(clock_getres, lx_sys_clock_getres, FULL, "",
     "")
CALL(clock_nanosleep, lx_sys_clock_nanosleep, FULL, "",
     "relative and absolute")
CALL(exit_group, lx_sys_exit, FULL, "",
     "ends the instance")
CALL(openat, lx_sys_openat, PARTIAL, "view files and devices, read-only",
     "as open")
CALL(newfstatat, lx_sys_newfstatat, FULL, "paths of the view; any descriptor",
     "as stat")
CALL(readlinkat, lx_sys_readlinkat, FULL, "",
     "as readlink")
CALL(faccessat, lx_sys_faccessat, FULL, "",
     "as access")
CALL(epoll_create, lx_sys_epoll_create, PARTIAL, "",
     "4 instances of 64 descriptors")
CALL(epoll_create1, lx_sys_epoll_create1, PARTIAL, "",
     "4 instances of 64 descriptors")
CALL(epoll_ctl, lx_sys_epoll_ctl, PARTIAL, "",
     "level-triggered; EPOLLONESHOT honoured")
CALL(epoll_wait, lx_sys_epoll_wait, PARTIAL, "",
     "as poll")
CALL(epoll_pwait, lx_sys_epoll_pwait, PARTIAL, "",
     "as poll; the signal mask is not applied")
CALL(pselect6, lx_sys_pselect6, PARTIAL, "",
     "as poll; the signal mask is not applied")
CALL(ppoll, lx_sys_ppoll, PARTIAL, "",
     "as poll; the signal mask is not applied")
CALL(set_robust_list, lx_sys_set_robust_list, FULL, "",
     "per thread; walked at the thread's exit (owners' deaths marked, a waiter woken)")
CALL(dup3, lx_sys_dup3, FULL, "",
     "")
CALL(prlimit64, lx_sys_prlimit64, PARTIAL, "",
     "reads; setting is accepted and ignored")
CALL(getrandom, lx_sys_getrandom, FULL, "while the fresh bytes last",
     "fresh host bytes in every instance (up to 256 in the guest)")
CALL(statx, lx_sys_statx, PARTIAL, "",
     "the basic fields")
CALL(rseq, lx_sys_nosys, REFUSED, "",
     "ENOSYS, not logged: glibc then goes without")
CALL(faccessat2, lx_sys_faccessat, FULL, "",
     "as access")
CALL(socket, lx_sys_socket, PARTIAL, "",
     "TCP over IPv4/IPv6; nothing on the host")
CALL(connect, lx_sys_connect, PARTIAL, "",
     "ECONNREFUSED: no network out of an instance")
CALL(accept, lx_sys_accept, PARTIAL, "",
     "the instance's one connection, then the end")
CALL(accept4, lx_sys_accept4, PARTIAL, "",
     "as accept")
CALL(sendto, lx_sys_sendto, PARTIAL, "",
     "as write")
CALL(recvfrom, lx_sys_recvfrom, PARTIAL, "",
     "as read; MSG_PEEK: EOPNOTSUPP")
CALL(sendmsg, lx_sys_sendmsg, PARTIAL, "",
     "its iovec; no control data")
CALL(recvmsg, lx_sys_recvmsg, PARTIAL, "",
     "its iovec; no control data")
CALL(shutdown, lx_sys_shutdown, PARTIAL, "descriptors that are not sockets",
     "of the connection; the streams: ENOTSOCK (in the guest)")
CALL(bind, lx_sys_bind, PARTIAL, "",
     "any port: only recorded")
CALL(listen, lx_sys_listen, FULL, "",
     "")
CALL(getsockname, lx_sys_getsockname, FULL, "descriptors that are not sockets",
     "")
CALL(getpeername, lx_sys_getpeername, PARTIAL, "descriptors that are not sockets",
     "the peer is 127.0.0.1:40000")
CALL(setsockopt, lx_sys_setsockopt, PARTIAL, "",
     "accepted")
CALL(getsockopt, lx_sys_getsockopt, PARTIAL, "",
     "SO_TYPE; the rest 0")
CALL(capget, lx_sys_capget, FULL, "",
     "no capabilities")
CALL(capset, lx_sys_refused_perm, FULL, "",
     "EPERM: no capability can be raised")
CALL(get_robust_list, lx_sys_get_robust_list, FULL, "",
     "of any thread of the instance")
CALL(pipe, lx_sys_pipe, PARTIAL, "",
     "4 KiB each (Linux: 64 KiB), 16 at once; no SIGPIPE (EPIPE)")
CALL(pipe2, lx_sys_pipe2, PARTIAL, "",
     "as pipe; O_CLOEXEC, O_NONBLOCK (O_DIRECT: EINVAL)")
CALL(eventfd, lx_sys_eventfd, FULL, "",
     "16 at once")
CALL(eventfd2, lx_sys_eventfd2, FULL, "",
     "EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE; 16 at once")
CALL(fork, lx_sys_refused, REFUSED, "",
     "one process per instance: ENOSYS")
CALL(vfork, lx_sys_refused, REFUSED, "",
     "one process per instance: ENOSYS")
CALL(clone, lx_sys_clone, PARTIAL, "",
     "threads (CLONE_VM|CLONE_THREAD|CLONE_SIGHAND, with SETTLS, PARENT_SETTID, CHILD_SETTID, CHILD_CLEARTID), 64 at once; a process: ENOSYS")
CALL(clone3, lx_sys_clone3, PARTIAL, "",
     "as clone")
CALL(execve, lx_sys_refused, REFUSED, "",
     "one program per instance: ENOSYS")
CALL(execveat, lx_sys_refused, REFUSED, "",
     "one program per instance: ENOSYS")
CALL(kill, lx_sys_kill, PARTIAL, "",
     "other pids: ESRCH; a signal to itself: ENOSYS, logged")
CALL(tgkill, lx_sys_refused, REFUSED, "",
     "no signals: ENOSYS")
/* clang-format on */
