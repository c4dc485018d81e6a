#pragma once
// `holdfast-bench mqtt`: an MQTT 3.1.1 load generator for any broker (holdfastd, mosquitto, ...),
// built on Eclipse Paho's asynchronous C client (MQTTAsync, libpaho-mqtt3as):
//   publishers   N clients, each publishing to devices/dev{i}/messages/events (so holdfastd
//                stores every message in that device's queue) with a window of unacknowledged
//                publishes; a PUBACK (QoS 1) or PUBCOMP (QoS 2) frees a slot for the next one
//   subscribers  M clients subscribed to devices/+/messages/events, each receiving every message
// It prints msgs/s published, acknowledged and received, publish-to-acknowledgement latency and
// (with subscribers) publish-to-delivery latency. The first 8 payload bytes carry the send
// time; the rest are random. Paho serves all the clients of a process with one send and one
// receive thread; --processes K splits the clients over K worker processes (fork) whose figures
// are merged. bench/mqtt.sh runs it against holdfastd and mosquitto side by side. The load itself
// is mqtt_load.h. It asserts nothing.

namespace CLI {
class App;
}

namespace holdfast::bench {

// Adds `mqtt` to `app`. When it runs it sets `exit_code` (non-zero only when the benchmark could
// not run: no connection, lost connections, refused publishes; never because of a figure).
void add_mqtt_commands(CLI::App& app, int& exit_code);

}  // namespace holdfast::bench
