// Package reports renders what a chaos run left in its directory as HTML:
// one report per run (RenderRun) and an index of every run in a store
// (RenderIndex). It reads only files (test.json, history.jsonl,
// results.json, node logs) and knows nothing of Docker or the broker, so
// any saved run can be re-rendered anywhere (`chaos report STORE_DIR`).
//
// # The run report
//
// RenderRun writes runDir/index.html, a self-contained page: the
// templates, CSS and JavaScript are embedded with go:embed and inlined, and
// the plots are SVG drawn at render time with gonum.org/v1/plot (vgsvg), so
// the page needs no network and survives being copied out of CI as an
// artifact. It shows, top to bottom: the verdict and the first anomaly,
// the replay command line and seed, each checker's result, each anomaly
// with its story and its examples, statistics computed from the history,
// the latency and throughput plots with nemesis windows as shaded bands
// and the first anomaly as a dashed line, the nemesis windows as a table
// (computed by checkers/windows, so they are the stats checker's; families
// are coloured by their place in the table of nemesis functions), per-key
// offset views for keys named by anomalies, a per-process timeline, the
// paginated history, the whole configuration, and links to
// linearizability.html, history.jsonl, results.json, chaos.log and each
// node's log (nK/*.log).
//
// Colours are mid-tones that read on white and on black; the SVGs draw
// axes and text in currentColor, and the CSS follows prefers-color-scheme
// and has print rules.
//
// # Stories
//
// Every anomaly name opens with a story of one case (story.go): its
// earliest fatal case (first_anomaly.go: a case's moment is the completion
// of its last operation, or its own time, or for an unseen write the
// history's end), told from the case
// (verdict.Case) and the history alone, so a checker added later gets one
// too. It gives the broken guarantee (anomaly_text.go: a sentence per name
// the checkers emit, else the case's explanation), each operation of the
// case in a sentence with the node that answered it (the history's
// optional "node"/"nodes") and the fault windows it overlapped, the key's
// log around the offsets the case names or where its values were seen
// (which values, acknowledged and read by whom, from which node, and, when
// the run read every node's copy after the final heal, replicas.jsonl,
// what each copy holds there: replica_copies.go; a case naming no key
// takes the one key all its operations touched), and the faults in effect
// meanwhile. Values of the operations shown are kept whole
// while the history loads and folded around what the case names
// (fold.go), never cut mid-array.
//
// # Large histories
//
// A million-operation history must stay usable in a browser, so nothing in
// the page grows with the history except the page count, and what is
// heavy and below the fold loads on demand with <script src> tags (which,
// unlike fetch, work from file://):
//   - scatter plots keep one point per pixel cell and series, then thin ok
//     points evenly to at most maxPlotPoints (failures are kept first);
//     the SVG is compacted (svg_compact.go: numbers rounded to a tenth of a
//     point, consecutive paths of one style merged);
//   - the history view is a table generated client-side from compact JSON
//     pages of pageSize events (history_pages.go); a history whose pages
//     pass maxInlineHistory bytes embeds only its first page and writes
//     every page to runDir/history-pages/cNNNNN.js (pagesPerFile pages a
//     file), loaded when the pager or a link asks for one;
//   - the per-key views keep at most maxKeyViews keys and maxKeyRows rows;
//     when together they pass maxInlineKeyViews bytes (maxInlineKeyViewsSmall
//     when the whole history is inline) each is written to
//     runDir/report-parts/key-N.js and loaded when it nears the screen or a
//     link points into it (parts.go);
//   - the timeline draws the history page on screen, once it is in view.
//
// History lines are read with history.Scan (package checkers/history), the
// decoder and pairing the checkers use, on all cores, and kept as compact
// events without pointers (history_load.go), values longer than
// maxValueChars folded (fold.go). A history that breaks the contract is
// never drawn as if it were whole: the page quotes the reader's error,
// which names the line, and shows only the events before that line.
//
// # Contracts read
//
// results.json follows DESIGN.md (results.go): "valid" is true, false or
// "unknown" (anything else reads as unknown); each checker section has the
// fields every checker shares (verdict.Findings: "error", why it is
// unknown, and "errors" {name: {count, fatal_count, examples}}, every
// example one verdict.Case, decoded as such: no field names are guessed),
// the linearizability checker's "partitions" {key: result}, and any other
// field, which is rendered for reading (fields.go: names with their units,
// tables, folded lists; fields named "ops" link to the history), never as
// JSON. An "errors" not in that shape is shown as written.
// Stores written before the one example shape are read as package verdict
// describes. test.json is read for name, seed, nodes, nemesis,
// workload, time_limit, broker_args and command_line, and shown in full.
//
// # The store index and validation.json
//
// RenderIndex writes storeDir/index.html listing every run directory
// storeDir/<test>/<YYYYMMDDTHHMMSS>/ (store/latest is skipped) newest
// first, with a trend of verdicts, each run's throughput (the stats
// checker's ok count over its duration_s) and a link to the previous run
// of the same test, and a table comparing the runs of each test name
// (index_trends.go). When storeDir/validation.json exists it
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
