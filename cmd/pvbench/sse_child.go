package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// raiseFileLimit lifts the soft open-file limit to the hard one: ten
// thousand streams need ten thousand sockets on each side.
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	l.Cur = l.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}

// sseChild is the client side of the SSE scenario, run in its own
// process: it reads an sseJob from stdin, opens one stream per call,
// prints "READY <opened> <failed>", records when each stream sees its
// first call.status event, and on "STOP" prints an sseReport and exits.
func sseChild() int {
	raiseFileLimit()
	in := bufio.NewReader(os.Stdin)
	var job sseJob
	line, err := in.ReadString('\n')
	if err == nil {
		err = json.Unmarshal([]byte(line), &job)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sse child: bad job:", err)
		return 2
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: -1, DisableCompression: true, ResponseHeaderTimeout: 30 * time.Second,
		ReadBufferSize: 1024, WriteBufferSize: 1024,
	}
	hc := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu     sync.Mutex
		rep    = sseReport{Recv: map[string]int64{}}
		wg     sync.WaitGroup
		ready  sync.WaitGroup
		gate   = make(chan struct{}, 100) // dials in flight
		failed = func(err error) {
			mu.Lock()
			rep.Failed++
			if len(rep.Errors) < 5 {
				rep.Errors = append(rep.Errors, err.Error())
			}
			mu.Unlock()
		}
	)
	for _, id := range job.CallIDs {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			gate <- struct{}{}
			req, _ := http.NewRequestWithContext(ctx, "GET", job.Base+"/api/v1/calls/"+id+"/stream", nil)
			req.Header.Set("X-API-Key", job.APIKey)
			res, err := hc.Do(req)
			<-gate
			if err == nil && res.StatusCode != 200 {
				res.Body.Close()
				err = fmt.Errorf("stream %s: status %d", id, res.StatusCode)
			}
			if err != nil {
				failed(err)
				ready.Done()
				return
			}
			defer res.Body.Close()
			mu.Lock()
			rep.Opened++
			mu.Unlock()
			ready.Done()
			sc := bufio.NewScanner(res.Body)
			sc.Buffer(make([]byte, 0, 512), 64<<10)
			seen := false
			for sc.Scan() {
				if !seen && strings.HasPrefix(sc.Text(), "event: call.status") {
					seen = true
					at := time.Now().UnixNano()
					mu.Lock()
					rep.Recv[id] = at
					mu.Unlock()
				}
			}
		}()
	}
	ready.Wait()
	mu.Lock()
	fmt.Printf("READY %d %d\n", rep.Opened, rep.Failed)
	mu.Unlock()
	// Wait for STOP (or the parent going away), bounded.
	stop := make(chan struct{})
	go func() {
		for {
			l, err := in.ReadString('\n')
			if err != nil || strings.TrimSpace(l) == "STOP" {
				close(stop)
				return
			}
		}
	}()
	select {
	case <-stop:
	case <-time.After(10 * time.Minute):
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}
