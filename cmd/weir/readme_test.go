package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeCommands pins README's opening: one code block with the two set-up commands, the
// broker (this binary) and the tests. .ci/run runs the block's second line, so CI runs exactly
// what the README tells a newcomer to run.
func TestReadmeCommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	fences := 0
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "```") {
			fences++
			if fences == 2 {
				break
			}
			continue
		}
		if fences == 1 && strings.TrimSpace(line) != "" {
			block = append(block, line)
		}
	}
	want := []string{"go run ./cmd/weir broker", "bash scripts/test.sh"}
	if strings.Join(block, "\n") != strings.Join(want, "\n") {
		t.Errorf("README's first code block is %q, want %q", block, want)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "README.md") || !strings.Contains(string(ci), `bash -c "$test_command"`) {
		t.Errorf(".ci/run no longer runs the test command it reads from README.md")
	}
}
