// Package kafka is the Kafka wire-protocol front end of chronik-server: it
// accepts client connections, decodes requests with franz-go's kmsg, runs
// one handler per API key and answers from a Backend (the replicated
// cluster state of broker/cluster, or an in-memory fake in tests).
//
// # Layout
//
// As in franz-go's pkg/kfake, each API lives in a file named after its key
// (00_produce.go, 01_fetch.go, ...). Each file opens with the API's served
// version range, a Behavior list (what is implemented and what is ignored)
// and version notes with KIP references, and registers its key, range and
// handler with regKey in init (typed adapts a handler written for one
// request type). ApiVersions answers from that registry, so the advertised
// versions cannot drift from the handlers. The served ranges are those of
// Apache Kafka 3.9 for every key served, v0 included; message sets (the
// record format of Produce v0-2 and Fetch v0-3) are converted to and from
// RecordBatch v2 at the edge (message_set.go).
//
// A request of a key or version that is not served closes the connection,
// as in Kafka, but only after every earlier request on the connection was
// answered: Kafka reads a connection's next request only once it answered
// the previous one, and pipelining clients (kafka-python's version probe)
// depend on it. An ApiVersions request of a newer version is answered
// instead (KIP-511, see 18_api_versions.go).
//
// # Connections
//
// One goroutine per connection reads frames (bounded by
// Config.MaxFrameBytes: a larger frame is refused and the connection
// closed before its body is read) and starts a handler goroutine per
// request; a writer goroutine writes responses strictly in request order.
// Requests run concurrently, pipelined produce requests included, so they
// share Raft commits and fsyncs; per-partition produce chains keep each
// partition's batches in request order (produce_chain.go). acks=0 produce
// writes no response.
// Handlers recover from panics: a malformed or unexpected request is
// logged and closes its connection, never the server.
//
// # Caller contract
//
//   - New(Config) with a Backend; Serve(ctx, listener) until ctx ends;
//     Close to drop every connection.
//   - Backend errors are cluster.Err* sentinels; errCode maps them to Kafka
//     codes, anything else is UNKNOWN_SERVER_ERROR (outcome unknown).
//   - ControlKey lets tests intercept, delay or drop requests by key.
//
// # Consumer groups
//
// Group membership (the classic JoinGroup/SyncGroup protocol) is kept in
// memory by the coordinator, the __meta leader; committed offsets go
// through the Backend and are replicated. See groups.go.
//
// # Transactions
//
// The __meta leader is also every transactional id's coordinator
// (FindCoordinator key type 1). InitProducerId, AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit, EndTxn, DescribeTransactions and
// ListTransactions call the Backend's Transactions part (backend_txn.go),
// which keeps their state in __meta; txn.go maps its answers to Kafka
// codes, PRODUCER_FENCED becoming INVALID_PRODUCER_EPOCH for the versions
// before KIP-588. Produce passes transactional batches on (the Backend
// verifies them, KIP-890), Fetch and ListOffsets honour read_committed
// (the last stable offset, AbortedTransactions), and OffsetFetch's
// RequireStable answers UNSTABLE_OFFSET_COMMIT while a transaction holds a
// partition's offset. The design is in broker/cluster's doc.go.
package kafka
