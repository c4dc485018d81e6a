// The AMQP message codec against messages encoded by Proton's own pn_message (an encoder we did
// not write), plus hand-made malformed inputs.
#include "protocols/amqp/message_codec.h"

#include <gtest/gtest.h>
#include <proton/codec.h>
#include <proton/message.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>

namespace holdfast::amqp {
namespace {

struct MessageDeleter {
  void operator()(pn_message_t* m) const { pn_message_free(m); }
};
using MessagePtr = std::unique_ptr<pn_message_t, MessageDeleter>;

std::string encode(pn_message_t* m) {
  pn_rwbytes_t buf{0, nullptr};
  ssize_t n = pn_message_encode2(m, &buf);
  std::string out(buf.start, static_cast<std::size_t>(n > 0 ? n : 0));
  std::free(buf.start);
  return out;
}

pn_bytes_t bytes(const std::string& s) {
  return pn_bytes(s.size(), s.data());
}

// A telemetry message as an IoT Hub device would send it; the body is binary in a data section.
MessagePtr telemetry(const std::string& body) {
  MessagePtr m(pn_message());
  pn_message_set_inferred(m.get(), true);
  pn_msgid_t id;
  id.type = PN_ULONG;
  id.u.as_ulong = 42;
  pn_message_set_id(m.get(), id);
  pn_msgid_t cid;
  cid.type = PN_STRING;
  cid.u.as_bytes = pn_bytes(4, "corr");
  pn_message_set_correlation_id(m.get(), cid);
  pn_message_set_content_type(m.get(), "application/json");
  pn_message_set_content_encoding(m.get(), "utf-8");
  pn_message_set_creation_time(m.get(), 1700000000123);
  pn_message_set_address(m.get(), "devices/dev1/messages/events");
  pn_data_t* props = pn_message_properties(m.get());
  pn_data_put_map(props);
  pn_data_enter(props);
  pn_data_put_string(props, pn_bytes(4, "unit"));
  pn_data_put_string(props, pn_bytes(1, "C"));
  pn_data_put_string(props, pn_bytes(5, "count"));
  pn_data_put_int(props, -7);
  pn_data_exit(props);
  pn_data_put_binary(pn_message_body(m.get()), bytes(body));
  return m;
}

std::string data_section(const std::string& content) {
  std::unique_ptr<pn_data_t, decltype(&pn_data_free)> d(pn_data(4), pn_data_free);
  pn_data_put_described(d.get());
  pn_data_enter(d.get());
  pn_data_put_ulong(d.get(), 0x75);
  pn_data_put_binary(d.get(), bytes(content));
  pn_data_exit(d.get());
  std::string out(static_cast<std::size_t>(pn_data_encoded_size(d.get())), '\0');
  pn_data_encode(d.get(), out.data(), out.size());
  return out;
}

TEST(MessageCodec, DecodesPropertiesApplicationPropertiesAndDataBody) {
  std::string body("\x00\x01\x02tea\xff", 7);
  auto m = telemetry(body);
  std::string wire = encode(m.get());
  auto decoded = decode_message(wire);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(decoded->payload, body);
  EXPECT_EQ(decoded->properties.message_id, "42");
  EXPECT_EQ(decoded->properties.correlation_id, "corr");
  EXPECT_EQ(decoded->properties.content_type, "application/json");
  EXPECT_EQ(decoded->properties.content_encoding, "utf-8");
  EXPECT_EQ(decoded->properties.creation_time_ms, 1700000000123);
  EXPECT_EQ(decoded->to, "devices/dev1/messages/events");
  core::UserProperties expected{{"unit", "C"}, {"count", "-7"}};
  EXPECT_EQ(decoded->properties.user, expected);
  EXPECT_TRUE(decoded->has_body);
  EXPECT_TRUE(decoded->has_bare_properties);
  ASSERT_EQ(decoded->data_sections.size(), 1u);
  EXPECT_EQ(decoded->data_sections[0], body);
}

TEST(MessageCodec, KeepsEverythingButHeaderAndDeliveryAnnotationsByteForByte) {
  auto m = telemetry("payload");
  std::string plain = encode(m.get());
  pn_message_set_durable(m.get(), true);
  pn_message_set_delivery_count(m.get(), 3);
  pn_data_t* da = pn_message_instructions(m.get());  // delivery-annotations
  pn_data_put_map(da);
  pn_data_enter(da);
  pn_data_put_symbol(da, pn_bytes(5, "x-hop"));
  pn_data_put_int(da, 1);
  pn_data_exit(da);
  std::string wire = encode(m.get());
  ASSERT_GT(wire.size(), plain.size());
  auto decoded = decode_message(wire);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(decoded->delivery_count, 3u);
  // Kept: from the properties section (0x73) to the end, exactly as sent.
  ASSERT_GE(decoded->kept.size(), 3u);
  EXPECT_EQ(decoded->kept.substr(0, 3), std::string("\x00\x53\x73", 3));
  EXPECT_EQ(wire.substr(wire.size() - decoded->kept.size()), decoded->kept);
  auto without_header = decode_message(plain);
  ASSERT_TRUE(without_header);
  EXPECT_EQ(without_header->kept, decoded->kept);
}

TEST(MessageCodec, MessageAnnotationsAreKept) {
  auto m = telemetry("p");
  pn_data_t* ma = pn_message_annotations(m.get());
  pn_data_put_map(ma);
  pn_data_enter(ma);
  pn_data_put_symbol(ma, pn_bytes(10, "dt-subject"));
  pn_data_put_string(ma, pn_bytes(3, "abc"));
  pn_data_exit(ma);
  std::string wire = encode(m.get());
  auto decoded = decode_message(wire);
  ASSERT_TRUE(decoded);
  ASSERT_GE(decoded->kept.size(), 3u);
  EXPECT_EQ(decoded->kept.substr(0, 3), std::string("\x00\x53\x72", 3));  // message-annotations
  EXPECT_EQ(wire.substr(wire.size() - decoded->kept.size()), decoded->kept);
}

TEST(MessageCodec, AmqpValueBodies) {
  MessagePtr s(pn_message());
  pn_data_put_string(pn_message_body(s.get()), pn_bytes(5, "hello"));
  auto a = decode_message(encode(s.get()));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->payload, "hello");
  EXPECT_TRUE(a->data_sections.empty());

  MessagePtr n(pn_message());
  pn_data_put_int(pn_message_body(n.get()), 258);
  auto b = decode_message(encode(n.get()));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->payload, std::string("\x71\x00\x00\x01\x02", 5));  // the value's own encoding
}

TEST(MessageCodec, EncodeRoundTripsThroughProton) {
  core::Message m;
  m.address = "sensors/a";
  m.payload = std::string("\x00\x01raw", 5);
  m.properties.message_id = "m1";
  m.properties.correlation_id = "c1";
  m.properties.content_type = "application/octet-stream";
  m.properties.content_encoding = "tea";
  m.properties.creation_time_ms = 1234;
  m.properties.user = {{"a", "1"}, {"b", "2"}, {"a", "repeated"}};
  std::string wire = encode_message(m, 2);
  MessagePtr out(pn_message());
  ASSERT_EQ(pn_message_decode(out.get(), wire.data(), wire.size()), 0);
  EXPECT_EQ(pn_message_get_delivery_count(out.get()), 2u);
  EXPECT_TRUE(pn_message_is_durable(out.get()));
  EXPECT_STREQ(pn_message_get_address(out.get()), "sensors/a");
  EXPECT_STREQ(pn_message_get_content_type(out.get()), "application/octet-stream");
  EXPECT_EQ(pn_message_get_creation_time(out.get()), 1234);
  auto decoded = decode_message(wire);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->payload, m.payload);
  EXPECT_EQ(decoded->properties.message_id, "m1");
  core::UserProperties first_wins{{"a", "1"}, {"b", "2"}};
  EXPECT_EQ(decoded->properties.user, first_wins);
}

TEST(MessageCodec, EncodeForwardsTheKeptSectionsExactly) {
  auto device = telemetry("exact");
  auto decoded = decode_message(encode(device.get()));
  ASSERT_TRUE(decoded);
  std::string kept = decoded->kept;
  core::Message m = to_core_message(std::move(*decoded));
  std::string wire = encode_message(m, 0);
  ASSERT_GT(wire.size(), kept.size());
  EXPECT_EQ(wire.substr(wire.size() - kept.size()), kept);  // a header, then the device's bytes
}

TEST(MessageCodec, RecognisesIotHubBatches) {
  std::string batch;
  for (int i = 0; i < 3; ++i) batch += data_section(encode(telemetry("m" + std::to_string(i)).get()));
  auto outer = decode_message(batch);
  ASSERT_TRUE(outer);
  auto inner = decode_batch(*outer);
  ASSERT_TRUE(inner);
  ASSERT_EQ(inner->size(), 3u);
  EXPECT_EQ((*inner)[2].payload, "m2");
  EXPECT_EQ((*inner)[0].properties.message_id, "42");
}

TEST(MessageCodec, BatchesBuiltWithAppendDataSectionDecodeBackAndProtonReadsThem) {
  std::string batch;
  std::vector<std::string> payloads = {"a", std::string(300, 'b'), std::string("\x00\xff", 2)};
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    core::Message m;
    m.payload = payloads[i];
    m.properties.message_id = "id" + std::to_string(i);
    append_data_section(batch, encode_message(m, 0));  // short and long (vbin32) sections
  }
  MessagePtr proton(pn_message());  // an encoder we did not write agrees it is well formed
  ASSERT_EQ(pn_message_decode(proton.get(), batch.data(), batch.size()), 0);
  auto outer = decode_message(batch);
  ASSERT_TRUE(outer);
  auto inner = decode_batch(*outer);
  ASSERT_TRUE(inner);
  ASSERT_EQ(inner->size(), payloads.size());
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ((*inner)[i].payload, payloads[i]);
    EXPECT_EQ((*inner)[i].properties.message_id, "id" + std::to_string(i));
  }
}

TEST(MessageCodec, OrdinaryMessagesAreNotBatches) {
  // Random binary payloads (as TEA-encrypted telemetry looks) in one or more data sections.
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::string wire;
    for (int s = 0; s < 1 + round % 3; ++s) {
      std::string payload(static_cast<std::size_t>(1 + rng() % 64), '\0');
      for (char& c : payload) c = static_cast<char>(rng());
      wire += data_section(payload);
    }
    auto decoded = decode_message(wire);
    ASSERT_TRUE(decoded);
    EXPECT_FALSE(decode_batch(*decoded)) << "round " << round;
  }
  // Data sections that hold messages, but with properties on the outer message: not a batch.
  auto with_props = telemetry(encode(telemetry("inner").get()));
  auto decoded = decode_message(encode(with_props.get()));
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(decode_batch(*decoded));
}

TEST(MessageCodec, MalformedInputIsRefused) {
  std::string good = encode(telemetry("x").get());
  EXPECT_FALSE(decode_message(good.substr(0, good.size() - 2)));  // truncated
  EXPECT_FALSE(decode_message(std::string("\x00\x53\x99\x40", 4)));  // unknown section 0x99
  EXPECT_FALSE(decode_message(std::string("\xa1\x03" "abc", 5)));    // not a described type
  EXPECT_FALSE(decode_message(std::string("\xff\xff\xff", 3)));     // garbage
  // Properties after the body: out of order.
  auto body_only = decode_message(data_section("b"));
  ASSERT_TRUE(body_only);
  MessagePtr props(pn_message());
  pn_message_set_content_type(props.get(), "x");
  std::string props_only = encode(props.get());  // properties + an empty amqp-value body
  EXPECT_FALSE(decode_message(data_section("b") + props_only));
  EXPECT_TRUE(decode_message(""));  // an empty message is legal: no sections at all
}

TEST(MessageCodec, RandomBytesNeverCrash) {
  std::mt19937 rng(11);
  std::string good = encode(telemetry("fuzz me").get());
  for (int i = 0; i < 5000; ++i) {
    std::string bytes = good;
    for (int flips = 0; flips < 3; ++flips) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    auto decoded = decode_message(bytes);
    if (decoded) (void)decode_batch(*decoded);
  }
}

}  // namespace
}  // namespace holdfast::amqp
