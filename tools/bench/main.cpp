// holdfast-bench: benchmarks of Holdfast's parts, one subcommand each. They print figures and
// compare them with targets; none of them asserts anything.
#include <CLI/CLI.hpp>

#include "tools/bench/amqp_bench.h"
#include "tools/bench/coap_bench.h"
#include "tools/bench/mqtt_bench.h"
#include "tools/bench/store_bench.h"

int main(int argc, char** argv) {
  CLI::App app(
      "holdfast-bench: benchmarks of Holdfast's parts. Each subcommand prints its figures and a "
      "summary against the targets, and asserts nothing. Run `holdfast-bench SUBCOMMAND --help` "
      "for a subcommand's options and their defaults.");
  app.require_subcommand(1, 1);
  int exit_code = 0;
  holdfast::bench::add_store_commands(app, exit_code);
  holdfast::bench::add_mqtt_commands(app, exit_code);
  holdfast::bench::add_coap_commands(app, exit_code);
  holdfast::bench::add_amqp_commands(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
