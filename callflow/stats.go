package callflow

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"guidecall/internal/httpjson"
	"guidecall/payments"
	"guidecall/queue"
)

// statsFigures are the dashboard's figures of a window or a day: the
// queue's and payments' parts side by side, and the conversion that needs
// both (answered calls that had a link paid, over answered calls; nil
// before any call was answered).
type statsFigures struct {
	queueFigures
	ConvertedCalls int      `json:"converted_calls"`
	Conversion     *float64 `json:"conversion"`
	paymentFigures
}

// The two parts are embedded, so their fields sit side by side in JSON;
// the aliases give the embedded fields distinct names.
type (
	queueFigures   = queue.Figures
	paymentFigures = payments.Figures
)

type statsDay struct {
	Day string `json:"day"`
	statsFigures
}

// statsAnswer is the answer to GET /api/v1/admin/stats (docs/api.md).
type statsAnswer struct {
	From     time.Time    `json:"from"`
	To       time.Time    `json:"to"`
	Queue    string       `json:"queue"`
	TimeZone string       `json:"time_zone"`
	Totals   statsFigures `json:"totals"`
	Days     []statsDay   `json:"days"`
	Live     queue.Live   `json:"live"`
}

// parseStatsTime reads from or to: an RFC 3339 instant, or a date in loc
// (from: the start of that day; to: the end of it, so from=to=a date is
// that one day).
func parseStatsTime(name, v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is neither an RFC 3339 time nor a date (2006-01-02)", name, v)
	}
	if name == "to" {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// statsQuery reads the query string; a bad parameter is named in the error.
func statsQuery(r *http.Request, now time.Time) (queue.StatsQuery, error) {
	v := r.URL.Query()
	loc := time.UTC
	if tz := v.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return queue.StatsQuery{}, fmt.Errorf("tz: %q is not an IANA time zone", tz)
		}
		loc = l
	}
	q := queue.StatsQuery{Queue: v.Get("queue"), Location: loc}
	from, to := v.Get("from"), v.Get("to")
	switch {
	case from == "" && to == "":
		y, m, d := now.In(loc).Date()
		q.From = time.Date(y, m, d, 0, 0, 0, 0, loc)
		q.To = q.From.AddDate(0, 0, 1)
		return q, nil
	case from == "":
		return q, fmt.Errorf("from: needed with to")
	case to == "":
		return q, fmt.Errorf("to: needed with from")
	}
	var err error
	if q.From, err = parseStatsTime("from", from, loc); err != nil {
		return q, err
	}
	if q.To, err = parseStatsTime("to", to, loc); err != nil {
		return q, err
	}
	return q, nil
}

func conversion(converted, answered int) *float64 {
	if answered == 0 {
		return nil
	}
	rate := math.Round(float64(converted)/float64(answered)*10000) / 10000
	return &rate
}

// handleAdminStats answers the dashboard's figures: each domain computes
// its own from its stored history, and they meet here by call id. A
// payment link belongs to its call's day, the day its shopper joined.
func (f *Flow) handleAdminStats(w http.ResponseWriter, r *http.Request) {
	q, err := statsQuery(r, time.Now())
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	qs, err := f.queue.Stats(r.Context(), q)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	// A link is made after its call's shopper joined, so every link of the
	// window's calls was created after its start (less a microsecond: the
	// stores compare strictly, at PostgreSQL's precision).
	ps, err := f.payments.Stats(r.Context(), q.From.Add(-time.Microsecond), func(callID string) (string, bool) {
		d, ok := qs.CallDays[callID]
		return d, ok
	})
	if err != nil {
		f.log.ErrorContext(r.Context(), "payment stats", "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "the payment figures could not be read; retry shortly")
		return
	}
	live, err := f.queue.Live(r.Context())
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}

	convertedByDay := map[string]int{}
	converted := 0
	for _, id := range qs.AnsweredCalls {
		if _, paid := slices.BinarySearch(ps.PaidCalls, id); paid {
			converted++
			convertedByDay[qs.CallDays[id]]++
		}
	}
	out := statsAnswer{
		From: q.From.UTC(), To: q.To.UTC(), Queue: q.Queue, TimeZone: q.Location.String(), Live: live,
		Totals: statsFigures{queueFigures: qs.Totals, ConvertedCalls: converted, Conversion: conversion(converted, qs.Totals.AnsweredCalls), paymentFigures: ps.Totals},
	}
	for _, d := range qs.Days {
		pf, ok := ps.Days[d.Day]
		if !ok {
			pf = payments.Figures{Revenue: []payments.Revenue{}, Providers: []payments.ProviderFigures{}}
		}
		n := convertedByDay[d.Day]
		out.Days = append(out.Days, statsDay{Day: d.Day, statsFigures: statsFigures{
			queueFigures: d.Figures, ConvertedCalls: n, Conversion: conversion(n, d.AnsweredCalls), paymentFigures: pf,
		}})
	}
	httpjson.Write(w, http.StatusOK, out)
}
