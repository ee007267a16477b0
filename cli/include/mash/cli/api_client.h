// A client for the broker's HTTPS JSON API (broker/include/mash/broker/api_server.h).
//
// ApiClient is the narrow interface the commands use; MakeHttpsClient builds the real one over
// TLS 1.3 (the context comes from crypto::MakeTlsContext, role kClient, no client certificate)
// and tests substitute their own. The bearer token is sent with every request and never appears
// in a Status message.
//
// Each request opens its own connection, verifies the broker's certificate against the hub CA,
// its CRLs and the host name of the URL, sends one request and reads one reply. Deadlines: 5 s to
// resolve, connect and finish the handshake, 10 s for the request and its reply.
//
// Thread safety: an ApiClient is used by one thread at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/status.h"

namespace mash::cli {

inline constexpr std::chrono::seconds kConnectTimeout{5};
inline constexpr std::chrono::seconds kRequestTimeout{10};
// Replies larger than this are refused (a check with every record of 32 agencies fits).
inline constexpr size_t kMaxReplyBytes = 8 * 1024 * 1024;

struct BrokerAddress {
  std::string host;  // a DNS name or an IP address, without brackets
  std::string port;  // decimal, 1..65535
};

// Parses "https://HOST[:PORT][/]" (PORT defaults to 443; IPv6 hosts in brackets).
// InvalidArgument for any other scheme, a user part, a path, a query or a bad port.
Result<BrokerAddress> ParseBrokerUrl(std::string_view url);

struct HttpReply {
  int status = 0;
  nlohmann::json body;  // the parsed JSON body; null when the body is empty or not JSON
};

class ApiClient {
 public:
  virtual ~ApiClient() = default;
  // Sends GET `target` (e.g. "/api/v1/agencies"). Any HTTP status is a successful exchange.
  // Errors: Unavailable (cannot resolve or connect, TLS handshake or verification failed,
  // connection broken, malformed or oversized reply), DeadlineExceeded (a deadline passed).
  virtual Result<HttpReply> Get(std::string_view target) = 0;
  // Sends POST `target` with `body` as application/json. Errors as Get.
  virtual Result<HttpReply> Post(std::string_view target, const nlohmann::json& body) = 0;
};

struct ClientOptions {
  BrokerAddress broker;
  std::filesystem::path ca_file;                 // the hub root CA
  std::vector<std::filesystem::path> crl_files;  // CRLs for every CA of the broker's chain
  std::string token;                             // the bearer token (see ReadTokenFile)
};

// Builds the TLS context and the client. Errors are those of crypto::MakeTlsContext (NotFound
// for a missing CA or CRL file, InvalidArgument for unparsable PEM or no CRL, Internal).
Result<std::unique_ptr<ApiClient>> MakeHttpsClient(ClientOptions options);

}  // namespace mash::cli
