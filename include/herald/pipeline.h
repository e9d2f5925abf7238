// herald/pipeline.h: typed pipelines of registered components.
//
// A pipeline family is one kind of work with its own context type and its
// fixed, ordered stages (see herald/families.h):
//   selection  (SelectionContext, herald/selection.h): ads and discount ads
//   basket     (BasketContext, herald/discount.h):     OrderDiscount
//   mail       (MailContext, herald/mail.h):           DirectMailer jobs
//   conversion (ExportContext, herald/conversion.h):   conversion export
// A PipelineDefinition (herald.v1, textproto) lists per stage which registered
// components run, each with its typed config and error policy. Stages must
// appear in the family's order; a stage may be omitted or empty.
//
// Component<Context>::Run returns absl::Status. Under ERROR_POLICY_FAIL (the
// default) a failing component stops the run and its status is returned,
// prefixed with the stage and label; under ERROR_POLICY_CONTINUE the error is
// recorded in the trace and the run goes on. When the context carries a
// Trace, the runner records each component's wall time.
//
// Lifetime: a Pipeline owns its components; components may borrow what their
// CreateContext lent them. Pipeline is immutable after Create.
// Thread-safety: Run() is const and may be called concurrently from many
// threads when every component's Run is thread-safe, which all built-in
// components are (per-run state lives in the context).
#ifndef HERALD_PIPELINE_H_
#define HERALD_PIPELINE_H_

#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "herald/families.h"
#include "herald/model/pipeline.pb.h"
#include "herald/registry.h"
#include "herald/trace.h"

namespace herald {

// Base of every family's context: what the runner needs.
struct PipelineContext {
  Trace* trace = nullptr;  // null = not tracing
  // Set by a component to end the run after it, successfully: the components
  // after it do not run, whatever their error policy. Control flow, not an
  // error: the selection family ends a run this way when SelectWinners needs
  // a wider candidate set (SelectionContext::needs_exhaustive), and the
  // selector runs the request again. Cleared when a run starts.
  bool end_run = false;
};

// Maps a context type to its family. Each family header specializes it:
//   template <> struct FamilyOf<SelectionContext> { static constexpr const FamilyInfo& kInfo = kSelectionFamily; };
template <typename Context>
struct FamilyOf;

// What a component reads and writes of its family's context, as named
// facts (the basket family's are "candidates", "line_matches",
// "unit_awards", "reserved", "order_adjustments" and "totals"; each family
// header lists its own), and the services of its CreateContext it needs.
// Pipeline::Create walks the components in run order and refuses a pipeline
// in which a component reads a fact no earlier component writes, or needs a
// service the CreateContext does not lend, naming the component, the fact
// and, when a later component writes it, that one. A component that does
// not declare a contract (the default, and every C-ABI plugin) is not
// checked, and may have written anything: once one has run, no read is
// refused, so that a third party's replacement for a built-in writer (its
// own candidate source, say) keeps working without declaring one.
struct ComponentContract {
  std::vector<std::string> reads;     // facts earlier components must have written
  std::vector<std::string> writes;    // facts it writes for the components after it
  std::vector<std::string> services;  // CreateContext members it needs: "store", "registry"
  bool declared = true;               // false: the default Contract(), nothing known
};

// The family-independent part of every pipeline component.
class ComponentBase : public Extension {
 public:
  // Called once, when the pipeline is built.
  virtual ComponentContract Contract() const { return {{}, {}, {}, false}; }
};

// A pipeline component of the family whose context is `Context`.
template <typename Context>
class Component : public ComponentBase {
 public:
  virtual absl::Status Run(Context& context) const = 0;

  // For families that rank by score (selection): an upper bound on the factor
  // by which Run can multiply any candidate's score in this context, or
  // infinity when unknown (the default). A component that sets scores rather
  // than multiplying them must say infinity (NeedOfDelivery is the selector's
  // known exception). The selector prunes candidates only when every bound is
  // finite, so a component that never raises a score says 1.
  virtual double MaxScoreMultiplier(const Context& context) const {
    return std::numeric_limits<double>::infinity();
  }
};

template <typename Context>
struct ExtensionTraits<Component<Context>> {
  static constexpr std::string_view kFamily = FamilyOf<Context>::kInfo.name;
};

// Where each stage and component of a definition file was written, so that
// errors can name file:line. Lines are 1-based; 0 = unknown (JSON, or a
// definition built in code).
struct PipelineLines {
  std::vector<int> stages;                   // per stages(i)
  std::vector<std::vector<int>> components;  // per stages(i).components(j)
};

namespace internal {

// One created component of a built pipeline, type-erased.
struct PipelineSlot {
  std::string stage;
  std::string label;
  v1::ErrorPolicy on_error = v1::ERROR_POLICY_FAIL;
  std::unique_ptr<Extension> component;
};

// Validates `definition` against `family` and creates its components through
// `registry`. `source` names the definition (a file name) in errors; with
// `lines` (from LoadPipelineDefinition) each error also names its line.
absl::StatusOr<std::vector<PipelineSlot>> BuildPipeline(const v1::PipelineDefinition& definition,
                                                        const FamilyInfo& family,
                                                        const CreateContext& context,
                                                        std::string_view source,
                                                        const PipelineLines* lines = nullptr);

absl::Status AnnotateComponentError(const absl::Status& status, const PipelineSlot& slot);

}  // namespace internal

// Loads a PipelineDefinition from a textproto (or, by extension ".json", JSON)
// file. Parse errors name the file and line; `lines`, when given, receives
// where each stage and component was written (for BuildPipeline's errors).
absl::StatusOr<v1::PipelineDefinition> LoadPipelineDefinition(const std::string& path,
                                                              PipelineLines* lines = nullptr);
// Parses a PipelineDefinition from textproto text; `source` names it in errors.
absl::StatusOr<v1::PipelineDefinition> ParsePipelineDefinition(std::string_view text,
                                                               std::string_view source);

template <typename Context>
class Pipeline {
 public:
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(const v1::PipelineDefinition& definition,
                                                          const CreateContext& context,
                                                          std::string_view source = "pipeline") {
    auto slots = internal::BuildPipeline(definition, FamilyOf<Context>::kInfo, context, source);
    if (!slots.ok()) return slots.status();
    auto pipeline = std::unique_ptr<Pipeline>(new Pipeline());
    pipeline->name_ = definition.name();
    pipeline->slots_ = std::move(*slots);
    for (auto& slot : pipeline->slots_) {
      pipeline->components_.push_back(static_cast<const Component<Context>*>(slot.component.get()));
    }
    return pipeline;
  }

  absl::Status Run(Context& context) const {
    Trace* trace = context.trace;
    context.end_run = false;
    for (size_t i = 0; i < components_.size() && !context.end_run; ++i) {
      const internal::PipelineSlot& slot = slots_[i];
      absl::Status status;
      if (trace == nullptr) {
        status = components_[i]->Run(context);
      } else {
        trace->Enter(slot.stage, slot.label);
        absl::Time start = absl::Now();
        status = components_[i]->Run(context);
        TraceEntry timing{slot.stage, slot.label, "", "timing", "", 0, absl::Now() - start};
        trace->Add(std::move(timing));
      }
      if (!status.ok()) {
        if (slot.on_error == v1::ERROR_POLICY_CONTINUE) {
          if (trace != nullptr) {
            trace->Add(TraceEntry{slot.stage, slot.label, "", "error",
                                  std::string(status.message()), 0, {}});
          }
          continue;
        }
        return internal::AnnotateComponentError(status, slot);
      }
    }
    return absl::OkStatus();
  }

  const std::string& name() const { return name_; }
  // (stage, label) of each component in run order.
  std::vector<std::pair<std::string, std::string>> Components() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& slot : slots_) out.emplace_back(slot.stage, slot.label);
    return out;
  }
  // (stage, component) of each component in run order.
  std::vector<std::pair<std::string_view, const Component<Context>*>> Instances() const {
    std::vector<std::pair<std::string_view, const Component<Context>*>> out;
    for (size_t i = 0; i < slots_.size(); ++i) out.emplace_back(slots_[i].stage, components_[i]);
    return out;
  }

 private:
  Pipeline() = default;
  std::string name_;
  std::vector<internal::PipelineSlot> slots_;
  std::vector<const Component<Context>*> components_;
};

}  // namespace herald

#endif  // HERALD_PIPELINE_H_
