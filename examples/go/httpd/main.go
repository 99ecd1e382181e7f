// A net/http server for zerg (the listening-socket model): each request is
// answered by goroutines that square four numbers, a timer of 2 ms, and a
// token from crypto/rand, so every instance restored from a template shows
// its own. Built static, as Go builds by default without cgo:
//
//	CGO_ENABLED=0 go build -o httpd .
//	zerg template create gohttpd --guest ./httpd
//	zerg serve -t gohttpd -l 127.0.0.1:8080
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		squares := make([]int, 4)
		for i := range squares {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				squares[i] = i * i
			}(i)
		}
		wg.Wait()
		<-time.After(2 * time.Millisecond)
		token := make([]byte, 8)
		if _, err := rand.Read(token); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "path %s squares %v token %s\n", r.URL.Path, squares,
			hex.EncodeToString(token))
	})
	if err := http.ListenAndServe(":8080", nil); err != nil {
		panic(err)
	}
}
