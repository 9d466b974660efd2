/*
Package transport carries Raft messages between chronik-server nodes.

TCP multiplexes every Raft group over one connection per node pair: the
node with the lower id dials (reconnecting with exponential backoff from
50 ms to 1 s), the other accepts, and both use that connection in both
directions. A connection opens with a handshake (magic "CHRK" and the
dialler's node id); after it, frames carry batches of (group, raftpb
message) pairs (frame.go).

# Caller contract

  - Start opens the listener before returning; the node starts its groups
    only afterwards, so a node can always hear the votes that elect a
    leader (the Chronik server this broker re-creates opened its listener after
    an election, so no election could ever happen).
  - Send never blocks: each peer has a bounded queue drained by one writer
    goroutine that batches whatever is queued into one frame. A full queue
    or a missing connection drops the messages (raft retransmits) and
    reports the peer unreachable through OnUnreachable, so raft stops
    pipelining appends to it.
  - SetDelay delays every outbound message by d (the chaos delay nemesis;
    the test machines have no netem). Order is preserved.
  - Handler is called on connection reader goroutines and must not block.
  - AddPeer grows the peer set at run time (a member added through the
    admin API) or moves a peer to a new address; a connection from an id
    that is neither in Peers nor added is refused.
  - An idle writer sends an empty keepalive frame every 500 ms and a reader
    that hears nothing for 3 s drops the connection: under a black-holing
    partition the old connection would look alive and, after the heal,
    TCP's retransmission backoff would delay recovery by seconds; a fresh
    connection resumes at once.

memnet is an in-memory Network for in-process tests with per-link cuts,
random drops from a seeded source, and delays.
*/
package transport
