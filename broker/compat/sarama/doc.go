// Package saramacompat holds the Sarama (github.com/IBM/sarama) client
// compatibility test of chronik-server. It is a separate Go module so that
// Sarama and its dependencies stay out of the root module's go.mod; the
// root module's `go test ./...` does not see it. Run it with `make compat`
// or, from this directory, `go test ./...` (CHRONIK_SERVER_BIN names a
// built broker binary; without it the test builds one).
package saramacompat
