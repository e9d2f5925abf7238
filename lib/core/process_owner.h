// Internal: owner ids of runs that hold claims or leases in a store shared
// by several processes (mail ledger claims, conversion-export leases), and
// the check that lets a new run take over at once from a run of this host
// whose process is gone, instead of waiting for a timeout.
//
// An owner id made here is "<host>:<pid>/<nonce>"; ids of other shapes
// (custom worker ids) carry no pid and are never judged dead. A pid reused by
// a live process counts as alive (the caller falls back to its timeout), and
// hosts must not share a host name across PID namespaces (containers), or a
// live run on the other could be taken for dead.
// Thread-safety: reentrant.
#ifndef HERALD_LIB_CORE_PROCESS_OWNER_H_
#define HERALD_LIB_CORE_PROCESS_OWNER_H_

#include <string>
#include <string_view>

namespace herald::internal {

// This machine's host name (gethostname).
std::string HostName();

// "<host>:<pid>/<8 hex digits>": unique per call.
std::string NewLocalOwnerId();

// True when `owner` ("<host>:<pid>" then '/' and anything, or the end)
// names this host and a process that no longer exists (kill(pid, 0) fails
// with ESRCH). False for this process, other hosts, ids without a pid.
bool IsDeadLocalOwner(std::string_view owner);

}  // namespace herald::internal

#endif  // HERALD_LIB_CORE_PROCESS_OWNER_H_
