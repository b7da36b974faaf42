package queue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// QualityReport is one party's getStats() summary of a live call (see
// protocol.CallQuality): round trip and jitter in milliseconds, totals
// since the connection began, the inbound video's resolution and the
// selected pair's candidate types.
type QualityReport struct {
	Party           Party     `json:"party"`
	At              time.Time `json:"at"`
	RTTMS           float64   `json:"rtt_ms"`
	JitterMS        float64   `json:"jitter_ms"`
	PacketsLost     int64     `json:"packets_lost"`
	FramesDecoded   int64     `json:"frames_decoded"`
	FramesDropped   int64     `json:"frames_dropped"`
	FreezeCount     int64     `json:"freeze_count"`
	FrameWidth      int       `json:"frame_width"`
	FrameHeight     int       `json:"frame_height"`
	LocalCandidate  string    `json:"local_candidate"`
	RemoteCandidate string    `json:"remote_candidate"`
}

// MaxQualityReports bounds what one call keeps: an hour and a half of both
// sides reporting every 10 s. Later reports are still published (metrics
// see them) but not stored, so a client cannot grow the history forever.
const MaxQualityReports = 1000

// candidateTypes are the ICE candidate types a report may name; anything
// else is stored as "", so metrics labels stay a bounded set.
var candidateTypes = []string{"host", "srflx", "prflx", "relay"}

func (q *QualityReport) validate() error {
	for _, v := range []float64{q.RTTMS, q.JitterMS} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 600_000 {
			return fmt.Errorf("quality: rtt_ms and jitter_ms must be between 0 and 600000: %w", ErrInvalid)
		}
	}
	if q.PacketsLost < 0 || q.FramesDecoded < 0 || q.FramesDropped < 0 || q.FreezeCount < 0 || q.FrameWidth < 0 || q.FrameHeight < 0 ||
		q.FrameWidth > 16384 || q.FrameHeight > 16384 {
		return fmt.Errorf("quality: counters and resolution must not be negative (or absurd): %w", ErrInvalid)
	}
	if !slices.Contains(candidateTypes, q.LocalCandidate) {
		q.LocalCandidate = ""
	}
	if !slices.Contains(candidateTypes, q.RemoteCandidate) {
		q.RemoteCandidate = ""
	}
	return nil
}

// QualityReported is a party's quality report, published after it was
// stored (or, past MaxQualityReports, instead of storing it).
type QualityReported struct {
	EventMeta
	Call   Call
	Report QualityReport
}

func (QualityReported) Kind() string { return "call.quality_reported" }

// ReportQuality stores a party's report on its own live call and publishes
// it. One transaction: the call is read (and claimed) to check the party
// and state, and the report is written beside it.
func (s *Service) ReportQuality(ctx context.Context, party Party, partyID, callID string, q QualityReport) error {
	if err := q.validate(); err != nil {
		return err
	}
	q.Party, q.At = party, s.now().UTC()
	var call Call
	err := s.store.Tx(ctx, func(ctx context.Context, tx StoreTx) error {
		c, err := tx.CallGet(ctx, callID)
		if errors.Is(err, ErrNotFound) || err == nil && !isParty(c, party, partyID) {
			return ErrNotParty // do not tell strangers which calls exist
		}
		if err != nil {
			return err
		}
		if c.State != CallConnecting && c.State != CallConnected {
			return fmt.Errorf("call %s is %s: %w", callID, c.State, ErrBadState)
		}
		call = c
		n, err := tx.QualityCount(ctx, callID)
		if err != nil || n >= MaxQualityReports {
			return err
		}
		return tx.QualityAdd(ctx, callID, q)
	})
	if err != nil {
		return err
	}
	s.bus.publish(QualityReported{EventMeta: EventMeta{ID: newID("ev_"), At: q.At}, Call: call, Report: q})
	return nil
}

// Spread is the smallest, the median and the largest of a series.
type Spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func spreadOf(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return Spread{Min: s[0], Median: med, Max: s[len(s)-1]}
}

// SideQuality summarises one party's reports of a call. The counters are
// totals since the connection began, so their last value is the call's;
// the spreads are over every report.
type SideQuality struct {
	Reports       int      `json:"reports"`
	RTTMS         Spread   `json:"rtt_ms"`
	JitterMS      Spread   `json:"jitter_ms"`
	FrameHeight   Spread   `json:"frame_height"`
	PacketsLost   int64    `json:"packets_lost"`
	FramesDecoded int64    `json:"frames_decoded"`
	FramesDropped int64    `json:"frames_dropped"`
	FreezeCount   int64    `json:"freeze_count"`
	Candidates    []string `json:"candidates"` // "local/remote" pairs seen, in order
}

// CallQuality is the per-call summary kept with a call's history: one
// SideQuality per party that reported.
type CallQuality struct {
	CallID  string      `json:"call_id"`
	Shopper SideQuality `json:"shopper"`
	Guide   SideQuality `json:"guide"`
}

// Summarize folds a call's reports into its summary.
func Summarize(callID string, reports []QualityReport) CallQuality {
	out := CallQuality{CallID: callID}
	for _, party := range []Party{PartyShopper, PartyGuide} {
		var rtt, jitter, height []float64
		side := SideQuality{Candidates: []string{}}
		for _, r := range reports {
			if r.Party != party {
				continue
			}
			side.Reports++
			rtt, jitter, height = append(rtt, r.RTTMS), append(jitter, r.JitterMS), append(height, float64(r.FrameHeight))
			side.PacketsLost = max(side.PacketsLost, r.PacketsLost)
			side.FramesDecoded = max(side.FramesDecoded, r.FramesDecoded)
			side.FramesDropped = max(side.FramesDropped, r.FramesDropped)
			side.FreezeCount = max(side.FreezeCount, r.FreezeCount)
			if pair := r.LocalCandidate + "/" + r.RemoteCandidate; !slices.Contains(side.Candidates, pair) {
				side.Candidates = append(side.Candidates, pair)
			}
		}
		side.RTTMS, side.JitterMS, side.FrameHeight = spreadOf(rtt), spreadOf(jitter), spreadOf(height)
		if party == PartyShopper {
			out.Shopper = side
		} else {
			out.Guide = side
		}
	}
	return out
}

// CallQuality returns a call's quality summary; a call nobody reported on
// has zero counts. ErrNotFound when the call does not exist.
func (s *Service) CallQuality(ctx context.Context, callID string) (CallQuality, error) {
	if _, err := s.store.CallGet(ctx, callID); err != nil {
		return CallQuality{}, err
	}
	reports, err := s.store.QualityReports(ctx, callID)
	if err != nil {
		return CallQuality{}, err
	}
	return Summarize(callID, reports), nil
}
