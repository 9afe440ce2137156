package main

import (
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) topicDeleteCommand(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "delete TOPIC...",
		Short: "Delete topics",
		Long: `Delete topics (DeleteTopics) by name.

Output, text: a table with columns TOPIC and STATUS, one row per topic in argument order;
STATUS is OK or the error. JSON: one line, an array of {"topic","status","error_code"}. Exits 1
if any topic failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			topics := uniqueArgs(args)
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.TimeoutMillis = timeoutMillis(o)
			for _, t := range topics {
				rt := kmsg.NewDeleteTopicsRequestTopic()
				rt.Topic = kmsg.StringPtr(t)
				req.Topics = append(req.Topics, rt)
				req.TopicNames = append(req.TopicNames, t) // v0-5 name topics here
			}
			resp, err := adminRequest[*kmsg.DeleteTopicsResponse](cmd.Context(), a, o, req)
			if err != nil {
				return err
			}
			byName := make(map[string]*kmsg.DeleteTopicsResponseTopic, len(resp.Topics))
			for i := range resp.Topics {
				if rt := &resp.Topics[i]; rt.Topic != nil {
					byName[*rt.Topic] = rt
				}
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
}
