package netio

import "testing"

func TestBufPool(t *testing.T) {
	var p bufPool
	for _, tc := range []struct{ n, wantCap int }{
		{100, 100}, {512 << 10, 512 << 10}, {512<<10 + 1, 1 << 20}, {1 << 20, 1 << 20},
		{1<<20 + 1, 2 << 20}, {100 << 20, 128 << 20}, {129 << 20, 129 << 20},
	} {
		b := p.get(tc.n)
		if len(b) != 0 || cap(b) != tc.wantCap {
			t.Errorf("get(%d): len %d cap %d, want 0 and %d", tc.n, len(b), cap(b), tc.wantCap)
		}
		p.put(append(b, 1))
	}
	// A buffer put back is handed out again (sync.Pool may drop it; it does not within a
	// goroutine without a GC in between) and comes back empty.
	b := p.get(3 << 20)
	b = append(b, 7)
	p.put(b)
	if again := p.get(3 << 20); len(again) != 0 || cap(again) != 4<<20 {
		t.Fatalf("get after put: len %d cap %d", len(again), cap(again))
	}
}
