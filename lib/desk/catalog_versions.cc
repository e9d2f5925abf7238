// Catalog versions in a store: herald/catalog_versions.h.
#include "herald/catalog_versions.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/strings.h"
#include "herald/campaign_cache.h"

namespace herald {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::MessageDifferencer;

// The field that names an object of this type in a list, or null: the first
// string field named id, code or name (ContentSize and PageGroup have names,
// IndustryCode a code).
const FieldDescriptor* KeyField(const Descriptor* type) {
  for (const char* name : {"id", "code", "name"}) {
    const FieldDescriptor* f = type->FindFieldByName(name);
    if (f != nullptr && f->type() == FieldDescriptor::TYPE_STRING && !f->is_repeated()) return f;
  }
  return nullptr;
}

// "campaign item" for CampaignItem: how a summary line names the type.
std::string KindName(const Descriptor* type) {
  if (type->name() == "CampaignItem") return "item";
  if (type->name() == "AttributeDecl") return "attribute";
  if (type->name() == "ConversionAction") return "action";
  std::string out;
  for (char c : type->name()) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) out.push_back(' ');
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool FieldEquals(const Message& a, const Message& b, const FieldDescriptor* f) {
  MessageDifferencer d;
  std::vector<const FieldDescriptor*> only = {f};
  return d.CompareWithFields(a, b, only, only);
}

class ChangeWriter {
 public:
  explicit ChangeWriter(std::vector<std::string>* out) : out_(out) {}

  // Lists of keyed objects are matched by key; everything else becomes a
  // changed field name of `label` (nested messages as "ad.weight").
  void Object(const std::string& label, const Message& a, const Message& b) {
    std::vector<std::string> changed;
    Fields("", label, a, b, &changed);
    if (!changed.empty()) out_->push_back(Cat(label.empty() ? "catalog" : label, ": changed ", Join(changed, ", ")));
  }

 private:
  void Fields(const std::string& prefix, const std::string& label, const Message& a, const Message& b,
              std::vector<std::string>* changed) {
    const Descriptor* type = a.GetDescriptor();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      if (FieldEquals(a, b, f)) continue;
      const std::string name = prefix + f->name();
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && f->is_repeated() &&
          KeyField(f->message_type()) != nullptr && KeyedList(label, a, b, f)) {
        continue;
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
        const Reflection* ra = a.GetReflection();
        const Reflection* rb = b.GetReflection();
        if (ra->HasField(a, f) && rb->HasField(b, f)) {
          Fields(name + ".", label, ra->GetMessage(a, f), rb->GetMessage(b, f), changed);
          continue;
        }
      }
      changed->push_back(name);
    }
  }

  // Matches the objects of list `f` by key; false (compare the list as one
  // field) when a key is empty or repeated, as in an invalid catalog.
  bool KeyedList(const std::string& label, const Message& a, const Message& b, const FieldDescriptor* f) {
    const FieldDescriptor* key = KeyField(f->message_type());
    std::map<std::string, const Message*> before, after;
    std::vector<std::string> order;
    for (auto [msg, map] : {std::pair{&a, &before}, std::pair{&b, &after}}) {
      const Reflection* r = msg->GetReflection();
      for (int i = 0; i < r->FieldSize(*msg, f); ++i) {
        const Message& item = r->GetRepeatedMessage(*msg, f, i);
        std::string id = item.GetReflection()->GetString(item, key);
        if (id.empty() || !map->emplace(id, &item).second) return false;
        if (map == &after) order.push_back(id);  // the new catalog's order
      }
    }
    const std::string kind = KindName(f->message_type());
    auto name = [&](const std::string& id) {
      return Cat(label.empty() ? "" : Cat(label, " / "), kind, " \"", id, "\"");
    };
    for (const auto& [id, item] : before) {
      if (!after.contains(id)) out_->push_back(Cat("removed ", name(id)));
    }
    for (const std::string& id : order) {
      auto was = before.find(id);
      auto now = after.find(id);
      if (now == after.end()) continue;
      if (was == before.end()) {
        out_->push_back(Cat("added ", name(id)));
      } else {
        Object(name(id), *was->second, *now->second);
      }
    }
    return true;
  }

  std::vector<std::string>* out_;
};

absl::Status InvalidStored(int64_t version, const std::vector<CatalogIssue>& found) {
  std::vector<std::string> lines;
  for (const CatalogIssue& issue : found) lines.push_back(issue.ToString());
  return absl::InvalidArgumentError(Cat(Join(lines, "\n"), "\n", found.size(),
                                        found.size() == 1 ? " error" : " errors", " in catalog version ",
                                        version, " of the store"));
}

// Compiling catches what only the compiled form checks (finite pacing
// schedules), as `herald validate` does after validation.
absl::Status CompileCheck(const v1::Catalog& with_defaults, std::string_view source,
                          std::vector<CatalogIssue>* issues) {
  absl::StatusOr<std::shared_ptr<const CompiledCatalog>> compiled = CompiledCatalog::Compile(with_defaults);
  if (compiled.ok()) return absl::OkStatus();
  if (issues != nullptr) issues->push_back(CatalogIssue{std::string(source), 0, "", std::string(compiled.status().message())});
  return absl::InvalidArgumentError(Cat(source, ": ", compiled.status().message()));
}

// Validation as LoadCatalog does it, on a copy with the defaults applied,
// then compilation as `herald validate` does.
absl::Status Validate(const v1::Catalog& catalog, const CatalogSaveOptions& options,
                      std::vector<CatalogIssue>* issues) {
  v1::Catalog checked = catalog;
  ApplyCatalogDefaults(&checked);
  CatalogLoadOptions load = options.load;
  load.apply_defaults = true;
  std::vector<CatalogIssue> found = ValidateCatalog(checked, options.source, load);
  if (issues != nullptr) *issues = found;
  if (found.empty()) return CompileCheck(checked, options.source, issues);
  std::vector<std::string> lines;
  for (const CatalogIssue& issue : found) lines.push_back(issue.ToString());
  return absl::InvalidArgumentError(Cat(Join(lines, "\n"), "\n", found.size(),
                                        found.size() == 1 ? " error" : " errors", " in ", options.source));
}

// Appends `catalog` after the current version (or options.based_on), with
// the summary of its changes. Checked, not validated: callers validate.
absl::StatusOr<CatalogSaveResult> Append(CatalogStore& store, const v1::Catalog& catalog,
                                         const CatalogSaveOptions& options, int64_t rollback_of) {
  if (options.author.empty()) {
    return absl::InvalidArgumentError("catalog save: the author is required (every version says who saved it)");
  }
  // A save on "whatever is current" retries when another process saves in
  // between; a save based on a version the editor saw never does.
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<int64_t> current = store.CurrentCatalogVersion();
    if (!current.ok()) return current.status();
    const int64_t base = options.based_on >= 0 ? options.based_on : *current;
    v1::Catalog before;
    if (*current > 0) {
      absl::StatusOr<v1::CatalogVersion> last = store.LoadCatalogVersion(*current);
      if (!last.ok()) return last.status();
      before = last->catalog();
    }
    CatalogSaveResult result;
    // The first version is summarized, not listed object by object.
    result.changes = *current == 0 ? std::vector<std::string>{Cat("first version: ", SummarizeCatalog(catalog))}
                                   : DescribeCatalogChanges(before, catalog);
    if (*current > 0 && result.changes.empty() && base == *current) {
      result.version = *current;
      result.unchanged = true;
      return result;
    }
    result.warnings = CatalogWarnings(catalog, options.source);
    for (CatalogIssue& w : GoalingSkewWarnings(before, catalog, options.source)) {
      result.warnings.push_back(std::move(w));
    }
    v1::CatalogVersion entry;
    entry.set_author(options.author);
    std::vector<std::string> summary;
    if (!options.note.empty()) summary.push_back(options.note);
    if (rollback_of > 0) summary.push_back(Cat("rollback to version ", rollback_of));
    for (const std::string& c : result.changes) summary.push_back(c);
    entry.set_summary(Join(summary, "\n"));
    entry.set_rollback_of(rollback_of);
    *entry.mutable_catalog() = catalog;
    absl::StatusOr<int64_t> saved = store.AppendCatalogVersion(base, entry);
    if (saved.ok()) {
      result.version = *saved;
      return result;
    }
    if (saved.status().code() != absl::StatusCode::kAborted || options.based_on >= 0 || attempt >= 4) {
      return saved.status();
    }
  }
}

}  // namespace

std::vector<std::string> DescribeCatalogChanges(const v1::Catalog& before, const v1::Catalog& after) {
  std::vector<std::string> out;
  ChangeWriter(&out).Object("", before, after);
  return out;
}

std::vector<CatalogIssue> GoalingSkewWarnings(const v1::Catalog& before, const v1::Catalog& after,
                                              std::string_view source) {
  std::map<std::string, const v1::Campaign*> old;
  for (const v1::Campaign& c : before.campaigns()) old.emplace(c.id(), &c);
  std::vector<CatalogIssue> out;
  for (const v1::Campaign& c : after.campaigns()) {
    auto was = old.find(c.id());
    if (was == old.end() || c.goaling() != v1::GOALING_LEVEL_CAMPAIGN ||
        was->second->goaling() != v1::GOALING_LEVEL_CAMPAIGN) {
      continue;
    }
    std::map<std::string, double> old_weights;
    double old_sum = 0;
    for (const v1::CampaignItem& item : was->second->items()) {
      if (!item.has_ad() || item.ad().type() == v1::AD_TYPE_HOUSE) continue;
      old_weights.emplace(item.id(), item.ad().weight());
      old_sum += item.ad().weight();
    }
    // Converted from ad level: the weights are the old quantities.
    if (old_weights.empty() || old_sum != static_cast<double>(was->second->quantity_ordered())) continue;
    std::vector<std::string> added;
    bool reweighted = false;
    for (const v1::CampaignItem& item : c.items()) {
      if (!item.has_ad() || item.ad().type() == v1::AD_TYPE_HOUSE) continue;
      auto w = old_weights.find(item.id());
      if (w == old_weights.end()) {
        added.push_back(Cat("\"", item.id(), "\" (weight ", item.ad().weight(), ")"));
      } else if (w->second != item.ad().weight()) {
        reweighted = true;
      }
    }
    if (added.empty() || reweighted) continue;
    out.push_back(CatalogIssue{
        std::string(source), 0, Cat("campaign \"", c.id(), "\""),
        Cat("warning: ad ", Join(added, ", "),
            " added to a campaign converted from ad-level goaling without new weights for its other ads,"
            " whose weights are still their old quantities: delivery will skew towards them; assign new"
            " weights to every paid ad")});
  }
  return out;
}

absl::StatusOr<CatalogSaveResult> SaveCatalog(CatalogStore& store, const v1::Catalog& catalog,
                                              const CatalogSaveOptions& options,
                                              std::vector<CatalogIssue>* issues) {
  if (absl::Status s = Validate(catalog, options, issues); !s.ok()) return s;
  return Append(store, catalog, options, 0);
}

absl::StatusOr<CatalogSaveResult> SaveCatalogText(CatalogStore& store, std::string_view text, bool json,
                                                  const CatalogSaveOptions& options,
                                                  std::vector<CatalogIssue>* issues) {
  // Parsed twice: once as `herald validate` does (line numbers in issues),
  // once as written, without defaults, for the store.
  CatalogLoadOptions load = options.load;
  load.apply_defaults = true;
  absl::StatusOr<v1::Catalog> checked = ParseCatalog(text, options.source, json, issues, load);
  if (!checked.ok()) return checked.status();
  if (absl::Status s = CompileCheck(*checked, options.source, issues); !s.ok()) return s;
  // The text parsed above, so these cannot fail on it; checked all the same.
  v1::Catalog as_written;
  bool parsed = false;
  if (json) {
    google::protobuf::util::JsonParseOptions strict;
    parsed = google::protobuf::util::JsonStringToMessage(std::string(text), &as_written, strict).ok();
  } else {
    parsed = google::protobuf::TextFormat::ParseFromString(std::string(text), &as_written);
  }
  if (!parsed) return absl::InternalError(Cat(options.source, ": parsed once, not twice"));
  return Append(store, as_written, options, 0);
}

absl::StatusOr<CatalogSaveResult> RollbackCatalog(CatalogStore& store, int64_t version,
                                                  const CatalogSaveOptions& options) {
  absl::StatusOr<v1::CatalogVersion> old = store.LoadCatalogVersion(version);
  if (!old.ok()) return old.status();
  if (version == 0) version = old->version();
  std::vector<CatalogIssue> found;
  CatalogSaveOptions checked = options;
  checked.source = Cat("catalog version ", version);
  if (absl::Status s = Validate(old->catalog(), checked, &found); !s.ok()) return InvalidStored(version, found);
  return Append(store, old->catalog(), options, version);
}

absl::StatusOr<v1::Catalog> LoadStoredCatalog(CatalogStore& store, int64_t version, int64_t* loaded) {
  absl::StatusOr<v1::CatalogVersion> entry = store.LoadCatalogVersion(version);
  if (!entry.ok()) return entry.status();
  v1::Catalog catalog = std::move(*entry->mutable_catalog());
  ApplyCatalogDefaults(&catalog);
  std::vector<CatalogIssue> found =
      ValidateCatalog(catalog, Cat("catalog version ", entry->version()));
  if (!found.empty()) return InvalidStored(entry->version(), found);
  if (loaded != nullptr) *loaded = entry->version();
  return catalog;
}

}  // namespace herald
