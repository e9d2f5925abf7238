// The in-memory store: every facet behind one mutex, with the same semantics
// as the database backends (the conformance suite runs over all of them).
#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "herald/store.h"
#include "core/strings.h"
#include "herald/store_backend.h"

namespace herald {
namespace {

using store_backend::EventMicros;
using store_backend::TimeMicros;

class MemoryStore final : public Store,
                          CounterStore,
                          EventStore,
                          HistoryStore,
                          InteractionStore,
                          MailLedgerStore,
                          WatermarkStore,
                          CouponStore,
                          RecipientTableStore,
                          PersonalDataStore,
                          CatalogStore,
                          AccountStore,
                          MailListStore {
 public:
  CounterStore& counters() override { return *this; }
  EventStore& events() override { return *this; }
  HistoryStore& history() override { return *this; }
  InteractionStore& interactions() override { return *this; }
  MailLedgerStore& mail_ledgers() override { return *this; }
  WatermarkStore& watermarks() override { return *this; }
  CouponStore& coupons() override { return *this; }
  RecipientTableStore* recipient_tables() override { return this; }
  PersonalDataStore* personal_data() override { return this; }
  CatalogStore* catalogs() override { return this; }
  AccountStore* accounts() override { return this; }
  MailListStore* mail_lists() override { return this; }
  absl::Status Flush() override { return absl::OkStatus(); }
  std::string Describe() const override { return "memory"; }

  // CatalogStore
  absl::StatusOr<int64_t> AppendCatalogVersion(int64_t expected_current,
                                               const v1::CatalogVersion& entry) override {
    if (absl::Status s = store_backend::ValidateCatalogEntry(expected_current, entry); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    const int64_t current = static_cast<int64_t>(catalog_versions_.size());
    if (current != expected_current) return store_backend::CatalogVersionConflict(expected_current, current);
    v1::CatalogVersion& stored = catalog_versions_.emplace_back(entry);
    stored.set_version(current + 1);
    stored.set_time_unix_micros(absl::ToUnixMicros(absl::Now()));
    return current + 1;
  }
  absl::StatusOr<int64_t> CurrentCatalogVersion() override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(catalog_versions_.size());
  }
  absl::StatusOr<v1::CatalogVersion> LoadCatalogVersion(int64_t version) override {
    absl::MutexLock lock(&mu_);
    const int64_t current = static_cast<int64_t>(catalog_versions_.size());
    if (version == 0) version = current;
    if (version < 1 || version > current) return store_backend::CatalogVersionNotFound(version, current);
    return catalog_versions_[static_cast<size_t>(version - 1)];
  }
  absl::StatusOr<std::vector<v1::CatalogVersion>> ListCatalogVersions() override {
    absl::MutexLock lock(&mu_);
    std::vector<v1::CatalogVersion> out;
    for (const v1::CatalogVersion& v : catalog_versions_) {
      v1::CatalogVersion& info = out.emplace_back(v);
      info.clear_catalog();
    }
    return out;
  }

  // AccountStore
  absl::Status CreateUser(const v1::DeskUser& user) override {
    absl::MutexLock lock(&mu_);
    if (!desk_users_.emplace(user.name(), user).second) return store_backend::DeskUserExists(user.name());
    return absl::OkStatus();
  }
  absl::Status UpdateUser(const v1::DeskUser& user) override {
    absl::MutexLock lock(&mu_);
    auto it = desk_users_.find(user.name());
    if (it == desk_users_.end()) return store_backend::DeskUserNotFound(user.name());
    it->second = user;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<v1::DeskUser>> GetUser(std::string_view name) override {
    absl::MutexLock lock(&mu_);
    auto it = desk_users_.find(name);
    if (it == desk_users_.end()) return std::optional<v1::DeskUser>();
    return std::optional<v1::DeskUser>(it->second);
  }
  absl::StatusOr<std::vector<v1::DeskUser>> ListUsers() override {
    absl::MutexLock lock(&mu_);
    std::vector<v1::DeskUser> out;
    for (const auto& [name, user] : desk_users_) out.push_back(user);
    return out;
  }
  absl::Status DeleteUser(std::string_view name) override {
    absl::MutexLock lock(&mu_);
    auto it = desk_users_.find(name);
    if (it == desk_users_.end()) return store_backend::DeskUserNotFound(name);
    desk_users_.erase(it);
    DeleteUserSessionsLocked(name);
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> AddFailedSignIn(std::string_view key, int64_t time_unix_micros) override {
    absl::MutexLock lock(&mu_);
    auto& [count, last] = sign_in_failures_[key];
    ++count;
    last = std::max(last, time_unix_micros);  // a lagging clock never moves it back, as in SQL
    return count;
  }
  absl::StatusOr<std::pair<int64_t, int64_t>> FailedSignIns(std::string_view key) override {
    absl::MutexLock lock(&mu_);
    auto it = sign_in_failures_.find(key);
    if (it == sign_in_failures_.end()) return std::pair<int64_t, int64_t>(0, 0);
    return it->second;
  }
  absl::Status ClearFailedSignIns(std::string_view key) override {
    absl::MutexLock lock(&mu_);
    if (auto it = sign_in_failures_.find(key); it != sign_in_failures_.end()) sign_in_failures_.erase(it);
    return absl::OkStatus();
  }
  absl::Status CreateSession(const v1::DeskSession& session) override {
    absl::MutexLock lock(&mu_);
    if (!desk_sessions_.emplace(session.id_hash(), session).second) return store_backend::DeskSessionExists();
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<v1::DeskSession>> GetSession(std::string_view id_hash) override {
    absl::MutexLock lock(&mu_);
    auto it = desk_sessions_.find(id_hash);
    if (it == desk_sessions_.end()) return std::optional<v1::DeskSession>();
    return std::optional<v1::DeskSession>(it->second);
  }
  absl::Status DeleteSession(std::string_view id_hash) override {
    absl::MutexLock lock(&mu_);
    if (auto it = desk_sessions_.find(id_hash); it != desk_sessions_.end()) desk_sessions_.erase(it);
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> DeleteUserSessions(std::string_view user) override {
    absl::MutexLock lock(&mu_);
    return DeleteUserSessionsLocked(user);
  }
  absl::StatusOr<int64_t> DeleteExpiredSessions(int64_t now_unix_micros) override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(absl::erase_if(desk_sessions_, [&](const auto& entry) {
      return entry.second.expires_unix_micros() < now_unix_micros;
    }));
  }
  absl::StatusOr<int64_t> AppendAudit(const v1::AuditEntry& entry) override {
    absl::MutexLock lock(&mu_);
    v1::AuditEntry& stored = audit_.emplace_back(entry);
    stored.set_sequence(static_cast<int64_t>(audit_.size()));
    return stored.sequence();
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> ReadAudit(int64_t before, int limit) override {
    if (absl::Status s = store_backend::ValidateAuditLimit(limit); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    // Sequence n is audit_[n - 1].
    int64_t end = static_cast<int64_t>(audit_.size());
    if (before > 0) end = std::min(end, before - 1);
    if (before < 0) end = 0;
    std::vector<v1::AuditEntry> out;
    for (int64_t i = end - 1; i >= 0 && static_cast<int>(out.size()) < limit; --i) {
      out.push_back(audit_[static_cast<size_t>(i)]);
    }
    return out;
  }

  // MailListStore. A list's rows are shared with the scans that read them
  // and copied before a change while a scan holds them (copy on write): a
  // scan reads one snapshot without holding the mutex.
  absl::Status PutList(const v1::MailList& list, std::span<const std::vector<std::string>> rows) override {
    if (absl::Status s = store_backend::ValidateMailList(list, rows); !s.ok()) return s;
    MailListData data;
    data.info = list;
    auto stored = std::make_shared<MailListRows>();
    for (size_t i : store_backend::MailListRowsToStore(list, rows)) stored->push_back(rows[i]);
    if (list.kind() == v1::MAIL_LIST_KIND_OPT_OUT) {
      for (const auto& row : *stored) data.opt_outs.insert(row[0]);
    }
    data.info.set_rows(static_cast<int64_t>(stored->size()));
    data.rows = std::move(stored);
    absl::MutexLock lock(&mu_);
    mail_lists_.insert_or_assign(list.name(), std::move(data));
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> AddOptOuts(std::string_view name, std::span<const std::string> addresses,
                                     std::string_view by, int64_t time_unix_micros) override {
    if (absl::Status s = store_backend::ValidateMailListName(name); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    auto it = mail_lists_.find(name);
    if (it == mail_lists_.end()) {
      MailListData data;
      data.info.set_name(std::string(name));
      data.info.set_kind(v1::MAIL_LIST_KIND_OPT_OUT);
      data.info.add_columns("email");
      data.info.set_updated_by(std::string(by));
      data.info.set_updated_unix_micros(time_unix_micros);
      data.rows = std::make_shared<MailListRows>();
      it = mail_lists_.emplace(std::string(name), std::move(data)).first;
    }
    MailListData& list = it->second;
    if (list.info.kind() != v1::MAIL_LIST_KIND_OPT_OUT) return store_backend::MailListNotOptOut(name);
    int64_t added = 0;
    for (std::string_view address : store_backend::UniqueAddresses(addresses)) {
      if (!list.opt_outs.emplace(address).second) continue;
      MutableRows(list).push_back({std::string(address)});
      ++added;
    }
    if (added > 0) {
      list.info.set_rows(static_cast<int64_t>(list.rows->size()));
      list.info.set_updated_by(std::string(by));
      list.info.set_updated_unix_micros(time_unix_micros);
    }
    return added;
  }
  absl::StatusOr<std::vector<v1::MailList>> ListLists() override {
    absl::MutexLock lock(&mu_);
    std::vector<v1::MailList> out;
    for (const auto& [name, list] : mail_lists_) out.push_back(list.info);
    return out;
  }
  absl::StatusOr<std::optional<v1::MailList>> GetList(std::string_view name) override {
    absl::MutexLock lock(&mu_);
    auto it = mail_lists_.find(name);
    if (it == mail_lists_.end()) return std::optional<v1::MailList>();
    return std::optional<v1::MailList>(it->second.info);
  }
  absl::Status ScanList(std::string_view name,
                        const std::function<absl::Status(std::span<const std::string>)>& on_row) override {
    std::shared_ptr<const MailListRows> snapshot;
    {
      absl::MutexLock lock(&mu_);
      auto it = mail_lists_.find(name);
      if (it == mail_lists_.end()) return store_backend::MailListNotFound(name);
      snapshot = it->second.rows;
    }
    for (const std::vector<std::string>& row : *snapshot) {
      if (absl::Status s = on_row(row); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status DeleteList(std::string_view name) override {
    absl::MutexLock lock(&mu_);
    auto it = mail_lists_.find(name);
    if (it == mail_lists_.end()) return store_backend::MailListNotFound(name);
    mail_lists_.erase(it);
    return absl::OkStatus();
  }

  // PersonalDataStore
  absl::StatusOr<std::vector<v1::InteractionRecord>> ReadStoredInteractions(int64_t after, int limit) override {
    return ReadInteractions(after, limit);
  }
  absl::StatusOr<int64_t> RewriteInteractions(std::span<const v1::InteractionRecord> records) override {
    absl::MutexLock lock(&mu_);
    int64_t n = 0;
    for (const v1::InteractionRecord& r : records) {
      auto it = interactions_.find(r.sequence());
      if (it == interactions_.end()) continue;
      it->second = r;
      it->second.clear_sequence();
      ++n;
    }
    return n;
  }
  absl::StatusOr<v1::ForgetLogEntry> EraseSubject(const SubjectErasure& erasure,
                                                 const v1::ForgetLogEntry& log) override {
    const std::set<std::string, std::less<>> recipients = store_backend::LowerTrimmedSet(erasure.recipients);
    const std::set<std::string, std::less<>> users(erasure.user_ids.begin(), erasure.user_ids.end());
    absl::MutexLock lock(&mu_);
    v1::ForgetLogEntry entry = log;
    for (int64_t seq : erasure.interactions) entry.set_interactions(entry.interactions() + interactions_.erase(seq));
    for (auto& [id, job] : jobs_) {
      const size_t before = job.entries.size();
      std::erase_if(job.entries, [&](const LedgerEntry& e) {
        return recipients.contains(store_backend::LowerTrimmed(e.recipient));
      });
      if (job.entries.size() == before) continue;
      entry.set_mail_recipients(entry.mail_recipients() + static_cast<int64_t>(before - job.entries.size()));
      job.index.clear();
      for (size_t i = 0; i < job.entries.size(); ++i) job.index[job.entries[i].recipient] = i;
    }
    for (auto& [name, table] : tables_) {
      const size_t before = table.rows.size();
      std::erase_if(table.rows, [&](const std::vector<std::string>& row) {
        for (const std::string& v : row) {
          if (recipients.contains(store_backend::LowerTrimmed(v))) return true;
        }
        return false;
      });
      entry.set_table_rows(entry.table_rows() + static_cast<int64_t>(before - table.rows.size()));
    }
    // Recipient lists: rows whose "email" matches. Opt-out lists keep the
    // address, so that the person is never mailed again.
    for (auto& [name, list] : mail_lists_) {
      const int email = store_backend::MailListEmailColumn(
          std::vector<std::string>(list.info.columns().begin(), list.info.columns().end()));
      if (list.info.kind() != v1::MAIL_LIST_KIND_RECIPIENTS || email < 0) continue;
      auto matches = [&](const std::vector<std::string>& row) {
        return recipients.contains(*store_backend::MailListRowAddress(email, row));
      };
      if (std::none_of(list.rows->begin(), list.rows->end(), matches)) continue;
      const size_t erased = std::erase_if(MutableRows(list), matches);
      list.info.set_rows(static_cast<int64_t>(list.rows->size()));
      entry.set_table_rows(entry.table_rows() + static_cast<int64_t>(erased));
    }
    for (const std::string& user : users) {
      entry.set_histories(entry.histories() + static_cast<int64_t>(histories_.erase(user)));
      for (auto& [key, c] : coupons_) {
        auto it = c.per_customer.find(user);
        if (it == c.per_customer.end()) continue;
        const int64_t uses = it->second;
        c.per_customer.erase(it);
        c.per_customer[""] += uses;
        entry.set_coupon_redemptions_anonymized(entry.coupon_redemptions_anonymized() + uses);
      }
    }
    for (auto& [key, e] : events_) {
      if (e.user_id().empty() || !users.contains(e.user_id())) continue;
      e.clear_user_id();
      e.clear_session_id();
      entry.set_events_anonymized(entry.events_anonymized() + 1);
    }
    entry.set_id(static_cast<int64_t>(forget_log_.size()) + 1);
    entry.set_time_unix_micros(absl::ToUnixMicros(absl::Now()));
    forget_log_.push_back(entry);
    return entry;
  }
  absl::StatusOr<std::vector<v1::ForgetLogEntry>> ReadForgetLog() override {
    absl::MutexLock lock(&mu_);
    return forget_log_;
  }

  // CounterStore
  absl::Status AddCounterDeltas(std::span<const CounterDelta> deltas) override {
    auto merged = store_backend::MergeDeltas(deltas);
    if (!merged.ok()) return merged.status();
    absl::MutexLock lock(&mu_);
    AddLocked(*merged);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<CounterTotal>> LoadCounterTotals() override {
    absl::MutexLock lock(&mu_);
    std::vector<CounterTotal> out;
    for (const auto& [id, c] : counters_) out.push_back(CounterTotal{id, c.first, c.second});
    return out;
  }
  absl::StatusOr<int64_t> LeaseQuota(std::string_view item_id, int64_t limit, int64_t delta) override {
    if (absl::Status s = store_backend::ValidateQuotaLease(item_id, limit); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    auto [it, first] = quota_.try_emplace(std::string(item_id), 0);
    if (first) {
      auto c = counters_.find(std::string(item_id));
      it->second = c == counters_.end() ? 0 : c->second.first;
    }
    const int64_t change = store_backend::QuotaChange(it->second, limit, delta);
    it->second += change;
    return change;
  }

  // EventStore
  absl::Status RecordBatch(std::span<const v1::Event> events,
                           std::span<const CounterDelta> deltas) override {
    auto merged = store_backend::MergeDeltas(deltas);
    if (!merged.ok()) return merged.status();
    absl::MutexLock lock(&mu_);
    for (const v1::Event& e : events) {
      v1::Event copy = e;
      store_backend::SetEventMicros(EventMicros(e), &copy);  // same precision as the databases
      events_.emplace(std::make_pair(EventMicros(e), next_event_++), std::move(copy));
    }
    AddLocked(*merged);
    return absl::OkStatus();
  }
  absl::Status ScanEvents(const EventQuery& query,
                          const std::function<absl::Status(const v1::Event&)>& fn) override {
    const int64_t from = TimeMicros(query.from), to = TimeMicros(query.to);
    std::pair<int64_t, int64_t> after{from, -1};
    constexpr size_t kPage = 1024;
    while (true) {
      std::vector<v1::Event> page;
      {
        absl::MutexLock lock(&mu_);
        for (auto it = events_.upper_bound(after); it != events_.end() && page.size() < kPage;
             ++it) {
          after = it->first;
          if (it->first.first >= to) break;
          const v1::Event& e = it->second;
          if (!query.campaign_id.empty() && e.campaign_id() != query.campaign_id) continue;
          if (!query.item_id.empty() && e.item_id() != query.item_id) continue;
          page.push_back(e);
        }
      }
      if (page.empty()) break;
      for (const v1::Event& e : page) {
        if (absl::Status s = fn(e); !s.ok()) return s;
      }
      if (page.size() < kPage) break;
    }
    return absl::OkStatus();
  }

  // HistoryStore
  absl::StatusOr<std::optional<UserHistory>> LoadHistory(std::string_view user_id) override {
    absl::MutexLock lock(&mu_);
    auto it = histories_.find(user_id);
    if (it == histories_.end()) return std::optional<UserHistory>();
    return std::optional<UserHistory>(it->second);
  }
  absl::Status SaveHistories(
      std::span<const std::pair<std::string, UserHistory>> histories) override {
    for (const auto& [user, h] : histories) {
      if (user.empty()) return absl::InvalidArgumentError("history with an empty user id");
    }
    absl::MutexLock lock(&mu_);
    for (const auto& [user, h] : histories) histories_[user] = h;
    return absl::OkStatus();
  }

  // InteractionStore
  absl::StatusOr<int64_t> AppendInteraction(const v1::InteractionRecord& record) override {
    absl::MutexLock lock(&mu_);
    int64_t seq = ++last_interaction_;
    v1::InteractionRecord copy = record;
    copy.set_sequence(seq);
    interactions_.emplace(seq, std::move(copy));
    return seq;
  }
  absl::StatusOr<std::vector<v1::InteractionRecord>> ReadInteractions(int64_t after,
                                                                      int limit) override {
    if (limit <= 0) return absl::InvalidArgumentError("ReadInteractions: limit must be positive");
    absl::MutexLock lock(&mu_);
    std::vector<v1::InteractionRecord> out;
    for (auto it = interactions_.upper_bound(after);
         it != interactions_.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<int64_t> CountInteractions(int64_t after) override {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(std::distance(interactions_.upper_bound(after), interactions_.end()));
  }

  // MailLedgerStore
  absl::Status AddRecipients(std::string_view job_id,
                             std::span<const std::string> recipients) override {
    if (job_id.empty()) return absl::InvalidArgumentError("mail job with an empty id");
    absl::MutexLock lock(&mu_);
    Job& job = jobs_[job_id];
    for (const std::string& r : recipients) {
      if (r.empty()) {
        return absl::InvalidArgumentError(
            Cat("mail job \"", job_id, "\": empty recipient"));
      }
    }
    for (const std::string& r : recipients) {
      if (job.index.contains(r)) continue;
      job.index[r] = job.entries.size();
      job.entries.push_back(LedgerEntry{r, RecipientState::kPending, "", 0});
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> ClaimPending(std::string_view job_id,
                                                        std::string_view worker,
                                                        int limit) override {
    if (limit <= 0) return absl::InvalidArgumentError("ClaimPending: limit must be positive");
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return out;
    for (LedgerEntry& e : it->second.entries) {
      if (static_cast<int>(out.size()) >= limit) break;
      if (e.state != RecipientState::kPending) continue;
      e.state = RecipientState::kSending;
      e.attempts++;
      e.worker = std::string(worker);
      e.claimed_at = absl::Now();
      out.push_back(e.recipient);
    }
    return out;
  }
  absl::Status MarkRecipients(std::string_view job_id,
                              std::span<const LedgerEntry> entries) override {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(job_id);
    for (const LedgerEntry& e : entries) {
      if (it == jobs_.end() || !it->second.index.contains(e.recipient)) {
        return absl::NotFoundError(Cat("mail job \"", job_id, "\": recipient \"",
                                                e.recipient, "\" is not in the job"));
      }
      if (!store_backend::IsValidRecipientState(static_cast<int>(e.state))) {
        return absl::InvalidArgumentError(Cat("mail job \"", job_id, "\": recipient \"",
                                                       e.recipient, "\": invalid state"));
      }
    }
    for (const LedgerEntry& e : entries) {
      LedgerEntry& stored = it->second.entries[it->second.index[e.recipient]];
      stored.state = e.state;
      stored.detail = e.detail;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<LedgerEntry>> InFlight(std::string_view job_id) override {
    absl::MutexLock lock(&mu_);
    std::vector<LedgerEntry> out;
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return out;
    for (const LedgerEntry& e : it->second.entries) {
      if (e.state == RecipientState::kSending) out.push_back(e);
    }
    return out;
  }
  absl::StatusOr<std::vector<LedgerEntry>> RequeueClaims(std::string_view job_id,
                                                         const ClaimRequeue& which,
                                                         std::string_view detail) override {
    absl::MutexLock lock(&mu_);
    std::vector<LedgerEntry> out;
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return out;
    const absl::Time cutoff = absl::Now() - which.older_than;  // InfinitePast for an infinite age
    for (LedgerEntry& e : it->second.entries) {
      if (e.state != RecipientState::kSending) continue;
      bool requeue = which.older_than != absl::InfiniteDuration() && e.claimed_at < cutoff;
      for (const std::string& owner : which.owners) {
        requeue = requeue || store_backend::ClaimOwnedBy(e.worker, owner);
      }
      if (!requeue) continue;
      out.push_back(e);
      e.state = RecipientState::kPending;
      e.detail = std::string(detail);
      out.back().state = RecipientState::kPending;
      out.back().detail = e.detail;
    }
    return out;
  }
  absl::StatusOr<std::vector<std::pair<RecipientState, int64_t>>> CountStates(
      std::string_view job_id) override {
    absl::MutexLock lock(&mu_);
    std::map<int, int64_t> counts;
    auto it = jobs_.find(job_id);
    if (it != jobs_.end()) {
      for (const LedgerEntry& e : it->second.entries) counts[static_cast<int>(e.state)]++;
    }
    std::vector<std::pair<RecipientState, int64_t>> out;
    for (auto [s, n] : counts) out.emplace_back(static_cast<RecipientState>(s), n);
    return out;
  }
  absl::Status SetJobState(std::string_view job_id, std::string_view state) override {
    if (job_id.empty()) return absl::InvalidArgumentError("mail job with an empty id");
    absl::MutexLock lock(&mu_);
    jobs_[job_id].state = std::string(state);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> GetJobState(std::string_view job_id) override {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) {
      return absl::NotFoundError(Cat("mail job \"", job_id, "\" is not in the ledger"));
    }
    return it->second.state;
  }

  // RecipientTableStore
  absl::Status ScanTable(
      std::string_view table,
      const std::function<absl::Status(std::span<const std::string>)>& on_columns,
      const std::function<absl::Status(std::span<const std::string>)>& on_row) override {
    if (absl::Status s = store_backend::ValidateStoreTableName(table); !s.ok()) return s;
    std::vector<std::string> columns;
    {
      absl::MutexLock lock(&mu_);
      auto it = tables_.find(table);
      if (it == tables_.end()) return store_backend::StoreTableNotFound(table, "memory");
      columns = it->second.columns;
    }
    if (absl::Status s = on_columns(columns); !s.ok()) return s;
    constexpr size_t kPage = 1024;
    for (size_t next = 0;; ) {
      std::vector<std::vector<std::string>> page;
      {
        absl::MutexLock lock(&mu_);
        auto it = tables_.find(table);
        if (it == tables_.end()) break;  // dropped during the scan
        const auto& rows = it->second.rows;
        for (; next < rows.size() && page.size() < kPage; ++next) page.push_back(rows[next]);
      }
      if (page.empty()) break;
      for (const auto& row : page) {
        if (absl::Status s = on_row(row); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }
  absl::Status PutTable(std::string_view table, std::span<const std::string> columns,
                        std::span<const std::vector<std::string>> rows) override {
    if (absl::Status s = store_backend::ValidateStoreTableName(table); !s.ok()) return s;
    if (columns.empty()) {
      return absl::InvalidArgumentError(Cat("store table '", table, "': no columns"));
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].size() != columns.size()) {
        return absl::InvalidArgumentError(Cat("store table '", table, "': row ", i + 1, " has ",
                                              rows[i].size(), " values for ", columns.size(),
                                              " columns"));
      }
    }
    absl::MutexLock lock(&mu_);
    Table& t = tables_[table];
    t.columns.assign(columns.begin(), columns.end());
    t.rows.assign(rows.begin(), rows.end());
    return absl::OkStatus();
  }

  // WatermarkStore
  absl::StatusOr<int64_t> GetWatermark(std::string_view destination) override {
    absl::MutexLock lock(&mu_);
    auto it = watermarks_.find(destination);
    return it == watermarks_.end() ? 0 : it->second;
  }
  absl::Status SetWatermark(std::string_view destination, int64_t value) override {
    absl::MutexLock lock(&mu_);
    // Looked up before it is made: a refused first value (below 0) must not
    // leave a destination behind for ListWatermarks, as in the databases.
    auto it = watermarks_.find(destination);
    const int64_t current = it == watermarks_.end() ? 0 : it->second;
    if (value < current) {
      return absl::FailedPreconditionError(Cat("watermark of \"", destination,
                                                        "\" is at ", current,
                                                        "; it cannot move back to ", value));
    }
    watermarks_.insert_or_assign(std::string(destination), value);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> ListWatermarks() override {
    absl::MutexLock lock(&mu_);
    std::vector<std::pair<std::string, int64_t>> out(watermarks_.begin(), watermarks_.end());
    std::sort(out.begin(), out.end());
    return out;
  }
  absl::StatusOr<bool> TryLease(std::string_view name, std::string_view owner,
                                absl::Duration ttl) override {
    if (absl::Status s = store_backend::ValidateLease(name, owner, ttl); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    auto it = leases_.find(name);
    if (it != leases_.end() && it->second.first != owner && it->second.second > now) return false;
    leases_[name] = {std::string(owner), now + ttl};
    return true;
  }
  absl::Status ReleaseLease(std::string_view name, std::string_view owner) override {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(name);
    if (it != leases_.end() && it->second.first == owner) leases_.erase(it);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> LeaseHolder(std::string_view name) override {
    absl::MutexLock lock(&mu_);
    auto it = leases_.find(name);
    if (it == leases_.end() || it->second.second <= absl::Now()) return std::string();
    return it->second.first;
  }

  // CouponStore. An order is committed once: by RedeemCoupons (orders_,
  // orders with coupons) or by CommitOrder (committed_orders_); either makes
  // both a no-op for its id.
  absl::Status RedeemCoupons(std::string_view order_id, std::string_view customer_id,
                             std::span<const CouponUse> uses) override {
    auto normalized = store_backend::NormalizeCouponUses(order_id, uses);
    if (!normalized.ok()) return normalized.status();
    absl::MutexLock lock(&mu_);
    if (OrderSeenLocked(order_id)) return absl::OkStatus();
    return RedeemLocked(order_id, customer_id, *normalized);
  }
  absl::Status CommitOrder(const CommittedOrder& order) override {
    if (absl::Status s = store_backend::ValidateOrder(order); !s.ok()) return s;
    auto coupons = store_backend::NormalizeCouponUses(order.order_id, order.coupons);
    if (!coupons.ok()) return coupons.status();
    const int64_t time_us = TimeMicros(order.time);
    absl::MutexLock lock(&mu_);
    if (OrderSeenLocked(order.order_id)) return absl::OkStatus();
    if (absl::Status s = RedeemLocked(order.order_id, order.customer_id, *coupons); !s.ok()) return s;
    committed_orders_.emplace(order.order_id,
                              StoredOrder{time_us, order.currency, order.subtotal_minor, order.total_minor});
    for (const OrderDiscountUse& use : order.discounts) {
      order_discounts_.emplace(DiscountKey{time_us, order.order_id, use.discount_id},
                               StoredDiscount{order.currency, use});
    }
    return absl::OkStatus();
  }
  absl::Status ScanOrderDiscounts(absl::Time from, absl::Time to,
                                  const std::function<absl::Status(const OrderDiscountRow&)>& fn) override {
    // One snapshot, copied under the mutex: `fn` runs without it, so it may
    // read this store (and another thread may write) while the scan goes on.
    const int64_t from_us = TimeMicros(from), to_us = TimeMicros(to);
    std::vector<OrderDiscountRow> rows;
    {
      absl::MutexLock lock(&mu_);
      for (auto it = order_discounts_.lower_bound(DiscountKey{from_us, "", ""});
           it != order_discounts_.end() && std::get<0>(it->first) < to_us; ++it) {
        rows.push_back(OrderDiscountRow{std::get<1>(it->first), absl::FromUnixMicros(std::get<0>(it->first)),
                                        it->second.currency, it->second.use});
      }
    }
    for (const OrderDiscountRow& row : rows) {
      if (absl::Status s = fn(row); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<OrderTotals>> CountOrders(absl::Time from, absl::Time to) override {
    const int64_t from_us = TimeMicros(from), to_us = TimeMicros(to);
    std::map<std::string, OrderTotals> by_currency;
    absl::MutexLock lock(&mu_);
    for (const auto& [id, order] : committed_orders_) {
      if (order.time_us < from_us || order.time_us >= to_us) continue;
      OrderTotals& totals = by_currency[order.currency];
      totals.currency = order.currency;
      totals.orders++;
      totals.subtotal_minor += order.subtotal_minor;
      totals.total_minor += order.total_minor;
    }
    std::vector<OrderTotals> out;
    for (auto& entry : by_currency) out.push_back(std::move(entry.second));
    return out;
  }
  absl::StatusOr<int64_t> CouponUses(std::string_view code, std::string_view customer_id) override {
    absl::MutexLock lock(&mu_);
    auto it = coupons_.find(code);
    if (it == coupons_.end()) return 0;
    if (customer_id.empty()) return it->second.total;
    auto pc = it->second.per_customer.find(customer_id);
    return pc == it->second.per_customer.end() ? 0 : pc->second;
  }

 private:
  struct Job {
    std::string state = "created";
    std::vector<LedgerEntry> entries;
    StringMap<size_t> index;
  };
  struct Table {
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;
  };
  struct Coupon {
    int64_t total = 0;
    StringMap<int64_t> per_customer;
  };

  using MailListRows = std::vector<std::vector<std::string>>;
  struct MailListData {
    v1::MailList info;                    // rows: rows->size()
    std::shared_ptr<MailListRows> rows;   // shared with running scans (ScanList)
    std::set<std::string, std::less<>> opt_outs;  // an opt-out list's addresses
  };
  // `list`'s rows, copied first when a scan still reads them.
  static MailListRows& MutableRows(MailListData& list) {
    if (list.rows.use_count() > 1) list.rows = std::make_shared<MailListRows>(*list.rows);
    return *list.rows;
  }

  // A committed order (CommitOrder) and its discounts, by order time, then
  // order id, then discount id: ScanOrderDiscounts' order.
  struct StoredOrder {
    int64_t time_us = 0;
    std::string currency;
    int64_t subtotal_minor = 0;
    int64_t total_minor = 0;
  };
  using DiscountKey = std::tuple<int64_t, std::string, std::string>;
  struct StoredDiscount {
    std::string currency;
    OrderDiscountUse use;
  };

  bool OrderSeenLocked(std::string_view order_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return orders_.contains(order_id) || committed_orders_.contains(order_id);
  }

  // Checks every code's limits, then records one use of each: all or none.
  absl::Status RedeemLocked(std::string_view order_id, std::string_view customer_id,
                            const std::vector<CouponUse>& uses) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const CouponUse& use : uses) {
      const auto& c = coupons_[use.code];
      if (use.max_uses > 0 && c.total + 1 > use.max_uses) {
        return store_backend::CouponLimitError(use, customer_id, false, c.total);
      }
      auto pc = c.per_customer.find(customer_id);
      int64_t by_customer = pc == c.per_customer.end() ? 0 : pc->second;
      if (use.max_uses_per_customer > 0 && by_customer + 1 > use.max_uses_per_customer) {
        return store_backend::CouponLimitError(use, customer_id, true, by_customer);
      }
    }
    for (const CouponUse& use : uses) {
      auto& c = coupons_[use.code];
      c.total++;
      c.per_customer[customer_id]++;
    }
    if (!uses.empty()) orders_.insert(std::string(order_id));
    return absl::OkStatus();
  }

  int64_t DeleteUserSessionsLocked(std::string_view user) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int64_t>(
        absl::erase_if(desk_sessions_, [&](const auto& entry) { return entry.second.user() == user; }));
  }

  void AddLocked(const std::vector<CounterDelta>& merged) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const CounterDelta& d : merged) {
      auto& c = counters_[d.item_id];
      c.first += d.requests;
      c.second += d.clicks;
    }
  }

  absl::Mutex mu_;
  std::map<std::string, std::pair<int64_t, int64_t>> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> quota_ ABSL_GUARDED_BY(mu_);  // leased request quota per item
  std::map<std::pair<int64_t, int64_t>, v1::Event> events_ ABSL_GUARDED_BY(mu_);
  int64_t next_event_ ABSL_GUARDED_BY(mu_) = 0;
  StringMap<UserHistory> histories_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, v1::InteractionRecord> interactions_ ABSL_GUARDED_BY(mu_);
  int64_t last_interaction_ ABSL_GUARDED_BY(mu_) = 0;
  StringMap<Job> jobs_ ABSL_GUARDED_BY(mu_);
  StringMap<int64_t> watermarks_ ABSL_GUARDED_BY(mu_);
  StringMap<std::pair<std::string, absl::Time>> leases_ ABSL_GUARDED_BY(mu_);
  StringMap<Coupon> coupons_ ABSL_GUARDED_BY(mu_);
  StringMap<Table> tables_ ABSL_GUARDED_BY(mu_);  // recipient tables (PutTable)
  std::set<std::string, std::less<>> orders_ ABSL_GUARDED_BY(mu_);  // ids redeemed by RedeemCoupons
  std::map<std::string, StoredOrder, std::less<>> committed_orders_ ABSL_GUARDED_BY(mu_);  // by order id
  std::map<DiscountKey, StoredDiscount> order_discounts_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ForgetLogEntry> forget_log_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::CatalogVersion> catalog_versions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::DeskUser, std::less<>> desk_users_ ABSL_GUARDED_BY(mu_);  // by name: ListUsers' order
  StringMap<v1::DeskSession> desk_sessions_ ABSL_GUARDED_BY(mu_);                     // by id_hash
  StringMap<std::pair<int64_t, int64_t>> sign_in_failures_ ABSL_GUARDED_BY(mu_);      // key -> count, last time
  std::vector<v1::AuditEntry> audit_ ABSL_GUARDED_BY(mu_);                            // sequence n at n - 1
  std::map<std::string, MailListData, std::less<>> mail_lists_ ABSL_GUARDED_BY(mu_);  // by name: ListLists' order
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace herald
