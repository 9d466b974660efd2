package reports

// The words the report puts next to anomaly names: what each name means
// (anomalyExplanations, shown above its examples) and which guarantee a
// case of it breaks (anomalyGuarantees, the last sentence of its story).
// Both cover every name the checkers emit: checkers/kafka, Porcupine's
// nonlinearizable, checkers/replicas, checkers/offsets, and the harness's
// liveness, raft-safety and membership checks (TestAnomalyTextCoversNames
// reads their sources, so a new name without words fails a test). A name
// in neither table is described by its cases' own explanations, so a
// results.json from elsewhere still reads as a story (guaranteeFor).

// anomalyExplanations explains each anomaly name, for results that do not
// carry their own explanation.
var anomalyExplanations = map[string]string{
	"lost-write":            "A write was acknowledged (or read by someone), and a later offset of the same key was read, yet no ok poll ever saw this write: the log lost it.",
	"duplicate":             "The same value appears at more than one offset of a key: a send was applied twice.",
	"inconsistent-offsets":  "Two different values were observed at the same offset of a key: replicas disagree about the log.",
	"nonmonotonic-poll":     "A consumer's polls went backwards: a later poll returned an offset below one an earlier poll had returned.",
	"nonmonotonic-send":     "A producer's sends to one key were acknowledged at offsets that went backwards.",
	"poll-skip":             "Between two polls of one consumer, offsets that exist in the log were skipped.",
	"int-poll-skip":         "Within a single poll, offsets that exist in the log were skipped.",
	"int-nonmonotonic-poll": "Within a single poll, offsets went backwards.",
	"int-send-skip":         "Within a single transaction's sends, other writes were interleaved at offsets in between.",
	"int-nonmonotonic-send": "Within a single transaction, later sends got lower offsets than earlier ones.",
	"unseen":                "Acknowledged writes that no poll had seen by the end of the test (a warning until the final drain confirms them lost).",
	"unknown-value":         "A read returned a value that no operation ever sent.",
	"G1a":                   "Aborted read: a value was read whose send had failed.",
	"precommitted-read":     "A value was read before the send that wrote it could have committed (before the send was even invoked).",
	"G0":                    "Write cycle: transactions' writes are ordered inconsistently across keys.",
	"G1c":                   "Circular information flow: a cycle of write-write and write-read dependencies between transactions.",
	"nonlinearizable":       "No order of the operations consistent with real time explains what clients saw (Porcupine found no linearization).",
	"node-exited":           "A broker process ended on its own during the run: the nemesis did not kill it.",
	"not-recovered":         "After the final heal a node did not become ready within the recovery wait.",
	"election-safety":       "Two different nodes became leader of the same Raft group in the same term.",
	"term-regression":       "A node restarted a Raft group with a lower term than one it had persisted before.",
	"lost-vote":             "A node restarted a Raft group in a term it had voted in, without that vote.",
	"unsafe-conf-change":    "A node applied a configuration change whose voters before and after have majorities that share no node (two voters changed without a joint configuration).",
	"conf-divergence":       "Two nodes applied different configuration changes at the same index of a Raft group's log.",
	"member-stall":          "Writes stopped during a membership change although a majority of the voters was up and no network fault was in effect.",
	"member-unsettled":      "After the final heal, with every node up, a membership change the broker had accepted still had not ended.",
	// The replicas checker compares every node's copy of every partition,
	// read after the final heal.
	"replica-divergence": "Two nodes' copies of a partition hold different values at the same offset: the replicas' state machines diverged, though they apply one Raft log.",
	"replica-hole":       "A node's copy of a partition has no record at an offset below its high watermark where another copy has one.",
	"replica-lost-write": "A value acknowledged at an offset is not at that offset on a node's copy of the partition (missing, replaced, or above the copy's high watermark).",
	"replica-missing":    "A node answered that it does not host a partition of which another node's copy holds records.",
	"replica-stale":      "A node answered a lower high watermark than another node had answered before it: a linearizable read of the partition went back.",
	// The offsets checker: consumer-group commits and joins.
	"lost-commit":           "No order of a group's commits and offset fetches on a key explains what was read back: an acknowledged commit was lost (typically a fetch returned an older offset, or none).",
	"join-reread":           "A consumer that joined a group started reading a key below every offset the group could have committed then: committed records were delivered again.",
	"join-skip":             "A consumer that joined a group started reading a key above every offset the group could have committed then, past records known to exist: uncommitted records were skipped.",
	"refused-corrupt-store": "A node refused to start on the files the corrupt nemesis damaged (reported, not fatal: refusing is the safe answer).",
}

// anomalyGuarantees says, in plain words, which guarantee a case of each
// anomaly name breaks.
var anomalyGuarantees = map[string]string{
	"lost-write":            "An acknowledged write stays in the log: once a send is acknowledged at an offset, every consumer that reads past that offset must see it.",
	"duplicate":             "A sent record is appended once: one value at two offsets of a partition means the same send was written twice.",
	"inconsistent-offsets":  "A partition is one log: each offset holds one record, the same for every consumer and for the producer that wrote it.",
	"nonmonotonic-poll":     "A consumer reads a partition in offset order: each poll continues right after the last record the previous poll returned.",
	"nonmonotonic-send":     "A producer's successive sends to a partition land in the log in the order they were acknowledged.",
	"poll-skip":             "A consumer that keeps reading sees every record: no offset that exists in the log is skipped between two of its polls.",
	"int-poll-skip":         "One poll returns consecutive records of the log: it never leaves out records in its middle.",
	"int-nonmonotonic-poll": "The records of one poll come in offset order.",
	"int-send-skip":         "The sends of one operation land next to each other in the log (reported, not fatal: other producers may write in between).",
	"int-nonmonotonic-send": "The sends of one operation to a partition get increasing offsets, in the order they were made.",
	"unseen":                "Every acknowledged write can be read: after the final drain, reading the whole partition must return it.",
	"unknown-value":         "A consumer reads only records someone wrote: a value no operation sent means the log holds a record nobody produced.",
	"G1a":                   "A failed write did not happen: nobody may read a value whose send was reported as failed (no aborted reads).",
	"precommitted-read":     "Reads see only committed writes: no read returns a value before the write that made it has committed.",
	"G0":                    "Writes are applied in one order on every key: the transactions' write-write dependencies form no cycle.",
	"G1c":                   "Transactions see each other in one order: their write-write and write-read dependencies form no cycle.",
	"nonlinearizable":       "Each partition behaves as a single log that every operation sees at one instant between its invocation and its completion (linearizability).",
	"node-exited":           "A broker survives faults: only the nemesis stops a node, and no node exits on its own.",
	"not-recovered":         "The cluster recovers once the faults are healed: every node becomes ready again within the recovery wait.",
	"election-safety":       "Raft's election safety: a Raft group has at most one leader per term.",
	"term-regression":       "A Raft node's current term never decreases, restarts included: it is persisted before anything depends on it.",
	"lost-vote":             "A Raft node votes at most once per term, restarts included: its vote is persisted before it is sent.",
	"unsafe-conf-change":    "Raft changes voters one at a time or through a joint configuration that needs a majority of both the old and the new voters, so no two majorities can decide at once (Raft thesis §4.1, §4.3).",
	"conf-divergence":       "Every replica applies the same Raft log, so every node has the same configuration at each index.",
	"member-stall":          "A membership change costs no availability beyond a leader change: a new server counts in no quorum until it has caught up (Raft thesis §4.2.1).",
	"member-unsettled":      "A committed configuration change completes once the nodes can communicate: a joining member becomes a voter, a leaving one is removed.",
	"replica-divergence":    "Every replica applies the same Raft log, so every node's copy of a partition holds the same record at each offset.",
	"replica-hole":          "A replica's copy of a partition is the whole log up to its high watermark: no offset another copy holds is missing from it.",
	"replica-lost-write":    "An acknowledged write is on every replica of its partition, at the offset it was acknowledged at.",
	"replica-missing":       "Every node hosts a replica of every partition: none answers that it does not know a partition others hold records of.",
	"replica-stale":         "A linearizable read never goes back: no node answers a high watermark below one already answered.",
	"lost-commit":           "An acknowledged offset commit stays: every later OffsetFetch of the group returns it or a newer commit.",
	"join-reread":           "A consumer joining a group starts at the group's last acknowledged commit, so records already committed are not delivered again.",
	"join-skip":             "A consumer joining a group starts at the group's last acknowledged commit, so no record after it is skipped.",
	"refused-corrupt-store": "A node never serves from damaged files: it refuses to start on a store it cannot trust (this case is that guarantee kept, shown for the record).",
}

// guaranteeFor returns the sentence on which guarantee a case of anomaly
// name broke, and whether the name is one the report knows; for other
// names it is built from the case's own explanation.
func guaranteeFor(name, caseExplanation string) (string, bool) {
	if g, ok := anomalyGuarantees[name]; ok {
		return g, true
	}
	if caseExplanation == "" {
		return "The checker reports " + name + " as a broken guarantee; it gave no explanation for this case.", false
	}
	return "The checker reports " + name + ": " + caseExplanation + ".", false
}
