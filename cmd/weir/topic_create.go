package main

import (
	"fmt"
	"math"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) topicCreateCommand(o *clientOptions) *cobra.Command {
	var (
		partitions int32
		replicas   int32
		configs    []string
		dryRun     bool
	)
	cmd := &cobra.Command{
		Use:   "create TOPIC...",
		Short: "Create topics",
		Long: `Create topics (CreateTopics). -p and -r default to -1, the broker's defaults
(num.partitions, default.replication.factor); -c sets a topic config, repeatable. --dry-run
asks the broker to validate without creating.

Output, text: a table with columns TOPIC and STATUS, one row per topic in argument order;
STATUS is OK or the error (ERROR_NAME: message). JSON: one line, an array of
{"topic","status","error_code"}. Exits 1 if any topic failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if partitions == 0 || partitions < -1 {
				return usageError{fmt.Errorf("--partitions %d: want -1 (broker default) or at least 1", partitions)}
			}
			if replicas == 0 || replicas < -1 || replicas > math.MaxInt16 {
				return usageError{fmt.Errorf("--replicas %d: want -1 (broker default) or 1 to %d", replicas, math.MaxInt16)}
			}
			req := kmsg.NewPtrCreateTopicsRequest()
			req.TimeoutMillis = timeoutMillis(o)
			req.ValidateOnly = dryRun
			var topicConfigs []kmsg.CreateTopicsRequestTopicConfig
			for _, kv := range configs {
				k, v, err := splitKeyValue("--topic-config", kv)
				if err != nil {
					return err
				}
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				c.Name, c.Value = k, kmsg.StringPtr(v)
				topicConfigs = append(topicConfigs, c)
			}
			topics := uniqueArgs(args)
			for _, t := range topics {
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic = t
				rt.NumPartitions = partitions
				rt.ReplicationFactor = int16(replicas)
				rt.Configs = topicConfigs
				req.Topics = append(req.Topics, rt)
			}
			resp, err := adminRequest[*kmsg.CreateTopicsResponse](cmd.Context(), a, o, req)
			if err != nil {
				return err
			}
			byName := make(map[string]*kmsg.CreateTopicsResponseTopic, len(resp.Topics))
			for i := range resp.Topics {
				byName[resp.Topics[i].Topic] = &resp.Topics[i]
			}
			return printStatuses(a.stdout, o.format, statusesInOrder(topics, func(t string) (topicStatus, bool) {
				rt, ok := byName[t]
				if !ok {
					return topicStatus{}, false
				}
				return newTopicStatus(t, rt.ErrorCode, rt.ErrorMessage), true
			}))
		},
	}
	flags := cmd.Flags()
	flags.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions; -1 is the broker's num.partitions")
	flags.Int32VarP(&replicas, "replicas", "r", -1, "replication factor; -1 is the broker's default.replication.factor")
	flags.StringArrayVarP(&configs, "topic-config", "c", nil, "topic config key=value, repeatable")
	flags.BoolVarP(&dryRun, "dry-run", "d", false, "validate only; create nothing")
	return cmd
}
