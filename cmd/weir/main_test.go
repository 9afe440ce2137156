package main

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	code, stdout, _ := runWeir(t, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "weir ") || !strings.Contains(stdout, " go1.") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"no-such-command"},
		{"storage"},
		{"storage", "no-such-verb"},
		{"broker", "extra"},
		{"version", "extra"},
		{"--log-level", "loud", "version"},
		{"storage", "format"},
		{"storage", "format", "--cluster-id", "x"},
	} {
		code, _, stderr := runWeir(t, args...)
		if code != exitUsage || !strings.Contains(stderr, "weir") {
			t.Errorf("%q: exit %d, stderr %q, want a usage error (exit %d)", args, code, stderr, exitUsage)
		}
	}
}

func TestRandomUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 10 {
		code, stdout, _ := runWeir(t, "storage", "random-uuid")
		u := strings.TrimSuffix(stdout, "\n")
		if code != exitOK || len(u) != 22 || strings.HasPrefix(u, "-") || seen[u] {
			t.Fatalf("exit %d, uuid %q (seen before: %v)", code, u, seen[u])
		}
		seen[u] = true
	}
}
