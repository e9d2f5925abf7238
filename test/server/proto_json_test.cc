// The hand-written proto3 JSON printer (lib/server/proto_json.cc) against
// protobuf's own MessageToJsonString, the independent implementation it
// replaces, on randomly filled messages of every type in Herald's model.
#include "server/proto_json.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"
#include "herald/model/catalog.pb.h"
#include "herald/model/decisions.pb.h"

namespace herald::server_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

const std::vector<std::string> kStrings = {
    "", "a", "Home", "<a href=\"/click/1\">Zoë & Co</a>", "back\\slash", "tab\tnew\nline\r\f\b", "\x01\x1f\x7f",
    "\xC2\x80\xC2\x9f\xC2\xA0", "soft\xC2\xADhyphen", "\xD8\x80 \xDB\x9D \xDC\x8F", "\xE2\x80\x8B\xE2\x80\xA8\xE2\x80\xAE",
    "\xE2\x81\xA0\xE2\x81\xAA\xE2\x81\xAF", "\xEF\xBB\xBF\xEF\xBF\xB9\xEF\xBF\xBB", "\xF0\x9D\x85\xB3\xF0\x9D\x85\xBA",
    "\xF3\xA0\x80\x81\xF3\xA0\x80\xA0\xF3\xA0\x81\xBF", "\xF0\x9F\x98\x80 emoji", "M\xC3\x9CLLER", "\xE1\x9E\xB4",
    "invalid \xff byte", "overlong \xC0\x80", "surrogate \xED\xA0\x80", "cut \xE2\x82"};
const std::vector<double> kDoubles = {0.1, -0.0, 1.0, 3.0, 1e30, 1e-7, 123456789.123, 1.0 / 3, 5e-324, DBL_MAX,
                                      -2.5e-300, 0.30000000000000004, 1e21, 1e15, 100,
                                      std::numeric_limits<double>::quiet_NaN(),
                                      std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()};

class Filler {
 public:
  explicit Filler(uint32_t seed) : rng_(seed) {}

  void Fill(Message* m, int depth) {
    const Descriptor* d = m->GetDescriptor();
    if (d->full_name() == "google.protobuf.Timestamp") {
      auto* t = static_cast<google::protobuf::Timestamp*>(m);
      t->set_seconds(Pick(2'000'000'000));
      t->set_nanos(Pick(3) == 0 ? 0 : Pick(999'999'999));
      return;
    }
    if (d->full_name() == "google.protobuf.Struct") {
      auto* s = static_cast<google::protobuf::Struct*>(m);
      (*s->mutable_fields())["age"].set_number_value(30);
      return;
    }
    if (d->file()->package() == "google.protobuf") return;  // other well-known types stay empty
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (Pick(3) == 0) continue;
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth >= 3) continue;
      const int n = f->is_map() ? static_cast<int>(Pick(1)) : f->is_repeated() ? static_cast<int>(Pick(4)) : 1;
      for (int k = 0; k < n; ++k) Set(m, f, depth);
    }
  }

 private:
  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n)(rng_); }
  template <typename T>
  T From(const std::vector<T>& v) { return v[Pick(v.size() - 1)]; }

  void Set(Message* m, const FieldDescriptor* f, int depth) {
    const auto* r = m->GetReflection();
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v = From<int32_t>({0, 1, -1, 42, INT32_MAX, INT32_MIN});
        rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v = From<uint32_t>({0, 1, 42, UINT32_MAX});
        rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v = From<int64_t>({0, 1, -1, 1'000'000'000'000, INT64_MAX, INT64_MIN});
        rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = From<uint64_t>({0, 1, UINT64_MAX});
        rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double v = From(kDoubles);
        rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        float v = static_cast<float>(From(kDoubles));
        rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v = Pick(1) == 1;
        rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* e = f->enum_type();
        int v = Pick(5) == 0 ? 77 : e->value(static_cast<int>(Pick(e->value_count() - 1)))->number();
        rep ? r->AddEnumValue(m, f, v) : r->SetEnumValue(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string v = From(kStrings);
        if (f->type() == FieldDescriptor::TYPE_BYTES) v += std::string(Pick(5), '\xfe');
        rep ? r->AddString(m, f, v) : r->SetString(m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        Fill(rep ? r->AddMessage(m, f) : r->MutableMessage(m, f), depth + 1);
        break;
    }
  }

  std::mt19937 rng_;
};

void AllMessages(const Descriptor* d, std::vector<const Descriptor*>* out) {
  if (d->options().map_entry()) return;
  out->push_back(d);
  for (int i = 0; i < d->nested_type_count(); ++i) AllMessages(d->nested_type(i), out);
}

TEST_CASE("proto3 JSON printing matches protobuf's printer on every model message") {
  // Every message of the decisions API's file and the model files it imports.
  std::vector<const Descriptor*> types;
  std::vector<const google::protobuf::FileDescriptor*> files = {
      v1::SelectAdsRequest::descriptor()->file(), v1::Catalog::descriptor()->file()};
  for (size_t k = 0; k < files.size(); ++k) {
    for (int i = 0; i < files[k]->dependency_count(); ++i) {
      const auto* dep = files[k]->dependency(i);
      if (dep->package() == "herald.v1" && std::find(files.begin(), files.end(), dep) == files.end()) files.push_back(dep);
    }
    for (int i = 0; i < files[k]->message_type_count(); ++i) AllMessages(files[k]->message_type(i), &types);
  }
  REQUIRE(types.size() > 50);
  int compared = 0, fell_back = 0;
  for (uint32_t seed = 1; seed <= 30; ++seed) {
    Filler filler(seed);
    for (const Descriptor* d : types) {
      std::unique_ptr<Message> m(google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
      filler.Fill(m.get(), 0);
      std::string expected;
      const bool protobuf_ok = google::protobuf::util::MessageToJsonString(*m, &expected).ok();
      std::string got = "prefix:";
      absl::Status ours = AppendMessageJson(*m, &got);
      INFO(d->full_name() << " seed " << seed << "\n" << m->DebugString());
      REQUIRE(ours.ok() == protobuf_ok);
      if (!protobuf_ok) {
        ++fell_back;
        continue;
      }
      REQUIRE(got.rfind("prefix:", 0) == 0);
      got.erase(0, 7);
      // Maps hold at most one entry (their order is unspecified), so the
      // texts must be equal byte for byte.
      REQUIRE(got == expected);
      ++compared;
    }
  }
  INFO(compared << " compared, " << fell_back << " refused by both");
  CHECK(compared > 1000);
}

TEST_CASE("proto3 JSON printing: the cases protobuf documents") {
  v1::ApiError e;
  std::string out;
  REQUIRE(AppendMessageJson(e, &out).ok());
  CHECK(out == "{}");
  e.set_code("invalid_argument");
  e.set_message("<b> \"x\" \xE2\x80\xA8");
  out.clear();
  REQUIRE(AppendMessageJson(e, &out).ok());
  CHECK(out == R"({"code":"invalid_argument","message":"\u003cb\u003e \"x\" \u2028"})");
}

}  // namespace
}  // namespace herald::server_internal
