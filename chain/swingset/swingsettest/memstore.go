// Package swingsettest has test doubles for code that embeds the keeper (package swingset): an
// in-memory KV store with an explicit commit, and a fake sidecar (an in-process gRPC server
// implementing swingsetd.v1.Lifecycle with the real one's height rules).
package swingsettest

import (
	"sort"
	"strings"
	"sync"
)

// MemStore is an in-memory swingset.KVStore with a commit: writes go to a pending layer that
// Commit applies and Discard drops (a crash before the app's commit).
type MemStore struct {
	mu        sync.Mutex
	committed map[string][]byte
	pending   map[string][]byte // nil value = deleted
}

func NewMemStore() *MemStore {
	return &MemStore{committed: map[string][]byte{}, pending: map[string][]byte{}}
}

func (s *MemStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.pending[string(key)]; ok {
		return clone(v), nil
	}
	return clone(s.committed[string(key)]), nil
}

func (s *MemStore) Set(key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		value = []byte{}
	}
	s.pending[string(key)] = clone(value)
	return nil
}

func (s *MemStore) Delete(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[string(key)] = nil
	return nil
}

// Iterate visits the merged view in ascending key order. fn must not write to the store.
func (s *MemStore) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	p := string(prefix)
	s.mu.Lock()
	view := map[string][]byte{}
	for k, v := range s.committed {
		if strings.HasPrefix(k, p) {
			view[k] = v
		}
	}
	for k, v := range s.pending {
		if !strings.HasPrefix(k, p) {
			continue
		}
		if v == nil {
			delete(view, k)
		} else {
			view[k] = v
		}
	}
	s.mu.Unlock()
	keys := make([]string, 0, len(view))
	for k := range view {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), clone(view[k])) {
			break
		}
	}
	return nil
}

func (s *MemStore) viewLocked() map[string][]byte {
	view := make(map[string][]byte, len(s.committed)+len(s.pending))
	for k, v := range s.committed {
		view[k] = v
	}
	for k, v := range s.pending {
		if v == nil {
			delete(view, k)
		} else {
			view[k] = v
		}
	}
	return view
}

// Commit applies the pending writes.
func (s *MemStore) Commit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.pending {
		if v == nil {
			delete(s.committed, k)
		} else {
			s.committed[k] = v
		}
	}
	s.pending = map[string][]byte{}
}

// Discard drops the pending writes.
func (s *MemStore) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = map[string][]byte{}
}

// Dump is the merged view (a copy), for comparing stores.
func (s *MemStore) Dump() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.viewLocked() {
		out[k] = string(v)
	}
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
