package cluster_test

import (
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// faultyMembers runs a seeded nemesis (link cuts and kills with restarts)
// against the current members while the test changes membership. A killed
// node comes back after a pause with its store; a node started with --join
// comes back with the flag (it matters while its store is still empty).
type faultyMembers struct {
	tc     *testCluster
	rng    *rand.Rand
	mu     sync.Mutex
	joined map[uint64]bool
	// members is who the nemesis may hit: the current members.
	members []uint64
	stop    chan struct{}
	wg      sync.WaitGroup
	log     []string
}

func startFaults(tc *testCluster, seed int64, members []uint64) *faultyMembers {
	f := &faultyMembers{tc: tc, rng: rand.New(rand.NewSource(seed)), joined: map[uint64]bool{}, members: slices.Clone(members), stop: make(chan struct{})}
	f.wg.Add(1)
	go f.run()
	return f
}

func (f *faultyMembers) setMembers(ids []uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = slices.Clone(ids)
}

func (f *faultyMembers) markJoined(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joined[id] = true
}

func (f *faultyMembers) run() {
	defer f.wg.Done()
	for i := 0; i < 1000; i++ {
		select {
		case <-f.stop:
			return
		case <-time.After(time.Duration(150+f.rng.Intn(150)) * time.Millisecond):
		}
		f.mu.Lock()
		ids := slices.Clone(f.members)
		victim := ids[f.rng.Intn(len(ids))]
		kind := f.rng.Intn(3)
		joined := f.joined[victim]
		f.mu.Unlock()
		hold := time.Duration(200+f.rng.Intn(400)) * time.Millisecond
		switch kind {
		case 0, 1: // cut one member from everybody
			f.log = append(f.log, fmt.Sprintf("cut %d for %v", victim, hold))
			f.tc.net.Isolate(victim, f.tc.ids...)
			select {
			case <-time.After(hold):
			case <-f.stop:
			}
			f.tc.net.Heal()
		case 2: // kill and restart
			if f.tc.node(victim) == nil {
				continue
			}
			f.log = append(f.log, fmt.Sprintf("kill %d for %v", victim, hold))
			f.tc.stop(victim)
			select {
			case <-time.After(hold):
			case <-f.stop:
			}
			if joined {
				f.tc.startJoin(victim)
			} else {
				f.tc.start(victim)
			}
		}
	}
}

func (f *faultyMembers) halt() {
	close(f.stop)
	f.wg.Wait()
	f.tc.net.Heal()
}

// TestMembershipUnderFaults adds and removes nodes (plain add, remove, and
// an atomic replace) while producers write and a seeded nemesis cuts and
// kills members; after a heal every group agrees on the final voter set
// and no acknowledged write is lost.
func TestMembershipUnderFaults(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			tc := newTestCluster(t, 3, func(c *cluster.Config) { c.SnapshotEntries = 100 })
			tc.startAll()
			tc.waitReady(10 * time.Second)
			tc.createTopic(1, "f", 3)
			lg := startLoad(tc, "f", 3)
			members := []uint64{1, 2, 3}
			f := startFaults(tc, seed, members)
			steps := []struct {
				add, replaces, remove uint64
			}{
				{add: 4},
				{remove: 1},
				{add: 5, replaces: 2},
				{add: 6},
				{remove: 3},
			}
			for _, s := range steps {
				switch {
				case s.add != 0:
					f.markJoined(s.add)
					tc.startJoin(s.add)
					tc.addMember(s.add, s.replaces, 60*time.Second)
					members = append(members, s.add)
					if s.replaces != 0 {
						members = without(members, s.replaces)
						f.setMembers(members)
						tc.stopWhenRemoved(s.replaces)
					}
				case s.remove != 0:
					members = without(members, s.remove)
					f.setMembers(members)
					tc.removeMember(s.remove, 60*time.Second)
					tc.stopWhenRemoved(s.remove)
				}
				f.setMembers(members)
				t.Logf("members now %v", members)
				// Let faults hit the settled cluster too, and overlap the
				// next change.
				time.Sleep(700 * time.Millisecond)
			}
			f.halt()
			t.Logf("nemesis: %v", f.log)
			for _, id := range members {
				if tc.node(id) == nil {
					tc.start(id)
				}
			}
			tc.waitVoters(members, members, 30*time.Second)
			time.Sleep(200 * time.Millisecond)
			n := lg.halt()
			if n < 100 {
				t.Fatalf("only %d writes acknowledged", n)
			}
			lg.verify(t, members...)
			t.Logf("%d writes acknowledged, %d failed or unknown", n, lg.fails)
		})
	}
}

func without(ids []uint64, x uint64) []uint64 {
	return slices.DeleteFunc(slices.Clone(ids), func(id uint64) bool { return id == x })
}

// stopWhenRemoved stops a removed node once it refused itself (or at once
// when it is not running).
func (tc *testCluster) stopWhenRemoved(id uint64) {
	tc.t.Helper()
	n := tc.node(id)
	if n == nil {
		return
	}
	waitFor(tc.t, 20*time.Second, fmt.Sprintf("node %d refuses itself", id), func() bool {
		return n.Status().MemberState == cluster.MemberRemoved
	})
	tc.stop(id)
}
