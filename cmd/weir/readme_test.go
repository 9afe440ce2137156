package main

import (
	"os"
	"strconv"
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

// TestReadmeClusterConfig: the three-node example's properties parse, and node 2 and 3 made as
// the README says (id and ports changed) form one consistent voter set.
func TestReadmeClusterConfig(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```properties\n")
	if !ok {
		t.Fatal("README has no properties block")
	}
	props, _, _ := strings.Cut(rest, "```")
	for n, ports := range map[int][2]string{1: {"9092", "9093"}, 2: {"9192", "9193"}, 3: {"9292", "9293"}} {
		p := strings.Replace(props, "node.id=1", "node.id="+strconv.Itoa(n), 1)
		p = strings.Replace(p, "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093", "PLAINTEXT://127.0.0.1:"+ports[0]+",CONTROLLER://127.0.0.1:"+ports[1], 1)
		p = strings.Replace(p, "weir-node1", "weir-node"+strconv.Itoa(n), 1)
		cfg := parseConfig(t, p)
		if len(cfg.ControllerQuorumVoters) != 3 || cfg.ControllerQuorumVoters[n-1].Port != mustAtoi(t, ports[1]) {
			t.Fatalf("node %d: voters %+v do not name its controller listener :%s", n, cfg.ControllerQuorumVoters, ports[1])
		}
		if _, err := controllerListener(cfg); err != nil {
			t.Fatalf("node %d: %v", n, err)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
