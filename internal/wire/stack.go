package wire

import "time"

// Stack statuses. Pending and Deployed are the DockStat socket's words for an
// action under way and a deploy that succeeded; Running, Partial and Stopped
// are read from the stack's containers on the engine (all, some or none of
// its services running); Created means no container exists (never deployed,
// or taken down); Error means the last action failed and left nothing
// running.
const (
	StackPending  = "pending"
	StackDeployed = "deployed"
	StackRunning  = "running"
	StackPartial  = "partial"
	StackStopped  = "stopped"
	StackCreated  = "created"
	StackError    = "error"
)

// Stack actions, as the "action" field of stack-progress and stack-error
// names them. Creating is no action a client starts: it labels the
// stack-error of a create the server refused.
const (
	ActionCreating      = "creating"
	ActionDeploying     = "deploying"
	ActionStarting      = "starting"
	ActionStopping      = "stopping"
	ActionRestarting    = "restarting"
	ActionPullingImages = "pulling-images"
	ActionRemoving      = "removing"
)

// Types of the /stacks socket's messages.
const (
	StackStatusType   = "stack-status"
	StackProgressType = "stack-progress"
	StackErrorType    = "stack-error"
	StackRemovedType  = "stack-removed"
)

// StackEventType is the type under which /stacks messages are kept in the
// event store.
const StackEventType = "stack"

// Stack is a compose stack as the stacks REST API returns it. The list
// leaves Compose and Env out; a single stack carries them.
type Stack struct {
	ID   int64  `json:"id"` // 0 for an external stack, which has no record
	Name string `json:"name"`
	Host string `json:"host"`
	// Status is one of the Stack* statuses above.
	Status   string         `json:"status"`
	Services []StackService `json:"services"`
	Compose  string         `json:"compose,omitempty"`
	Env      string         `json:"env,omitempty"`
	// Action is the action under way, empty when the stack is idle.
	Action string `json:"action,omitempty"`
	// Error is the message of the last failed action, cleared by the next
	// one that succeeds.
	Error string `json:"error,omitempty"`
	// External marks a project found on an engine (compose labels on its
	// containers) that crowsnest has no record of: started with the CLI or
	// another tool, and read-only here.
	External bool      `json:"external,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// StackService is the state of one service of a stack on its engine.
type StackService struct {
	Name string `json:"name"`
	// State is the engine's container state ("running", "exited",
	// "created", "restarting", "paused"…) or "missing" when the service
	// has no container; with several replicas, the least healthy one.
	State string `json:"state"`
	// Health is the container's health ("healthy", "starting",
	// "unhealthy") when it has a healthcheck.
	Health     string `json:"health,omitempty"`
	Image      string `json:"image,omitempty"`
	Containers int    `json:"containers"`
	Running    int    `json:"running"`
}

// StackRequest is the body of POST /api/v1/stacks and PUT
// /api/v1/stacks/{id}. PUT only reads Compose and Env.
type StackRequest struct {
	Name    string `json:"name"`
	Compose string `json:"compose"`
	Env     string `json:"env,omitempty"`
	Host    string `json:"host,omitempty"`
}

// StackMessage is one frame of the DockStat /stacks socket:
// {"type":"stack-status","data":{…}}.
type StackMessage struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// StackStatus is the data of a stack-status message.
type StackStatus struct {
	StackID int64  `json:"stack_id"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

// StackProgress is the data of a stack-progress message, and, with the
// same fields, of a stack-error message. Timestamp is UTC to the
// millisecond, as the spec shows it ("2025-04-16T18:25:43.511Z").
type StackProgress struct {
	StackID   int64     `json:"stack_id"`
	Action    string    `json:"action"`
	Message   string    `json:"message"`
	Timestamp time.Time `json:"timestamp"`
}

// A stack-error message carries a StackProgress too, its StackID 0 when
// the stack has no record (yet).

// StackRemoved is the data of a stack-removed message.
type StackRemoved struct {
	StackID int64  `json:"stack_id"`
	Message string `json:"message"`
}
