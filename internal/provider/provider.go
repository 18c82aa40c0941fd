// Package provider defines the cloud bridge: how the stream manager creates,
// reads, updates and deletes the machines (or processes, or containers) that
// run media nodes.
//
// It is the one plugin contract of the control plane. Implementations live in
// subpackages (local, sim, and later docker, aws) and are chosen by one switch
// in the wiring package. The package is a leaf: it imports nothing internal.
//
// An instance moves through these states, which every implementation maps
// its platform's states onto (Red5 Pro's bridge normalises them the same way):
//
//	Create ──▶ Pending ──booted──▶ Running ──Delete──▶ Terminating ──▶ Terminated
//	              │                   │                                  ▲
//	              └───────────────────┴────────────died / lost───────────┘
//
// Unknown is for a platform state the implementation cannot map. Running
// means the machine is up; whether the media node on it registered with the
// manager (INSERVICE) is the manager's business, not the provider's.
package provider

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// ErrNotFound is returned (possibly wrapped) when an instance ID is unknown
// to the provider, for example after it was deleted.
var ErrNotFound = errors.New("instance not found")

// State is the normalised state of an instance.
type State int

// Instance states; see the package diagram.
const (
	// StatePending is a requested instance that is not up yet.
	StatePending State = iota + 1
	// StateRunning is an instance whose machine or process is up.
	StateRunning
	// StateTerminating is an instance that was asked to stop and has not yet.
	StateTerminating
	// StateTerminated is an instance that has stopped, by request or not.
	StateTerminated
	// StateUnknown is a platform state the provider cannot map.
	StateUnknown
)

// String returns the state in upper case, as Red5 Pro spells node states.
func (s State) String() string {
	switch s {
	case StatePending:
		return "PENDING"
	case StateRunning:
		return "RUNNING"
	case StateTerminating:
		return "TERMINATING"
	case StateTerminated:
		return "TERMINATED"
	case StateUnknown:
		return "UNKNOWN"
	default:
		return "State(" + strconv.Itoa(int(s)) + ")"
	}
}

// Spec describes the instance to create: where it belongs (group, role,
// region), what to run (instance type, image) and how the media node on it
// finds the manager. Providers ignore fields that mean nothing to them (the
// local provider has no regions or images).
type Spec struct {
	// Group is the node group the instance joins.
	Group string
	// Role is the node role: origin, edge or allinone.
	Role string
	// Region is the cloud region; empty means the provider's default.
	Region string
	// InstanceType is the machine size from the launch configuration.
	InstanceType string
	// Image is the machine or container image from the launch configuration.
	Image string
	// NodeID is the identifier the media node registers with; the manager
	// chooses it so that it can match the registration to the instance.
	NodeID string
	// ManagerURL is the stream manager URL the node registers with.
	ManagerURL string
	// Secret is the cluster secret the node presents when it registers.
	// Providers must not log it or put it on a command line.
	Secret string
	// NATSURL is the NATS server or cluster the node joins.
	NATSURL string
	// Env holds extra environment variables for the node (launch
	// configuration properties), for example SHOAL_NODE_LOG_LEVEL.
	Env map[string]string
	// Metadata is attached to the instance (cloud tags, labels).
	Metadata map[string]string
}

// Instance is a provider's view of one created instance.
type Instance struct {
	// ID is the provider's identifier of the instance.
	ID string
	// Spec is the spec the instance was created from.
	Spec Spec
	// State is the normalised state at the time of the call.
	State State
	// Address is the host (IP address or name) the instance is reachable
	// at; empty until the provider knows it.
	Address string
	// CreatedAt is when Create was called.
	CreatedAt time.Time
	// Metadata is the instance's current metadata.
	Metadata map[string]string
}

// Provider creates and deletes instances on some infrastructure. It mirrors
// Red5 Pro's cloud platform bridge: create, delete, read, and update
// (metadata only). Implementations are safe for concurrent use.
type Provider interface {
	// Create asks for a new instance and returns it, usually Pending or
	// Running.
	Create(ctx context.Context, spec Spec) (Instance, error)
	// Delete stops the instance and forgets it. Deleting an instance that
	// already terminated on its own succeeds; an unknown ID is ErrNotFound.
	Delete(ctx context.Context, id string) error
	// Get returns one instance, or ErrNotFound.
	Get(ctx context.Context, id string) (Instance, error)
	// List returns every instance the provider manages, including ones that
	// terminated on their own and were not deleted yet.
	List(ctx context.Context) ([]Instance, error)
	// UpdateMetadata merges md into the instance's metadata; an empty value
	// removes the key. An unknown ID is ErrNotFound.
	UpdateMetadata(ctx context.Context, id string, md map[string]string) error
}

// MergeMetadata returns a copy of dst with md merged in: a key with an empty
// value is removed, any other key is set. Implementations share it so that
// UpdateMetadata means the same everywhere.
func MergeMetadata(dst, md map[string]string) map[string]string {
	out := make(map[string]string, len(dst)+len(md))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range md {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
