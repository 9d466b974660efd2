// Package reports renders what a chaos run left in its directory as HTML:
// one report per run (RenderRun) and an index of every run in a store
// (RenderIndex). It reads only files (test.json, history.jsonl,
// results.json, node logs) and knows nothing of Docker or the broker, so
// any saved run can be re-rendered anywhere (`chaos report STORE_DIR`).
//
// # The run report
//
// RenderRun writes runDir/index.html, a single self-contained page: the
// templates, CSS and JavaScript are embedded with go:embed and inlined, and
// the plots are SVG drawn at render time with gonum.org/v1/plot (vgsvg), so
// the page needs no network and survives being copied out of CI as an
// artifact. It shows, top to bottom: the verdict, the replay command line
// and seed, each checker's result, each anomaly with its explanation and
// the operations that prove it (linked to #op-INDEX in the history view),
// the latency and throughput plots with nemesis windows as shaded bands,
// the nemesis windows as a table (computed by checkers/windows, so they are
// the stats checker's; families are coloured by their place in the table
// of nemesis functions), a per-process timeline, the paginated
// history, per-key offset views for keys named by anomalies, the whole
// configuration, and links to linearizability.html, history.jsonl,
// results.json, chaos.log and each node's log (nK/*.log).
//
// Colours are mid-tones that read on white and on black; the SVGs draw
// axes and text in currentColor, and the CSS follows prefers-color-scheme
// and has print rules.
//
// # Large histories
//
// A million-operation history must stay usable in a browser, so nothing in
// the page grows with the history except the page count:
//   - scatter plots keep one point per pixel cell and series, then thin ok
//     points evenly to at most maxPlotPoints (failures are kept first);
//   - the history view is a table generated client-side from compact JSON
//     pages of pageSize events (history_pages.go); up to maxInlinePages
//     pages are embedded, beyond that only the first page and the pages
//     holding anomaly operations are, and every page is also written to
//     runDir/history-pages/cNNNNN.js (pagesPerFile pages a file), loaded on
//     demand with a script tag (which, unlike fetch, works from file://);
//   - the per-key views keep at most maxKeyViews keys and maxKeyRows rows;
//   - the timeline draws the history page on screen.
//
// History lines are read with history.Scan (package checkers/history), the
// decoder and pairing the checkers use, on all cores, and kept as compact
// events without pointers (history_load.go), values cut to maxValueChars.
// A history that breaks the contract is never drawn as if it were whole:
// the page quotes the reader's error, which names the line, and shows only
// the events before that line.
//
// # Contracts read
//
// results.json follows DESIGN.md (results.go): "valid" is true, false or
// "unknown" (anything else reads as unknown); each checker section has the
// fields every checker shares (verdict.Findings: "error", why it is
// unknown, and "errors" {name: {count, fatal_count, examples}}, every
// example one verdict.Case, decoded as such: no field names are guessed),
// the linearizability checker's "partitions" {key: result}, and any other
// field, which is rendered as a key/value table (fields named "ops" link
// to the history). An "errors" not in that shape is shown as written.
// Stores written before the one example shape are read as package verdict
// describes. test.json is read for name, seed, nodes, nemesis,
// workload, time_limit, broker_args and command_line, and shown in full.
//
// # The store index and validation.json
//
// RenderIndex writes storeDir/index.html listing every run directory
// storeDir/<test>/<YYYYMMDDTHHMMSS>/ (store/latest is skipped) newest
// first, with a trend of verdicts. When storeDir/validation.json exists it
// also shows the detection power table (ValidationTable). Its format,
// written by `chaos validate` (use WriteValidation):
//
//	{
//	  "generated": "2026-11-27T12:00:00Z",
//	  "rows": [
//	    {"bug": "--unsafe-ack-before-commit", "nemeses": ["kill"], "runs": 3, "caught": 3,
//	     "median_time_to_first_anomaly": "14.2s", "anomalies": ["lost-write", "nonlinearizable"],
//	     "reports": ["validate-ack/20261127T120000"]},
//	    {"bug": "", "control": true, "nemeses": ["partition"], "runs": 20, "caught": 0}
//	  ]
//	}
//
// A row with "control": true is the correct broker; its "caught" counts
// false alarms (runs whose verdict was not valid). Durations are Go
// duration strings (nanosecond integers are accepted too). "reports" are
// run directories relative to the store, linked from the table; "note" is
// free text. Unknown fields are ignored.
//
// # Caller contract
//
// RenderRun and RenderIndex may be called on a directory that is being
// browsed: every file is written to a temporary name and renamed. They
// honour ctx between phases. They do not log; errors are wrapped with the
// directory they concern.
package reports
