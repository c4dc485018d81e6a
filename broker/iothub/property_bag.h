#pragma once
// The IoT Hub MQTT property bag: the last topic level of devices/{id}/messages/events/{bag}
// (device to cloud) and devices/{id}/messages/devicebound/{bag} (cloud to device), e.g.
// "%24.mid=42&%24.ct=application%2Fjson&temp=high". Pure functions; any thread; never block.
//
// Mapping between bag keys and core::Properties:
//   $.mid -> message_id        $.cid -> correlation_id
//   $.ct  -> content_type      $.ce  -> content_encoding
//   $.ctime -> creation_time_ms when it parses as an ISO 8601 UTC time (see iso8601.h);
//           otherwise it stays a user property named "$.ctime" with its text unchanged.
//   Every other key, including the other system keys ($.uid $.exp $.on $.ifid $.sub $.schema,
//   and $.to, iothub-ack... on cloud-to-device topics), is a user property under its decoded
//   name, in bag order. So a user property whose name starts with "$." is an IoT Hub system
//   property: an AMQP adapter must map it (e.g. $.sub -> dt-subject annotation, $.ctime ->
//   application property iothub-creation-time-utc) rather than send it as is.

#include <string>
#include <string_view>

#include "broker/core/message.h"
#include "broker/core/status.h"

namespace holdfast::iothub {

// Parses `bag` and applies it to `out`: the mapped system keys overwrite their fields (a key
// given twice: the last one wins), other keys are appended to out.user in order.
// - Keys and values are URL-decoded with core::url_decode ("%24" -> '$'; '+' stays '+').
// - "" and "/" are empty bags; one trailing '/' is ignored (C# SDKs add it); empty fields
//   ("a=1&&b=2") are skipped; a key without '=' has an empty value; a value runs to the next '&'
//   and may contain '='.
// Fails with kInvalidArgument on a bad %-escape or an empty key ("=v"); `out` is then left
// unchanged.
core::Status apply_property_bag(std::string_view bag, core::Properties& out);

// Encodes `properties` as a bag for a cloud-to-device topic or an upstream MQTT publish, without
// a leading or trailing '/': "%24.mid", "%24.cid", "%24.ct", "%24.ce", "%24.ctime" (formatted
// "YYYY-MM-DDTHH:MM:SS.mmmZ") for the fields that are set, then every user property in order.
// Names and values are encoded with core::url_encode ('$' -> "%24", '/' -> "%2F", ':' -> "%3A"),
// and every property is written as "name=value", even with an empty value.
// apply_property_bag(encode_property_bag(p), q) on empty q gives q == p, provided p has no user
// property named like a mapped system key and creation_time_ms lies in years 0000-9999.
std::string encode_property_bag(const core::Properties& properties);

}  // namespace holdfast::iothub
