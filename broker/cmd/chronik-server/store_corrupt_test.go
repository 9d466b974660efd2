package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/chronik-chaos/chronik/broker/storage"
	"github.com/cockroachdb/pebble"
)

// A damaged store is refused with exit code 3 whoever found the damage:
// the broker's own checks or pebble's checksums (a bit flipped in a sorted
// table is found when the partitions are scanned at start).
func TestStoreCorrupt(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"broker check", fmt.Errorf("open node 2: load partition: %w", storage.ErrCorrupt), true},
		{"pebble table checksum", fmt.Errorf("open node 2: scan partition t0/0: %w", fmt.Errorf("pebble/table: invalid table 000017: %w", pebble.ErrCorruption)), true},
		{"other failure", errors.New("open kafka listener: address in use"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := storeCorrupt(tt.err); got != tt.want {
				t.Errorf("storeCorrupt(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
