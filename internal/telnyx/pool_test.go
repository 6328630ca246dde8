package telnyx_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/peakvoice/peakvoice/internal/telnyx"
)

// TestClientReusesConnections checks that concurrent carrier requests keep
// their connections between rounds: with the default transport only two
// idle connections per host survive, and every round would dial again.
func TestClientReusesConnections(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"id":"msg-1","record_type":"message","to":[{"phone_number":"+14155550142","status":"queued"}]}}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := telnyx.New(telnyx.Config{BaseURL: srv.URL + "/v2", APIKey: "KEYtest"})

	const width, rounds = 16, 5
	for range rounds {
		var wg sync.WaitGroup
		for range width {
			wg.Go(func() {
				if _, err := c.GetMessage(context.Background(), "msg-1"); err != nil {
					t.Errorf("GetMessage: %v", err)
				}
			})
		}
		wg.Wait()
	}
	// Each round needs at most width connections; kept ones are reused.
	if n := dials.Load(); n > width {
		t.Fatalf("%d connections opened for %d rounds of %d concurrent requests; want at most %d (connections are not kept)", n, rounds, width, width)
	}
}
