#include "mash/broker/broker.h"

#include <algorithm>

#include "mash/common/log.h"
#include "mash/crypto/tls.h"

namespace mash::broker {

Result<std::unique_ptr<Broker>> Broker::Create(boost::asio::io_context& io,
                                               const BrokerConfig& config,
                                               const common::Clock& clock,
                                               common::RandomSource& random) {
  std::unique_ptr<Broker> b(new Broker(io));
  crypto::TlsOptions agent_tls = config.tls;
  agent_tls.role = crypto::TlsRole::kServer;
  agent_tls.require_client_cert = true;
  MASH_ASSIGN_OR_RETURN(auto agent_ctx, crypto::MakeTlsContext(agent_tls));
  crypto::TlsOptions api_tls = agent_tls;
  api_tls.require_client_cert = false;  // staff authenticate with tokens (later: logins)
  MASH_ASSIGN_OR_RETURN(auto api_ctx, crypto::MakeTlsContext(api_tls));

  MASH_ASSIGN_OR_RETURN(b->courier_, Courier::Create(config, clock, random));
  // Half the connection's queue for queries leaves room for pings and errors.
  const int max_in_flight = std::clamp(static_cast<int>(config.max_queue / 2), 1, 64);
  b->checks_ = std::make_unique<CheckService>(*b->courier_, clock, random, config.query_lifetime,
                                              max_in_flight);

  AgentHubOptions hub_options;
  hub_options.address = config.agent_address;
  hub_options.port = config.agent_port;
  hub_options.max_connections = config.max_connections;
  hub_options.max_pending = config.max_pending;
  hub_options.max_pending_per_address = config.max_pending_per_address;
  hub_options.max_connections_per_agency = config.max_connections_per_agency;
  hub_options.max_queue = config.max_queue;
  hub_options.handshake_timeout = config.handshake_timeout;
  hub_options.idle_timeout = config.idle_timeout;
  hub_options.welcome =
      schemas::Welcome{schemas::kProtocolVersion, config.hub_id, b->courier_->SignFingerprint(),
                       b->courier_->EncFingerprint(), config.ping_interval_s};
  Courier* courier = b->courier_.get();
  auto key_check = [courier](const std::string& agency, const std::string& sign_fp,
                             const std::string& enc_fp) {
    const RegisteredAgency* reg = courier->FindAgency(agency);
    return reg != nullptr && reg->sign.Fingerprint() == sign_fp && reg->enc.Fingerprint() == enc_fp;
  };
  MASH_ASSIGN_OR_RETURN(
      b->hub_, AgentHub::Start(io, std::move(agent_ctx), hub_options, key_check, b->checks_.get()));
  b->checks_->AttachHub(b->hub_);

  ApiOptions api_options;
  api_options.address = config.api_address;
  api_options.port = config.api_port;
  api_options.tokens = config.api_tokens;
  auto api = ApiServer::Start(io, std::move(api_ctx), api_options, b->checks_.get());
  if (!api.ok()) {
    b->hub_->Stop();
    return api.status();
  }
  b->api_ = std::move(*api);
  b->ScheduleSweep();
  common::LogInfo("broker.ready", {{"agent_port", b->hub_->port()},
                                   {"api_port", b->api_->port()},
                                   {"agencies", config.agencies.size()}});
  return b;
}

Broker::~Broker() = default;

void Broker::ScheduleSweep() {
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    checks_->Sweep();
    ScheduleSweep();
  });
}

void Broker::Stop() {
  if (stopped_) return;
  stopped_ = true;
  sweep_timer_.cancel();
  api_->Stop();
  hub_->Stop();
  common::LogInfo("broker.stopped");
}

}  // namespace mash::broker
