// http-echo: a tiny HTTP server for crigate workloads. GET /healthz answers
// "ok"; any other path answers with the pod's hostname and the path.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	host, _ := os.Hostname()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", host, r.URL.Path)
	})
	log.Printf("http-echo listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
