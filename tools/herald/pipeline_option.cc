// --pipeline FILE: a custom or third-party selection pipeline for the CLI.
#include "commands.h"
#include "core/strings.h"
#include "herald/families.h"
#include "herald/pipeline.h"

namespace herald::cli {

absl::StatusOr<v1::PipelineDefinition> LoadSelectionPipeline(const std::string& path,
                                                             const Registry& registry) {
  PipelineLines lines;
  auto definition = LoadPipelineDefinition(path, &lines);
  if (!definition.ok()) return definition.status();
  if (definition->family() != kSelectionFamily.name) {
    return absl::InvalidArgumentError(Cat(path, ": --pipeline needs a \"", kSelectionFamily.name,
                                          "\" pipeline, this one is \"", definition->family(), "\""));
  }
  // Built here only for its errors (file:line, stage, component); the
  // selector builds its own instances.
  CreateContext context;
  context.registry = &registry;
  auto slots = internal::BuildPipeline(*definition, kSelectionFamily, context, path, &lines);
  if (!slots.ok()) return slots.status();
  return definition;
}

}  // namespace herald::cli
