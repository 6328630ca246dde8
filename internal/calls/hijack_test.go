package calls

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peakvoice/peakvoice/internal/db"
	"github.com/peakvoice/peakvoice/internal/db/dbtest"
	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// teamAuth admits every API key as a member of team-1.
type teamAuth struct{}

func (teamAuth) AuthenticateJWT(context.Context, string) (httpapi.Principal, error) {
	return httpapi.Principal{}, httpapi.ErrBadCredentials
}

func (teamAuth) AuthenticateAPIKey(context.Context, string) (httpapi.Principal, error) {
	return httpapi.Principal{TeamID: "team-1", APIKeyID: "key-1"}, nil
}

// streamServer serves s's routes behind the real middleware over
// loopback. inFlight counts the handlers running now.
type streamServer struct {
	*httptest.Server
	inFlight *atomic.Int32
}

func newStreamServer(t *testing.T, s *Service, http2 bool, mutate ...func(*http.Server)) streamServer {
	t.Helper()
	api := httpapi.New(httpapi.Config{Auth: teamAuth{}, TeamLimits: httpapi.TeamLimits{Rate: -1, InFlight: -1}})
	s.Routes(api.API)
	h := api.Handler()
	var n atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		defer n.Add(-1)
		h.ServeHTTP(w, r)
	}))
	for _, m := range mutate {
		m(ts.Config)
	}
	if http2 {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return streamServer{ts, &n}
}

// sseClient is an open stream read line by line on a goroutine.
type sseClient struct {
	res   *http.Response
	lines chan string
	ended chan error // the read error at the end (io.EOF for a clean end)
}

func openStream(t *testing.T, ts streamServer, callID, lastEventID string) *sseClient {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/calls/"+callID+"/stream", nil)
	req.Header.Set("X-API-Key", "pv_test")
	req.Header.Set(httpapi.RequestIDHeader, "req-stream-1")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("stream: %d %v %s", res.StatusCode, res.Header, b)
	}
	c := &sseClient{res: res, lines: make(chan string, 1024), ended: make(chan error, 1)}
	go func() {
		br := bufio.NewReader(res.Body)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				c.ended <- err
				close(c.lines)
				return
			}
			c.lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	return c
}

// waitLine reads lines until one equals want, and returns what it read.
func (c *sseClient) waitLine(t *testing.T, want string) []string {
	t.Helper()
	var got []string
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("stream ended (%v) before %q; read %q", <-c.ended, want, got)
			}
			got = append(got, line)
			if line == want {
				return got
			}
		case <-timeout:
			t.Fatalf("no %q within 20 s; read %q", want, got)
		}
	}
}

// waitEnd reads to the end of the stream and returns the lines and the
// error the read ended with.
func (c *sseClient) waitEnd(t *testing.T) ([]string, error) {
	t.Helper()
	var got []string
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return got, <-c.ended
			}
			got = append(got, line)
		case <-timeout:
			t.Fatalf("stream did not end within 20 s; read %q", got)
		}
	}
}

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
	}
}

// TestStreamHijacked: over HTTP/1.1 the stream takes its connection, so
// no handler is left running while it is open; it still replays, follows
// live, resumes after Last-Event-ID, and ends with the connection once
// the call is settled.
func TestStreamHijacked(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, time.Hour)
		ts := newStreamServer(t, s, false)
		cl := openStream(t, ts, c.ID, "")
		if cl.res.ContentLength != -1 || len(cl.res.TransferEncoding) != 0 || !cl.res.Close {
			t.Fatalf("want a body delimited by the close: length %d, encoding %v, close %v",
				cl.res.ContentLength, cl.res.TransferEncoding, cl.res.Close)
		}
		if id := cl.res.Header.Get(httpapi.RequestIDHeader); id != "req-stream-1" {
			t.Fatalf("the middleware's headers are lost: request id %q", id)
		}
		if got := cl.waitLine(t, "id: 1"); got[0] != "retry: 2000" {
			t.Fatalf("stream began with %q", got)
		}
		eventually(t, "stream hijacked and handler returned", func() bool {
			return s.HijackedStreams() == 1 && s.Subscribers(c.ID) == 1 && ts.inFlight.Load() == 0
		})
		if n := s.hub.hijacked.Load(); n != 1 {
			t.Fatalf("%d streams hijacked, want 1", n)
		}

		appendVia(t, s, c.ID, false)
		cl.waitLine(t, "id: 2")
		if err := s.settleUnknown(context.Background(), c.ID); err != nil {
			t.Fatal(err)
		}
		rest, err := cl.waitEnd(t)
		if err != io.EOF || !strings.Contains(strings.Join(rest, "\n"), "id: 3\n") {
			t.Fatalf("end of stream: %v after %q", err, rest)
		}
		eventually(t, "ended stream forgotten", func() bool {
			return s.HijackedStreams() == 0 && s.Subscribers(c.ID) == 0
		})

		// Resuming a finished call's stream replays what follows and ends.
		re := openStream(t, ts, c.ID, "2")
		all, err := re.waitEnd(t)
		text := strings.Join(all, "\n")
		if err != io.EOF || strings.Contains(text, "id: 2\n") || !strings.Contains(text, "id: 3\n") {
			t.Fatalf("resumed stream: %v after %q", err, all)
		}
	})
}

// TestHijackedStreamClientGone: a client that hangs up is noticed at the
// next heartbeat and its stream is dropped, though its call goes on.
func TestHijackedStreamClientGone(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, time.Hour)
		s.SetLimits(Limits{Heartbeat: 50 * time.Millisecond})
		ts := newStreamServer(t, s, false)
		cl := openStream(t, ts, c.ID, "")
		cl.waitLine(t, "id: 1")
		cl.waitLine(t, ": keep-alive")
		eventually(t, "stream open", func() bool { return s.Subscribers(c.ID) == 1 })
		_ = cl.res.Body.Close()
		eventually(t, "gone client dropped", func() bool {
			return s.Subscribers(c.ID) == 0 && s.HijackedStreams() == 0
		})
	})
}

// TestHijackedStreamOutlivesServerTimeouts: deadlines net/http put on the
// connection for the request (a ReadTimeout, a WriteTimeout) do not carry
// over to the stream it became: it keeps its keep-alives and live events
// long after they would have expired.
func TestHijackedStreamOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, time.Hour)
		s.SetLimits(Limits{Heartbeat: 50 * time.Millisecond})
		ts := newStreamServer(t, s, false, func(hs *http.Server) {
			hs.ReadTimeout, hs.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
		})
		cl := openStream(t, ts, c.ID, "")
		cl.waitLine(t, "id: 1")
		time.Sleep(time.Second) // five times the server's timeouts
		cl.waitLine(t, ": keep-alive")
		if n := s.Subscribers(c.ID); n != 1 {
			t.Fatalf("stream dropped after the server's timeouts (%d subscribers)", n)
		}
		appendVia(t, s, c.ID, false)
		cl.waitLine(t, "id: 2")
	})
}

// TestHijackedStreamsClosedOnShutdown: when the server stops, the hub
// closes the connections http.Server.Shutdown does not know of, and
// refuses new ones.
func TestHijackedStreamsClosedOnShutdown(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, time.Hour)
		done := make(chan struct{})
		s.cfg.Done = done
		ts := newStreamServer(t, s, false)
		a, b := openStream(t, ts, c.ID, ""), openStream(t, ts, c.ID, "1")
		a.waitLine(t, "id: 1")
		b.waitLine(t, "retry: 2000")
		eventually(t, "streams open", func() bool { return s.HijackedStreams() == 2 })
		close(done)
		for _, cl := range []*sseClient{a, b} {
			if _, err := cl.waitEnd(t); err == nil {
				t.Fatal("stream read ended without an error or EOF")
			}
		}
		eventually(t, "streams forgotten", func() bool { return s.HijackedStreams() == 0 && s.Subscribers(c.ID) == 0 })
		late := openStream(t, ts, c.ID, "")
		late.waitEnd(t)
		if n := s.HijackedStreams(); n != 0 {
			t.Fatalf("%d streams opened after shutdown", n)
		}
	})
}

// TestStreamWithoutHijack: writers that cannot be hijacked (HTTP/2, an
// in-process recorder) get the same stream from the handler's goroutine.
func TestStreamWithoutHijack(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, c := hubService(t, d, time.Hour)
		ts := newStreamServer(t, s, true)
		cl := openStream(t, ts, c.ID, "")
		if cl.res.ProtoMajor != 2 {
			t.Fatalf("served over %s, want HTTP/2", cl.res.Proto)
		}
		cl.waitLine(t, "id: 1")
		eventually(t, "subscribed", func() bool { return s.Subscribers(c.ID) == 1 })
		if n, running := s.HijackedStreams(), ts.inFlight.Load(); n != 0 || running != 1 {
			t.Fatalf("HTTP/2 stream: %d hijacked, %d handlers running", n, running)
		}
		appendVia(t, s, c.ID, false)
		cl.waitLine(t, "id: 2")
		if err := s.settleUnknown(context.Background(), c.ID); err != nil {
			t.Fatal(err)
		}
		if rest, err := cl.waitEnd(t); err != io.EOF || !strings.Contains(strings.Join(rest, "\n"), "id: 3\n") {
			t.Fatalf("end of HTTP/2 stream: %v after %q", err, rest)
		}

		// A recorder replays the finished call and the handler returns.
		req := httptest.NewRequest("GET", "/api/v1/calls/"+c.ID+"/stream", nil)
		req.Header.Set("X-API-Key", "pv_test")
		rec := httptest.NewRecorder()
		ts.Config.Handler.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != 200 || !strings.HasPrefix(body, "retry: 2000\n\n") || !strings.Contains(body, "id: 3\n") {
			t.Fatalf("recorded stream: %d %q", rec.Code, body)
		}
		if n := s.hub.hijacked.Load(); n != 0 {
			t.Fatalf("%d streams hijacked", n)
		}
	})
}

// TestPeerOpen: the liveness check sees a client's close without taking
// any of its bytes.
func TestPeerOpen(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if !peerOpen(server) {
		t.Fatal("an idle open connection counts as gone")
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "still open with unread data", func() bool { return peerOpen(server) })
	buf := make([]byte, 1)
	if _, err := io.ReadFull(server, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("the peek took the byte: %v %q", err, buf)
	}
	_ = client.Close()
	if runtime.GOOS == "linux" {
		eventually(t, "closed client noticed", func() bool { return !peerOpen(server) })
	}
}
