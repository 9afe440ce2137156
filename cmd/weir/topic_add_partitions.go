package main

import (
	"fmt"
	"math"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) topicAddPartitionsCommand(o *clientOptions) *cobra.Command {
	var (
		num    int32
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "add-partitions TOPIC... --num N",
		Short: "Add partitions to topics",
		Long: `Add N partitions to each topic (CreatePartitions). As in rpk, --num is the number of
partitions to add, not the new total: a topic with 3 partitions and --num 2 ends with 5. The
current count is read from the metadata first. --dry-run asks the broker to validate only.

Output, text: a table with columns TOPIC and STATUS, one row per topic in argument order;
STATUS is OK or the error. JSON: one line, an array of {"topic","status","error_code"}. Exits 1
if any topic failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if num < 1 {
				return usageError{fmt.Errorf("--num %d: want at least 1 partition to add", num)}
			}
			topics := uniqueArgs(args)
			cl, err := a.newClient(o)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := o.stepContext(cmd.Context())
			defer cancel()
			meta, err := requestMetadata(ctx, cl, topics)
			if err != nil {
				return err
			}
			current := metadataByTopic(meta)
			statuses := make(map[string]topicStatus, len(topics))
			req := kmsg.NewPtrCreatePartitionsRequest()
			req.TimeoutMillis = timeoutMillis(o)
			req.ValidateOnly = dryRun
			for _, t := range topics {
				mt, ok := current[t]
				switch {
				case !ok:
					statuses[t] = topicStatus{Topic: t, Status: "no answer from the broker for this topic", ErrorCode: unknownServerErrorCode}
					continue
				case mt.ErrorCode != 0:
					statuses[t] = newTopicStatus(t, mt.ErrorCode, nil)
					continue
				case int64(len(mt.Partitions))+int64(num) > math.MaxInt32:
					statuses[t] = topicStatus{Topic: t, Status: fmt.Sprintf("INVALID_PARTITIONS: %d + %d partitions is too many", len(mt.Partitions), num), ErrorCode: invalidPartitionsErrorCode}
					continue
				}
				rt := kmsg.NewCreatePartitionsRequestTopic()
				rt.Topic = t
				rt.Count = int32(len(mt.Partitions)) + num
				req.Topics = append(req.Topics, rt)
			}
			if len(req.Topics) > 0 {
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					return fmt.Errorf("create partitions request: %w", err)
				}
				for _, rt := range resp.Topics {
					statuses[rt.Topic] = newTopicStatus(rt.Topic, rt.ErrorCode, rt.ErrorMessage)
				}
			}
			return printStatuses(a.stdout, o.format, statusesInOrder(topics, func(t string) (topicStatus, bool) {
				s, ok := statuses[t]
				return s, ok
			}))
		},
	}
	flags := cmd.Flags()
	flags.Int32VarP(&num, "num", "n", 0, "number of partitions to add to each topic (required)")
	flags.BoolVarP(&dryRun, "dry-run", "d", false, "validate only; change nothing")
	return cmd
}

// invalidPartitionsErrorCode is Kafka's INVALID_PARTITIONS.
const invalidPartitionsErrorCode = 37
