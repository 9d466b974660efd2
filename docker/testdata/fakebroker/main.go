// Command fakebroker stands in for chronik-server in the docker package's
// tests (lifecycle and network faults): it accepts the same command line,
// accepts and closes connections on the Kafka and Raft ports (the probes'
// targets), logs a line per second, and serves the admin endpoints the
// harness and the nemesis use: /healthz, /readyz, /status (with a __meta
// group whose leader is --fake-leader, default 1) and /admin/peer-delay
// (GET the current value, POST ?ms=N to set it; in memory, so a restart
// forgets it like the real broker's). --exit-after makes it exit on its own
// with code 3, to test the detection of unexpected exits.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	args := map[string]string{}
	for i := 1; i < len(os.Args); i++ {
		a := os.Args[i]
		if strings.HasPrefix(a, "--") && i+1 < len(os.Args) && !strings.HasPrefix(os.Args[i+1], "--") {
			args[a] = os.Args[i+1]
			i++
		} else {
			args[a] = ""
		}
	}
	fmt.Println("fakebroker starting", strings.Join(os.Args[1:], " "))
	if d, ok := args["--exit-after"]; ok {
		dur, _ := time.ParseDuration(d)
		go func() {
			time.Sleep(dur)
			fmt.Println("fakebroker giving up: exiting on its own")
			os.Exit(3)
		}()
	}
	for _, p := range []string{args["--kafka-port"], strings.TrimPrefix(args["--raft-addr"], "0.0.0.0:")} {
		kafka := p == args["--kafka-port"]
		if p == "" {
			continue
		}
		l, err := net.Listen("tcp", ":"+p)
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				if !kafka {
					c.Close()
					continue
				}
				// The Kafka port answers one request with a bare
				// response header (size 4, correlation id 1), enough
				// for the client probes through published ports.
				go func() {
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(5 * time.Second))
					buf := make([]byte, 64)
					if _, err := c.Read(buf); err == nil {
						_, _ = c.Write([]byte{0, 0, 0, 4, 0, 0, 0, 1})
					}
				}()
			}
		}()
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	id, _ := strconv.Atoi(args["--node-id"])
	leader := 1
	if l, err := strconv.Atoi(args["--fake-leader"]); err == nil {
		leader = l
	}
	http.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		role := "StateFollower"
		if id == leader {
			role = "StateLeader"
		}
		fmt.Fprintf(w, `{"node_id":%d,"groups":[{"name":"__meta","role":%q,"term":2,"leader":%d,"commit":1,"applied":1}]}`, id, role, leader)
	})
	var delay atomic.Int64
	http.HandleFunc("/admin/peer-delay", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
			if err != nil || ms < 0 {
				http.Error(w, "bad ms", http.StatusBadRequest)
				return
			}
			delay.Store(int64(ms))
		}
		fmt.Fprintf(w, `{"ms":%d}`, delay.Load())
	})
	go func() {
		for i := 0; ; i++ {
			fmt.Println("tick", i)
			time.Sleep(time.Second)
		}
	}()
	if err := http.ListenAndServe(":"+args["--admin-port"], nil); err != nil {
		fmt.Println("admin:", err)
		os.Exit(1)
	}
}
