// TransferFormatter between two real Proton connection drivers (a sender and a receiver we did
// not write): marked transfers carry the new message-format on the wire, every delivery still
// arrives intact at Proton's receiver, and the stream may come in any pieces.
#include "protocols/amqp/transfer_format.h"

#include <gtest/gtest.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/transport.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace holdfast::amqp {
namespace {

constexpr std::string_view kMarked = "B-batch-1";

std::optional<std::uint32_t> batch_if_marked(std::string_view tag) {
  if (tag.substr(0, 2) == "B-") return kBatchMessageFormat;
  return std::nullopt;
}

// The frames of an AMQP byte stream (protocol headers skipped).
std::vector<std::string> frames_of(std::string_view s) {
  std::vector<std::string> out;
  while (s.size() >= 8) {
    if (s.substr(0, 4) == "AMQP") {
      s.remove_prefix(8);
      continue;
    }
    auto b = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t size = (std::size_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    out.emplace_back(s.substr(0, size));
    s.remove_prefix(size);
  }
  return out;
}

// A sender (client) and a receiver (server) whose client-to-server bytes pass a formatter.
class Pair {
 public:
  explicit Pair(std::size_t piece) : piece_(piece), formatter_(batch_if_marked) {
    pn_connection_driver_init(&client_, nullptr, nullptr);
    pn_connection_driver_init(&server_, nullptr, nullptr);
    pn_transport_set_server(server_.transport);
    pn_sasl_allowed_mechs(pn_sasl(client_.transport), "ANONYMOUS");
    pn_sasl_allowed_mechs(pn_sasl(server_.transport), "ANONYMOUS");
    pn_transport_set_max_frame(server_.transport, 16384);
    pn_connection_open(client_.connection);
    pn_session_t* ssn = pn_session(client_.connection);
    pn_session_open(ssn);
    sender_ = pn_sender(ssn, "telemetry");
    pn_terminus_set_address(pn_link_target(sender_), "devices/d1/messages/events");
    pn_link_open(sender_);
  }
  ~Pair() {
    pn_connection_driver_destroy(&client_);
    pn_connection_driver_destroy(&server_);
  }

  void send(std::string_view tag, const std::string& body) {
    pn_delivery_t* d = pn_delivery(sender_, pn_dtag(tag.data(), tag.size()));
    pn_link_send(sender_, body.data(), body.size());
    pn_link_advance(sender_);
    (void)d;
  }

  // Moves bytes and handles events until nothing changes.
  void run() {
    for (int round = 0; round < 10000; ++round) {
      bool moved = events();
      pn_bytes_t out = pn_connection_driver_write_buffer(&client_);
      if (out.size > 0) {
        std::string_view bytes(out.start, out.size);
        wire_in_.append(bytes);
        std::size_t before = to_server_.size();
        for (std::size_t at = 0; at < bytes.size(); at += piece_) {
          status_ = formatter_.feed(bytes.substr(at, piece_), to_server_);
          if (!status_.ok()) return;
        }
        wire_out_.append(to_server_, before);
        pn_connection_driver_write_done(&client_, out.size);
        moved = true;
      }
      moved |= deliver(to_server_, server_);
      pn_bytes_t back = pn_connection_driver_write_buffer(&server_);
      if (back.size > 0) {
        to_client_.append(back.start, back.size);
        pn_connection_driver_write_done(&server_, back.size);
        moved = true;
      }
      moved |= deliver(to_client_, client_);
      if (!moved) return;
    }
    FAIL() << "the connection never settled down";
  }

  int credit() const { return pn_link_credit(sender_); }
  const std::vector<std::string>& received() const { return received_; }
  const std::string& wire_out() const { return wire_out_; }
  const std::string& wire_in() const { return wire_in_; }
  std::size_t held() const { return formatter_.held(); }
  const core::Status& run_status() const { return status_; }

 private:
  bool deliver(std::string& pending, pn_connection_driver_t& to) {
    bool moved = false;
    while (!pending.empty()) {
      pn_rwbytes_t in = pn_connection_driver_read_buffer(&to);
      if (in.size == 0) break;
      std::size_t n = std::min(in.size, pending.size());
      std::memcpy(in.start, pending.data(), n);
      pn_connection_driver_read_done(&to, n);
      pending.erase(0, n);
      moved = true;
    }
    return moved;
  }

  bool events() {
    bool any = false;
    while (pn_event_t* e = pn_connection_driver_next_event(&client_)) any = true, (void)e;
    while (pn_event_t* e = pn_connection_driver_next_event(&server_)) {
      any = true;
      switch (pn_event_type(e)) {
        case PN_CONNECTION_REMOTE_OPEN:
          pn_connection_open(pn_event_connection(e));
          break;
        case PN_SESSION_REMOTE_OPEN:
          pn_session_open(pn_event_session(e));
          break;
        case PN_LINK_REMOTE_OPEN:
          pn_link_open(pn_event_link(e));
          pn_link_flow(pn_event_link(e), 10);
          break;
        case PN_DELIVERY: {
          pn_delivery_t* d = pn_event_delivery(e);
          pn_link_t* l = pn_delivery_link(d);
          if (pn_delivery_partial(d)) break;
          std::string body(pn_delivery_pending(d), '\0');
          pn_link_recv(l, body.data(), body.size());
          received_.push_back(body);
          pn_delivery_update(d, PN_ACCEPTED);
          pn_delivery_settle(d);
          pn_link_flow(l, 1);
          break;
        }
        default:
          break;
      }
    }
    return any;
  }

  std::size_t piece_;
  TransferFormatter formatter_;
  pn_connection_driver_t client_{};
  pn_connection_driver_t server_{};
  pn_link_t* sender_ = nullptr;
  std::string to_server_, to_client_;
  std::string wire_in_, wire_out_;
  std::vector<std::string> received_;
  core::Status status_;
};

std::vector<TransferFields> transfers(const std::string& stream) {
  std::vector<TransferFields> out;
  for (const auto& f : frames_of(stream)) {
    if (auto t = read_transfer_fields(f)) out.push_back(*t);
  }
  return out;
}

class TransferFormatterTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(TransferFormatterTest, MarkedTransfersGetTheFormatAndEveryDeliveryArrivesIntact) {
  Pair pair(GetParam());
  pair.run();
  ASSERT_GT(pair.credit(), 0);
  std::mt19937 rng(7);
  auto bytes = [&rng](std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  };
  std::string plain = bytes(100), marked = bytes(3000), big = bytes(40000), last = bytes(16000);
  pair.send("plain-1", plain);
  pair.send(kMarked, marked);
  pair.send("X-big", big);  // over the 16 KiB max-frame-size: several frames, not marked
  pair.send("B-last", last);  // marked, just under max-frame-size
  pair.run();
  ASSERT_TRUE(pair.run_status().ok()) << pair.run_status().message();
  std::vector<std::string> sent{plain, marked, big, last};
  ASSERT_EQ(pair.received().size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(pair.received()[i].size(), sent[i].size()) << i;
    EXPECT_TRUE(pair.received()[i] == sent[i]) << "delivery " << i << " differs";
  }
  EXPECT_EQ(pair.held(), 0u);

  // Before the formatter: Proton wrote message-format 0 everywhere.
  for (const auto& t : transfers(pair.wire_in())) {
    EXPECT_EQ(t.message_format.value_or(0), 0u) << t.delivery_tag;
  }
  // After it: the marked first frames carry the batch format; the plain one is untouched.
  auto out = transfers(pair.wire_out());
  ASSERT_GE(out.size(), 6u);  // 1 + 1 + at least 3 frames of the big one + 1
  EXPECT_EQ(out[0].delivery_tag, "plain-1");
  EXPECT_EQ(out[0].message_format.value_or(0), 0u);
  EXPECT_EQ(out[1].delivery_tag, kMarked);
  EXPECT_EQ(out[1].message_format, kBatchMessageFormat);
  EXPECT_EQ(out[2].delivery_tag, "X-big");
  EXPECT_EQ(out[2].message_format.value_or(0), 0u);
  EXPECT_EQ(out.back().delivery_tag, "B-last");
  EXPECT_EQ(out.back().message_format, kBatchMessageFormat);
  for (const auto& t : out) {
    if (t.delivery_tag.substr(0, 2) == "B-") {
      EXPECT_EQ(t.message_format, kBatchMessageFormat);
    }
  }
  EXPECT_EQ(pair.wire_out().size(), pair.wire_in().size() + 2 * 4);  // uint0 -> uint: 4 more
}

TEST(TransferFormatter, RefusesAMarkedDeliveryThatSpansSeveralFrames) {
  Pair pair(4096);
  pair.run();
  ASSERT_GT(pair.credit(), 0);
  pair.send("B-too-big", std::string(40000, 'x'));
  pair.run();
  EXPECT_FALSE(pair.run_status().ok());
}

INSTANTIATE_TEST_SUITE_P(Pieces, TransferFormatterTest, ::testing::Values(1, 7, 65536));

TEST(TransferFormatter, RefusesBytesThatAreNotAmqpFraming) {
  TransferFormatter f(batch_if_marked);
  std::string out;
  EXPECT_FALSE(f.feed(std::string("\x00\x00\x00\x03garbage!", 12), out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(TransferFormatter, HoldsAnIncompleteFrameUntilItsRestArrives) {
  TransferFormatter f(batch_if_marked);
  std::string out;
  // An empty frame (a heartbeat): size 8, doff 2, type 0, channel 0.
  std::string heartbeat("\x00\x00\x00\x08\x02\x00\x00\x00", 8);
  ASSERT_TRUE(f.feed(std::string_view(heartbeat).substr(0, 5), out).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ(f.held(), 5u);
  ASSERT_TRUE(f.feed(std::string_view(heartbeat).substr(5), out).ok());
  EXPECT_EQ(out, heartbeat);
  EXPECT_EQ(f.held(), 0u);
}

}  // namespace
}  // namespace holdfast::amqp
