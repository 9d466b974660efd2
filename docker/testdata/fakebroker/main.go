// Command fakebroker stands in for chronik-server in the docker package's
// tests: it accepts the same command line, serves /healthz, /readyz and
// /status on the admin port, listens on the Kafka and Raft ports, and logs a
// line per second. --exit-after makes it exit on its own with code 3, to
// test the detection of unexpected exits.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
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
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ready") })
	http.HandleFunc("/status", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"node_id":%s}`, args["--node-id"])
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
