// TLS for both transports of `herald serve` (docs/server.md, "TLS"): the
// server certificate and key from ServerConfig.tls, and, with a client CA,
// mutual TLS (every client must present a certificate that CA signed).
// TLS 1.2 or later only; OpenSSL's default cipher list for those versions.
#ifndef HERALD_LIB_SERVER_TLS_H_
#define HERALD_LIB_SERVER_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/statusor.h"
#include "herald/model/server.pb.h"

struct bufferevent;
struct event_base;
struct ssl_ctx_st;

namespace herald::server_internal {

// Whether config.tls asks for TLS (a certificate file is set).
bool TlsEnabled(const v1::ServerConfig& config);

// The gRPC transport's credentials: insecure (plaintext) without TLS.
// Errors name the file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(const v1::ServerConfig& config);

// The HTTP transport's OpenSSL context (certificate, key, client CA), shared
// by every event loop. Errors name the file and OpenSSL's reason.
struct SslContextFree {
  void operator()(ssl_ctx_st* ctx) const;
};
using SslContext = std::unique_ptr<ssl_ctx_st, SslContextFree>;
absl::StatusOr<SslContext> NewHttpTlsContext(const v1::ServerConfig& config);

// evhttp_set_bevcb's callback: a TLS bufferevent for each new connection;
// `ctx` is the SslContext.
bufferevent* NewTlsBufferevent(event_base* base, void* ctx);

}  // namespace herald::server_internal

#endif  // HERALD_LIB_SERVER_TLS_H_
