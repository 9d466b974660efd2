package history

import "testing"

// TestNemesisTable: the table is consistent, so that pairing by it is
// unambiguous: names are unique, no f both starts a fault and stops one,
// and no two families claim the same start.
func TestNemesisTable(t *testing.T) {
	names := map[string]bool{}
	starts := map[string]string{}
	for _, fam := range NemesisFamilies {
		t.Run(fam.Name, func(t *testing.T) {
			if fam.Name == "" || fam.Start == "" || fam.Label == "" {
				t.Fatalf("row without name, start or label: %+v", fam)
			}
			if names[fam.Name] {
				t.Errorf("family %q listed twice", fam.Name)
			}
			names[fam.Name] = true
			// member is the one scheduled family of instants: each action
			// is a completed change, nothing stays in effect to stop.
			if fam.Scheduled && fam.Instant() && fam.Name != NemesisMember.Name {
				t.Error("a scheduled family needs a stop")
			}
			if fam.Foreign && fam.Scheduled {
				t.Error("a foreign family cannot be scheduled")
			}
			for _, f := range append([]string{fam.Start}, fam.StartAliases...) {
				if other, ok := starts[f]; ok {
					t.Errorf("start %q belongs to %s and %s", f, other, fam.Name)
				}
				starts[f] = fam.Name
				if fam.Instant() {
					continue
				}
				for _, o := range NemesisFamilies {
					if o.StoppedBy(f) {
						t.Errorf("%q starts %s and stops %s", f, fam.Name, o.Name)
					}
				}
			}
			if got, ok := NemesisFamilyNamed(fam.Name); !ok || got.Start != fam.Start {
				t.Errorf("NemesisFamilyNamed(%q) = %+v, %v", fam.Name, got, ok)
			}
		})
	}
	for _, n := range NemesisNames() {
		if fam, _ := NemesisFamilyNamed(n); fam.Foreign {
			t.Errorf("NemesisNames lists foreign %q", n)
		}
	}
}
