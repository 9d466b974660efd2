package harness

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/replicas"
)

// adminNodes is fakeNodes that answers GET /status with a fixed body.
type adminNodes struct {
	fakeNodes
	code int
	body string
	err  error
}

func (a *adminNodes) Admin(_ context.Context, _, method, path string) (int, []byte, error) {
	if method != "GET" || path != "/status" {
		return 404, nil, nil
	}
	return a.code, []byte(a.body), a.err
}

// An unread copy carries what the node says of the partition's Raft group,
// so that a copy a node would not serve tells where the node stood.
func TestDescribeUnreadQuotesStatus(t *testing.T) {
	status := `{"groups":[{"name":"t5/1","role":"StateFollower","term":7,"leader":0,"commit":3,"applied":2}]}`
	tests := []struct {
		name  string
		nodes replicaNodes
		want  string // in the unread copy's error; "" = error unchanged
	}{
		{"group listed", &adminNodes{code: 200, body: status}, "(n3's /status of t5/1: StateFollower, leader 0, term 7, commit 3, applied 2)"},
		{"group not listed", &adminNodes{code: 200, body: `{"groups":[]}`}, "(n3's /status lists no group t5/1)"},
		{"status fails", &adminNodes{err: errors.New("connection refused")}, "(n3's /status: connection refused)"},
		{"status not 200", &adminNodes{code: 503}, "(n3's /status: HTTP 503)"},
		{"no admin API", &fakeNodes{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const why = "no answer within 15s: fetch t5/1: NOT_LEADER_FOR_PARTITION"
			copies := []replicas.Copy{
				{Node: "n3", Key: "t5/0"},
				{Node: "n3", Key: "t5/1", Error: why},
			}
			describeUnread(context.Background(), tt.nodes, "n3", copies)
			if copies[0].Error != "" {
				t.Fatalf("a read copy got an error: %q", copies[0].Error)
			}
			got := copies[1].Error
			if !strings.HasPrefix(got, why) {
				t.Fatalf("error %q lost its cause %q", got, why)
			}
			if tt.want == "" && got != why || tt.want != "" && !strings.HasSuffix(got, " "+tt.want) {
				t.Fatalf("error %q, want %q then %q", got, why, tt.want)
			}
		})
	}
}
