package forwarding

import (
	"strconv"
	"testing"
)

// TestRecentIDsForgetTheOldestAndStayBounded: the memory of stored ids knows what it was given
// lately, forgets the oldest first, and never holds more than its size.
func TestRecentIDsForgetTheOldestAndStayBounded(t *testing.T) {
	t.Parallel()
	r := newRecentIDs(3)
	for _, id := range []string{"a", "b", "c"} {
		if r.add(id) {
			t.Fatalf("%s seen before it was added", id)
		}
	}
	if !r.add("a") || !r.add("c") {
		t.Fatal("a recent id was not remembered")
	}
	r.add("d") // pushes out a, the oldest
	if !r.add("b") || !r.add("d") {
		t.Fatal("b or d forgotten too early")
	}
	if r.add("a") {
		t.Fatal("a still remembered past the size")
	}
	for i := range 1000 {
		r.add(strconv.Itoa(i))
	}
	if len(r.set) != 3 || len(r.ring) != 3 {
		t.Fatalf("%d ids in the set and %d in the ring, want 3", len(r.set), len(r.ring))
	}
}
