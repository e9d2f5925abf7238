// Profiles and contexts arrive as plain JSON objects ({"age": 34}); the
// catalog's attribute declarations say what type each must have. This turns
// one into a v1::Profile, naming the field of the first mistake.
#ifndef HERALD_LIB_SERVER_PROFILE_JSON_H_
#define HERALD_LIB_SERVER_PROFILE_JSON_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "herald/model/catalog.pb.h"
#include "herald/model/common.pb.h"

namespace herald::server_internal {

// `root` names the object in errors ("profile", "context"). Null values are
// left out (as if absent). InvalidArgument "profile.age: expected int, got
// \"abc\"" for a value of the wrong type, "profile.agee: unknown attribute
// (declared: age, state)" for an undeclared name.
absl::StatusOr<v1::Profile> ProfileFromJson(const google::protobuf::Struct& object,
                                            const google::protobuf::RepeatedPtrField<v1::AttributeDecl>& declared,
                                            std::string_view root, std::string_view currency);

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_PROFILE_JSON_H_
