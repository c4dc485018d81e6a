#include "broker/core/delivery_watch.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace holdfast::core {
namespace {

struct Recorder {
  std::vector<Outcome> reports;
  std::shared_ptr<DeliveryWatch> make() {
    return DeliveryWatch::make([this](Outcome o) { reports.push_back(o); });
  }
};

TEST(DeliveryWatch, AcceptedClaimReportsAtOnceAndOnlyOnce) {
  Recorder r;
  auto w = r.make();
  DeliveryClaim a = w->claim();
  DeliveryClaim b = w->claim();
  w->close();
  EXPECT_TRUE(r.reports.empty());  // two receivers still owe an answer
  a.settle(Outcome::kAccepted);
  ASSERT_EQ(r.reports, std::vector<Outcome>{Outcome::kAccepted});
  b.settle(Outcome::kRejected);  // the first answer is the outcome
  EXPECT_EQ(r.reports, std::vector<Outcome>{Outcome::kAccepted});
}

TEST(DeliveryWatch, RejectedClaimReportsRejected) {
  Recorder r;
  auto w = r.make();
  DeliveryClaim a = w->claim();
  w->close();
  a.settle(Outcome::kRejected);
  EXPECT_EQ(r.reports, std::vector<Outcome>{Outcome::kRejected});
}

TEST(DeliveryWatch, ReleasedOnlyOnceEveryClaimEndedAndThePublisherClosed) {
  Recorder r;
  auto w = r.make();
  DeliveryClaim a = w->claim();
  DeliveryClaim b = w->claim();
  a.settle(Outcome::kReleased);
  b.settle(Outcome::kModified);
  EXPECT_TRUE(r.reports.empty());  // the submit has not finished: a routed copy may accept
  w->close();
  EXPECT_EQ(r.reports, std::vector<Outcome>{Outcome::kReleased});
}

TEST(DeliveryWatch, ADroppedClaimCountsAsReleased) {
  Recorder r;
  auto w = r.make();
  std::optional<DeliveryClaim> a(w->claim());
  w->close();
  EXPECT_TRUE(r.reports.empty());
  a.reset();  // e.g. the session ended before its client answered
  EXPECT_EQ(r.reports, std::vector<Outcome>{Outcome::kReleased});
}

TEST(DeliveryWatch, MovedClaimStaysOpenAndAssigningOverOneReleasesIt) {
  Recorder r;
  auto w = r.make();
  DeliveryClaim a = w->claim();
  DeliveryClaim moved = std::move(a);
  EXPECT_FALSE(static_cast<bool>(a));  // NOLINT(bugprone-use-after-move): checking the move
  w->close();
  EXPECT_TRUE(r.reports.empty());
  moved = DeliveryClaim();  // the old claim ends unsettled
  EXPECT_EQ(r.reports, std::vector<Outcome>{Outcome::kReleased});
}

TEST(DeliveryWatch, AcceptWithoutClaimAndCancel) {
  Recorder r;
  auto w = r.make();
  w->accept();  // e.g. stored in a routed queue
  w->close();
  EXPECT_EQ(r.reports, std::vector<Outcome>{Outcome::kAccepted});

  Recorder r2;
  auto w2 = r2.make();
  DeliveryClaim c = w2->claim();
  w2->cancel();
  c.settle(Outcome::kAccepted);
  w2->close();
  EXPECT_TRUE(r2.reports.empty());
}

TEST(DeliveryWatch, NoReceiverAtAllReportsReleasedAtClose) {
  Recorder r;
  auto w = r.make();
  EXPECT_EQ(w->claims_taken(), 0u);
  w->close();
  EXPECT_EQ(r.reports, std::vector<Outcome>{Outcome::kReleased});
}

}  // namespace
}  // namespace holdfast::core
