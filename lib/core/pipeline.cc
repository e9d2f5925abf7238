#include "core/strings.h"
#include "herald/pipeline.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/proto_io.h"
#include "google/protobuf/util/json_util.h"
#include "herald/spelling.h"

namespace herald {
namespace internal {

namespace {

std::string StagePath(std::string_view source, std::string_view stage, int line = 0) {
  if (line > 0) return Cat(source, ":", line, ": stage \"", stage, "\"");
  return Cat(source, ": stage \"", stage, "\"");
}

int LineAt(const PipelineLines* lines, int stage, int component = -1) {
  if (lines == nullptr || stage < 0 || static_cast<size_t>(stage) >= lines->stages.size()) return 0;
  if (component < 0) return lines->stages[stage];
  const std::vector<int>& in_stage = lines->components[stage];
  return static_cast<size_t>(component) < in_stage.size() ? in_stage[component] : lines->stages[stage];
}

// Fills `config` (the factory's empty config) from the spec's Any or JSON.
absl::Status ReadComponentConfig(const v1::ComponentSpec& spec, std::string_view where,
                                 google::protobuf::Message* config) {
  if (spec.has_config() && !spec.json_config().empty()) {
    return absl::InvalidArgumentError(
        Cat(where, ": give either config or json_config, not both"));
  }
  const std::string& want = config->GetDescriptor()->full_name();
  if (spec.has_config()) {
    std::string type = spec.config().type_url();
    std::string_view got = type;
    if (auto slash = got.rfind('/'); slash != std::string_view::npos) got = got.substr(slash + 1);
    if (got != want) {
      return absl::InvalidArgumentError(
          Cat(where, ": config must be ", want, ", got ", got));
    }
    if (!spec.config().UnpackTo(config)) {
      return absl::InvalidArgumentError(Cat(where, ": config does not parse as ", want));
    }
  } else if (!spec.json_config().empty()) {
    google::protobuf::util::JsonParseOptions options;
    // Enum values as in flags too (herald/spelling.h).
    auto status = google::protobuf::util::JsonStringToMessage(
        NormalizeJsonEnums(spec.json_config(), *config->GetDescriptor()), config, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(Cat(where, ": json_config is not a valid ",
                                                     want, ": ", std::string(status.message())));
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Whether the CreateContext lends `service`; false with *known = false for a
// name it does not know.
bool Lends(const CreateContext& context, std::string_view service, bool* known) {
  *known = true;
  if (service == "store") return context.store != nullptr;
  if (service == "registry") return context.registry != nullptr;
  *known = false;
  return false;
}

// The components' contracts in run order (see ComponentContract).
void CheckContracts(const std::vector<PipelineSlot>& slots, const std::vector<std::string>& wheres,
                    const CreateContext& context, std::vector<std::string>* errors) {
  std::vector<ComponentContract> contracts;
  for (const PipelineSlot& slot : slots) {
    auto* component = dynamic_cast<const ComponentBase*>(slot.component.get());
    contracts.push_back(component != nullptr ? component->Contract() : ComponentContract{{}, {}, {}, false});
  }
  std::set<std::string, std::less<>> written;
  bool unknown_before = false;  // an undeclared component ran: it may have written anything
  for (size_t k = 0; k < slots.size(); ++k) {
    for (const std::string& fact : contracts[k].reads) {
      if (unknown_before || written.count(fact) > 0) continue;
      std::string later;
      for (size_t j = k + 1; j < slots.size() && later.empty(); ++j) {
        const auto& w = contracts[j].writes;
        if (std::find(w.begin(), w.end(), fact) != w.end()) later = slots[j].label;
      }
      errors->push_back(Cat(wheres[k], ": reads \"", fact, "\", which no earlier component writes",
                            later.empty() ? "" : Cat(" (\"", later, "\" writes it, but runs after)")));
    }
    for (const std::string& service : contracts[k].services) {
      bool known = false;
      if (Lends(context, service, &known)) continue;
      errors->push_back(known ? Cat(wheres[k], ": needs a ", service, ", and the pipeline is built without one")
                              : Cat(wheres[k], ": needs the service \"", service,
                                    "\", which pipelines do not know (known: store, registry)"));
    }
    written.insert(contracts[k].writes.begin(), contracts[k].writes.end());
    unknown_before |= !contracts[k].declared;
  }
}

}  // namespace

absl::StatusOr<std::vector<PipelineSlot>> BuildPipeline(const v1::PipelineDefinition& definition,
                                                        const FamilyInfo& family,
                                                        const CreateContext& context,
                                                        std::string_view source,
                                                        const PipelineLines* lines) {
  if (context.registry == nullptr) {
    return absl::InvalidArgumentError(
        Cat(source, ": no registry to create the components from"));
  }
  if (!definition.family().empty() && definition.family() != family.name) {
    return absl::InvalidArgumentError(Cat(source, ": a \"", definition.family(),
                                                   "\" pipeline cannot run as a \"", family.name,
                                                   "\" pipeline"));
  }
  std::vector<std::string> errors;
  std::vector<PipelineSlot> slots;
  std::vector<std::string> wheres;  // per slot, for the contract check
  size_t next_stage = 0;  // stages must come in the family's order
  for (int si = 0; si < definition.stages_size(); ++si) {
    const v1::Stage& stage = definition.stages(si);
    const int stage_line = LineAt(lines, si);
    auto it = std::find(family.stages.begin(), family.stages.end(), stage.name());
    if (it == family.stages.end()) {
      errors.push_back(Cat(source, stage_line > 0 ? Cat(":", stage_line) : "", ": unknown stage \"", stage.name(), "\" for family ",
                                    family.name, "; stages: ",
                                    Join(family.stages, ", ")));
      continue;
    }
    size_t index = static_cast<size_t>(it - family.stages.begin());
    if (index < next_stage) {
      errors.push_back(Cat(StagePath(source, stage.name(), stage_line),
                                    ": out of order or repeated; stages run in the order ",
                                    Join(family.stages, ", ")));
      continue;
    }
    next_stage = index + 1;
    for (int i = 0; i < stage.components_size(); ++i) {
      const v1::ComponentSpec& spec = stage.components(i);
      if (spec.disabled()) continue;
      std::string label = spec.label().empty() ? spec.name() : spec.label();
      std::string where = Cat(StagePath(source, stage.name(), LineAt(lines, si, i)), " component \"",
                                       label.empty() ? Cat("#", i + 1) : label, "\"");
      if (spec.name().empty()) {
        errors.push_back(Cat(where, ": name is required"));
        continue;
      }
      auto factory = context.registry->Find(family.name, spec.name());
      if (!factory.ok()) {
        errors.push_back(Cat(where, ": ", factory.status().message()));
        continue;
      }
      std::unique_ptr<google::protobuf::Message> config = (*factory)->CreateEmptyConfig();
      if (absl::Status s = ReadComponentConfig(spec, where, config.get()); !s.ok()) {
        errors.push_back(std::string(s.message()));
        continue;
      }
      auto component = (*factory)->Create(*config, context);
      if (!component.ok()) {
        errors.push_back(Cat(where, ": ", component.status().message()));
        continue;
      }
      wheres.push_back(where);
      slots.push_back(PipelineSlot{stage.name(), label,
                                   spec.on_error() == v1::ERROR_POLICY_UNSPECIFIED
                                       ? v1::ERROR_POLICY_FAIL
                                       : spec.on_error(),
                                   std::move(*component)});
    }
  }
  if (errors.empty()) CheckContracts(slots, wheres, context, &errors);
  if (!errors.empty()) return absl::InvalidArgumentError(Join(errors, "\n"));
  return slots;
}

absl::Status AnnotateComponentError(const absl::Status& status, const PipelineSlot& slot) {
  return absl::Status(status.code(),
                      Cat("[", slot.stage, "] ", slot.label, ": ", status.message()));
}

}  // namespace internal

namespace {

absl::StatusOr<v1::PipelineDefinition> ParseDefinition(std::string_view text, std::string_view source,
                                                       PipelineLines* lines) {
  v1::PipelineDefinition definition;
  google::protobuf::TextFormat::ParseInfoTree tree;
  if (absl::Status s = ParseTextProto(text, source, &definition, &tree); !s.ok()) return s;
  if (lines != nullptr) {
    const auto* desc = definition.GetDescriptor();
    const auto* stages = desc->FindFieldByName("stages");
    const auto* components = v1::Stage::descriptor()->FindFieldByName("components");
    lines->stages.clear();
    lines->components.clear();
    for (int i = 0; i < definition.stages_size(); ++i) {
      lines->stages.push_back(tree.GetLocation(stages, i).line + 1);
      std::vector<int>& in_stage = lines->components.emplace_back();
      const auto* sub = tree.GetTreeForNested(stages, i);
      for (int j = 0; j < definition.stages(i).components_size(); ++j) {
        in_stage.push_back(sub != nullptr ? sub->GetLocation(components, j).line + 1 : 0);
      }
    }
  }
  if (definition.family().empty()) {
    return absl::InvalidArgumentError(Cat(source, ": family is required (one of ",
                                                   "selection, basket, mail, conversion)"));
  }
  if (FindFamily(definition.family()) == nullptr) {
    return absl::InvalidArgumentError(
        Cat(source, ": unknown family \"", definition.family(),
                     "\"; families: selection, basket, mail, conversion"));
  }
  return definition;
}

}  // namespace

absl::StatusOr<v1::PipelineDefinition> ParsePipelineDefinition(std::string_view text,
                                                               std::string_view source) {
  return ParseDefinition(text, source, nullptr);
}

absl::StatusOr<v1::PipelineDefinition> LoadPipelineDefinition(const std::string& path,
                                                              PipelineLines* lines) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  if (IsJsonPath(path)) {
    v1::PipelineDefinition definition;
    if (absl::Status s = ParseJsonProto(*text, path, &definition); !s.ok()) return s;
    return definition;
  }
  return ParseDefinition(*text, path, lines);
}

}  // namespace herald
