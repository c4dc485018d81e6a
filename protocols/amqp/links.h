#pragma once
// The kinds of AMQP link a client can attach, each in its own file:
//   IncomingLink  (incoming_link.cpp) client sender -> the Ingress; also `$cbs` requests
//   QueueLink     (outgoing_link.cpp) client receiver on a queue address: competing consumer
//   TopicLink     (outgoing_link.cpp) client receiver on any other address: live copies
//   CbsReplyLink  (outgoing_link.cpp) client receiver from `$cbs`: put-token replies
//
// Concurrency: io thread only. Owned by their Connection through shared_ptrs; detach() runs
// exactly once, when the link goes away for any reason, and must release everything the link
// holds elsewhere (consumers, subscriptions).

#include <proton/delivery.h>
#include <proton/link.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "broker/core/consumers.h"
#include "broker/core/subscriptions.h"

namespace holdfast::amqp {

class Connection;

class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(Connection& connection, pn_link_t* link, std::string address)
      : connection_(connection), link_(link), address_(std::move(address)) {}
  virtual ~Link() = default;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // After the link is open: start flowing (grant credit, attach to a queue...).
  virtual void opened() {}
  virtual void on_delivery(pn_delivery_t* delivery) = 0;
  virtual void on_flow() {}
  virtual void detach() {}

  pn_link_t* pn() const { return link_; }
  const std::string& address() const { return address_; }

 protected:
  Connection& connection_;
  pn_link_t* link_;
  std::string address_;
};

// Client sender: messages in. `device_id` is set for devices/{id}/messages/events links.
class IncomingLink final : public Link {
 public:
  IncomingLink(Connection& connection, pn_link_t* link, std::string address, std::string device_id,
               bool cbs)
      : Link(connection, link, std::move(address)), device_id_(std::move(device_id)), cbs_(cbs) {}
  void opened() override;
  void on_delivery(pn_delivery_t* delivery) override;

 private:
  void receive(pn_delivery_t* delivery, std::string bytes);
  void handle_put_token(pn_delivery_t* delivery, const std::string& bytes);
  void settle(pn_delivery_t* delivery, const core::Status& status);
  void top_up_credit();

  std::string device_id_;
  bool cbs_;
  std::uint32_t pending_ = 0;  // transfers waiting for the store
};

// Client receiver on a queue: a competing consumer.
class QueueLink final : public Link, public core::QueueConsumer {
 public:
  using Link::Link;
  void opened() override;
  void on_delivery(pn_delivery_t* delivery) override;
  void on_flow() override;
  void detach() override;
  std::size_t credit() const override;
  void deliver(core::QueueDelivery delivery) override;

 private:
  bool attached_ = false;
  std::uint64_t next_tag_ = 0;
  std::map<pn_delivery_t*, core::Seq> unsettled_;
};

// Client receiver on a topic address: live copies, sent pre-settled (at most once), except a
// message whose publisher watches it (a cloud-to-device message): that one is sent unsettled
// unless the receiver asked for settled deliveries, and the receiver's outcome settles the
// publisher's claim (accepted, rejected; released/modified or a detach: no outcome).
class TopicLink final : public Link, public core::Subscriber {
 public:
  TopicLink(Connection& connection, pn_link_t* link, std::string address, std::string id)
      : Link(connection, link, std::move(address)), id_(std::move(id)) {}
  void opened() override;
  void on_delivery(pn_delivery_t* delivery) override;
  void on_flow() override;
  void detach() override;
  void deliver(const core::Message& message, const core::PublishOptions& publish,
               const std::string& filter, const core::SubscriptionOptions& options,
               core::DurableCopies& durable) override;
  const std::string& subscriber_id() const override { return id_; }

 private:
  void send_buffered();

  struct Pending {
    std::string encoded;
    core::DeliveryClaim claim;
  };
  std::string id_;
  bool subscribed_ = false;
  std::uint64_t next_tag_ = 0;
  std::deque<Pending> buffered_;  // encoded messages waiting for credit
  std::map<pn_delivery_t*, core::DeliveryClaim> unsettled_;  // watched deliveries sent
};

// Client receiver from `$cbs`: carries put-token replies.
class CbsReplyLink final : public Link {
 public:
  CbsReplyLink(Connection& connection, pn_link_t* link, std::string reply_address)
      : Link(connection, link, "$cbs"), reply_address_(std::move(reply_address)) {}
  void on_delivery(pn_delivery_t* delivery) override;
  void on_flow() override;
  void send(std::string encoded);
  const std::string& reply_address() const { return reply_address_; }

 private:
  std::string reply_address_;  // the link's target: where a request's reply-to points
  std::uint64_t next_tag_ = 0;
  std::deque<std::string> waiting_;
};

// The receiver's outcome of a delivery we sent: accepted, released, modified (delivery-failed;
// else released), rejected (with `reason` from its condition, if asked for); settled without
// an outcome counts as accepted; nullopt while there is none yet (e.g. `received`).
std::optional<core::Outcome> remote_outcome(pn_delivery_t* delivery, std::string* reason);

// Sends one encoded message on a sender link; returns the delivery.
pn_delivery_t* send_message(pn_link_t* link, std::uint64_t tag, const std::string& encoded);

}  // namespace holdfast::amqp
