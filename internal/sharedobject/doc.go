// Package sharedobject implements Remote Shared Objects with Red5's
// semantics, replicated across the nodes of a cluster.
//
// # Replicated state machine
//
// Every accepted client message (and every server-side change) becomes one
// batch appended to an ordered, durable log per object (Log; package
// cluster keeps it in JetStream). Every node that has clients of an object
// follows its log and applies the batches in log order to its replica,
// delivering the resulting events to its local clients only; the node of
// the client that sent a message also answers it (Success, Status) when
// it applies that batch. Security checks and limits run on the requester's
// node before appending; applying never depends on configuration, so all
// replicas reach the same state and version. The version is the number of
// batches applied, and rises once per batch; snapshots carry it.
//
//	client ──RequestChange──▶ node A: security, limits ──Append──▶ log (object's order)
//	                                                                  │ Follow
//	                               ┌──────────────────────────────────┴──────────┐
//	                               ▼                                             ▼
//	              node A applies: Success to the requester,       node B applies: Change
//	              Change to its other clients                     to its clients
//
// A Use is a batch too (Red5 also counts a Use as a version): when the node
// applies it, the client gets UseSuccess, Clear (transient objects) and a
// Change per attribute, consistent with that version. So a client that
// comes back through another node never sees an older version.
//
// # Lifecycle
//
// A node follows an object while it has local clients of it, or holds it
// (Handle.Hold), and stays present for it (Presence). When the last local
// reference goes, the object lingers (Config.Linger); then the node stops
// following it, leaves its presence and, if it is transient and nobody
// anywhere is present any more, drops its records:
//
//	         Use/Hold                    last Release
//	(absent) ───────▶ following ───────────────────────▶ lingering
//	                    ▲                                  │    │
//	                    └───────────── Use/Hold ───────────┘    │ Linger passed
//	                                                            ▼
//	                        unloading: stop following, leave presence,
//	                        drop the records if transient and nobody is present
//
// A drop appends a tombstone (a snapshot of the empty object, one version
// up) guarded by the last record the node applied, then erases what came
// before: anything appended meanwhile keeps the object, and versions go on
// rising if it is used again.
//
// # Restores
//
// When a node's follow reports that the log restarted (Record.Reset: its
// storage was lost, or its records erased with nothing after them), or
// the node applies a tombstone while it still has clients of the object,
// it appends a restore batch: an opRestore with the version it had reached,
// then a set per attribute of its copy. Applying it lifts the version
// above that base everywhere and applies the sets unless a restore with a
// higher base came first. Until the node applies its own restore, its
// clients keep their view and get no events; then they get what differs.
//
// Every Config.SnapshotEvery batches, the node that appended the batch
// stores a snapshot (any node does after twice as many); the log keeps it
// only if no batch came after it, so a snapshot never hides a batch.
//
// # Differences from Red5
//
//   - Values are compared by content (their AMF3 encoding), so editing a
//     field inside an object value is a change (Red5 issue #46).
//   - Success goes to the requester once the batch is durable.
//   - The events of one client message reach other clients together.
//   - Limits on attributes and sizes answer with Status codes of their own
//     (CodeTooManyAttributes, CodeValueTooLarge, CodeObjectTooLarge).
//   - Releasing an object never held does nothing (Red5 throws).
//   - BadPersistence is detected against objects some node uses or holds;
//     a persistent object nobody uses does not stop a transient object of
//     the same name (Red5 keeps persistent objects loaded).
//   - Versions go on rising when a dropped transient object is used again
//     (until the cluster's janitor erases the tombstone).
package sharedobject
