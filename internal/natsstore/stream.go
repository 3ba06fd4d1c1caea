package natsstore

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names on the NATS servers.
const (
	// StreamName is the stream of events.
	StreamName = "CROWSNEST_EVENTS"
	// Subject is where events are published.
	Subject = "crowsnest.events"
)

// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id. Replicas
// watching one engine publish each of its events within moments of each
// other, and a replica resuming a stream re-reads the engine's last
// seconds (docker.DefaultDedupeWindow, twice over when it seeds from the
// store); two minutes covers both with a wide margin while keeping the
// servers' memory of ids small.
const DuplicateWindow = 2 * time.Minute

// Timeouts of the calls to NATS.
const (
	setupTimeout   = 10 * time.Second // creating the stream or a bucket
	publishTimeout = 10 * time.Second // one asynchronous publish's ack
)

// consumerHeartbeat is how often the server tells the consumer it is
// alive while the stream is quiet. The ordered consumer lives on one
// server; when that server dies, two missed heartbeats make the client
// recreate it elsewhere, so this bounds how long a view stalls.
const consumerHeartbeat = time.Second

// streamConfig is the stream as opts want it. Retention and MaxEvents
// bound the stream as they bound the view; its limits only ever remove the
// oldest messages, which keeps the sequence a contiguous run.
func streamConfig(opts Options) jetstream.StreamConfig {
	maxMsgs := int64(-1)
	if opts.MaxEvents > 0 {
		maxMsgs = int64(opts.MaxEvents)
	}
	dup := DuplicateWindow
	if opts.Retention > 0 {
		dup = min(dup, opts.Retention)
	}
	return jetstream.StreamConfig{
		Name:               StreamName,
		Description:        "crowsnest's event log: the stream sequence is the event id",
		Subjects:           []string{Subject},
		Storage:            jetstream.FileStorage,
		Replicas:           opts.Replicas,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardOld,
		MaxAge:             opts.Retention,
		MaxMsgs:            maxMsgs,
		Duplicates:         dup,
		AllowAtomicPublish: true,
	}
}

// checkView refuses a view that is ahead of the stream: it was built from
// another stream (the servers' data was wiped), so its ids mean other
// events.
func (s *Store) checkView(info *jetstream.StreamInfo) error {
	if info == nil {
		return nil
	}
	if last := s.view.LastID(); last > info.State.LastSeq {
		return fmt.Errorf("the local view %s holds events up to id %d but stream %s ends at %d: the view belongs to another stream; move the file away to rebuild it from the stream",
			s.opts.ViewPath, last, StreamName, info.State.LastSeq)
	}
	return nil
}
