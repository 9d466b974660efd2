package history

import (
	"encoding/json"
	"time"
)

// Type is the kind of a history event: an invocation or one of its three
// possible completions. The names are the contract of history.jsonl.
type Type string

// The event types of the history contract. Ok means the operation happened, Fail that it
// definitely did not, Info that it may or may not have happened at any time up
// to the end of the test.
const (
	Invoke Type = "invoke"
	Ok     Type = "ok"
	Fail   Type = "fail"
	Info   Type = "info"
)

// NemesisProcess is the process name of fault-injection events.
const NemesisProcess = "nemesis"

// Process identifies who performed an event: a client's logical process
// number or the nemesis. It marshals as a JSON integer or the string
// "nemesis", as the contract requires.
type Process struct {
	// ID is the client process number; meaningless when Nemesis is set.
	ID      int
	Nemesis bool
}

// Client returns the process for client number id.
func Client(id int) Process { return Process{ID: id} }

// Nemesis returns the nemesis process.
func Nemesis() Process { return Process{Nemesis: true} }

// Op is one line of history.jsonl. Value holds the raw JSON so that
// nemesis values (free-form objects) and client micro-operations (lists)
// round-trip unchanged; use Mops / SetMops for the client form.
type Op struct {
	Index   int64           `json:"index"`
	Time    time.Duration   `json:"time"`
	Process Process         `json:"process"`
	Type    Type            `json:"type"`
	F       string          `json:"f"`
	Value   json.RawMessage `json:"value"`
	Error   string          `json:"error,omitempty"`
	// Node is the node that answered a client operation, "n2" for the
	// broker with id 2 (optional; on completions). A poll whose records
	// came from several nodes leaves it empty and sets Nodes.
	Node string `json:"node,omitempty"`
	// Nodes maps each key of a poll served by several nodes to the nodes
	// that served its records, in the order their records came
	// (optional; on poll completions only).
	Nodes map[string][]string `json:"nodes,omitempty"`
	// Producer is the kind of producer that made a send (one of
	// ProducerKinds), on its invocation and completion (optional: a
	// history without it was written by idempotent producers with one
	// request in flight, ProducerIdempotent).
	Producer string `json:"producer,omitempty"`
	// Group is the consumer group of a commit or offsets operation
	// (optional elsewhere).
	Group string `json:"group,omitempty"`
}

// Producer kinds: the producer configurations a client process is drawn
// with, each with Kafka's guarantees for it.
const (
	// ProducerIdempotent is an idempotent producer with one request in
	// flight per partition: the broker deduplicates its retries, so a
	// duplicate is a broker bug, and its sends land in order.
	ProducerIdempotent = "idempotent"
	// ProducerIdempotentInflight is an idempotent producer with up to
	// five requests in flight per partition (Kafka's limit for
	// idempotence) and short request timeouts, so that retries of several
	// batches overlap; Kafka still guarantees no duplicates and order
	// (KIP-98: the broker remembers the last five batches per producer).
	ProducerIdempotentInflight = "idempotent-inflight"
	// ProducerPlain is a producer without idempotence and with retries
	// disabled: every record is sent once, so a duplicate is a broker
	// bug, and a send that failed may or may not have been written
	// (indefinite, never a duplicate from a retry).
	ProducerPlain = "plain-no-retry"
)

// ProducerKinds lists the producer kinds, in the order runs draw from.
var ProducerKinds = []string{ProducerIdempotent, ProducerIdempotentInflight, ProducerPlain}
