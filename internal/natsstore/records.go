package natsstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/crowsnest-hq/crowsnest/internal/backoff"
	"github.com/crowsnest-hq/crowsnest/internal/store"
)

// recordsTimeout bounds one record call that has no deadline of its own
// while NATS does not answer, as sessionsTimeout does.
const recordsTimeout = 10 * time.Second

// staleName is how old a name key pointing at no record must be before a
// Create or rename takes it over. A replica claims the name a moment
// before it writes the record (and deletes it a moment after deleting the
// record); a key older than this was left by a replica that died between
// the two writes.
const staleName = time.Minute

// Keys of a records bucket:
//
//	next        the last id given out, in decimal
//	id.<id>     JSON of the record with that id
//	name.<b64>  the id of the record with that name (base64url of the name)
const (
	counterKey = "next"
	idPrefix   = "id."
	namePrefix = "name."
)

// records is a kind of record (stacks, alert rules) kept in a JetStream
// key-value bucket shared by the replicas: the counterpart of the bbolt
// records in internal/store, with the same semantics. bbolt's transactions
// become compare-and-swap writes (a write names the revision it read and
// fails if another replica wrote since), retried on conflict.
type records[T any] struct {
	st       *Store
	bucket   string
	what     string // "stack", "alert rule": for errors
	notFound error  // what a missing id gives
	exists   error  // what a taken name gives
	meta     func(*T) recordMeta
	name     func(*T) string // the unique name of a record
}

// recordMeta points at the fields every record has.
type recordMeta struct {
	ID               *int64
	Created, Updated *time.Time
}

// idKey is the key of record id.
func idKey(id int64) string { return idPrefix + strconv.FormatInt(id, 10) }

// nameKey is the key of a name: base64url, since names may hold bytes keys
// cannot.
func nameKey(name string) string {
	return namePrefix + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// idValue and parseID write and read an id as a value (of the counter and
// of name keys).
func idValue(id int64) []byte         { return []byte(strconv.FormatInt(id, 10)) }
func parseID(b []byte) (int64, error) { return strconv.ParseInt(string(b), 10, 64) }

// conflict tells a write that lost a compare-and-swap race.
func conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// kv returns the bucket and ctx bounded by recordsTimeout, or at once the
// reason NATS is unavailable (see KeyValue).
func (r *records[T]) kv(ctx context.Context) (jetstream.KeyValue, context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, recordsTimeout)
	kv, err := r.st.KeyValue(ctx, r.bucket, 0)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return kv, ctx, cancel, nil
}

// Create stores v under a new id, with Created and Updated set to now.
func (r *records[T]) Create(ctx context.Context, v T) (T, error) {
	var zero T
	kv, ctx, cancel, err := r.kv(ctx)
	if err != nil {
		return zero, fmt.Errorf("natsstore: create %s: %w", r.what, err)
	}
	defer cancel()
	name := r.name(&v)
	// A name seen taken spares an id; claimName below decides for sure.
	if err := r.checkName(ctx, kv, name); err != nil {
		return zero, fmt.Errorf("natsstore: create %s %q: %w", r.what, name, err)
	}
	id, err := r.nextID(ctx, kv)
	if err != nil {
		return zero, fmt.Errorf("natsstore: create %s %q: %w", r.what, name, err)
	}
	m := r.meta(&v)
	*m.ID = id
	now := time.Now().UTC()
	*m.Created, *m.Updated = now, now
	data, err := json.Marshal(v)
	if err != nil {
		return zero, fmt.Errorf("natsstore: encoding %s %d: %w", r.what, id, err)
	}
	if err := r.claimName(ctx, kv, name, id); err != nil {
		return zero, fmt.Errorf("natsstore: create %s %q: %w", r.what, name, err)
	}
	if _, err := kv.Create(ctx, idKey(id), data); err != nil {
		err = errors.Join(err, r.releaseName(ctx, kv, name, id))
		return zero, fmt.Errorf("natsstore: create %s %q: %w", r.what, name, err)
	}
	return v, nil
}

// nextID takes the next id from the counter key, retrying when another
// replica took one meanwhile, so ids are never given twice.
func (r *records[T]) nextID(ctx context.Context, kv jetstream.KeyValue) (int64, error) {
	for {
		var last int64
		var rev uint64
		e, err := kv.Get(ctx, counterKey)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, fmt.Errorf("next id: %w", err)
		default:
			if last, err = parseID(e.Value()); err != nil {
				return 0, fmt.Errorf("next id: %w", err)
			}
			rev = e.Revision()
		}
		next := last + 1
		if rev == 0 {
			_, err = kv.Create(ctx, counterKey, idValue(next))
		} else {
			_, err = kv.Update(ctx, counterKey, idValue(next), rev)
		}
		if conflict(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("next id: %w", err)
		}
		return next, nil
	}
}

// claimName makes name point at id, or fails with r.exists when another
// record has it. kv.Create is atomic: of two replicas claiming one name,
// one wins.
func (r *records[T]) claimName(ctx context.Context, kv jetstream.KeyValue, name string, id int64) error {
	key := nameKey(name)
	for {
		_, err := kv.Create(ctx, key, idValue(id))
		if !conflict(err) {
			if err != nil {
				return fmt.Errorf("name index: %w", err)
			}
			return nil
		}
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // freed meanwhile
		}
		if err != nil {
			return fmt.Errorf("name index: %w", err)
		}
		stale, err := r.stale(ctx, kv, e)
		if err != nil {
			return err
		}
		if !stale {
			return r.exists
		}
		if _, err := kv.Update(ctx, key, idValue(id), e.Revision()); !conflict(err) {
			if err != nil {
				return fmt.Errorf("name index: %w", err)
			}
			return nil
		}
	}
}

// checkName fails with r.exists when name belongs to a record now.
func (r *records[T]) checkName(ctx context.Context, kv jetstream.KeyValue, name string) error {
	e, err := kv.Get(ctx, nameKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("name index: %w", err)
	}
	stale, err := r.stale(ctx, kv, e)
	if err != nil {
		return err
	}
	if !stale {
		return r.exists
	}
	return nil
}

// stale tells a name key left behind: old, and naming no record.
func (r *records[T]) stale(ctx context.Context, kv jetstream.KeyValue, e jetstream.KeyValueEntry) (bool, error) {
	if time.Since(e.Created()) < staleName {
		return false, nil
	}
	owner, err := parseID(e.Value())
	if err != nil {
		return true, nil // not an id: nothing can own it
	}
	_, err = kv.Get(ctx, idKey(owner))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("name index: %w", err)
	}
	return false, nil
}

// releaseName deletes name's key if it still points at id.
func (r *records[T]) releaseName(ctx context.Context, kv jetstream.KeyValue, name string, id int64) error {
	key := nameKey(name)
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("name index: %w", err)
	}
	if owner, err := parseID(e.Value()); err != nil || owner != id {
		return nil
	}
	if err := kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !conflict(err) {
		return fmt.Errorf("name index: %w", err)
	}
	return nil
}

// Get returns the record with id.
func (r *records[T]) Get(ctx context.Context, id int64) (T, error) {
	kv, ctx, cancel, err := r.kv(ctx)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("natsstore: get %s: %w", r.what, err)
	}
	defer cancel()
	v, _, err := r.read(ctx, kv, id)
	if err != nil {
		return v, fmt.Errorf("natsstore: get %s %d: %w", r.what, id, err)
	}
	return v, nil
}

// read returns record id and its revision.
func (r *records[T]) read(ctx context.Context, kv jetstream.KeyValue, id int64) (T, uint64, error) {
	var v T
	e, err := kv.Get(ctx, idKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return v, 0, r.notFound
	}
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, 0, fmt.Errorf("decoding %s %d: %w", r.what, id, err)
	}
	return v, e.Revision(), nil
}

// List returns every record, by id. One watch of the records' keys
// delivers them all, rather than one request per key.
func (r *records[T]) List(ctx context.Context) ([]T, error) {
	kv, ctx, cancel, err := r.kv(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsstore: list %ss: %w", r.what, err)
	}
	defer cancel()
	w, err := kv.Watch(ctx, idPrefix+">", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("natsstore: list %ss: %w", r.what, err)
	}
	defer func() { _ = w.Stop() }() // the listing is complete or failed
	var out []T
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsstore: list %ss: %w", r.what, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("natsstore: list %ss: the watch ended", r.what)
			}
			if e == nil { // every current record delivered
				slices.SortFunc(out, func(a, b T) int { return cmp.Compare(*r.meta(&a).ID, *r.meta(&b).ID) })
				return out, nil
			}
			var v T
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				return nil, fmt.Errorf("natsstore: list %ss: %s: %w", r.what, strings.TrimPrefix(e.Key(), idPrefix), err)
			}
			out = append(out, v)
		}
	}
}

// Update reads record id, lets fn change it and writes it back if no
// replica wrote it meanwhile, else starts again (so fn may run more than
// once), moving its name when fn renamed it. An error from fn aborts the
// update and is returned as is. A record fn left as it was is not written;
// otherwise Updated is set to now. fn cannot change ID or Created.
func (r *records[T]) Update(ctx context.Context, id int64, fn func(*T) error) (T, error) {
	kv, ctx, cancel, err := r.kv(ctx)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("natsstore: update %s: %w", r.what, err)
	}
	defer cancel()
	for {
		v, done, fnErr, err := r.updateOnce(ctx, kv, id, fn)
		if fnErr != nil {
			return v, fnErr
		}
		if err != nil {
			return v, fmt.Errorf("natsstore: update %s %d: %w", r.what, id, err)
		}
		if done {
			return v, nil
		}
	}
}

// updateOnce is one attempt of update; done is false when another write
// came first.
func (r *records[T]) updateOnce(ctx context.Context, kv jetstream.KeyValue, id int64, fn func(*T) error) (v T, done bool, fnErr, err error) {
	old, rev, err := r.read(ctx, kv, id)
	if err != nil {
		return v, false, nil, err
	}
	before, err := json.Marshal(old)
	if err != nil {
		return v, false, nil, fmt.Errorf("encoding %s %d: %w", r.what, id, err)
	}
	v = old
	if fnErr = fn(&v); fnErr != nil {
		return v, false, fnErr, nil
	}
	m, om := r.meta(&v), r.meta(&old)
	*m.ID, *m.Created = *om.ID, *om.Created
	after, err := json.Marshal(v)
	if err != nil {
		return v, false, nil, fmt.Errorf("encoding %s %d: %w", r.what, id, err)
	}
	if string(before) == string(after) {
		return v, true, nil, nil // nothing changed: nothing to write
	}
	*m.Updated = time.Now().UTC()
	if after, err = json.Marshal(v); err != nil {
		return v, false, nil, fmt.Errorf("encoding %s %d: %w", r.what, id, err)
	}
	from, to := r.name(&old), r.name(&v)
	if from != to {
		if err := r.claimName(ctx, kv, to, id); err != nil {
			return v, false, nil, err
		}
	}
	if _, err := kv.Update(ctx, idKey(id), after, rev); err != nil {
		if from != to {
			err = errors.Join(err, r.releaseName(ctx, kv, to, id))
		}
		if conflict(err) {
			return v, false, nil, nil
		}
		return v, false, nil, err
	}
	if from != to {
		return v, true, nil, r.releaseName(ctx, kv, from, id)
	}
	return v, true, nil, nil
}

// Delete deletes record id, then its name.
func (r *records[T]) Delete(ctx context.Context, id int64) error {
	kv, ctx, cancel, err := r.kv(ctx)
	if err != nil {
		return fmt.Errorf("natsstore: delete %s: %w", r.what, err)
	}
	defer cancel()
	for {
		v, rev, err := r.read(ctx, kv, id)
		if err != nil {
			return fmt.Errorf("natsstore: delete %s %d: %w", r.what, id, err)
		}
		err = kv.Delete(ctx, idKey(id), jetstream.LastRevision(rev))
		if conflict(err) {
			continue // changed meanwhile, maybe renamed: read it again
		}
		if err == nil {
			err = r.releaseName(ctx, kv, r.name(&v), id)
		}
		if err != nil {
			return fmt.Errorf("natsstore: delete %s %d: %w", r.what, id, err)
		}
		return nil
	}
}

// Watch calls changed after every change any replica makes to the
// records, and once each time the watch starts (changes made while it was
// not watching are not replayed), until ctx ends. While NATS does not
// answer it retries.
func (r *records[T]) Watch(ctx context.Context, changed func()) error {
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second}
	for {
		err := r.watchOnce(ctx, changed, &b)
		if ctx.Err() != nil {
			return nil
		}
		level := slog.LevelWarn
		if errors.Is(err, store.ErrUnavailable) {
			level = slog.LevelDebug // /healthz says so already
		}
		r.st.log.Log(ctx, level, "watching shared records; retrying", "bucket", r.bucket, "err", err)
		if !b.Wait(ctx) {
			return nil
		}
	}
}

func (r *records[T]) watchOnce(ctx context.Context, changed func(), b *backoff.Backoff) error {
	kv, err := r.st.KeyValue(ctx, r.bucket, 0)
	if err != nil {
		return err
	}
	w, err := kv.Watch(ctx, idPrefix+">", jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("natsstore: watch %ss: %w", r.what, err)
	}
	defer func() { _ = w.Stop() }() // on ctx's end or a broken watch
	b.Reset()
	changed()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("natsstore: watch %ss: the watch ended", r.what)
			}
			if e != nil {
				changed()
			}
		}
	}
}
