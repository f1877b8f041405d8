// Per-thread calls the health probe needs that Swift's Glibc module does not export (they are
// behind _GNU_SOURCE). Declared here rather than by including <sched.h>/<sys/fsuid.h>, whose
// module is already built without _GNU_SOURCE.
#ifndef PROXYFARM_CNETNAMESPACE_H
#define PROXYFARM_CNETNAMESPACE_H

extern int setns(int fd, int nstype);
extern int setfsuid(unsigned int fsuid);

/// Moves the calling thread (only) into the network namespace open at `fd`.
static inline int proxyfarm_enter_network_namespace(int fd) { return setns(fd, 0x40000000 /* CLONE_NEWNET */); }

/// Sets the calling thread's filesystem uid and returns the previous one. A socket belongs to the
/// fsuid of the thread that creates it, and `uidrange` rules route by that owner.
static inline int proxyfarm_set_fsuid(unsigned int uid) { return setfsuid(uid); }

#endif
