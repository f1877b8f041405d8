// glibc calls ProxyFarm needs that Swift's Glibc module does not export (they are behind
// _GNU_SOURCE or in headers it does not include). Declared here rather than by including
// <sched.h>/<sys/fsuid.h>/<malloc.h>, whose modules are already built without them.
#ifndef PROXYFARM_CGLIBCEXTRAS_H
#define PROXYFARM_CGLIBCEXTRAS_H

#include <stddef.h>
#include <sys/epoll.h>

extern int setns(int fd, int nstype);
extern int setfsuid(unsigned int fsuid);
extern int malloc_trim(size_t pad);
extern int mallopt(int param, int value);
extern long syscall(long number, ...);

/// Moves the calling thread (only) into the network namespace open at `fd`.
static inline int proxyfarm_enter_network_namespace(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }

/// Sets the calling thread's filesystem uid and returns the previous one. A socket belongs to the
/// fsuid of the thread that creates it, and `uidrange` rules route by that owner.
static inline int proxyfarm_set_fsuid(unsigned int uid) { return setfsuid(uid); }

/// Keeps every thread's allocations in one malloc arena (M_ARENA_MAX = 1): a daemon that mostly
/// sleeps gains nothing from an arena per thread, each of which holds pages of its own. Effective
/// only for threads that have not allocated yet: a thread keeps the arena it first got.
static inline void proxyfarm_use_one_malloc_arena(void) { (void)mallopt(-8 /* M_ARENA_MAX */, 1); }

/// A file descriptor that refers to process `pid` itself, not to whoever has the number later;
/// it polls readable once the process has exited (zombie or reaped). -1 with errno on failure.
static inline int proxyfarm_pidfd_open(int pid) { return (int)syscall(434 /* SYS_pidfd_open */, pid, 0); }

/// Adds `fd` to the epoll set `set`, reported once when it polls readable (then disarmed until
/// it is closed). Level-triggered: an fd already readable is reported at once. 0, or -1 with errno.
static inline int proxyfarm_epoll_add_once(int set, int fd) {
    struct epoll_event event = { .events = EPOLLIN | EPOLLONESHOT, .data = { .fd = fd } };
    return epoll_ctl(set, EPOLL_CTL_ADD, fd, &event);
}

/// Takes every ready event off the epoll set `set` without waiting: how many there were.
static inline int proxyfarm_epoll_drain(int set) {
    struct epoll_event events[32];
    int total = 0, count;
    while ((count = epoll_wait(set, events, 32, 0)) > 0) total += count;
    return total;
}

/// Gives the free pages of every malloc arena back to the kernel.
static inline void proxyfarm_release_free_memory(void) { (void)malloc_trim(0); }

#endif
