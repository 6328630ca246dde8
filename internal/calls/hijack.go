package calls

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A stream served over HTTP/1.x takes its connection from net/http
// (hijacks it) once it is subscribed, writes the response head itself and
// returns from the handler. While a handler runs, net/http keeps the
// connection's serve goroutine (whose stack, deep in the middleware, does
// not shrink), a background-read goroutine and a read and a write buffer:
// most of what an idle stream cost. A hijacked stream is instead a small
// connStream that the hub (connHub) schedules onto a few short-lived
// workers when the broker wakes it, and that the hub's one heartbeat
// keeps alive and checks. The response has no Content-Length and no
// chunking: it ends when the server closes the connection.

const (
	// streamWriteTimeout bounds one write to a hijacked stream; a client
	// that does not take the bytes in time is dropped.
	streamWriteTimeout = 10 * time.Second
	// streamReadTimeout bounds one catch-up read of a hijacked stream.
	streamReadTimeout = 30 * time.Second
	// hubWorkers bounds the hijacked streams processed at once.
	hubWorkers = 8
)

// connStream is one hijacked stream. It has no goroutine of its own: a
// wake-up or a heartbeat marks what it has to do and queues it on the hub,
// unless it is already queued or being processed (busy), in which case
// the worker that has it runs it again afterwards. So no two workers ever
// hold the same stream, and no wake-up is lost.
type connStream struct {
	hub  *connHub
	conn net.Conn
	c    Call // the call's identity only (ID, teamID)
	sub  *subscriber
	// unsubscribe removes sub from the broker; close calls it once.
	unsubscribe func()

	mu     sync.Mutex
	busy   bool // queued on the hub or being processed
	read   bool // woken: read and write what the log gained
	ping   bool // heartbeat: check the client and write a keep-alive
	closed bool
}

// connHub holds the hijacked streams of a Service, the queue of those
// with work to do, and the goroutines serving it. Workers exist only
// while the queue has work, and the heartbeat goroutine only while there
// are hijacked streams.
type connHub struct {
	s       *Service
	mu      sync.Mutex
	streams map[*connStream]struct{}
	queue   []*connStream
	workers int
	ticking bool
	// hijacked counts the streams ever taken over (for tests).
	hijacked atomic.Int64
}

func newConnHub(s *Service) *connHub {
	return &connHub{s: s, streams: map[*connStream]struct{}{}}
}

// open counts the hijacked streams open now.
func (h *connHub) open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}

// HijackedStreams reports how many call streams are served from hijacked
// connections right now (for tests and diagnostics).
func (s *Service) HijackedStreams() int { return s.hub.open() }

// serveHijacked takes over the connection of a stream request when it
// can: HTTP/1.x, a GET, and a ResponseWriter that can be hijacked (through
// any middleware wrappers). It reports false, having written nothing, when
// it cannot, and the caller serves the stream the ordinary way; when it
// reports true the response is the hub's and the handler must return.
func (s *Service) serveHijacked(w http.ResponseWriter, protoMajor int, method string, c Call, lastID int) bool {
	if protoMajor != 1 || method != http.MethodGet {
		return false
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	// The request is a GET without a body, so nothing buffered for
	// reading matters; dropping brw frees net/http's buffers.
	_ = brw
	// Deadlines set for the request (a server ReadTimeout) must not end
	// the stream: writes set their own, and the peek must not time out.
	_ = conn.SetReadDeadline(time.Time{})

	// The head carries what the middleware set (the request id…).
	// Without a length or chunking the body runs until the close.
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&head)
	head.WriteString("\r\n")
	head.WriteString(streamRetry)

	cs := &connStream{hub: s.hub, conn: conn, c: Call{ID: c.ID, teamID: c.teamID}}
	if err := cs.write(head.Bytes()); err != nil {
		_ = conn.Close()
		return true
	}
	s.hub.hijacked.Add(1)
	// Subscribe before the first read, so that an event committed after
	// the read is announced to this stream.
	cs.sub, cs.unsubscribe = s.broker.subscribe(c.ID, cs)
	cs.sub.seq.Store(int64(lastID))
	if s.hookSubscribed != nil {
		s.hookSubscribed(c.ID)
	}
	if !s.hub.add(cs) {
		cs.close(false) // the server is stopping
		return true
	}
	cs.schedule(true, false)
	return true
}

// add registers a hijacked stream and starts the heartbeat if it is the
// first. It refuses once the server is stopping: the check and the
// registration are under the lock that closeAll takes its list under, so
// every stream is either refused here or closed there.
func (h *connHub) add(cs *connStream) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.s.cfg.Done:
		return false
	default:
	}
	h.streams[cs] = struct{}{}
	if !h.ticking {
		h.ticking = true
		go h.heartbeat()
	}
	return true
}

// schedule asks for a catch-up read (read) and/or a heartbeat (ping) and
// queues the stream unless it is queued or being processed already.
func (cs *connStream) schedule(read, ping bool) {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return
	}
	cs.read = cs.read || read
	cs.ping = cs.ping || ping
	if cs.busy {
		cs.mu.Unlock()
		return
	}
	cs.busy = true
	cs.mu.Unlock()
	cs.hub.enqueue(cs)
}

// enqueue adds a stream to the queue and starts a worker if fewer than
// hubWorkers run.
func (h *connHub) enqueue(cs *connStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queue = append(h.queue, cs)
	if h.workers < hubWorkers {
		h.workers++
		go h.work()
	}
}

// work processes queued streams until the queue is empty.
func (h *connHub) work() {
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			h.queue = nil
			h.workers--
			h.mu.Unlock()
			return
		}
		cs := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		h.mu.Unlock()
		cs.process()
	}
}

// process does what the stream was scheduled for, then hands it back:
// queued again if it was woken meanwhile, idle otherwise.
func (cs *connStream) process() {
	cs.mu.Lock()
	read, ping, closed := cs.read, cs.ping, cs.closed
	cs.read, cs.ping = false, false
	cs.mu.Unlock()
	if closed {
		return
	}
	s := cs.hub.s
	if ping {
		if !peerOpen(cs.conn) {
			cs.close(false)
			return
		}
		if err := cs.write([]byte(streamKeepAlive)); err != nil {
			cs.close(false)
			return
		}
	}
	if read {
		last := int(cs.sub.seq.Load())
		bw := writers.Get().(*bufio.Writer)
		bw.Reset(cs)
		ctx, cancel := context.WithTimeout(context.Background(), streamReadTimeout)
		last, done, err := s.writeLog(ctx, bw, cs.c, last)
		cancel()
		if err == nil {
			err = bw.Flush()
		}
		bw.Reset(nil)
		writers.Put(bw)
		cs.sub.seq.Store(int64(last))
		if err != nil {
			if !isNetErr(err) {
				s.log.Warn("call stream ended early", "call_id", cs.c.ID, "err", err)
			}
			cs.close(false)
			return
		}
		if done {
			cs.close(true)
			return
		}
		if s.hookIdle != nil {
			s.hookIdle(cs.c.ID, last)
		}
	}
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return
	}
	if cs.read || cs.ping {
		cs.mu.Unlock()
		cs.hub.enqueue(cs)
		return
	}
	cs.busy = false
	cs.mu.Unlock()
}

// writers are the buffers events are formatted into before they go to a
// hijacked connection; they are held only while a worker writes.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

// Write writes to the connection under a deadline, so a client that stops
// reading cannot hold a worker.
func (cs *connStream) Write(b []byte) (int, error) {
	if err := cs.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
		return 0, err
	}
	return cs.conn.Write(b)
}

func (cs *connStream) write(b []byte) error {
	_, err := cs.Write(b)
	return err
}

// isNetErr reports whether err came from the connection (the client went
// away or stalled) rather than from reading the log.
func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// close ends the stream once: it unsubscribes, forgets it and closes the
// connection. With graceful, the stream is complete, so the write side is
// shut first for an orderly end of the response.
func (cs *connStream) close(graceful bool) {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return
	}
	cs.closed = true
	cs.mu.Unlock()
	cs.unsubscribe()
	h := cs.hub
	h.mu.Lock()
	delete(h.streams, cs)
	h.mu.Unlock()
	if tc, ok := cs.conn.(*net.TCPConn); ok && graceful {
		_ = tc.CloseWrite()
	}
	_ = cs.conn.Close()
}

// heartbeat is the one keep-alive clock of the hijacked streams: every
// Heartbeat it schedules each of them to check its client and write a
// keep-alive comment. When the server stops (Config.Done) it closes them
// all, since http.Server.Shutdown does not know hijacked connections. It
// exits when no hijacked stream is left.
func (h *connHub) heartbeat() {
	t := time.NewTimer(h.s.currentLimits().Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-h.s.cfg.Done:
			h.closeAll()
			h.mu.Lock()
			h.ticking = false
			h.mu.Unlock()
			return
		case <-t.C:
		}
		h.mu.Lock()
		if len(h.streams) == 0 {
			h.ticking = false
			h.mu.Unlock()
			return
		}
		all := make([]*connStream, 0, len(h.streams))
		for cs := range h.streams {
			all = append(all, cs)
		}
		h.mu.Unlock()
		for _, cs := range all {
			cs.schedule(false, true)
		}
		t.Reset(h.s.currentLimits().Heartbeat)
	}
}

// closeAll closes every hijacked stream (the server is stopping).
func (h *connHub) closeAll() {
	h.mu.Lock()
	all := make([]*connStream, 0, len(h.streams))
	for cs := range h.streams {
		all = append(all, cs)
	}
	h.mu.Unlock()
	for _, cs := range all {
		cs.close(false)
	}
}
