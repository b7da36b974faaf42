package queue_test

import (
	"testing"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

func memoryStore(*testing.T) queue.Store { return queue.NewMemoryStore() }

// postgresStore gives each test a schema of its own.
func postgresStore(t *testing.T) queue.Store {
	pool, _ := dbtest.NewSchema(t)
	return queue.NewPostgresStore(pool)
}

// serviceSuite is every Service test that runs on any Store.
var serviceSuite = []struct {
	name string
	run  func(t *testing.T, newStore storeFunc)
}{
	{"FIFOPerQueue", testFIFOPerQueue},
	{"QueuesTakeTurnsByJoinTime", testQueuesTakeTurnsByJoinTime},
	{"LongestIdleGuideGetsFirstOffer", testLongestIdleGuideGetsFirstOffer},
	{"OfferTimesOutAndMovesToNextGuide", testOfferTimesOutAndMovesToNextGuide},
	{"TwoMissedOffersSetGuideAway", testTwoMissedOffersSetGuideAway},
	{"AcceptResetsMissedOffers", testAcceptResetsMissedOffers},
	{"DeclineKeepsPlace", testDeclineKeepsPlace},
	{"DeclinedOfferMovesToAnotherGuide", testDeclinedOfferMovesToAnotherGuide},
	{"DeclineByOtherGuide", testDeclineByOtherGuide},
	{"ShopperCancelWhileOffered", testShopperCancelWhileOffered},
	{"Accept", testAccept},
	{"CallItemsOnlyInLiveCallByParties", testCallItems},
	{"RateCallOnceAfterItEnded", testRateCall},
	{"AcceptAfterDeadlineFails", testAcceptAfterDeadlineFails},
	{"AcceptRacingShopperCancel", testAcceptRacingShopperCancel},
	{"GuideDisconnectDuringOffer", testGuideDisconnectDuringOffer},
	{"GuideLostBeforeConnectRequeuesAtHead", testGuideLostBeforeConnectRequeuesAtHead},
	{"GuideBackWithinGraceKeepsCall", testGuideBackWithinGraceKeepsCall},
	{"ShopperLostInConnectedCall", testShopperLostInConnectedCall},
	{"ShopperReconnectWithinGraceKeepsPlace", testShopperReconnectWithinGraceKeepsPlace},
	{"DisconnectedShopperIsSkippedNotDropped", testDisconnectedShopperIsSkippedNotDropped},
	{"JoinedNeverConnectsIsAbandoned", testJoinedNeverConnectsIsAbandoned},
	{"OfferedShopperLostIsAbandonedAndOfferRevoked", testOfferedShopperLostIsAbandonedAndOfferRevoked},
	{"OfferedShopperLostRevokesOffer", testOfferedShopperLostRevokesOffer},
	{"ShopperLostAfterAcceptEndsCall", testShopperLostAfterAcceptEndsCall},
	{"Positions", testPositions},
	{"JoinValidation", testJoinValidation},
	{"CallScope", testCallScope},
	{"InterruptedEndChangesNothing", testInterruptedEndChangesNothing},
	{"AcceptedCallThatNeverConnectsEnds", testAcceptedCallThatNeverConnectsEnds},
	{"OrphanOfferChargesNoMiss", testOrphanOfferChargesNoMiss},
	{"TouchBringsBackPartiesGivenUpDuringOutage", testTouchBringsBackPartiesGivenUpDuringOutage},
	{"ServiceStartTwice", testServiceStartTwice},
	{"ETACountsFreeGuides", testETACountsFreeGuides},
	{"EventsFollowCommitOrder", testEventsFollowCommitOrder},
	{"CapacityTwoHoldsTwoCalls", testCapacityTwoHoldsTwoCalls},
	{"ETACapacityThree", testETACapacityThree},
	{"TransferTargets", testTransferTargets},
	{"PresencePurge", testPresencePurge},
	{"QualityReports", testQualityReports},
}

func TestServiceMemory(t *testing.T) {
	for _, tt := range serviceSuite {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, memoryStore) })
	}
}

func TestServicePostgres(t *testing.T) {
	t.Parallel()
	dbtest.URL(t) // skip once here rather than in every subtest
	for _, tt := range serviceSuite {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, postgresStore)
		})
	}
}
