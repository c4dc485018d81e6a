// IncomingLink: transfers from a client sender become messages for the Ingress; `$cbs`
// put-token requests are answered here too.
#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/disposition.h>
#include <proton/message.h>

#include <cstdlib>
#include <cstring>

#include "broker/core/log.h"
#include "protocols/amqp/connection.h"
#include "protocols/amqp/errors.h"
#include "protocols/amqp/links.h"
#include "protocols/amqp/message_codec.h"
#include "protocols/amqp/server.h"

namespace holdfast::amqp {
namespace {

constexpr std::string_view kLog = "amqp";

struct MessageDeleter {
  void operator()(pn_message_t* m) const { pn_message_free(m); }
};
using MessagePtr = std::unique_ptr<pn_message_t, MessageDeleter>;

// The string value of `key` in a map of application properties, or empty.
std::string map_string(pn_data_t* map, std::string_view key) {
  pn_data_rewind(map);
  if (!pn_data_next(map) || pn_data_type(map) != PN_MAP) return {};
  std::size_t n = pn_data_get_map(map);
  pn_data_enter(map);
  std::string value;
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    if (!pn_data_next(map)) break;
    bool match = false;
    if (pn_data_type(map) == PN_STRING || pn_data_type(map) == PN_SYMBOL) {
      auto b = pn_data_get_bytes(map);
      match = std::string_view(b.start, b.size) == key;
    }
    if (!pn_data_next(map)) break;
    if (match && (pn_data_type(map) == PN_STRING || pn_data_type(map) == PN_SYMBOL)) {
      auto b = pn_data_get_bytes(map);
      value.assign(b.start, b.size);
      break;
    }
  }
  pn_data_exit(map);
  return value;
}

std::string encode(pn_message_t* m) {
  pn_rwbytes_t buf{0, nullptr};
  ssize_t n = pn_message_encode2(m, &buf);
  std::string out = n > 0 ? std::string(buf.start, static_cast<std::size_t>(n)) : std::string();
  std::free(buf.start);
  return out;
}

}  // namespace

void IncomingLink::opened() {
  top_up_credit();
}

void IncomingLink::top_up_credit() {
  std::uint32_t window = connection_.server().options().link_credit;
  int outstanding = pn_link_credit(link_);
  int want = static_cast<int>(window) - static_cast<int>(pending_) - outstanding;
  // Top up in chunks: one FLOW frame per half window rather than per message.
  if (want > 0 && (outstanding <= static_cast<int>(window / 2) || pending_ == 0)) {
    pn_link_flow(link_, want);
  }
}

void IncomingLink::on_delivery(pn_delivery_t* d) {
  if (d != pn_link_current(link_)) return;  // a disposition update of an earlier transfer
  if (pn_delivery_aborted(d)) {
    pn_link_advance(link_);
    pn_delivery_settle(d);
    top_up_credit();
    return;
  }
  std::size_t size = pn_delivery_pending(d);
  std::size_t max = connection_.server().options().max_message_bytes;
  if (size > max) {
    ++connection_.server().mutable_stats().refused_messages;
    connection_.close_link(*this, kMessageSizeExceeded,
                           "message larger than " + std::to_string(max) + " bytes");
    return;
  }
  if (pn_delivery_partial(d)) return;  // Proton keeps the frames until the last one
  std::string bytes(size, '\0');
  if (size > 0) pn_link_recv(link_, bytes.data(), size);
  pn_link_advance(link_);
  if (cbs_) {
    handle_put_token(d, bytes);
  } else {
    receive(d, std::move(bytes));
  }
}

void IncomingLink::receive(pn_delivery_t* d, std::string bytes) {
  AmqpStats& stats = connection_.server().mutable_stats();
  bool presettled = pn_delivery_settled(d);
  if (presettled) pn_delivery_settle(d);  // at most once: nothing to report back
  auto finish = [this, d, presettled](const core::Status& status) {
    if (!status.ok()) ++connection_.server().mutable_stats().refused_messages;
    if (presettled) {
      top_up_credit();
    } else {
      settle(d, status);
    }
  };
  if (!presettled) ++pending_;
  if (!device_id_.empty() && connection_.server().options().require_device_auth &&
      !connection_.authorized(device_id_)) {
    finish({core::Code::kUnauthenticated, "the SAS token of device '" + device_id_ + "' expired"});
    connection_.close_link(*this, kUnauthorizedAccess,
                           "the SAS token of device '" + device_id_ + "' expired");
    return;
  }
  auto decoded = decode_message(bytes);
  if (!decoded) {
    if (!presettled) {
      pn_condition_t* c = pn_disposition_condition(pn_delivery_local(d));
      pn_condition_set_name(c, std::string(kDecodeError).c_str());
      pn_condition_set_description(c, decoded.error().message().c_str());
      pn_delivery_update(d, PN_REJECTED);
      pn_delivery_settle(d);
      --pending_;
    }
    ++stats.refused_messages;
    top_up_credit();
    return;
  }
  std::vector<DecodedMessage> parts;
  if (auto batch = decode_batch(*decoded)) {
    parts = std::move(*batch);
  } else {
    parts.push_back(std::move(*decoded));
  }
  std::int64_t now = core::now_ms();
  core::PublishOptions options;
  options.assurance = presettled ? core::Assurance::kBestEffort : core::Assurance::kDurable;
  options.qos = presettled ? 0 : 1;
  // All parts of a batch are settled together, with the first failure if any.
  struct Outstanding {
    std::size_t left;
    core::Status first_error;
  };
  auto outstanding = std::make_shared<Outstanding>(Outstanding{parts.size(), {}});
  std::weak_ptr<Link> weak = weak_from_this();
  for (auto& part : parts) {
    std::string address = address_.empty() ? part.to : address_;
    core::Message m = to_core_message(std::move(part));
    m.address = std::move(address);
    m.origin = {core::Protocol::kAmqp, connection_.container_id(), device_id_};
    m.received_at_ms = now;
    ++stats.messages_in;
    if (m.address.empty()) {
      core::Status s{core::Code::kNotFound,
                     "no address: the link has no target and the message no 'to'"};
      if (outstanding->first_error.ok()) outstanding->first_error = s;
      if (--outstanding->left == 0) finish(outstanding->first_error);
      continue;
    }
    connection_.server().ingress().submit(
        std::move(m), options, [weak, outstanding, finish](core::Result<void> result) mutable {
          if (!result && outstanding->first_error.ok()) outstanding->first_error = result.error();
          if (--outstanding->left > 0) return;
          auto self = weak.lock();
          if (!self) return;  // the link is gone; the sender will resend unsettled transfers
          finish(outstanding->first_error);
        });
  }
}

void IncomingLink::settle(pn_delivery_t* d, const core::Status& status) {
  if (status.ok()) {
    pn_delivery_update(d, PN_ACCEPTED);
  } else if (status.code() == core::Code::kUnavailable) {
    pn_delivery_update(d, PN_RELEASED);  // not processed: the sender may try again
  } else {
    pn_condition_t* c = pn_disposition_condition(pn_delivery_local(d));
    pn_condition_set_name(c, std::string(condition_for(status)).c_str());
    pn_condition_set_description(c, status.message().c_str());
    pn_delivery_update(d, PN_REJECTED);
    core::log(core::LogLevel::kInfo, kLog,
              "rejected a message on '" + address_ + "' from " + connection_.peer() + ": " +
                  status.message(),
              "rejected");
  }
  pn_delivery_settle(d);
  if (pending_ > 0) --pending_;
  top_up_credit();
  connection_.schedule_pump();
}

void IncomingLink::handle_put_token(pn_delivery_t* d, const std::string& bytes) {
  MessagePtr request(pn_message());
  int status = 200;
  std::string description = "OK";
  pn_msgid_t id{};
  std::string reply_to;
  if (pn_message_decode(request.get(), bytes.data(), bytes.size()) != 0) {
    status = 400;
    description = "undecodable put-token request";
  } else {
    id = pn_message_get_id(request.get());
    const char* r = pn_message_get_reply_to(request.get());
    reply_to = r ? r : "";
    pn_data_t* props = pn_message_properties(request.get());
    std::string operation = map_string(props, "operation");
    std::string name = map_string(props, "name");
    pn_data_t* body = pn_message_body(request.get());
    pn_data_rewind(body);
    std::string token;
    if (pn_data_next(body) &&
        (pn_data_type(body) == PN_STRING || pn_data_type(body) == PN_BINARY)) {
      auto b = pn_data_get_bytes(body);
      token.assign(b.start, b.size);
    }
    if (operation != "put-token") {
      status = 400;
      description = "unsupported operation '" + operation + "'";
    } else {
      auto accepted = connection_.accept_token(name, token);
      if (accepted) {
        ++connection_.server().mutable_stats().cbs_tokens_accepted;
        core::log_debug(
            kLog, "put-token accepted for device '" + *accepted + "' from " + connection_.peer());
      } else {
        ++connection_.server().mutable_stats().cbs_tokens_refused;
        status = 401;
        description = accepted.error().message();
        core::log(
            core::LogLevel::kInfo, kLog,
            "put-token refused for '" + name + "' from " + connection_.peer() + ": " + description,
            "cbs-refused");
      }
    }
  }
  pn_delivery_update(d, PN_ACCEPTED);
  pn_delivery_settle(d);
  top_up_credit();

  MessagePtr reply(pn_message());
  // The correlation-id keeps the request's message-id with its AMQP type (the C SDK checks).
  pn_message_set_correlation_id(reply.get(), id);
  if (!reply_to.empty()) pn_message_set_address(reply.get(), reply_to.c_str());
  pn_data_t* props = pn_message_properties(reply.get());
  pn_data_put_map(props);
  pn_data_enter(props);
  pn_data_put_string(props, pn_bytes(11, "status-code"));
  pn_data_put_int(props, status);
  pn_data_put_string(props, pn_bytes(18, "status-description"));
  pn_data_put_string(props, pn_bytes(description.size(), description.data()));
  pn_data_exit(props);
  connection_.send_cbs_reply(reply_to, encode(reply.get()));
}

}  // namespace holdfast::amqp
