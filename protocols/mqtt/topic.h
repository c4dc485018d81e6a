#pragma once
// Checks of MQTT strings, topic names and topic filters (MQTT 5 sections 1.5.4 and 4.7).
//
// The decoder and the encoder use is_valid_utf8() on every UTF-8 Encoded String and reject
// wildcards in topic names. They do not check topic filter syntax: a server answers a bad filter
// with a SUBACK failure code (0x8F Topic Filter invalid in MQTT 5), not by disconnecting, so it
// calls is_valid_topic_filter() itself.
//
// Concurrency: pure functions; any thread.

#include <string_view>

namespace holdfast::mqtt {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates U+D800..DFFF,
// nothing above U+10FFFF) and holds no U+0000, as MQTT-1.5.3-1 and -2 require. Control
// characters and non-characters are allowed (the specification says "SHOULD NOT").
bool is_valid_utf8(std::string_view s);

// True when `topic` can name a PUBLISH topic: non-empty valid UTF-8 without '+' or '#'.
bool is_valid_topic_name(std::string_view topic);

// True when `filter` is a valid topic filter: non-empty valid UTF-8, '#' only as the whole last
// level, '+' only as a whole level. A shared subscription ("$share/<name>/<filter>") needs a
// non-empty share name without '/', '+' or '#' and a valid filter after it.
bool is_valid_topic_filter(std::string_view filter);

// True when `filter` starts with "$share/" (an MQTT 5 shared subscription).
bool is_shared_subscription(std::string_view filter);

}  // namespace holdfast::mqtt
