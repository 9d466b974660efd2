package docker

import "github.com/moby/moby/client"

// Labels every object this package creates carries. Clean-up selects on
// them, so nothing without them is ever removed.
const (
	// LabelChaos marks an object as created by the chaos harness.
	LabelChaos = "chronik-chaos"
	// LabelRun holds the run id of the run that created a container or
	// network (images are shared between runs and carry only LabelChaos).
	LabelRun = "chronik-chaos.run"
	// LabelNode holds a container's node name (n1..nN).
	LabelNode = "chronik-chaos.node"
)

func runLabels(runID string) map[string]string {
	return map[string]string{LabelChaos: "1", LabelRun: runID}
}

// runFilter selects the objects of one run, or of every run when runID is
// empty.
func runFilter(runID string) client.Filters {
	f := make(client.Filters).Add("label", LabelChaos+"=1")
	if runID != "" {
		f.Add("label", LabelRun+"="+runID)
	}
	return f
}
