#include "bridge/hub_connection.h"

#include "bridge/amqp_hub_connection.h"
#include "bridge/mqtt_hub_connection.h"

namespace holdfast::bridge {

std::unique_ptr<HubConnection> make_hub_connection(core::EventLoop& loop,
                                                   HubConnectionOptions options,
                                                   HubConnection::Listener& listener) {
  if (options.protocol == HubProtocol::kMqtt) {
    return std::make_unique<MqttHubConnection>(loop, std::move(options), listener);
  }
  return std::make_unique<AmqpHubConnection>(loop, std::move(options), listener);
}

}  // namespace holdfast::bridge
