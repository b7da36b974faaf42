package callflow

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"guidecall/queue"
)

// TestQueueErrorCodes: a queue error reaches the client as the status and
// code docs/api.md gives it; an outage is store_unavailable like every
// other /api/v1 route's.
func TestQueueErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("join: %w", queue.ErrInvalid), http.StatusBadRequest, "bad_request"},
		{fmt.Errorf("entry: %w", queue.ErrNotFound), http.StatusNotFound, "not_found"},
		{fmt.Errorf("accept: %w", queue.ErrBadState), http.StatusConflict, "bad_state"},
		{fmt.Errorf("join: %w", queue.ErrUnavailable), http.StatusServiceUnavailable, "store_unavailable"},
		{fmt.Errorf("join: disk on fire"), http.StatusInternalServerError, "internal"},
	} {
		rec := httptest.NewRecorder()
		writeQueueError(rec, slog.New(slog.DiscardHandler), tc.err)
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%v: body %q: %v", tc.err, rec.Body, err)
		}
		if rec.Code != tc.status || body.Error.Code != tc.code {
			t.Errorf("%v: %d %s, want %d %s", tc.err, rec.Code, body.Error.Code, tc.status, tc.code)
		}
	}
}
