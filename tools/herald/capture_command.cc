// herald capture: records one response (CaptureResponse) in interaction history.
//
//   herald capture --store PATH [--catalog FILE] --issue I --group G --action A
//                  --outcome Accepted|Rejected|Impression|Clicked|NAME
//                  [--customer-id ID] [--email E] [--phone P] [--first-name N] [--last-name N]
//                  [--city C] [--state S] [--zip Z] [--country CC] [--dob YYYY-MM-DD]
//                  [--external-id X] [--gclid G] [--gbraid G] [--wbraid W] [--fbc F]
//                  [--channel C] [--time RFC3339] [--value 19.99] [--currency USD]
//                  [--order-id O] [--interaction-id ID]
//                  [--ad-user-data granted|denied] [--ad-personalization granted|denied]
//                  [--data-processing-options LDU|none] [--data-processing-country 0|1]
//                  [--data-processing-state 0|1000...]
//   herald capture --store PATH [--catalog FILE] --record JSON   (herald.v1.InteractionRecord, proto3 JSON)
// Prints the stored record as JSON (with its interaction id and sequence).
#include <cmath>
#include <iostream>
#include <tuple>

#include "absl/strings/numbers.h"
#include "catalog_source.h"
#include "commands.h"
#include "json_output.h"
#include "core/proto_io.h"
#include "google/protobuf/util/json_util.h"
#include "herald/catalog.h"
#include "core/strings.h"
#include "herald/conversion.h"
#include "herald/spelling.h"
#include "herald/store.h"

namespace herald::cli {

namespace {

struct CaptureArgs {
  std::string store, catalog, record_json;
  std::string issue, group, action, outcome, channel, time, value, currency, order_id, interaction_id;
  std::string customer_id, email, phone, first_name, last_name, city, state, zip, country, dob, external_id;
  std::string gclid, gbraid, wbraid, fbc;
  // Consent (docs/conversions.md, "Consent"): recorded only when one of these is given.
  std::string ad_user_data, ad_personalization, data_processing_options;
  int data_processing_country = 0, data_processing_state = 0;
  std::vector<const CLI::Option*> consent_flags;
  bool json = false;  // the output is JSON anyway; --json makes errors JSON too
};

// Errors on stderr, and with --json also as {"error": ...} on stdout (json_output.h).
int Fail(const CaptureArgs& a, const absl::Status& status, int code = 1) {
  return ReportError("capture", status, a.json, code);
}
int Fail(const CaptureArgs& a, std::string_view message, int code = 1) {
  return Fail(a, absl::InvalidArgumentError(std::string(message)), code);
}

// The consent flags into record.consent (only when one was given). Unknown
// statuses and options are refused naming the flag; the numbers are checked
// by CaptureResponse (consent.data_processing_options_state: ...).
absl::Status ParseConsentFlags(const CaptureArgs& a, v1::InteractionRecord& r) {
  bool given = false;
  for (const CLI::Option* o : a.consent_flags) given = given || o->count() > 0;
  if (!given) return absl::OkStatus();
  v1::Consent* c = r.mutable_consent();
  for (auto [flag, text, set] :
       {std::tuple{"--ad-user-data", &a.ad_user_data, &v1::Consent::set_ad_user_data},
        std::tuple{"--ad-personalization", &a.ad_personalization, &v1::Consent::set_ad_personalization}}) {
    if (text->empty()) continue;
    auto status = ParseEnum<v1::ConsentStatus>(*text);
    if (!status.ok()) return absl::InvalidArgumentError(Cat(flag, ": ", status.status().message()));
    (c->*set)(*status);
  }
  std::string dpo = a.data_processing_options;
  for (char& ch : dpo) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (dpo == "LDU") {
    c->add_data_processing_options("LDU");
  } else if (!dpo.empty() && dpo != "NONE") {
    return absl::InvalidArgumentError(Cat("--data-processing-options: \"", a.data_processing_options,
                                          "\" is not LDU or none (Meta's only data processing option is LDU)"));
  }
  c->set_data_processing_options_country(a.data_processing_country);
  c->set_data_processing_options_state(a.data_processing_state);
  return absl::OkStatus();
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
    if (absl::Status st = ParseConsentFlags(a, r); !st.ok()) return Fail(a, st);
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
  // A catalog file, else the store's current catalog when it holds one:
  // the action must be one of its actions.
  if (!a.catalog.empty() || !a.store.empty()) {
    auto source = LoadCommandCatalog(a.catalog, a.store, *env.registry);
    if (source.ok()) {
      actions.assign(source->catalog.actions().begin(), source->catalog.actions().end());
      options.actions = &actions;
    } else if (!a.catalog.empty() || !absl::IsNotFound(source.status())) {
      return Fail(a, source.status());
    }
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
  cmd->add_option("--catalog", a->catalog,
                  "catalog: the action must be one of its actions (default: the current catalog of --store, if any)");
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
  a->consent_flags = {
      cmd->add_option("--ad-user-data", a->ad_user_data,
                      "consent to send the person's data for advertising (Google's ad_user_data): granted, denied"),
      cmd->add_option("--ad-personalization", a->ad_personalization,
                      "consent to personalized advertising (Google's ad_personalization): granted, denied"),
      cmd->add_option("--data-processing-options", a->data_processing_options,
                      "Meta's data processing options: LDU (Limited Data Use) or none"),
      cmd->add_option("--data-processing-country", a->data_processing_country,
                      "with LDU: 1 = United States, 0 = Meta geolocates (default 0)"),
      cmd->add_option("--data-processing-state", a->data_processing_state,
                      "with LDU: Meta's state code, 1000 = California, 0 = Meta geolocates (default 0)")};
  cmd->callback([a, &env] { env.exit_code = Run(*a, env); });
}

}  // namespace herald::cli
