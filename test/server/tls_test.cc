// TLS and mutual TLS on both transports of herald serve, with a throwaway CA,
// server and client certificates made by the openssl CLI in a temp dir:
// HTTPS with libcurl, gRPC with grpc++'s SSL credentials, all on 127.0.0.1.
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "herald/builtins.h"
#include "herald/model/decisions.grpc.pb.h"
#include "herald/server.h"

namespace herald {
namespace {

const std::string kCatalog = std::string(HERALD_SOURCE_DIR) + "/examples/storefront/catalog.textproto";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A CA, a server certificate for 127.0.0.1 it signs, a client certificate it
// signs, and a self-signed "rogue" client certificate.
struct Certificates {
  Certificates() {
    dir = std::filesystem::temp_directory_path() / ("herald-tls-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string d = dir.string();
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "set -e; cd " + d + "; exec 2>openssl.log\n" +
        "openssl req -x509 " + key + " -keyout ca.key -out ca.pem -days 2 -subj /CN=herald-test-ca\n" +
        "openssl req " + key + " -keyout server.key -out server.csr -subj /CN=127.0.0.1\n" +
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext\n" +
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "-extfile server.ext\n" +
        "openssl req " + key + " -keyout client.key -out client.csr -subj /CN=shop\n" +
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2\n" +
        "openssl req -x509 " + key + " -keyout rogue.key -out rogue.pem -days 2 -subj /CN=rogue\n";
    std::ofstream(dir / "make.sh") << script;
    INFO(ReadFile(dir / "openssl.log"));
    REQUIRE(std::system(("sh " + (dir / "make.sh").string()).c_str()) == 0);
  }
  ~Certificates() { std::filesystem::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  std::string pem(const std::string& name) const { return ReadFile(dir / name); }

  std::filesystem::path dir;
};

struct TlsServer {
  TlsServer(const Certificates& certs, bool mutual) {
    REQUIRE(RegisterBuiltins(&registry).ok());
    v1::ServerConfig config;
    config.set_catalog(kCatalog);
    config.set_listen("127.0.0.1:0");
    config.set_grpc_listen("127.0.0.1:0");
    config.set_threads(2);
    config.set_access_log("off");
    config.mutable_tls()->set_cert_file(certs.path("server.pem"));
    config.mutable_tls()->set_key_file(certs.path("server.key"));
    if (mutual) config.mutable_tls()->set_client_ca_file(certs.path("ca.pem"));
    auto created = DecisionService::Create(config, registry);
    REQUIRE(created.ok());
    service = std::move(*created);
    auto http_started = HttpServer::Start(service.get(), config);
    INFO(http_started.status().message());
    REQUIRE(http_started.ok());
    http = std::move(*http_started);
    auto grpc_started = GrpcServer::Start(service.get(), config);
    INFO(grpc_started.status().message());
    REQUIRE(grpc_started.ok());
    grpc = std::move(*grpc_started);
  }
  std::string url(const std::string& scheme, const std::string& path) const {
    return scheme + "://127.0.0.1:" + std::to_string(http->port()) + path;
  }

  Registry registry;
  std::unique_ptr<DecisionService> service;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<GrpcServer> grpc;
};

struct Answer {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
};

// One GET, trusting only `ca` (when given) and presenting `cert` (when given).
Answer Get(const std::string& url, const std::string& ca, const std::string& cert = "",
           const std::string& key = "") {
  Answer answer;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  if (!ca.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca.c_str());
  if (!cert.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, cert.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, key.c_str());
  }
  auto on_body = +[](char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  };
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  answer.code = curl_easy_perform(curl);
  if (answer.code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  curl_easy_cleanup(curl);
  return answer;
}

grpc::Status GrpcHealth(const TlsServer& server, std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server.grpc->port()), credentials, args);
  auto stub = v1::Decisions::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::HealthResponse health;
  return stub->Health(&context, v1::HealthRequest(), &health);
}

std::shared_ptr<grpc::ChannelCredentials> Tls(const Certificates& certs, const std::string& client = "") {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = certs.pem("ca.pem");
  if (!client.empty()) {
    options.pem_private_key = certs.pem(client + ".key");
    options.pem_cert_chain = certs.pem(client + ".pem");
  }
  return grpc::SslCredentials(options);
}

TEST_CASE("tls: HTTPS and gRPC over TLS with the CA, and plaintext to the TLS ports fails cleanly") {
  Certificates certs;
  TlsServer server(certs, /*mutual=*/false);
  Answer ok = Get(server.url("https", "/readyz"), certs.path("ca.pem"));
  INFO(curl_easy_strerror(ok.code));
  REQUIRE(ok.code == CURLE_OK);
  REQUIRE(ok.status == 200);
  REQUIRE(ok.body.find("ready") != std::string::npos);
  // A client that does not trust the test CA refuses the server.
  REQUIRE(Get(server.url("https", "/readyz"), certs.path("rogue.pem")).code == CURLE_PEER_FAILED_VERIFICATION);
  // Plain HTTP to the TLS port: no HTTP answer, and the server carries on.
  Answer plain = Get(server.url("http", "/readyz"), "");
  REQUIRE(plain.status != 200);
  REQUIRE(Get(server.url("https", "/readyz"), certs.path("ca.pem")).status == 200);

  REQUIRE(GrpcHealth(server, Tls(certs)).ok());
  REQUIRE(GrpcHealth(server, grpc::InsecureChannelCredentials()).error_code() == grpc::StatusCode::UNAVAILABLE);
  REQUIRE(GrpcHealth(server, Tls(certs)).ok());
}

TEST_CASE("tls: with a client CA (mutual TLS) only clients with a certificate it signed are served") {
  Certificates certs;
  TlsServer server(certs, /*mutual=*/true);
  const std::string ca = certs.path("ca.pem");
  REQUIRE(Get(server.url("https", "/readyz"), ca).status == 0);  // no certificate: handshake refused
  REQUIRE(Get(server.url("https", "/readyz"), ca, certs.path("rogue.pem"), certs.path("rogue.key")).status == 0);
  Answer ok = Get(server.url("https", "/readyz"), ca, certs.path("client.pem"), certs.path("client.key"));
  INFO(curl_easy_strerror(ok.code));
  REQUIRE(ok.status == 200);

  REQUIRE(!GrpcHealth(server, Tls(certs)).ok());
  REQUIRE(!GrpcHealth(server, Tls(certs, "rogue")).ok());
  grpc::Status served = GrpcHealth(server, Tls(certs, "client"));
  INFO(served.error_message());
  REQUIRE(served.ok());
}

TEST_CASE("tls: a missing or wrong certificate or key file is an error naming the field") {
  Certificates certs;
  Registry registry;
  REQUIRE(RegisterBuiltins(&registry).ok());
  v1::ServerConfig config;
  config.set_catalog(kCatalog);
  config.set_listen("127.0.0.1:0");
  config.set_grpc_listen("127.0.0.1:0");
  config.set_access_log("off");
  auto service = DecisionService::Create(config, registry);
  REQUIRE(service.ok());
  struct Case {
    std::string cert, key, ca, field;
  };
  for (const Case& c : {Case{certs.path("server.pem"), "", "", "tls.key_file"},
                        Case{certs.path("missing.pem"), certs.path("server.key"), "", "tls.cert_file"},
                        Case{certs.path("server.pem"), certs.path("client.key"), "", "tls.key_file"},
                        Case{certs.path("server.pem"), certs.path("server.key"), certs.path("none.pem"),
                             "tls.client_ca_file"}}) {
    config.mutable_tls()->set_cert_file(c.cert);
    config.mutable_tls()->set_key_file(c.key);
    config.mutable_tls()->set_client_ca_file(c.ca);
    auto http = HttpServer::Start(service->get(), config);
    INFO(c.field << ": " << http.status().message());
    REQUIRE(!http.ok());
    REQUIRE(std::string(http.status().message()).rfind(c.field, 0) == 0);
    if (c.field != "tls.key_file" || c.key.empty()) {
      auto grpc = GrpcServer::Start(service->get(), config);
      REQUIRE(!grpc.ok());
      REQUIRE(std::string(grpc.status().message()).rfind(c.field, 0) == 0);
    }
  }
}

}  // namespace
}  // namespace herald
