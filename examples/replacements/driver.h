// The driver's proofs, one per pipeline family. Each runs a built-in
// pipeline with the site's component in place and returns the line to print,
// or an error saying what did not hold.
#ifndef SITE_DRIVER_H_
#define SITE_DRIVER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "herald/registry.h"

namespace site::driver {

// `dir` is examples/replacements (catalog.textproto, pipelines/, ...).
absl::StatusOr<std::string> ProveSelection(const std::string& dir);
absl::StatusOr<std::string> ProveBasket(const std::string& dir);
absl::StatusOr<std::string> ProveMail(const std::string& dir);
absl::StatusOr<std::string> ProveConversion(const std::string& dir);

// Herald's built-ins and the site's components (RegisterSiteComponents).
absl::Status RegisterAll(herald::Registry* registry);

// A fresh private directory under $TMPDIR (or /tmp), removed by the caller.
absl::StatusOr<std::string> MakeTempDir();
void RemoveTree(const std::string& dir);
absl::Status WriteFile(const std::string& path, std::string_view text, int mode = 0644);

// FailedPrecondition with `what` when `ok` is false: the proofs' checks.
absl::Status Expect(bool ok, const std::string& what);

}  // namespace site::driver

#endif  // SITE_DRIVER_H_
