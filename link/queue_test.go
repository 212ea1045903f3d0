package link

import (
	"sync"
	"testing"
)

func TestQueueOrderAndClose(t *testing.T) {
	var mu sync.Mutex
	var got []int
	q := NewQueue(func(v int) {
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
	})
	for i := range 1000 {
		q.Put(i)
	}
	q.Close()
	q.Put(1000) // after Close: dropped, no panic
	q.Close()
	if len(got) != 1000 {
		t.Fatalf("delivered %d, want 1000", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("out of order at %d: %d", i, v)
		}
	}
}
