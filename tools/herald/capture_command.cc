// herald capture: records one response (CaptureResponse) in interaction history.
//
//   herald capture --store PATH [--catalog FILE] --issue I --group G --action A
//                  --outcome Accepted|Rejected|Impression|Clicked|NAME
//                  [--customer-id ID] [--email E] [--phone P] [--first-name N] [--last-name N]
//                  [--city C] [--state S] [--zip Z] [--country CC] [--dob YYYY-MM-DD]
//                  [--external-id X] [--gclid G] [--gbraid G] [--wbraid W] [--fbc F]
//                  [--channel C] [--time RFC3339] [--value 19.99] [--currency USD]
//                  [--order-id O] [--interaction-id ID]
//   herald capture --store PATH [--catalog FILE] --record JSON   (herald.v1.InteractionRecord, proto3 JSON)
// Prints the stored record as JSON (with its interaction id and sequence).
#include <cmath>
#include <iostream>

#include "absl/strings/numbers.h"
#include "commands.h"
#include "json_output.h"
#include "core/proto_io.h"
#include "google/protobuf/util/json_util.h"
#include "herald/catalog.h"
#include "herald/conversion.h"
#include "herald/store.h"

namespace herald::cli {

namespace {

struct CaptureArgs {
  std::string store, catalog, record_json;
  std::string issue, group, action, outcome, channel, time, value, currency, order_id, interaction_id;
  std::string customer_id, email, phone, first_name, last_name, city, state, zip, country, dob, external_id;
  std::string gclid, gbraid, wbraid, fbc;
  bool json = false;  // the output is JSON anyway; --json makes errors JSON too
};

// Errors on stderr, and with --json also as {"error": ...} on stdout (json_output.h).
int Fail(const CaptureArgs& a, const absl::Status& status, int code = 1) {
  return ReportError("capture", status, a.json, code);
}
int Fail(const CaptureArgs& a, std::string_view message, int code = 1) {
  return Fail(a, absl::InvalidArgumentError(std::string(message)), code);
}

int Run(const CaptureArgs& a, CommandEnv& env) {
  if (a.store.empty()) return Fail(a, "--store is required", 2);
  v1::InteractionRecord r;
  if (!a.record_json.empty()) {
    // ParseJsonProto takes every enum spelling ("accepted", OUTCOME_ACCEPTED).
    if (absl::Status st = ParseJsonProto(a.record_json, "--record", &r); !st.ok()) return Fail(a, st);
  } else {
    auto* s = r.mutable_subject();
    s->set_customer_id(a.customer_id);
    s->set_email(a.email);
    s->set_phone(a.phone);
    s->set_first_name(a.first_name);
    s->set_last_name(a.last_name);
    s->set_city(a.city);
    s->set_state(a.state);
    s->set_zip(a.zip);
    s->set_country(a.country);
    s->set_date_of_birth(a.dob);
    s->set_external_id(a.external_id);
    s->set_gclid(a.gclid);
    s->set_gbraid(a.gbraid);
    s->set_wbraid(a.wbraid);
    s->set_fbc(a.fbc);
    r.mutable_action()->set_issue(a.issue);
    r.mutable_action()->set_group(a.group);
    r.mutable_action()->set_name(a.action);
    if (a.outcome.empty()) return Fail(a, "--outcome is required", 2);
    std::string custom;
    r.set_outcome(ParseOutcome(a.outcome, &custom));
    r.set_custom_outcome(custom);
    r.set_channel(a.channel);
    r.set_order_id(a.order_id);
    r.set_interaction_id(a.interaction_id);
    if (!a.time.empty()) {
      absl::Time t;
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, a.time, &t, &err)) return Fail(a, "--time: " + err);
      r.mutable_time()->set_seconds(absl::ToUnixSeconds(t));
    }
    if (!a.value.empty()) {
      double v = 0;
      if (!absl::SimpleAtod(a.value, &v) || v < 0) return Fail(a, "--value must be a non-negative amount (19.99)");
      if (a.currency.empty()) return Fail(a, "--value needs --currency");
      int exp = (a.currency == "JPY" || a.currency == "KRW") ? 0 : 2;
      r.mutable_value()->set_minor_units(std::llround(v * std::pow(10, exp)));
      r.mutable_value()->set_currency(a.currency);
    }
  }
  std::vector<v1::ConversionAction> actions;
  CaptureOptions options;
  if (!a.catalog.empty()) {
    auto catalog = LoadCatalog(a.catalog);
    if (!catalog.ok()) return Fail(a, catalog.status());
    actions.assign(catalog->actions().begin(), catalog->actions().end());
    options.actions = &actions;
  }
  auto store = OpenStore(a.store, *env.registry);
  if (!store.ok()) return Fail(a, store.status());
  auto stored = CaptureResponse(**store, r, options);
  if (!stored.ok()) return Fail(a, stored.status());
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(*stored, &json, print);
  std::cout << json << "\n";
  return 0;
}

}  // namespace

void AddCaptureCommand(CLI::App& app, CommandEnv& env) {
  auto a = std::make_shared<CaptureArgs>();
  auto* cmd = app.add_subcommand("capture", "record a response (CaptureResponse) in interaction history");
  cmd->add_option("--store", a->store, "store: sqlite path or postgresql://");
  cmd->add_option("--catalog", a->catalog, "catalog: the action must be one of its actions");
  cmd->add_flag("--json", a->json, "errors as JSON too (the stored record is always printed as JSON)");
  cmd->add_option("--record", a->record_json, "the whole record as herald.v1.InteractionRecord JSON");
  cmd->add_option("--issue", a->issue, "action issue");
  cmd->add_option("--group", a->group, "action group");
  cmd->add_option("--action", a->action, "action name");
  cmd->add_option("--outcome", a->outcome, "Accepted, Rejected, Impression, Clicked, or a custom name");
  cmd->add_option("--channel", a->channel, "Web, Email, Call Center ...");
  cmd->add_option("--time", a->time, "RFC 3339 time (default now)");
  cmd->add_option("--value", a->value, "value, e.g. 19.99");
  cmd->add_option("--currency", a->currency, "ISO 4217 code");
  cmd->add_option("--order-id", a->order_id, "order id");
  cmd->add_option("--interaction-id", a->interaction_id, "stable id (default: assigned)");
  cmd->add_option("--customer-id", a->customer_id, "customer id");
  cmd->add_option("--email", a->email, "email (or its SHA-256)");
  cmd->add_option("--phone", a->phone, "phone with country code");
  cmd->add_option("--first-name", a->first_name, "first name");
  cmd->add_option("--last-name", a->last_name, "last name");
  cmd->add_option("--city", a->city, "city");
  cmd->add_option("--state", a->state, "state");
  cmd->add_option("--zip", a->zip, "zip / postal code");
  cmd->add_option("--country", a->country, "ISO 3166-1 alpha-2");
  cmd->add_option("--dob", a->dob, "date of birth YYYY-MM-DD");
  cmd->add_option("--external-id", a->external_id, "external id");
  cmd->add_option("--gclid", a->gclid, "Google click id");
  cmd->add_option("--gbraid", a->gbraid, "Google gbraid");
  cmd->add_option("--wbraid", a->wbraid, "Google wbraid");
  cmd->add_option("--fbc", a->fbc, "Meta click id (fbc)");
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
