// TLS settings of DESIGN §6 against a real handshake: an in-process server and client on
// 127.0.0.1:0, driven by one io_context with a deadline, so no case can hang.
//
// With TLS 1.3 the client finishes its handshake before the server has checked the client
// certificate; a rejection reaches the client only on its first read. Every exchange therefore
// does a full round trip (client writes "ping", server answers "pong") and the cases assert on
// the round trip, plus on the side that must have refused.
#include "mash/crypto/tls.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/test_pki.h"

namespace mash::crypto {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SslStream = ssl::stream<tcp::socket>;
using mash::testing::TestPki;
using std::chrono::system_clock;

constexpr auto kExchangeTimeout = std::chrono::seconds(10);
constexpr std::string_view kPing = "ping";
constexpr std::string_view kPong = "pong";

struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

// What both sides saw of one connection.
struct Exchange {
  bool timed_out = false;
  bool server_handshake_ok = false;
  bool server_round_trip_ok = false;
  bool client_handshake_ok = false;
  bool client_round_trip_ok = false;
  std::string server_error;
  std::string client_error;
  long server_verify = X509_V_OK;  // SSL_get_verify_result after the handshake (or its failure)
  long client_verify = X509_V_OK;
  Status server_peer_status;  // PeerAgencyId on the server after its handshake
  std::string server_peer_agency;
  Status client_peer_status;  // PeerAgencyId on the client (the broker has no agency URI)
  std::string version;
  std::string cipher;
  bool client_session_reused = false;
  bool client_session_resumable = false;
  SessionPtr client_session;

  bool ok() const {
    return !timed_out && server_handshake_ok && client_handshake_ok && server_round_trip_ok &&
           client_round_trip_ok;
  }
  // The connection carried no application data in either direction.
  bool refused() const { return !timed_out && !server_round_trip_ok && !client_round_trip_ok; }
  std::string Describe() const {
    return "server: " + (server_error.empty() ? std::string("ok") : server_error) + " [" +
           X509_verify_cert_error_string(server_verify) +
           "]; client: " + (client_error.empty() ? std::string("ok") : client_error) + " [" +
           X509_verify_cert_error_string(client_verify) + "]" + (timed_out ? "; TIMED OUT" : "");
  }
};

using ClientSetup = std::function<void(SSL*)>;

ClientSetup ExpectName(const std::string& host) {
  return [host](SSL* ssl) { ASSERT_TRUE(SetExpectedPeerName(ssl, host).ok()); };
}

Exchange RunExchange(ssl::context& server_ctx, ssl::context& client_ctx,
                     const ClientSetup& setup = ExpectName("localhost")) {
  Exchange x;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  SslStream server(io, server_ctx);
  SslStream client(io, client_ctx);
  setup(client.native_handle());
  std::array<char, 4> server_buf{};
  std::array<char, 4> client_buf{};
  bool server_done = false;
  bool client_done = false;
  using boost::system::error_code;

  auto server_fail = [&](const std::string& step, const error_code& ec) {
    x.server_error = step + ": " + ec.message();
    x.server_verify = SSL_get_verify_result(server.native_handle());
    error_code ignored;
    server.next_layer().close(ignored);
    server_done = true;
  };
  auto client_fail = [&](const std::string& step, const error_code& ec) {
    x.client_error = step + ": " + ec.message();
    x.client_verify = SSL_get_verify_result(client.native_handle());
    error_code ignored;
    client.next_layer().close(ignored);
    client_done = true;
  };

  acceptor.async_accept(server.next_layer(), [&](const error_code& accept_ec) {
    if (accept_ec) return server_fail("accept", accept_ec);
    server.async_handshake(ssl::stream_base::server, [&](const error_code& handshake_ec) {
      if (handshake_ec) return server_fail("handshake", handshake_ec);
      x.server_handshake_ok = true;
      Result<std::string> id = PeerAgencyId(server.native_handle());
      x.server_peer_status = id.status();
      if (id.ok()) x.server_peer_agency = *id;
      asio::async_read(server, asio::buffer(server_buf), [&](const error_code& read_ec, size_t) {
        if (read_ec) return server_fail("read", read_ec);
        asio::async_write(server, asio::buffer(kPong), [&](const error_code& write_ec, size_t) {
          if (write_ec) return server_fail("write", write_ec);
          x.server_round_trip_ok = std::string_view(server_buf.data(), server_buf.size()) == kPing;
          // Count the connection as cleanly closed, so that OpenSSL does not discard its session
          // when the stream goes away: a resumption attempt must fail on its own merits.
          SSL_set_shutdown(server.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
          server_done = true;
        });
      });
    });
  });

  client.next_layer().async_connect(acceptor.local_endpoint(), [&](const error_code& connect_ec) {
    if (connect_ec) return client_fail("connect", connect_ec);
    client.async_handshake(ssl::stream_base::client, [&](const error_code& handshake_ec) {
      if (handshake_ec) return client_fail("handshake", handshake_ec);
      x.client_handshake_ok = true;
      SSL* ssl = client.native_handle();
      x.version = SSL_get_version(ssl);
      x.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
      x.client_peer_status = PeerAgencyId(ssl).status();
      asio::async_write(client, asio::buffer(kPing), [&](const error_code& write_ec, size_t) {
        if (write_ec) return client_fail("write", write_ec);
        asio::async_read(client, asio::buffer(client_buf), [&](const error_code& read_ec, size_t) {
          if (read_ec) return client_fail("read", read_ec);
          x.client_round_trip_ok = std::string_view(client_buf.data(), client_buf.size()) == kPong;
          // Read after the server's data: any session ticket would have arrived by now.
          x.client_session_reused = SSL_session_reused(client.native_handle()) == 1;
          x.client_session.reset(SSL_get1_session(client.native_handle()));
          x.client_session_resumable = SSL_SESSION_is_resumable(x.client_session.get()) == 1;
          SSL_set_shutdown(client.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
          client_done = true;
        });
      });
    });
  });

  io.run_for(kExchangeTimeout);
  x.timed_out = !(server_done && client_done);
  return x;
}

std::shared_ptr<ssl::context> MustMake(const TlsOptions& options) {
  Result<std::shared_ptr<ssl::context>> ctx = MakeTlsContext(options);
  EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
  if (!ctx.ok()) throw std::runtime_error("MakeTlsContext failed: " + ctx.status().ToString());
  return *ctx;
}

// The server refused the client during its handshake, with OpenSSL verify error `code`.
void ExpectServerRefused(const Exchange& x, long code) {
  EXPECT_TRUE(x.refused()) << x.Describe();
  EXPECT_FALSE(x.server_handshake_ok) << x.Describe();
  EXPECT_EQ(x.server_verify, code) << x.Describe();
}

// The client refused the server during its handshake, with OpenSSL verify error `code`.
void ExpectClientRefused(const Exchange& x, long code) {
  EXPECT_TRUE(x.refused()) << x.Describe();
  EXPECT_FALSE(x.client_handshake_ok) << x.Describe();
  EXPECT_EQ(x.client_verify, code) << x.Describe();
}

std::string Days(int days) {
  return TestPki::UtcTime(system_clock::now() + std::chrono::hours(24) * days);
}

// Most cases share one PKI (making one costs a dozen openssl runs); they only add leaves with
// names of their own. Cases that revoke or rewrite CRLs get a fresh one.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = TestPki::Create({"police", "health"}).release(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static TestPki* pki_;
};
TestPki* TlsTest::pki_ = nullptr;

class TlsFreshPkiTest : public ::testing::Test {
 protected:
  void SetUp() override { pki_ = TestPki::Create({"police", "health"}); }
  std::unique_ptr<TestPki> pki_;
};

TEST_F(TlsTest, GoodMutualTlsRoundTripIdentifiesAgency) {
  auto server = MustMake(pki_->ServerOptions());
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client);
  ASSERT_TRUE(x.ok()) << x.Describe();
  EXPECT_TRUE(x.server_peer_status.ok()) << x.server_peer_status.ToString();
  EXPECT_EQ(x.server_peer_agency, "police");
}

TEST_F(TlsTest, NegotiatesTls13WithAnAllowedSuite) {
  auto server = MustMake(pki_->ServerOptions());
  auto client = MustMake(pki_->ClientOptions("health"));
  Exchange x = RunExchange(*server, *client);
  ASSERT_TRUE(x.ok()) << x.Describe();
  EXPECT_EQ(x.version, "TLSv1.3");
  EXPECT_TRUE(x.cipher == "TLS_AES_256_GCM_SHA384" || x.cipher == "TLS_AES_128_GCM_SHA256" ||
              x.cipher == "TLS_CHACHA20_POLY1305_SHA256")
      << x.cipher;
  EXPECT_EQ(x.server_peer_agency, "health");
}

TEST_F(TlsTest, AcceptsBrokerByIpLiteral) {
  auto server = MustMake(pki_->ServerOptions());
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client, ExpectName("127.0.0.1"));
  EXPECT_TRUE(x.ok()) << x.Describe();
}

TEST_F(TlsTest, RejectsClientWithoutCertificate) {
  auto server = MustMake(pki_->ServerOptions());
  TlsOptions options = pki_->ClientOptions("police");
  options.cert_chain_file.clear();
  options.key_file.clear();
  auto client = MustMake(options);
  Exchange x = RunExchange(*server, *client);
  EXPECT_TRUE(x.refused()) << x.Describe();
  EXPECT_FALSE(x.server_handshake_ok) << x.Describe();
  EXPECT_NE(x.server_error.find("peer did not return a certificate"), std::string::npos)
      << x.Describe();
}

TEST_F(TlsTest, RejectsClientFromRogueCaWithSameNames) {
  ASSERT_TRUE(pki_->Rogue("rogue-police", "police"));
  auto server = MustMake(pki_->ServerOptions());
  TlsOptions options = pki_->ClientOptions("police");
  options.cert_chain_file = pki_->chain("rogue-police");
  options.key_file = pki_->key("rogue-police");
  auto client = MustMake(options);
  Exchange x = RunExchange(*server, *client);
  ExpectServerRefused(x, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_F(TlsTest, PinnedClientRejectsRogueServerWithSameNames) {
  ASSERT_TRUE(pki_->Rogue("rogue-broker"));
  // A consistent rogue broker: its own CA, its own CRLs, the same subject names as the real one.
  TlsOptions rogue = pki_->ServerOptions();
  rogue.ca_file = pki_->rogue_ca("rogue-broker");
  rogue.crl_files = {pki_->rogue_crl("rogue-broker")};
  rogue.cert_chain_file = pki_->chain("rogue-broker");
  rogue.key_file = pki_->key("rogue-broker");
  auto server = MustMake(rogue);
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client);
  ExpectClientRefused(x, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_F(TlsTest, RejectsExpiredClientCertificate) {
  ASSERT_TRUE(pki_->Issue("police-old", "client", "police", "", Days(-30), Days(-1)));
  auto server = MustMake(pki_->ServerOptions());
  TlsOptions options = pki_->ClientOptions("police");
  options.cert_chain_file = pki_->chain("police-old");
  options.key_file = pki_->key("police-old");
  auto client = MustMake(options);
  Exchange x = RunExchange(*server, *client);
  ExpectServerRefused(x, X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_F(TlsTest, RejectsNotYetValidClientCertificate) {
  ASSERT_TRUE(pki_->Issue("police-future", "client", "police", "", Days(2), Days(30)));
  auto server = MustMake(pki_->ServerOptions());
  TlsOptions options = pki_->ClientOptions("police");
  options.cert_chain_file = pki_->chain("police-future");
  options.key_file = pki_->key("police-future");
  auto client = MustMake(options);
  Exchange x = RunExchange(*server, *client);
  ExpectServerRefused(x, X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST_F(TlsFreshPkiTest, RejectsRevokedClientCertificate) {
  ASSERT_TRUE(pki_->Revoke("agency-police"));
  auto server = MustMake(pki_->ServerOptions());
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client);
  ExpectServerRefused(x, X509_V_ERR_CERT_REVOKED);

  // The other agency is untouched.
  auto health = MustMake(pki_->ClientOptions("health"));
  EXPECT_TRUE(RunExchange(*server, *health).ok());
}

TEST_F(TlsFreshPkiTest, ServerWithStaleCrlRejectsGoodClient) {
  auto client = MustMake(pki_->ClientOptions("police"));  // loaded with the current CRLs
  ASSERT_TRUE(pki_->RegenerateCrl(Days(-8), Days(-1)));
  auto server = MustMake(pki_->ServerOptions());
  Exchange x = RunExchange(*server, *client);
  ExpectServerRefused(x, X509_V_ERR_CRL_HAS_EXPIRED);
}

TEST_F(TlsFreshPkiTest, ClientWithStaleCrlRejectsGoodServer) {
  auto server = MustMake(pki_->ServerOptions());  // loaded with the current CRLs
  ASSERT_TRUE(pki_->RegenerateCrl(Days(-8), Days(-1)));
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client);
  ExpectClientRefused(x, X509_V_ERR_CRL_HAS_EXPIRED);
}

// Missing CRLs fail closed in two ways: a configured CRL file that does not exist stops the
// context from being built (the process does not start), and a CA whose CRL was not configured
// fails every handshake that needs it.
TEST_F(TlsTest, MissingCrlFileIsNotFound) {
  TlsOptions options = pki_->ServerOptions();
  options.crl_files = {pki_->crls()[0], pki_->dir() / "no-such.crl.pem"};
  Result<std::shared_ptr<ssl::context>> ctx = MakeTlsContext(options);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kNotFound) << ctx.status().ToString();

  options.crl_files.clear();
  ctx = MakeTlsContext(options);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kInvalidArgument) << ctx.status().ToString();
}

TEST_F(TlsTest, UnconfiguredIssuingCrlFailsHandshakeClosed) {
  TlsOptions options = pki_->ServerOptions();
  options.crl_files = {pki_->crls()[0]};  // the root's CRL only
  auto server = MustMake(options);
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client);
  ExpectServerRefused(x, X509_V_ERR_UNABLE_TO_GET_CRL);
}

TEST_F(TlsTest, RejectsServerOnlyCertificateUsedAsClient) {
  auto server = MustMake(pki_->ServerOptions());
  TlsOptions options = pki_->ClientOptions("police");
  options.cert_chain_file = pki_->broker_chain();
  options.key_file = pki_->broker_key();
  auto client = MustMake(options);
  Exchange x = RunExchange(*server, *client);
  ExpectServerRefused(x, X509_V_ERR_INVALID_PURPOSE);
}

TEST_F(TlsTest, ClientRejectsClientOnlyCertificateUsedAsServer) {
  ASSERT_TRUE(pki_->Issue("client-as-server", "client", "police", "localhost"));
  TlsOptions options = pki_->ServerOptions();
  options.cert_chain_file = pki_->chain("client-as-server");
  options.key_file = pki_->key("client-as-server");
  auto server = MustMake(options);
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client);
  ExpectClientRefused(x, X509_V_ERR_INVALID_PURPOSE);
}

TEST_F(TlsTest, RejectsClientLimitedToTls12) {
  auto server = MustMake(pki_->ServerOptions());
  ssl::context legacy(ssl::context::tls_client);
  ASSERT_EQ(SSL_CTX_set_max_proto_version(legacy.native_handle(), TLS1_2_VERSION), 1);
  legacy.use_certificate_chain_file(pki_->agency_chain("police").string());
  legacy.use_private_key_file(pki_->agency_key("police").string(), ssl::context::pem);
  legacy.set_verify_mode(ssl::verify_none);
  Exchange x = RunExchange(*server, legacy);
  EXPECT_TRUE(x.refused()) << x.Describe();
  EXPECT_FALSE(x.server_handshake_ok) << x.Describe();
  EXPECT_FALSE(x.client_handshake_ok) << x.Describe();
  EXPECT_NE(x.server_error.find("unsupported protocol"), std::string::npos) << x.Describe();
}

TEST_F(TlsTest, ClientRejectsBrokerWithAnotherName) {
  auto server = MustMake(pki_->ServerOptions());
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client, ExpectName("hub.example"));
  ExpectClientRefused(x, X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST_F(TlsTest, WrongCaPinFails) {
  auto server = MustMake(pki_->ServerOptions());
  TlsOptions options = pki_->ClientOptions("police");
  options.ca_pin = "sha256:" + std::string(64, '0');
  auto client = MustMake(options);
  Exchange x = RunExchange(*server, *client);
  ExpectClientRefused(x, X509_V_ERR_APPLICATION_VERIFICATION);
}

// The pin still holds when the trust store itself has been replaced by an attacker's CA.
TEST_F(TlsTest, PinRejectsRogueServerEvenWhenRogueCaIsTrusted) {
  ASSERT_TRUE(pki_->Rogue("rogue-hub"));
  TlsOptions rogue = pki_->ServerOptions();
  rogue.ca_file = pki_->rogue_ca("rogue-hub");
  rogue.crl_files = {pki_->rogue_crl("rogue-hub")};
  rogue.cert_chain_file = pki_->chain("rogue-hub");
  rogue.key_file = pki_->key("rogue-hub");
  auto server = MustMake(rogue);
  TlsOptions options = pki_->ClientOptions("police");
  options.ca_file = pki_->rogue_ca("rogue-hub");
  options.crl_files = {pki_->rogue_crl("rogue-hub")};
  auto client = MustMake(options);
  Exchange x = RunExchange(*server, *client);
  ExpectClientRefused(x, X509_V_ERR_APPLICATION_VERIFICATION);

  // Without the pin, that misconfigured client would have accepted the rogue broker.
  options.ca_pin.reset();
  auto unpinned = MustMake(options);
  EXPECT_TRUE(RunExchange(*server, *unpinned).client_handshake_ok);
}

TEST_F(TlsTest, PinOfIssuingCaAlsoMatchesChain) {
  Result<std::string> pin = SpkiPinOfPemFile(pki_->issuing_ca());
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();
  auto server = MustMake(pki_->ServerOptions());
  TlsOptions options = pki_->ClientOptions("police");
  options.ca_pin = *pin;
  auto client = MustMake(options);
  EXPECT_TRUE(RunExchange(*server, *client).ok());
}

TEST_F(TlsTest, MalformedCaPinIsInvalidArgument) {
  TlsOptions options = pki_->ClientOptions("police");
  const std::vector<std::string> pins = {"", "sha256:abc", "md5:" + std::string(64, 'a'),
                                         "sha256:" + std::string(63, 'a') + "g"};
  for (const std::string& pin : pins) {
    options.ca_pin = pin;
    Result<std::shared_ptr<ssl::context>> ctx = MakeTlsContext(options);
    ASSERT_FALSE(ctx.ok()) << pin;
    EXPECT_EQ(ctx.status().code(), StatusCode::kInvalidArgument) << pin;
  }
}

TEST_F(TlsTest, SpkiPinOfRootMatchesScriptPin) {
  Result<std::string> pin = SpkiPinOfPemFile(pki_->root_ca());
  ASSERT_TRUE(pin.ok()) << pin.status().ToString();
  EXPECT_EQ(*pin, pki_->ca_pin());
  EXPECT_EQ(SpkiPinOfPemFile(pki_->dir() / "absent.pem").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(SpkiPinOfPemFile(pki_->dir() / "ca-pin.txt").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(TlsTest, IssuesNoSessionTicketAndNeverResumes) {
  auto server = MustMake(pki_->ServerOptions());
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange first = RunExchange(*server, *client);
  ASSERT_TRUE(first.ok()) << first.Describe();
  ASSERT_NE(first.client_session, nullptr);
  EXPECT_FALSE(first.client_session_resumable);
  EXPECT_EQ(SSL_SESSION_is_resumable(first.client_session.get()), 0);
  EXPECT_FALSE(first.client_session_reused);

  SSL_SESSION* offered = first.client_session.get();
  Exchange second = RunExchange(*server, *client, [offered](SSL* ssl) {
    ASSERT_TRUE(SetExpectedPeerName(ssl, "localhost").ok());
    ASSERT_EQ(SSL_set_session(ssl, offered), 1);
  });
  ASSERT_TRUE(second.ok()) << second.Describe();
  EXPECT_FALSE(second.client_session_reused);
}

// "A revoked agency that tries to resume a session": the full handshake every connection gets
// sees the new CRL.
TEST_F(TlsFreshPkiTest, RevokedAgencyCannotResumeSession) {
  auto server = MustMake(pki_->ServerOptions());
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange first = RunExchange(*server, *client);
  ASSERT_TRUE(first.ok()) << first.Describe();
  ASSERT_NE(first.client_session, nullptr);

  ASSERT_TRUE(pki_->Revoke("agency-police"));
  auto reloaded = MustMake(pki_->ServerOptions());
  // Give the reloaded context the old ticket keys, as a fleet of brokers sharing keys would: were
  // tickets ever issued, the old session would then resume here and skip the revocation check.
  std::array<unsigned char, 80> ticket_keys{};
  ASSERT_EQ(SSL_CTX_get_tlsext_ticket_keys(server->native_handle(), ticket_keys.data(),
                                           ticket_keys.size()),
            1);
  ASSERT_EQ(SSL_CTX_set_tlsext_ticket_keys(reloaded->native_handle(), ticket_keys.data(),
                                           ticket_keys.size()),
            1);
  server = reloaded;
  SSL_SESSION* offered = first.client_session.get();
  Exchange second = RunExchange(*server, *client, [offered](SSL* ssl) {
    ASSERT_TRUE(SetExpectedPeerName(ssl, "localhost").ok());
    ASSERT_EQ(SSL_set_session(ssl, offered), 1);
  });
  ExpectServerRefused(second, X509_V_ERR_CERT_REVOKED);
  EXPECT_FALSE(second.client_session_reused);
}

TEST_F(TlsTest, RefusesKeyFileReadableByOthers) {
  const std::filesystem::path loose = pki_->dir() / "loose.key";
  std::filesystem::copy_file(pki_->agency_key("police"), loose);
  ASSERT_EQ(::chmod(loose.c_str(), 0644), 0);
  TlsOptions options = pki_->ClientOptions("police");
  options.key_file = loose;
  Result<std::shared_ptr<ssl::context>> ctx = MakeTlsContext(options);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kFailedPrecondition) << ctx.status().ToString();

  ASSERT_EQ(::chmod(loose.c_str(), 0640), 0);
  ctx = MakeTlsContext(options);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kFailedPrecondition);

  ASSERT_EQ(::chmod(loose.c_str(), 0600), 0);
  EXPECT_TRUE(MakeTlsContext(options).ok());
}

TEST_F(TlsTest, ContextErrorsHaveTheDocumentedCodes) {
  TlsOptions mismatched = pki_->ClientOptions("police");
  mismatched.key_file = pki_->agency_key("health");
  EXPECT_EQ(MakeTlsContext(mismatched).status().code(), StatusCode::kInvalidArgument);

  TlsOptions no_ca = pki_->ServerOptions();
  no_ca.ca_file = pki_->dir() / "absent.pem";
  EXPECT_EQ(MakeTlsContext(no_ca).status().code(), StatusCode::kNotFound);

  TlsOptions no_key = pki_->ServerOptions();
  no_key.key_file = pki_->dir() / "absent.key";
  EXPECT_EQ(MakeTlsContext(no_key).status().code(), StatusCode::kNotFound);

  TlsOptions bad_pem = pki_->ServerOptions();
  bad_pem.cert_chain_file = pki_->dir() / "ca-pin.txt";
  EXPECT_EQ(MakeTlsContext(bad_pem).status().code(), StatusCode::kInvalidArgument);

  TlsOptions bad_crl = pki_->ServerOptions();
  bad_crl.crl_files = {pki_->root_ca()};  // a certificate, not a CRL
  EXPECT_EQ(MakeTlsContext(bad_crl).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TlsTest, PeerAgencyIdRefusesBrokerCertificate) {
  auto server = MustMake(pki_->ServerOptions());
  auto client = MustMake(pki_->ClientOptions("police"));
  Exchange x = RunExchange(*server, *client);
  ASSERT_TRUE(x.ok()) << x.Describe();
  // The broker's certificate, seen by the client, carries no agency URI.
  EXPECT_EQ(x.client_peer_status.code(), StatusCode::kPermissionDenied);
}

TEST_F(TlsTest, PeerAgencyIdRefusesClientCertificateWithoutAgencyUri) {
  ASSERT_TRUE(pki_->Issue("anonymous", "client"));
  auto server = MustMake(pki_->ServerOptions());
  TlsOptions options = pki_->ClientOptions("police");
  options.cert_chain_file = pki_->chain("anonymous");
  options.key_file = pki_->key("anonymous");
  auto client = MustMake(options);
  Exchange x = RunExchange(*server, *client);
  ASSERT_TRUE(x.server_handshake_ok) << x.Describe();
  EXPECT_EQ(x.server_peer_status.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(x.server_peer_agency.empty());
}

TEST_F(TlsTest, PeerAgencyIdRefusesUnverifiedConnections) {
  EXPECT_EQ(PeerAgencyId(nullptr).status().code(), StatusCode::kPermissionDenied);
  auto client = MustMake(pki_->ClientOptions("police"));
  SSL* ssl = SSL_new(client->native_handle());
  ASSERT_NE(ssl, nullptr);
  EXPECT_EQ(PeerAgencyId(ssl).status().code(), StatusCode::kPermissionDenied);  // no handshake
  SSL_free(ssl);
}

TEST_F(TlsTest, SetExpectedPeerNameRejectsEmptyName) {
  auto client = MustMake(pki_->ClientOptions("police"));
  SSL* ssl = SSL_new(client->native_handle());
  ASSERT_NE(ssl, nullptr);
  EXPECT_EQ(SetExpectedPeerName(ssl, "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SetExpectedPeerName(ssl, std::string("a\0b", 3)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(SetExpectedPeerName(ssl, "::1").ok());
  SSL_free(ssl);
}

TEST_F(TlsTest, SecondsUntilExpiry) {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(system_clock::now().time_since_epoch())
          .count();
  Result<int64_t> left = SecondsUntilExpiry(pki_->agency_chain("police"), now);
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  EXPECT_GT(*left, 89 * 24 * 3600);
  EXPECT_LE(*left, 90 * 24 * 3600 + 60);

  ASSERT_TRUE(pki_->Issue("old", "client", "police", "", Days(-30), Days(-2)));
  left = SecondsUntilExpiry(pki_->chain("old"), now);
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  EXPECT_LT(*left, -24 * 3600);
  EXPECT_EQ(SecondsUntilExpiry(pki_->dir() / "absent.pem", now).status().code(),
            StatusCode::kNotFound);
}

TEST(TestPkiTest, MakesAllFilesWithPrivateKeys) {
  auto pki = TestPki::Create();
  for (const char* id : {"police", "social-care", "health", "education", "probation", "housing"}) {
    EXPECT_TRUE(std::filesystem::exists(pki->agency_chain(id))) << id;
    struct stat st {};
    ASSERT_EQ(::stat(pki->agency_key(id).c_str(), &st), 0) << id;
    EXPECT_EQ(st.st_mode & 077, 0u) << id;
  }
  for (const auto& crl : pki->crls()) EXPECT_TRUE(std::filesystem::exists(crl));
  EXPECT_EQ(pki->ca_pin().size(), 7u + 64u);
  EXPECT_FALSE(pki->Issue("bad/name", "client"));
  EXPECT_FALSE(pki->Issue("x", "client", "Not-An-Id"));
  EXPECT_FALSE(pki->Revoke("never-issued"));
}

}  // namespace
}  // namespace mash::crypto
