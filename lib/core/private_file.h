// Internal: reading a secret (a token, a password) from a file that must be
// its owner's alone. Used by ReadCredential (herald/conversion.h) and by the
// plugin host's read_secret service (herald/plugin_abi.h).
#ifndef HERALD_LIB_CORE_PRIVATE_FILE_H_
#define HERALD_LIB_CORE_PRIVATE_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace herald::internal {

// The first line of `file` (relative to `base_dir` unless absolute), its
// trailing spaces, tabs and carriage return removed. The file must be a
// regular file that neither its group nor others may access (0600, 0400):
// PermissionDenied otherwise; an empty first line is FailedPrecondition.
// Only the first 64 KiB are read; what was read is wiped from memory. Errors begin with
// `what` and name the file, never its content.
absl::StatusOr<std::string> ReadPrivateFileLine(std::string_view what, std::string_view file,
                                                std::string_view base_dir);

}  // namespace herald::internal

#endif  // HERALD_LIB_CORE_PRIVATE_FILE_H_
