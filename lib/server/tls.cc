#include "server/tls.h"

#include <grpcpp/security/server_credentials.h>

namespace herald::server_internal {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(const v1::ServerConfig&) {
  return grpc::InsecureServerCredentials();
}

}  // namespace herald::server_internal
