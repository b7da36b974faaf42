package callflow

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/signaling"
)

// recordingBus keeps every frame the hub publishes instead of delivering it.
type recordingBus struct {
	mu     sync.Mutex
	frames []published
}

type published struct {
	to    signaling.Address
	frame string
}

func (b *recordingBus) Publish(_ context.Context, to signaling.Address, frame []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.frames = append(b.frames, published{to, string(frame)})
	return nil
}

func (b *recordingBus) Subscribe(func(signaling.Address, []byte)) {}
func (b *recordingBus) Start(context.Context) error               { return nil }
func (b *recordingBus) Stop()                                     {}

func (b *recordingBus) take() []published {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.frames
	b.frames = nil
	return out
}

type noSessions struct{}

func (noSessions) Open(context.Context, signaling.Identity) (protocol.Welcome, error) {
	return protocol.Welcome{}, nil
}
func (noSessions) Close(context.Context, signaling.Identity) {}

type noAuth struct{}

func (noAuth) Authenticate(context.Context, string) (signaling.Identity, error) {
	return signaling.Identity{}, nil
}

// TestFanOutShapes pins each event's frames, to whom they go and what they
// say, against the shapes docs/protocol.md shows.
func TestFanOutShapes(t *testing.T) {
	bus := &recordingBus{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := signaling.NewHub(signaling.Config{Auth: noAuth{}, Sessions: noSessions{}, Bus: bus, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ev := events{flow: &Flow{hub: hub}, log: log}
	ctx := context.Background()

	joined := time.Date(2020, 1, 2, 10, 0, 0, 0, time.UTC)
	e := queue.Entry{ID: "e_1", Queue: "default", Name: "Sam", Locale: "de-DE", Currency: "EUR", PageURL: "https://shop.example/p/42", JoinedAt: joined}
	g := queue.Guide{ID: "g_1", Name: "Ada", Status: queue.GuideAway}
	c := queue.Call{
		ID: "c_1", EntryID: e.ID, GuideID: g.ID, State: queue.CallConnected,
		OfferedAt: joined.Add(4200 * time.Millisecond), OfferDeadline: joined.Add(15 * time.Second),
		EndReason: "hangup", EndedBy: "guide",
	}
	left := e
	left.LeftReason = "canceled"
	shopperAt, guideAt := shopper(e.ID), guide(g.ID)

	for _, tc := range []struct {
		name string
		emit func()
		want []published
	}{
		{"position", func() {
			ev.Position(ctx, e.ID, queue.Position{Queue: "default", Position: 3, ETASeconds: ptrTo(90), GuidesOnline: 2})
		}, []published{
			{shopperAt, `{"v":1,"type":"queue.position","data":{"queue":"default","position":3,"eta_seconds":90,"guides_online":2,"callback":false}}`},
		}},
		// The deadline is long past, so the offer has no time left.
		{"offer", func() { ev.Offer(ctx, c, e) }, []published{
			{guideAt, `{"v":1,"type":"offer","data":{"offer_id":"c_1","entry_id":"e_1","deadline":"2020-01-02T10:00:15Z","expires_in_ms":0,"shopper":{"name":"Sam","queue":"default","locale":"de-DE","currency":"EUR","page_url":"https://shop.example/p/42","waited_ms":4200}}}`},
		}},
		{"offer revoked", func() { ev.OfferRevoked(ctx, g.ID, c.ID, "offer_timeout") }, []published{
			{guideAt, `{"v":1,"type":"offer.revoked","data":{"offer_id":"c_1","reason":"offer_timeout"}}`},
		}},
		{"matched", func() { ev.Matched(ctx, c, e, g) }, []published{
			{guideAt, `{"v":1,"type":"call.matched","call_id":"c_1","data":{"role":"guide","initiator":"guide","peer":{"name":"Sam","role":"shopper","locale":"de-DE","currency":"EUR","page_url":"https://shop.example/p/42"}}}`},
			{shopperAt, `{"v":1,"type":"call.matched","call_id":"c_1","data":{"role":"shopper","initiator":"guide","peer":{"name":"Ada","role":"guide"}}}`},
		}},
		{"requeued", func() {
			ev.Requeued(ctx, e, "guide_left", queue.Position{Queue: "default", Position: 1, ETASeconds: ptrTo(0)})
		}, []published{
			{shopperAt, `{"v":1,"type":"queue.requeued","data":{"reason":"guide_left","position":1,"eta_seconds":0,"queue":"default"}}`},
		}},
		{"callback changed", func() {
			ev.CallbackChanged(ctx, []string{"g_1", "g_2"}, queue.Callback{ID: "cb_1", Queue: "default", State: queue.CallbackOpen, Name: "Ana"})
		}, []published{
			{guideAt, `{"v":1,"type":"callback.changed","data":{"callback_id":"cb_1","queue":"default","state":"open"}}`},
			{guide("g_2"), `{"v":1,"type":"callback.changed","data":{"callback_id":"cb_1","queue":"default","state":"open"}}`},
		}},
		{"left", func() { ev.EntryLeft(ctx, left) }, []published{
			{shopperAt, `{"v":1,"type":"queue.left","data":{"reason":"canceled"}}`},
		}},
		{"state", func() { ev.CallState(ctx, c) }, []published{
			{guideAt, `{"v":1,"type":"call.state","call_id":"c_1","data":{"state":"connected"}}`},
			{shopperAt, `{"v":1,"type":"call.state","call_id":"c_1","data":{"state":"connected"}}`},
		}},
		{"ended", func() { ev.CallEnded(ctx, c) }, []published{
			{guideAt, `{"v":1,"type":"call.ended","call_id":"c_1","data":{"reason":"hangup","by":"guide"}}`},
			{shopperAt, `{"v":1,"type":"call.ended","call_id":"c_1","data":{"reason":"hangup","by":"guide"}}`},
		}},
		{"presence", func() { ev.Presence(ctx, g, "missed_offers", time.Now()) }, []published{
			{guideAt, `{"v":1,"type":"presence","data":{"status":"away","reason":"missed_offers"}}`},
		}},
		{"wrap-up", func() {
			at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			until := at.Add(30 * time.Second)
			ev.Presence(ctx, queue.Guide{ID: g.ID, Status: queue.GuideWrapUp, WrapUpUntil: &until}, "call_ended", at)
		}, []published{
			{guideAt, `{"v":1,"type":"presence","data":{"status":"wrap_up","reason":"call_ended","wrap_up_ms":30000}}`},
		}},
		{"peer lost", func() { ev.PeerStatus(ctx, c, queue.PartyShopper, false, 20*time.Second) }, []published{
			{guideAt, `{"v":1,"type":"call.peer","call_id":"c_1","data":{"status":"disconnected","grace_ms":20000}}`},
		}},
		{"peer back", func() { ev.PeerStatus(ctx, c, queue.PartyGuide, true, 0) }, []published{
			{shopperAt, `{"v":1,"type":"call.peer","call_id":"c_1","data":{"status":"reconnected"}}`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.emit()
			got := bus.take()
			if len(got) != len(tc.want) {
				t.Fatalf("%d frames, want %d: %v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				if got[i].to != w.to {
					t.Errorf("frame %d to %v, want %v", i, got[i].to, w.to)
				}
				if !sameJSON(t, got[i].frame, w.frame) {
					t.Errorf("frame %d\n got  %s\n want %s", i, got[i].frame, w.frame)
				}
			}
		})
	}
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func ptrTo[T any](v T) *T { return &v }
