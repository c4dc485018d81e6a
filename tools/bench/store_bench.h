#pragma once
// `holdfast-bench store`: throughput, write amplification and reopen cost of the RocksDB queue
// store (storage/rocks_queue_store.h), each measured in the same run:
//   append  durable appends/s with group commit vs one synced write per message, fsyncs per
//           message, batch size, append latency
//   drain   producers and a consumer (read + commit) at once: bytes written to disk per payload
//           byte, from /proc/self/io
//   reopen  reopen-to-ready time and peak RSS of a store holding many messages, measured in a
//           fresh child process (hidden subcommand `store-reopen PATH`)
// It prints figures and a summary against the targets; it asserts nothing.

namespace CLI {
class App;
}

namespace holdfast::bench {

// Adds `store` and the hidden `store-reopen` to `app`. A subcommand that runs sets `exit_code`
// (non-zero only when the benchmark could not run, never because a target was missed).
void add_store_commands(CLI::App& app, int& exit_code);

}  // namespace holdfast::bench
