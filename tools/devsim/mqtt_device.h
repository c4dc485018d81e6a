#pragma once
// MQTT devices in IoT Hub's conventions, on Eclipse Paho's asynchronous C client (MQTTAsync;
// libpaho-mqtt3as, which also does TLS): MQTT 3.1.1, client id = device id, username
// "{hub}/{id}/?api-version=2021-04-12", password a SAS token, telemetry at QoS 1 to
// devices/{id}/messages/events/{property bag} with $.mid = "{id}-{seq}", $.ct and a `seq`
// property. With c2d, each device subscribes devices/{id}/messages/devicebound/# at QoS 1 and
// prints every cloud-to-device message it receives (Paho acknowledges it: the device's
// "complete").
//
// Each device keeps up to `window` publishes unacknowledged ("as fast as acks allow" when
// options.rate is 0), paced by --rate, until --count or --duration (counted from the device's
// CONNACK). With c2d, the devices stay connected after their messages are acknowledged, until
// their --duration is over or SIGINT/SIGTERM.
//
// Concurrency: run_mqtt_devices() blocks the calling thread, which sends; Paho's threads run
// the callbacks.
#include <string>

#include "tools/devsim/common.h"

namespace holdfast::devsim {

struct MqttDeviceOptions {
  bool tls = false;
  std::string ca_file;  // TLS: CA bundle verifying the gateway (empty: the system's)
  bool c2d = false;
  int window = 16;  // unacknowledged publishes per device
};

// Runs the devices and prints their JSON lines and the summary; returns the exit status
// (common.h).
int run_mqtt_devices(const CommonOptions& common, const Prepared& prepared,
                     const MqttDeviceOptions& options, Output& out);

}  // namespace holdfast::devsim
