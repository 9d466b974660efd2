package reports

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// emittedAnomalyNames reads the sources of the packages that emit anomaly
// names (reports may not import the harness, so its names are read, not
// referenced) and returns every name declared there: string constants
// named Anomaly*, those of a const block documented as "Anomaly names"
// (checkers/kafka), and linear.Nonlinearizable.
func emittedAnomalyNames(t *testing.T) map[string]string {
	t.Helper()
	names := map[string]string{}
	var dirs []string
	if err := filepath.WalkDir("../checkers", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, "../harness")
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				block := gd.Doc != nil && strings.HasPrefix(gd.Doc.Text(), "Anomaly names")
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if i >= len(vs.Values) {
							continue
						}
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						isName := block || strings.HasPrefix(id.Name, "Anomaly") ||
							(filepath.Base(dir) == "linear" && id.Name == "Nonlinearizable")
						if !isName {
							continue
						}
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						names[v] = path + ": " + id.Name
					}
				}
			}
		}
	}
	return names
}

// TestAnomalyTextCoversNames keeps the two tables of words complete: every
// anomaly name a checker of this repository can emit has an explanation
// and a broken guarantee, so every story ends in a sentence of its own
// rather than the fallback built from the case.
func TestAnomalyTextCoversNames(t *testing.T) {
	names := emittedAnomalyNames(t)
	// The reader must find the names it is meant to: a parse that finds
	// none (a moved directory) would pass vacuously.
	for _, want := range []string{"lost-write", "G1c", "nonlinearizable", "replica-divergence", "lost-commit", "election-safety", "node-exited", "member-stall"} {
		if _, ok := names[want]; !ok {
			t.Fatalf("the source reader did not find %q among the emitted names (found %d)", want, len(names))
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		if _, ok := anomalyExplanations[n]; !ok {
			t.Errorf("%s (%s) has no entry in anomalyExplanations", n, names[n])
		}
		if g, known := guaranteeFor(n, ""); !known || g == "" {
			t.Errorf("%s (%s) has no entry in anomalyGuarantees", n, names[n])
		}
	}
	// And no words for names nobody emits (a renamed anomaly).
	for _, table := range []map[string]string{anomalyExplanations, anomalyGuarantees, provedAtEnd} {
		for n := range table {
			if _, ok := names[n]; !ok {
				t.Errorf("the report has words for %q, which no checker declares", n)
			}
		}
	}
}
