package main

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestElectLeaders(t *testing.T) {
	c, brokers := startKfakeBrokers(t, 3, "t", 3)
	elect := func(more ...string) []string {
		return append([]string{"cluster", "elect-leaders", brokers}, more...)
	}
	// kfake elects the next broker of the partition: the leader moves.
	wantRun(t, "", exitOK, "Successfully completed leader election (PREFERRED) for partitions t-0\n",
		elect("--election-type", "preferred", "--topic", "t", "--partition", "0")...)
	if leader := c.LeaderFor("t", 0); leader != 1 {
		t.Errorf("t-0 led by %d after the election, want 1", leader)
	}
	file := writeTemp(t, "e.json", `{"partitions":[{"topic":"t","partition":2},{"topic":"t","partition":1}]}`)
	wantRun(t, "", exitOK, "Successfully completed leader election (UNCLEAN) for partitions t-1, t-2\n",
		elect("--election-type", "UNCLEAN", "--path-to-json-file", file)...)
	wantRun(t, "", exitOK, "Successfully completed leader election (PREFERRED) for partitions t-0, t-1, t-2\n",
		elect("--election-type", "PREFERRED", "--all-topic-partitions")...)

	// A partition that does not exist fails alone; the exit code says so.
	file = writeTemp(t, "e.json", `{"partitions":[{"topic":"t","partition":0},{"topic":"t","partition":9}]}`)
	stderr := wantRun(t, "", exitError, "Successfully completed leader election (PREFERRED) for partitions t-0\n"+
		"Error completing leader election (PREFERRED) for partition: t-9: UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.\n",
		elect("--election-type", "PREFERRED", "--path-to-json-file", file)...)
	if stderr != "weir cluster elect-leaders: 1 replica(s) could not be elected\n" {
		t.Errorf("stderr %q", stderr)
	}

	// A controller answering ELECTION_NOT_NEEDED (kfake always elects).
	c.ControlKey(kmsg.ElectLeaders.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
		for _, rt := range req.(*kmsg.ElectLeadersRequest).Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition = p
				if p == 1 {
					sp.ErrorCode = kerr.ElectionNotNeeded.Code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	file = writeTemp(t, "e.json", `{"partitions":[{"topic":"t","partition":1},{"topic":"t","partition":0}]}`)
	wantRun(t, "", exitOK, "Successfully completed leader election (PREFERRED) for partitions t-0\nValid replica already elected for partitions t-1\n",
		elect("--election-type", "PREFERRED", "--path-to-json-file", file)...)
	// A controller refusing the request.
	c.ControlKey(kmsg.ElectLeaders.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil, true
	})
	wantRun(t, "", exitError, "Not authorized to perform leader election\n", elect("--election-type", "PREFERRED", "--all-topic-partitions")...)

	// The command line, with Kafka's messages.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--topic", "t", "--partition", "0"}, exitUsage, "Missing required option(s): election-type"},
		{[]string{"--election-type", "fastest", "--all-topic-partitions"}, exitUsage, `--election-type "fastest": want PREFERRED or UNCLEAN`},
		{[]string{"--election-type", "PREFERRED"}, exitUsage, "One and only one of the following options is required: topic, all-topic-partitions, path-to-json-file"},
		{[]string{"--election-type", "PREFERRED", "--topic", "t", "--partition", "0", "--all-topic-partitions"}, exitUsage, "One and only one of the following options is required"},
		{[]string{"--election-type", "PREFERRED", "--topic", "t"}, exitUsage, "Missing required option(s): partition"},
		{[]string{"--election-type", "PREFERRED", "--all-topic-partitions", "--partition", "1"}, exitUsage, "Option partition is only allowed if topic is used"},
		{[]string{"--election-type", "PREFERRED", "--path-to-json-file", writeTemp(t, "d.json", `{"partitions":[{"topic":"t","partition":1},{"topic":"t","partition":1}]}`)},
			exitError, "Replica election data contains duplicate partitions: [t-1]"},
		{[]string{"--election-type", "PREFERRED", "--path-to-json-file", writeTemp(t, "m.json", `{"topics":[]}`)}, exitError, `Replica election data is missing "partitions" field`},
		{[]string{"--election-type", "PREFERRED", "--path-to-json-file", writeTemp(t, "b.json", `{"partitions":[`)}, exitError, "not valid JSON"},
		{[]string{"--election-type", "PREFERRED", "--path-to-json-file", "/nonexistent/e.json"}, exitError, "no such file"},
	} {
		wantFail(t, c.code, c.want, elect(c.args...)...)
	}
}
