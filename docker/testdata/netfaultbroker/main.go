// Command netfaultbroker stands in for chronik-server in the network-fault
// tests of the docker package (netfault_test.go): it accepts the broker's
// command line, accepts and closes connections on the raft and Kafka ports
// (the probes' targets), and serves the admin endpoints the nemesis uses:
// /healthz, /status (with a __meta group whose leader is --fake-leader,
// default 1) and /admin/peer-delay (GET the current value, POST ?ms=N to
// set it; the setting is in memory, so a restart forgets it like the real
// broker's).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
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
	fmt.Println("netfaultbroker starting", strings.Join(os.Args[1:], " "))
	for _, p := range []string{args["--kafka-port"], strings.TrimPrefix(args["--raft-addr"], "0.0.0.0:")} {
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
				c.Close()
			}
		}()
	}
	id, _ := strconv.Atoi(args["--node-id"])
	leader := 1
	if l, err := strconv.Atoi(args["--fake-leader"]); err == nil {
		leader = l
	}
	var delay atomic.Int64
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	http.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		role := "StateFollower"
		if id == leader {
			role = "StateLeader"
		}
		fmt.Fprintf(w, `{"node_id":%d,"groups":[{"name":"__meta","role":%q,"term":2,"leader":%d,"commit":1,"applied":1}]}`, id, role, leader)
	})
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
	if err := http.ListenAndServe(":"+args["--admin-port"], nil); err != nil {
		fmt.Println("admin:", err)
		os.Exit(1)
	}
}
