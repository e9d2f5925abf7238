#include "herald/store_backend.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_set>

#include "core/strings.h"
#include "absl/strings/str_cat.h"

namespace herald::store_backend {

int64_t EventMicros(const v1::Event& event) {
  return event.time().seconds() * 1000000 + event.time().nanos() / 1000;
}

void SetEventMicros(int64_t micros, v1::Event* event) {
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  event->mutable_time()->set_seconds(seconds);
  event->mutable_time()->set_nanos(static_cast<int32_t>(rest * 1000));
}

int64_t TimeMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

absl::StatusOr<std::vector<CounterDelta>> MergeDeltas(std::span<const CounterDelta> deltas) {
  std::map<std::string_view, std::pair<int64_t, int64_t>> sums;
  for (const CounterDelta& d : deltas) {
    if (d.item_id.empty()) return absl::InvalidArgumentError("counter delta with an empty item id");
    if (d.requests < 0 || d.clicks < 0) {
      return absl::InvalidArgumentError(
          Cat("counter delta for item \"", d.item_id, "\" is negative"));
    }
    auto& s = sums[d.item_id];
    s.first += d.requests;
    s.second += d.clicks;
  }
  std::vector<CounterDelta> out;
  out.reserve(sums.size());
  for (const auto& [id, s] : sums) {
    if (s.first == 0 && s.second == 0) continue;
    out.push_back(CounterDelta{std::string(id), s.first, s.second});
  }
  return out;
}

absl::Status ValidateOrder(const CommittedOrder& order) {
  if (order.order_id.empty()) return absl::InvalidArgumentError("order commit without an order id");
  std::set<std::string_view> discounts;
  for (const OrderDiscountUse& use : order.discounts) {
    if (!discounts.insert(use.discount_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("order \"", order.order_id, "\": discount \"", use.discount_id, "\" is listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CouponUse>> NormalizeCouponUses(std::string_view order_id,
                                                           std::span<const CouponUse> uses) {
  if (order_id.empty()) return absl::InvalidArgumentError("coupon redemption without an order id");
  std::vector<CouponUse> out;
  for (const CouponUse& use : uses) {
    if (use.code.empty()) {
      return absl::InvalidArgumentError(
          Cat("order \"", order_id, "\": coupon redemption with an empty code"));
    }
    if (use.max_uses < 0 || use.max_uses_per_customer < 0) {
      return absl::InvalidArgumentError(
          Cat("order \"", order_id, "\": coupon \"", use.code, "\": negative limit"));
    }
    out.push_back(use);
  }
  std::sort(out.begin(), out.end(),
            [](const CouponUse& a, const CouponUse& b) { return a.code < b.code; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const CouponUse& a, const CouponUse& b) { return a.code == b.code; }),
            out.end());
  return out;
}

absl::Status CouponLimitError(const CouponUse& use, std::string_view customer_id, bool per_customer,
                              int64_t used) {
  if (per_customer) {
    return absl::ResourceExhaustedError(Cat(
        "coupon \"", use.code, "\": customer \"", customer_id, "\" has used it ", used,
        " time(s), the limit per customer is ", use.max_uses_per_customer));
  }
  return absl::ResourceExhaustedError(Cat("coupon \"", use.code, "\": used ", used,
                                                   " time(s), the limit is ", use.max_uses));
}

std::string EncodeHistory(const UserHistory& history) {
  v1::StoredUserHistory stored;
  for (const std::string& id : history.recent) stored.add_recent(id);
  for (const auto& [id, count] : history.exposures) {
    auto* e = stored.add_exposures();
    e->set_item_id(id);
    e->set_count(count);
  }
  for (const UserHistory::Count& c : history.counts) {
    auto* out = stored.add_counts();
    out->set_item_id(c.item_id);
    out->set_kind(static_cast<int32_t>(c.kind));
    out->set_scope(c.scope);
    out->set_count(c.count);
  }
  for (const auto& [id, last_seen] : history.sessions) {
    auto* out = stored.add_sessions();
    out->set_id(id);
    out->set_last_seen(last_seen);
  }
  stored.set_overflow_until(history.overflow_until);
  return stored.SerializeAsString();
}

absl::StatusOr<UserHistory> DecodeHistory(std::string_view bytes, std::string_view user_id) {
  v1::StoredUserHistory stored;
  if (!stored.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        Cat("history of user \"", user_id, "\" is corrupt (cannot be parsed)"));
  }
  UserHistory history;
  history.recent.assign(stored.recent().begin(), stored.recent().end());
  for (const auto& e : stored.exposures()) history.exposures.emplace_back(e.item_id(), e.count());
  for (const auto& c : stored.counts()) {
    if (c.kind() < 1 || c.kind() > 4) continue;  // a kind of a later version: not counted here
    history.counts.push_back(UserHistory::Count{c.item_id(), static_cast<UserHistory::Scope>(c.kind()),
                                                c.scope(), c.count()});
  }
  for (const auto& s : stored.sessions()) history.sessions.emplace_back(s.id(), s.last_seen());
  history.overflow_until = stored.overflow_until();
  return history;
}

absl::Status ValidateLease(std::string_view name, std::string_view owner, absl::Duration ttl) {
  if (name.empty() || owner.empty()) {
    return absl::InvalidArgumentError("a lease needs a name and an owner");
  }
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(Cat("lease \"", name, "\": ttl must be positive"));
  }
  return absl::OkStatus();
}

absl::Status ValidateStoreTableName(std::string_view table) {
  bool ok = !table.empty() && table.size() <= 63 && !(table[0] >= '0' && table[0] <= '9');
  for (char c : table) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      Cat("store table name '", table,
          "' is not an SQL identifier (letters, digits and _, not starting with a digit, at most 63)"));
}

absl::Status StoreTableNotFound(std::string_view table, std::string_view store) {
  return absl::NotFoundError(Cat("store table '", table, "' not found (", store, ")"));
}

bool ClaimOwnedBy(std::string_view worker, std::string_view owner) {
  if (owner.empty() || !worker.starts_with(owner)) return false;
  return worker.size() == owner.size() || worker[owner.size()] == '/';
}

bool IsValidRecipientState(int state) { return state >= 0 && state <= 4; }

std::string_view RecipientStateName(RecipientState state) {
  switch (state) {
    case RecipientState::kPending: return "pending";
    case RecipientState::kSending: return "sending";
    case RecipientState::kSent: return "sent";
    case RecipientState::kFailed: return "failed";
    case RecipientState::kSkipped: return "skipped";
  }
  return "unknown";
}

absl::Status ValidateQuotaLease(std::string_view item_id, int64_t limit) {
  if (item_id.empty()) return absl::InvalidArgumentError("quota lease: empty item id");
  if (limit < 0) {
    return absl::InvalidArgumentError(Cat("quota lease of \"", item_id, "\": negative limit ", limit));
  }
  return absl::OkStatus();
}

int64_t QuotaChange(int64_t leased, int64_t limit, int64_t delta) {
  if (delta >= 0) return std::min(delta, std::max<int64_t>(0, limit - leased));
  return std::max(delta, -leased);
}

std::string LowerTrimmed(std::string_view value) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!value.empty() && space(value.front())) value.remove_prefix(1);
  while (!value.empty() && space(value.back())) value.remove_suffix(1);
  std::string out(value);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::set<std::string, std::less<>> LowerTrimmedSet(std::span<const std::string> values) {
  std::set<std::string, std::less<>> out;
  for (const std::string& v : values) {
    std::string l = LowerTrimmed(v);
    if (!l.empty()) out.insert(std::move(l));
  }
  return out;
}

absl::Status CatalogVersionConflict(int64_t expected, int64_t current) {
  return absl::AbortedError(absl::StrCat(
      "catalog: version ", current, " is current, but this save was based on ",
      expected == 0 ? std::string("no version") : absl::StrCat("version ", expected),
      "; load version ", current, ", apply the change again and save"));
}

absl::Status CatalogVersionNotFound(int64_t version, int64_t current) {
  if (current == 0) return absl::NotFoundError("catalog: the store holds no catalog version yet");
  return absl::NotFoundError(absl::StrCat("catalog: no version ", version,
                                          " (versions 1 to ", current, " exist)"));
}

absl::Status ValidateCatalogEntry(int64_t expected_current, const v1::CatalogVersion& entry) {
  if (expected_current < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("catalog: expected current version ", expected_current, " is negative"));
  }
  if (!entry.has_catalog()) return absl::InvalidArgumentError("catalog: the new version has no catalog");
  if (entry.rollback_of() < 0 || entry.rollback_of() > expected_current) {
    return absl::InvalidArgumentError(
        absl::StrCat("catalog: rollback_of ", entry.rollback_of(), " names no earlier version"));
  }
  return absl::OkStatus();
}

absl::Status DeskUserExists(std::string_view name) {
  return absl::AlreadyExistsError(Cat("user \"", name, "\" already exists"));
}

absl::Status DeskUserNotFound(std::string_view name) {
  return absl::NotFoundError(Cat("no user \"", name, "\""));
}

absl::Status DeskSessionExists() {
  return absl::AlreadyExistsError("a session with this id already exists");
}

absl::Status ValidateAuditLimit(int limit) {
  if (limit > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("ReadAudit: limit must be positive (got ", limit, ")"));
}

absl::Status ValidateMailListName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(Cat("list name '", name, "' is not valid: 1-64 of [A-Za-z0-9._-]"));
}

absl::Status ValidateMailList(const v1::MailList& list, std::span<const std::vector<std::string>> rows) {
  if (absl::Status s = ValidateMailListName(list.name()); !s.ok()) return s;
  const std::string& name = list.name();
  if (list.kind() == v1::MAIL_LIST_KIND_OPT_OUT) {
    if (list.columns_size() != 1 || list.columns(0) != "email") {
      return absl::InvalidArgumentError(
          Cat("list '", name, "': an opt-out list has the one column \"email\" (got ", list.columns_size(),
              " column(s)", list.columns_size() > 0 ? Cat(", the first \"", list.columns(0), "\"") : "", ")"));
    }
  } else if (list.kind() == v1::MAIL_LIST_KIND_RECIPIENTS) {
    if (list.columns_size() == 0) return absl::InvalidArgumentError(Cat("list '", name, "': no columns"));
  } else {
    return absl::InvalidArgumentError(
        Cat("list '", name, "': kind ", static_cast<int>(list.kind()), " is neither RECIPIENTS nor OPT_OUT"));
  }
  const size_t width = static_cast<size_t>(list.columns_size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].size() != width) {
      return absl::InvalidArgumentError(Cat("list '", name, "': row ", i + 1, " has ", rows[i].size(),
                                            " value(s) for ", width, " column(s)"));
    }
  }
  return absl::OkStatus();
}

std::vector<size_t> MailListRowsToStore(const v1::MailList& list,
                                        std::span<const std::vector<std::string>> rows) {
  std::vector<size_t> out;
  out.reserve(rows.size());
  if (list.kind() != v1::MAIL_LIST_KIND_OPT_OUT) {
    for (size_t i = 0; i < rows.size(); ++i) out.push_back(i);
    return out;
  }
  std::unordered_set<std::string_view> seen;
  seen.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (seen.insert(rows[i][0]).second) out.push_back(i);
  }
  return out;
}

std::vector<std::string_view> UniqueAddresses(std::span<const std::string> addresses) {
  std::vector<std::string_view> out;
  std::unordered_set<std::string_view> seen;
  for (const std::string& a : addresses) {
    if (seen.insert(a).second) out.push_back(a);
  }
  return out;
}

int MailListEmailColumn(std::span<const std::string> columns) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == "email") return static_cast<int>(i);
  }
  return -1;
}

std::optional<std::string> MailListRowAddress(int email_column, std::span<const std::string> values) {
  if (email_column < 0 || static_cast<size_t>(email_column) >= values.size()) return std::nullopt;
  return LowerTrimmed(values[static_cast<size_t>(email_column)]);
}

absl::Status MailListNotFound(std::string_view name) {
  return absl::NotFoundError(Cat("list '", name, "' not found"));
}

absl::Status MailListNotOptOut(std::string_view name) {
  return absl::FailedPreconditionError(
      Cat("list '", name, "' is a recipient list: opt-outs are added to opt-out lists only"));
}

std::string EncodeMailListValues(std::span<const std::string> values) {
  // Field 1, length-delimited, once per value: what StoredMailListValues
  // serializes to, written without building the message (a list may have a
  // million rows).
  size_t size = 0;
  for (const std::string& v : values) size += v.size() + 6;
  std::string out;
  out.reserve(size);
  for (const std::string& v : values) {
    out.push_back('\x0a');
    for (uint64_t n = v.size(); ; n >>= 7) {
      if (n < 0x80) {
        out.push_back(static_cast<char>(n));
        break;
      }
      out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    }
    out.append(v);
  }
  return out;
}

bool DecodeMailListValues(std::string_view bytes, std::vector<std::string>* out) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (bytes[i++] != '\x0a') return false;  // only field 1 is ever written
    uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      if (i >= bytes.size() || shift > 35) return false;
      const auto b = static_cast<unsigned char>(bytes[i++]);
      n |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    if (n > bytes.size() - i) return false;
    out->emplace_back(bytes.substr(i, n));
    i += n;
  }
  return true;
}

}  // namespace herald::store_backend
