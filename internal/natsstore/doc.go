// Package natsstore keeps crowsnest's event log on a NATS JetStream stream,
// so that several crowsnest replicas share one history.
//
// The stream (file storage, the configured number of replicas) is the
// source of truth and the order: an event's id is its stream sequence.
// Each replica applies the stream, from the last sequence it applied, to a
// local store.View that holds the bbolt store's indexes, so queries,
// pages, scans, aggregates and subscriptions are answered locally with the
// bbolt store's speed and semantics. Append returns once JetStream has
// acknowledged the write (stored by a majority of the stream's replicas)
// and this replica's view has applied it, so the replica that answered a
// POST reads it back at once; the others apply it a moment later.
//
// Engine events are appended with their identity as Nats-Msg-Id (see
// store.KeyedAppender): replicas watching the same engine store each event
// once, within the stream's duplicate window. Login sessions live in a
// JetStream key-value bucket (Sessions), so every replica knows them.
//
// The store opens without NATS: reads are served from the view, writes
// fail with store.ErrUnavailable and the reason (Health), and the connection is retried with
// backoff until a server answers.
package natsstore
