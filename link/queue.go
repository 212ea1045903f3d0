package link

import "sync"

// Queue hands values to a callback on its own goroutine, in order, without
// ever blocking the sender: a link's read loop must not wait on the layers
// above it. It is unbounded by design; its senders are bounded by the network.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T
	signal chan struct{}
	done   chan struct{}
	closed bool
}

// NewQueue starts a queue that calls deliver for every value put.
func NewQueue[T any](deliver func(T)) *Queue[T] {
	q := &Queue[T]{signal: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run(deliver)
	return q
}

// Put adds v; it is dropped after Close.
func (q *Queue[T]) Put(v T) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// Close delivers what is queued, then stops and waits for the goroutine.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		<-q.done
		return
	}
	q.closed = true
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
	<-q.done
}

func (q *Queue[T]) run(deliver func(T)) {
	defer close(q.done)
	for range q.signal {
		for {
			q.mu.Lock()
			items, closed := q.items, q.closed
			q.items = nil
			q.mu.Unlock()
			for _, v := range items {
				deliver(v)
			}
			if len(items) == 0 {
				if closed {
					return
				}
				break
			}
		}
	}
}
