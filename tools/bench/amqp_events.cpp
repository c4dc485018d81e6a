// The Proton side of `holdfast-bench amqp`: the event handlers of its connections (see
// amqp_load_impl.h). Every function here runs on a Proton thread, inside the batch of the
// connection it names, unless it says otherwise.
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include <algorithm>
#include <cstring>

#include "tools/bench/amqp_load_impl.h"

namespace holdfast::bench::amqp_detail {

std::string describe(pn_condition_t* c) {
  if (c == nullptr || !pn_condition_is_set(c)) return "(no condition)";
  const char* name = pn_condition_get_name(c);
  const char* desc = pn_condition_get_description(c);
  return std::string(name ? name : "?") + (desc && *desc ? std::string(": ") + desc : "");
}

// Any thread.
void Load::note_error(const std::string& e) {
  static const std::string kOthers = "(other errors)";
  std::lock_guard lock(errors_mu_);
  for (auto& [what, n] : errors_) {
    if (what == e) return void(++n);
  }
  if (errors_.size() < 19) {
    errors_.emplace_back(e, 1);
  } else if (errors_.back().first == kOthers) {
    ++errors_.back().second;
  } else {
    errors_.emplace_back(kOthers, 1);
  }
}

// Any thread.
std::vector<std::pair<std::string, std::uint64_t>> Load::errors() {
  std::lock_guard lock(errors_mu_);
  return errors_;
}

// Main thread.
void Load::wake(Conn& c) {
  std::lock_guard lock(c.mu);
  if (!c.gone) pn_connection_wake(c.pn);
}

void Load::run_thread() {
  for (bool more = true; more;) {
    pn_event_batch_t* batch = pn_proactor_wait(proactor);
    while (pn_event_t* e = pn_event_batch_next(batch)) {
      if (pn_event_type(e) == PN_PROACTOR_INTERRUPT) {
        more = false;
      } else {
        handle(e);
      }
    }
    pn_proactor_done(proactor, batch);
  }
  // Interrupts may coalesce: pass the word on to the next thread.
  if (threads_left.fetch_sub(1) > 1) pn_proactor_interrupt(proactor);
}

void Load::handle(pn_event_t* e) {
  pn_connection_t* pc = pn_event_connection(e);
  Conn* c = pc ? static_cast<Conn*>(pn_connection_get_context(pc)) : nullptr;
  if (c == nullptr) return;
  pn_link_t* pl = pn_event_link(e);
  LinkState* l = pl ? static_cast<LinkState*>(pn_link_get_context(pl)) : nullptr;
  switch (pn_event_type(e)) {
    case PN_LINK_REMOTE_OPEN:
      if (l && !l->sender && l->state.load() == 0 &&
          pn_terminus_get_type(pn_link_remote_source(pl)) != PN_UNSPECIFIED) {
        l->state.store(1);  // a refusal attaches without a source, then detaches
      }
      break;
    case PN_LINK_FLOW:
      if (l && l->sender) {
        if (l->state.load() == 0 && pn_link_credit(pl) > 0 &&
            pn_terminus_get_type(pn_link_remote_target(pl)) != PN_UNSPECIFIED) {
          l->state.store(1);
        }
        send_more(*l);
      }
      break;
    case PN_CONNECTION_WAKE:
      if (closing.load()) {
        if (!(pn_connection_state(pc) & PN_LOCAL_CLOSED)) pn_connection_close(pc);
      } else {
        for (LinkState* s : c->links) {
          if (s->sender) send_more(*s);
        }
      }
      break;
    case PN_DELIVERY: {
      pn_delivery_t* d = pn_event_delivery(e);
      if (l && l->sender) {
        on_outcome(*l, d);
      } else if (l) {
        on_transfer(*l, d);
      }
      break;
    }
    case PN_LINK_REMOTE_DETACH:
    case PN_LINK_REMOTE_CLOSE:
      if (l) {
        pn_condition_t* cond = pn_link_remote_condition(pl);
        if (pn_condition_is_set(cond) || !closing.load()) {
          ++link_errors;
          note_error(strprintf("%s link to '%s' closed by the broker: %s",
                               l->sender ? "sender" : "receiver", l->address.c_str(),
                               describe(cond).c_str()));
        }
        link_gone(*l);
        if (!(pn_link_state(pl) & PN_LOCAL_CLOSED)) pn_link_close(pl);
      }
      break;
    case PN_SESSION_REMOTE_CLOSE: {
      pn_session_t* s = pn_event_session(e);
      pn_condition_t* cond = pn_session_remote_condition(s);
      if (pn_condition_is_set(cond) || !closing.load()) {
        ++connection_errors;
        note_error("session ended by the broker: " + describe(cond));
      }
      for (LinkState* l2 : c->links) {
        if (pn_link_session(l2->pn) == s) link_gone(*l2);  // ended with their session
      }
      if (!(pn_session_state(s) & PN_LOCAL_CLOSED)) pn_session_close(s);
      break;
    }
    case PN_CONNECTION_REMOTE_CLOSE: {
      pn_condition_t* cond = pn_connection_remote_condition(pc);
      if (pn_condition_is_set(cond) || !closing.load()) {
        ++connection_errors;
        note_error("connection closed by the broker: " + describe(cond));
      }
      if (!(pn_connection_state(pc) & PN_LOCAL_CLOSED)) pn_connection_close(pc);
      break;
    }
    case PN_TRANSPORT_CLOSED: {
      pn_condition_t* cond = pn_transport_condition(pn_event_transport(e));
      if (pn_condition_is_set(cond)) {  // our own clean close sets none
        ++connection_errors;
        note_error("connection lost: " + describe(cond));
      }
      for (LinkState* s : c->links) link_gone(*s);
      std::lock_guard lock(c->mu);
      c->gone = true;
      ++conns_gone;
      break;
    }
    default:
      break;
  }
}

// Fills the sender's window with transfers, as far as the broker's credit goes.
void Load::send_more(LinkState& s) {
  if (!go.load() || stopping.load() || s.state.load() != 1) return;
  Conn& c = *s.conn;
  const std::int64_t now = amqp_now_ns();
  std::uint32_t n = 0;
  char tag[16];
  std::memcpy(tag + 8, &now, 8);  // the tag carries the send time back with the outcome
  if (s.stamp_at != std::string::npos) std::memcpy(s.encoded.data() + s.stamp_at, &now, 8);
  while (pn_link_credit(s.pn) > 0 && s.unsettled < o_.window) {
    std::memcpy(tag, &s.next_tag, 8);
    ++s.next_tag;
    pn_delivery(s.pn, pn_dtag(tag, sizeof tag));
    pn_link_send(s.pn, s.encoded.data(), s.encoded.size());
    pn_link_advance(s.pn);
    ++s.unsettled;
    ++n;
  }
  if (n == 0) return;
  sent.fetch_add(n, std::memory_order_relaxed);
  unsettled.fetch_add(n, std::memory_order_relaxed);
  if (in_window(now)) c.sent += n;
}

// A sender's transfer got a new remote state: count its outcome, settle it, send the next.
void Load::on_outcome(LinkState& s, pn_delivery_t* d) {
  const std::uint64_t state = pn_delivery_remote_state(d);
  const bool settled = pn_delivery_settled(d);
  if (!settled && (state == 0 || state == PN_RECEIVED)) return;  // no outcome yet
  const std::int64_t now = amqp_now_ns();
  Conn& c = *s.conn;
  pn_delivery_tag_t tag = pn_delivery_tag(d);
  std::int64_t sent_ns = now;
  if (tag.size == 16) std::memcpy(&sent_ns, tag.start + 8, 8);
  if (state == PN_ACCEPTED) {
    ++s.accepted;
    accepted.fetch_add(1, std::memory_order_relaxed);
    if (in_window(now)) {
      ++c.accepted;
      c.accept_us.record(static_cast<std::uint64_t>(std::max<std::int64_t>(now - sent_ns, 0)) /
                         1000);
    }
  } else if (state == PN_REJECTED) {
    ++rejected;
    note_error("transfer to '" + s.address +
               "' rejected: " + describe(pn_disposition_condition(pn_delivery_remote(d))));
  } else if (state == PN_RELEASED || state == PN_MODIFIED) {
    ++released;
    note_error("transfer to '" + s.address + "' " +
               (state == PN_RELEASED ? "released" : "modified") + " by the broker");
  } else {
    ++released;
    note_error(strprintf("transfer to '%s' settled with outcome %llu", s.address.c_str(),
                         static_cast<unsigned long long>(state)));
  }
  pn_delivery_settle(d);
  if (s.unsettled > 0) {
    --s.unsettled;
    unsettled.fetch_sub(1, std::memory_order_relaxed);
  }
  send_more(s);
}

// A receiver's transfer: read it once complete, accept it, keep the credit topped up.
void Load::on_transfer(LinkState& r, pn_delivery_t* d) {
  if (pn_delivery_aborted(d)) {
    ++link_errors;
    note_error("receiver on '" + r.address + "': transfer aborted by the broker");
    if (pn_link_current(r.pn) == d) pn_link_advance(r.pn);
    pn_delivery_settle(d);
    return;
  }
  if (!pn_delivery_readable(d) || pn_delivery_partial(d)) return;
  Conn& c = *r.conn;
  const std::int64_t now = amqp_now_ns();
  c.buffer.resize(pn_delivery_pending(d));
  ssize_t got = pn_link_recv(r.pn, c.buffer.data(), c.buffer.size());
  pn_link_advance(r.pn);
  std::int64_t sent_ns = 0;
  if (got > 0 && pn_message_decode(c.scratch, c.buffer.data(), static_cast<size_t>(got)) == 0) {
    pn_data_t* body = pn_message_body(c.scratch);
    pn_data_rewind(body);
    if (pn_data_next(body) && pn_data_type(body) == PN_BINARY) {
      pn_bytes_t b = pn_data_get_binary(body);
      if (b.size >= 8) std::memcpy(&sent_ns, b.start, 8);
    }
  }
  pn_delivery_update(d, PN_ACCEPTED);
  pn_delivery_settle(d);
  received.fetch_add(1, std::memory_order_relaxed);
  const bool stamped = sent_ns != 0;  // payloads under 8 bytes carry no send time
  if (stamped && (sent_ns < run_start.load(std::memory_order_relaxed) || sent_ns > now)) {
    received_backlog.fetch_add(1, std::memory_order_relaxed);  // queued before this run
  } else if (in_window(now)) {
    ++c.received;
    if (stamped) c.e2e_us.record(static_cast<std::uint64_t>(now - sent_ns) / 1000);
  }
  int credit = pn_link_credit(r.pn);
  if (credit <= static_cast<int>(o_.credit / 2)) {
    pn_link_flow(r.pn, static_cast<int>(o_.credit) - credit);
  }
}

void Load::link_gone(LinkState& l) {
  l.state.store(-1);
  if (l.unsettled > 0) {  // never settled: the broker forgets them with the link
    unsettled.fetch_sub(l.unsettled);
    lost.fetch_add(l.unsettled);
    l.unsettled = 0;
  }
}

}  // namespace holdfast::bench::amqp_detail
