// The driver's proofs, one per pipeline family. Each runs a built-in
// pipeline with the site's component in place and returns the line to print,
// or an error saying what did not hold.
#ifndef SITE_DRIVER_H_
#define SITE_DRIVER_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "herald/model/pipeline.pb.h"
#include "herald/registry.h"

namespace site::driver {

// Which components stand in for the built-ins in a run of the proofs: the
// site's C++ components (site_components.h), or the same four as C-ABI
// plugins (plugins/), each named in the pipelines and exports by `names`.
struct Variant {
  std::string what;                            // "C++ components", "C-ABI plugins"
  std::map<std::string, std::string> renames;  // the site's component name -> this variant's
  // The name this variant uses for the site's component `site`.
  std::string Name(const std::string& site) const;
  // `definition` with the site's components renamed.
  herald::v1::PipelineDefinition Renamed(herald::v1::PipelineDefinition definition) const;
};

// `dir` is examples/replacements (catalog.textproto, pipelines/, ...).
absl::StatusOr<std::string> ProveSelection(const std::string& dir, const Variant& variant);
absl::StatusOr<std::string> ProveBasket(const std::string& dir, const Variant& variant);
absl::StatusOr<std::string> ProveMail(const std::string& dir, const Variant& variant);
absl::StatusOr<std::string> ProveConversion(const std::string& dir, const Variant& variant);

// Herald's built-ins, the site's components (RegisterSiteComponents) and
// the four plugins built beside the driver (LoadPlugin).
absl::Status RegisterAll(herald::Registry* registry);

// A fresh private directory under $TMPDIR (or /tmp), removed by the caller.
absl::StatusOr<std::string> MakeTempDir();
void RemoveTree(const std::string& dir);
absl::Status WriteFile(const std::string& path, std::string_view text, int mode = 0644);

// FailedPrecondition with `what` when `ok` is false: the proofs' checks.
absl::Status Expect(bool ok, const std::string& what);

}  // namespace site::driver

#endif  // SITE_DRIVER_H_
