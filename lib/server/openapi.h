// The OpenAPI 3.1 document of the server's API: docs/openapi.json, compiled
// in (openapi.cc is generated from it by CMake), served at /v1/openapi.json.
#ifndef HERALD_LIB_SERVER_OPENAPI_H_
#define HERALD_LIB_SERVER_OPENAPI_H_

#include <string_view>

namespace herald::server_internal {

std::string_view OpenApiDocument();

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_OPENAPI_H_
