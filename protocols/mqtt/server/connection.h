#pragma once
// Connection: one MQTT client's TCP connection: reads and decodes packets, runs the protocol
// (CONNECT, PUBLISH in, SUBSCRIBE, acknowledgements, keep-alive, will), writes packets.
//
// Operation
//   With TLS (a listener with a TlsContext), reads and writes go through a core::TlsSession; the handshake
//   runs inside them. Bytes read go through the codec's Decoder; each packet is handled in order. An incoming
//   QoS 1/2 PUBLISH is submitted to the Ingress and its PUBACK/PUBREC is sent only when the
//   Ingress reports it durable; acknowledgements leave in the order the publishes arrived. Too
//   many unacknowledged publishes (receive_maximum) pause reading from the socket. Writes are
//   buffered and flushed once per loop turn, so a burst of acknowledgements costs one send().
//
// Concurrency: io thread only. Owned by the server through a shared_ptr; asynchronous
// completions hold a weak_ptr and do nothing once the connection is gone.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "broker/core/event_loop.h"
#include "broker/core/fifo.h"
#include "broker/core/tls.h"
#include "protocols/mqtt/decoder.h"
#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt {

class MqttServer;
class Session;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `tls` null: plain TCP.
  Connection(MqttServer& server, int fd, std::string peer,
             std::shared_ptr<core::TlsContext> tls = nullptr);
  ~Connection();

  // Starts watching the socket and the CONNECT timeout.
  void start();
  // Queues a packet for the client (flushed at the end of this loop turn).
  void send(const Packet& packet);
  // Bytes waiting to be written.
  std::size_t pending_write_bytes() const { return out_.size(); }
  // Closes the connection. `abnormal` publishes the will; `reason` is logged and, for MQTT 5,
  // sent in a DISCONNECT when `reason_code` is set.
  void close(bool abnormal, const std::string& reason,
             std::optional<ReasonCode> reason_code = std::nullopt);
  bool closed() const { return fd_ < 0; }
  // The session detached from this connection (taken over by a new connection).
  void detach_session() { session_ = nullptr; }

  const std::string& peer() const { return peer_; }
  const std::string& client_id() const;
  ProtocolVersion version() const { return version_; }
  std::chrono::steady_clock::time_point connected_at() const { return connected_at_; }

 private:
  struct PendingAck {
    PacketType type;  // kPuback or kPubrec
    std::uint16_t packet_id;
    bool done = false;
    ReasonCode reason = ReasonCode::kSuccess;
  };

  void on_events(std::uint32_t events);
  void on_readable();
  // One read from the socket, its packets handled. False: nothing more to read now, or closed.
  bool read_once();
  ssize_t read_some(char* buf, std::size_t len);
  ssize_t write_some(const char* buf, std::size_t len);
  std::string io_error(const char* what) const;
  void flush();
  void schedule_flush();
  void update_interest();
  void handle(Packet& packet);
  void handle_connect(Connect& connect);
  // IoT Hub login (username/password): empty on success, else the CONNACK reason to refuse.
  std::optional<ReasonCode> check_iothub_login(const Connect& connect, std::string& why);
  void handle_publish(Publish& publish);
  void handle_subscribe(Subscribe& subscribe);
  void handle_unsubscribe(Unsubscribe& unsubscribe);
  void send_acks();
  // Refuses a publish: a failure reason code for MQTT 5 QoS 1/2, else closes the connection.
  void refuse_publish(const Publish& p, ReasonCode reason, const std::string& why);
  void arm_keep_alive();
  void arm_token_expiry();
  void finish_close(bool abnormal);
  // Closes because the client broke the protocol (counted in the stats).
  void protocol_error(const std::string& reason, ReasonCode code);

  MqttServer& server_;
  int fd_;
  std::string peer_;
  Decoder decoder_;
  std::string out_;
  bool flush_scheduled_ = false;
  bool want_write_ = false;
  bool read_wants_write_ = false;  // a TLS read waits for the socket to become writable
  std::unique_ptr<core::TlsSession> tls_;  // null: plain TCP
  bool reading_paused_ = false;
  Session* session_ = nullptr;
  bool connected_ = false;  // CONNECT accepted
  ProtocolVersion version_ = ProtocolVersion::kV311;
  std::optional<Will> will_;
  std::string device_id_;
  std::string why_refused_;  // set when the client logged in as an IoT Hub device
  std::uint16_t keep_alive_s_ = 0;
  std::chrono::steady_clock::time_point last_read_;
  std::chrono::steady_clock::time_point connected_at_;
  core::EventLoop::TimerId timer_ = 0;
  core::EventLoop::TimerId expiry_timer_ = 0;
  std::int64_t token_expiry_s_ = 0;  // the IoT Hub login's token "se"
  core::Fifo<PendingAck> acks_;
  std::uint64_t acks_base_ = 0;  // sequence number of acks_.front()
};

}  // namespace holdfast::mqtt
