// The AMQP devices' wire format, checked by decoding with Proton's own pn_message / pn_data:
// the C SDK's put-token request, its reply's type rules, telemetry messages and IoT Hub batches.
#include <gtest/gtest.h>
#include <proton/codec.h>
#include <proton/message.h>

#include <cstdlib>
#include <memory>

#include "tools/devsim/amqp_wire.h"

namespace holdfast::devsim {
namespace {

struct MessageDeleter {
  void operator()(pn_message_t* m) const { pn_message_free(m); }
};
using MessagePtr = std::unique_ptr<pn_message_t, MessageDeleter>;

std::string str(pn_bytes_t b) {
  return std::string(b.start, b.size);
}

MessagePtr decode(const std::string& bytes) {
  MessagePtr m(pn_message());
  EXPECT_EQ(pn_message_decode(m.get(), bytes.data(), bytes.size()), 0);
  return m;
}

// The string application properties of `m`, in order.
std::vector<std::pair<std::string, std::string>> app_properties(pn_message_t* m) {
  std::vector<std::pair<std::string, std::string>> out;
  pn_data_t* d = pn_message_properties(m);
  pn_data_rewind(d);
  if (!pn_data_next(d) || pn_data_type(d) != PN_MAP) return out;
  std::size_t n = pn_data_get_map(d);
  pn_data_enter(d);
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    pn_data_next(d);
    std::string k = str(pn_data_get_string(d));
    pn_data_next(d);
    out.emplace_back(k, str(pn_data_get_string(d)));
  }
  return out;
}

std::string encode(pn_message_t* m) {
  pn_rwbytes_t buf{0, nullptr};
  ssize_t n = pn_message_encode2(m, &buf);
  std::string out(buf.start, static_cast<std::size_t>(n > 0 ? n : 0));
  std::free(buf.start);
  return out;
}

// A put-token reply with the given correlation-id and status-code types.
std::string reply(pn_msgid_t correlation, bool int_status, int status) {
  MessagePtr m(pn_message());
  pn_message_set_correlation_id(m.get(), correlation);
  pn_data_t* p = pn_message_properties(m.get());
  pn_data_put_map(p);
  pn_data_enter(p);
  pn_data_put_string(p, pn_bytes(11, "status-code"));
  if (int_status) {
    pn_data_put_int(p, status);
  } else {
    pn_data_put_long(p, status);
  }
  pn_data_put_string(p, pn_bytes(18, "status-description"));
  pn_data_put_string(p, pn_bytes(2, "OK"));
  pn_data_exit(p);
  return encode(m.get());
}

pn_msgid_t ulong_id(std::uint64_t v) {
  pn_msgid_t id{};
  id.type = PN_ULONG;
  id.u.as_ulong = v;
  return id;
}

TEST(PutToken, AsTheCSdkSendsIt) {
  auto m = decode(encode_put_token(3, "hub/devices/dev2", "SharedAccessSignature sr=x"));
  pn_msgid_t id = pn_message_get_id(m.get());
  ASSERT_EQ(id.type, PN_ULONG);
  EXPECT_EQ(id.u.as_ulong, 3u);
  EXPECT_EQ(pn_message_get_reply_to(m.get()), nullptr);
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(app_properties(m.get()), (std::vector<P>{{"operation", "put-token"},
                                                     {"type", "servicebus.windows.net:sastoken"},
                                                     {"name", "hub/devices/dev2"}}));
  pn_data_t* body = pn_message_body(m.get());
  pn_data_rewind(body);
  ASSERT_TRUE(pn_data_next(body));
  ASSERT_EQ(pn_data_type(body), PN_STRING);  // an amqp-value string
  EXPECT_EQ(str(pn_data_get_string(body)), "SharedAccessSignature sr=x");
}

TEST(PutTokenReply, UlongCorrelationAndIntStatusAreRead) {
  auto r = decode_put_token_reply(reply(ulong_id(4), true, 200));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.correlation_id, 4u);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.description, "OK");
  EXPECT_EQ(decode_put_token_reply(reply(ulong_id(1), true, 401)).status, 401);
}

TEST(PutTokenReply, OtherTypesAreRejectedAsTheCSdkDoes) {
  EXPECT_NE(decode_put_token_reply(reply(ulong_id(1), false, 200)).error, "");
  pn_msgid_t string_id{};
  string_id.type = PN_STRING;
  string_id.u.as_bytes = pn_bytes(1, "1");
  EXPECT_NE(decode_put_token_reply(reply(string_id, true, 200)).error, "");
  EXPECT_NE(decode_put_token_reply("not amqp").error, "");
  EXPECT_NE(decode_put_token_reply("").error, "");
}

TEST(DeviceMessage, IdContentTypeSeqAndDataBody) {
  DeviceMessage dm = device_message("dev9", 17, std::string("\0\x01payload", 9));
  auto m = decode(encode_message(dm));
  pn_msgid_t id = pn_message_get_id(m.get());
  ASSERT_EQ(id.type, PN_STRING);
  EXPECT_EQ(str(id.u.as_bytes), "dev9-17");
  EXPECT_STREQ(pn_message_get_content_type(m.get()), "application/octet-stream");
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(app_properties(m.get()), (std::vector<P>{{"seq", "17"}}));
  pn_data_t* body = pn_message_body(m.get());
  pn_data_rewind(body);
  ASSERT_TRUE(pn_data_next(body));
  ASSERT_EQ(pn_data_type(body), PN_BINARY);
  EXPECT_EQ(str(pn_data_get_binary(body)), std::string("\0\x01payload", 9));
  EXPECT_TRUE(pn_message_is_inferred(m.get()));  // a data section, not an amqp-value
}

TEST(DeviceMessage, DecodedBackAsACloudToDeviceMessage) {
  auto r = decode_message(encode_message(device_message("d", 2, "abc")));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload, "abc");
  EXPECT_EQ(r->message_id, "d-2");
  EXPECT_EQ(r->correlation_id, "");
  ASSERT_EQ(r->properties.size(), 1u);
  EXPECT_EQ(r->properties[0].second, "2");
  EXPECT_FALSE(decode_message(""));
}

TEST(Batch, OneDataSectionPerCompleteMessage) {
  std::vector<DeviceMessage> messages;
  for (std::uint64_t seq = 0; seq < 3; ++seq) {
    messages.push_back(device_message("dev1", seq, "p" + std::to_string(seq)));
  }
  std::string body = encode_batch(messages);
  pn_data_t* d = pn_data(16);
  std::size_t at = 0, sections = 0;
  while (at < body.size()) {
    pn_data_clear(d);
    ssize_t used = pn_data_decode(d, body.data() + at, body.size() - at);
    ASSERT_GT(used, 0);
    at += static_cast<std::size_t>(used);
    pn_data_rewind(d);
    ASSERT_TRUE(pn_data_next(d));
    ASSERT_EQ(pn_data_type(d), PN_DESCRIBED);
    pn_data_enter(d);
    pn_data_next(d);
    EXPECT_EQ(pn_data_get_ulong(d), 0x75u);  // data
    pn_data_next(d);
    std::string inner = str(pn_data_get_binary(d));
    auto m = decode(inner);
    EXPECT_EQ(str(pn_message_get_id(m.get()).u.as_bytes), "dev1-" + std::to_string(sections));
    ++sections;
  }
  pn_data_free(d);
  EXPECT_EQ(sections, 3u);
  EXPECT_EQ(encode_batch({}), "");
}

}  // namespace
}  // namespace holdfast::devsim
