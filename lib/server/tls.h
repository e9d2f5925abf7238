// TLS for both transports (docs/server.md, "TLS"): the server's credentials
// built from ServerConfig.
#ifndef HERALD_LIB_SERVER_TLS_H_
#define HERALD_LIB_SERVER_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "herald/model/server.pb.h"

namespace herald::server_internal {

// The gRPC transport's credentials: insecure (plaintext) without TLS files.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(const v1::ServerConfig& config);

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_TLS_H_
