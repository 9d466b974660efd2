// Package synth writes synthetic histories for tests and benchmarks of the
// checkers: a discrete-event simulation of clients against an ideal
// Kafka-like cluster (each operation takes effect atomically at its
// completion, so the history is linearizable and free of Kafka anomalies),
// with indefinite and failed operations at configurable rates, optional
// nemesis windows, a final drain, and optional injected anomalies whose
// places are returned in a Manifest.
//
// The simulation is deterministic for a given Config (Seed included), so
// tests can assert exact results.
package synth
