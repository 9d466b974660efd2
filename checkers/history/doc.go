// Package history holds the types of history.jsonl and its one decoder.
// history.jsonl is the contract between the harness, which records it, and
// everything that reads it: one JSON object per line (Op: index, time,
// process, type, f, value, error; Mop for the micro-operations of a value),
// in the order events happened, shaped like Jepsen's Kafka workload. The harness writes
// histories with Writer; the checkers (checkers.Check) and the HTML report
// (package reports) both read them with this package, so a history means
// the same thing to the verdict and to the page that explains it.
//
// Invariants of a well-formed history: Index counts lines from 0; Time is
// non-decreasing nanoseconds from one monotonic base; a client process has at
// most one operation in flight; each invoke is followed by exactly one ok,
// fail or info of the same process and f; after an info the client never
// uses that process number again.
//
// # Reading
//
// Reader (one goroutine, Next) and Scan (several goroutines, batches to a
// callback) run the same two stages and return the same entries:
//
//  1. decode (decode.go, decode_fast.go) turns one line into an Entry and
//     checks what the line alone can show: the fields, the type (invoke,
//     ok, fail or info; anything else is rejected, never guessed), and the
//     shape of the value (micro-operations in invoke form on invocations
//     and in completion form on ok completions, keys on assign and
//     subscribe). Lines as Writer writes them go through a hand-written
//     parser; everything else through encoding/json, which also words the
//     errors. Scan decodes on every core.
//  2. pair (pairing.go), in file order: the index is the line number, time
//     never goes backwards, one operation in flight per client process, no
//     completion without an invoke, no process reused after info, and a
//     completion's micro-operations are its invocation's. A client
//     completion pairs with its process's open invoke; a nemesis
//     completion with the oldest open nemesis invoke of the same f, since
//     the nemesis may run faults of different kinds at once (as in Jepsen,
//     an invocation is answered by the next completion after it). Nemesis
//     events are exempt from the one-in-flight rule and may be a lone info.
//     Invocations left open at the end of the file come back as Pending
//     info completions, as Jepsen treats crashed operations.
//
// A malformed file is rejected with a *FormatError that wraps ErrMalformed
// and names the line and what is wrong; neither reader panics on bad input
// or skips a line, and nothing after the first bad line is returned. Scan
// has passed every entry before the bad line to its callback when it
// returns the error, which is how the report shows what it could read.
//
// Entries share memory: Value points into the block the line was read
// into and Mops into blocks of decoded micro-operations, none of which is
// ever reused, so entries may be kept as long as needed but must not be
// modified.
package history
