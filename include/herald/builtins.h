// herald/builtins.h: registers Herald's own components and backends.
//
// RegisterBuiltins adds every built-in factory (selection components, store
// backends, ... ) of the modules the library was built with (all of them,
// unless it was configured with HERALD_ONLY_MODULES) to `registry`. It is idempotent: names already present are
// left alone, so calling it twice, or on a registry that already has some of
// them, is harmless. There is no static registration: a program that wants
// the built-ins calls this once.
//
// Thread-safety: safe to call concurrently (the registry locks).
#ifndef HERALD_BUILTINS_H_
#define HERALD_BUILTINS_H_

#include "absl/status/status.h"
#include "herald/registry.h"

namespace herald {

absl::Status RegisterBuiltins(Registry* registry);

}  // namespace herald

#endif  // HERALD_BUILTINS_H_
