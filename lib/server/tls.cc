#include "server/tls.h"

#include <event2/bufferevent_ssl.h>
#include <grpcpp/security/server_credentials.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace herald::server_internal {

namespace {

absl::StatusOr<std::string> ReadPem(const char* field, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("tls.", field, ": cannot read \"", path, "\""));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("tls.", field, ": \"", path, "\" is not a PEM file"));
  }
  return text.str();
}

// OpenSSL's queued errors as one line (and the queue emptied).
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::Status CheckFiles(const v1::TlsConfig& tls) {
  if (tls.key_file().empty()) return absl::InvalidArgumentError("tls.key_file: required with tls.cert_file");
  return absl::OkStatus();
}

}  // namespace

bool TlsEnabled(const v1::ServerConfig& config) {
  return config.has_tls() && !config.tls().cert_file().empty();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcServerCredentials(const v1::ServerConfig& config) {
  if (!TlsEnabled(config)) return grpc::InsecureServerCredentials();
  const v1::TlsConfig& tls = config.tls();
  if (absl::Status s = CheckFiles(tls); !s.ok()) return s;
  auto cert = ReadPem("cert_file", tls.cert_file());
  if (!cert.ok()) return cert.status();
  auto key = ReadPem("key_file", tls.key_file());
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls.client_ca_file().empty()) {
    auto ca = ReadPem("client_ca_file", tls.client_ca_file());
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

void SslContextFree::operator()(ssl_ctx_st* ctx) const { SSL_CTX_free(ctx); }

absl::StatusOr<SslContext> NewHttpTlsContext(const v1::ServerConfig& config) {
  const v1::TlsConfig& tls = config.tls();
  if (absl::Status s = CheckFiles(tls); !s.ok()) return s;
  SslContext ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("TLS: ", OpenSslErrors()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file().c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls.cert_file: \"", tls.cert_file(), "\": ", OpenSslErrors()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file().c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls.key_file: \"", tls.key_file(), "\": ", OpenSslErrors()));
  }
  if (!tls.client_ca_file().empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), tls.client_ca_file().c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls.client_ca_file: \"", tls.client_ca_file(), "\": ", OpenSslErrors()));
    }
    // Mutual TLS: no certificate signed by the CA, no connection.
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

bufferevent* NewTlsBufferevent(event_base* base, void* ctx) {
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx));
  if (ssl == nullptr) return nullptr;
  return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

}  // namespace herald::server_internal
