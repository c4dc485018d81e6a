// holdfastd: the Holdfast daemon. See --help.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "broker/config/config.h"
#include "broker/core/log.h"
#include "broker/daemon/daemon.h"

#ifdef HOLDFAST_JEMALLOC
constexpr const char* kAllocator = " (jemalloc)";
#else
constexpr const char* kAllocator = "";
#endif

namespace {

constexpr const char* kUsage =
    R"(holdfastd — Holdfast edge broker: MQTT/AMQP/CoAP in, durable queues, IoT Hub out.

Usage:
  holdfastd [--config FILE]        run (no FILE: the built-in default configuration)
  holdfastd --check-config FILE    validate FILE, print every error with line and reason
  holdfastd --print-default-config print the default configuration, documented line by line
  holdfastd --version | --help

The default configuration listens on 1883 (MQTT), 5672 (AMQP) and 5683 (CoAP), stores messages
in ./data/store, routes devices/{id}/messages/events to one queue per device (iothub/{id}) and
serves metrics on http://127.0.0.1:8088/metrics. conf/holdfast.toml is that configuration with
every setting explained.

Signals: SIGTERM or SIGINT shut down cleanly (stop accepting, finish pending commits, close
connections, exit 0); a second one exits at once with status 130.

Exit status: 0 clean shutdown, 1 cannot start (the reason is printed), 2 bad usage or config.
)";

holdfast::core::LogLevel log_level(holdfast::config::LogLevel level) {
  using C = holdfast::config::LogLevel;
  using L = holdfast::core::LogLevel;
  switch (level) {
    case C::kTrace:
      return L::kTrace;
    case C::kDebug:
      return L::kDebug;
    case C::kInfo:
      return L::kInfo;
    case C::kWarn:
      return L::kWarn;
    case C::kError:
      return L::kError;
  }
  return L::kInfo;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace holdfast;
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "holdfastd: " << arg << " needs a value (see --help)\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "holdfastd " << HOLDFAST_VERSION << kAllocator << "\n";
      return 0;
    } else if (arg == "--print-default-config") {
      std::cout << config::print_default_config();
      return 0;
    } else if (arg == "--check-config") {
      std::string path = value();
      return config::check_config_command(path, std::cout, std::cerr) == 0 ? 0 : 2;
    } else if (arg == "--config" || arg == "-c") {
      config_path = value();
    } else {
      std::cerr << "holdfastd: unknown argument '" << arg << "' (see --help)\n";
      return 2;
    }
  }

  config::Config config = config::default_config();
  if (!config_path.empty()) {
    auto loaded = config::load_config_file(config_path);
    if (!loaded) {
      std::cerr << "holdfastd: cannot use " << config_path << ":\n"
                << loaded.error().message() << "\n";
      return 2;
    }
    config = std::move(*loaded);
  }
  core::LogOptions log_options{log_level(config.log.level), config.log.file,
                               config.log.repeat_interval};
  if (auto s = core::configure_logging(log_options); !s.ok()) {
    std::cerr << "holdfastd: " << s.message() << "\n";
    return 1;
  }

  // Signals are taken by this thread with sigwait(); every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  core::log_info("holdfastd", std::string("starting holdfastd ") + HOLDFAST_VERSION +
                                  (config_path.empty() ? " with the default configuration"
                                                       : " with " + config_path));
  auto daemon = daemon::Daemon::start(config);
  if (!daemon) {
    core::log_error("holdfastd", "cannot start: " + daemon.error().to_string());
    std::cerr << "holdfastd: cannot start: " << daemon.error().message() << "\n";
    return 1;
  }

  int sig = 0;
  sigwait(&signals, &sig);
  core::log_info("holdfastd", std::string("received ") + strsignal(sig) + ", shutting down");
  std::thread([signals] {
    int again = 0;
    sigwait(&signals, &again);
    const char msg[] = "holdfastd: second signal, exiting now\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(130);
  }).detach();
  (*daemon)->shutdown();
  return 0;
}
