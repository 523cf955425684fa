package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/status"

	v1 "github.com/onchain-kms/onchain-kms/clients/go/onchainkms/orchestrator/v1"
)

func terminal(s v1.OperationState) bool {
	return s == v1.OperationState_OPERATION_STATE_SUCCEEDED || s == v1.OperationState_OPERATION_STATE_FAILED ||
		s == v1.OperationState_OPERATION_STATE_CANCELLED
}

func describe(e *v1.OperationEvent) string {
	parts := []string{fmt.Sprintf("#%d", e.Sequence), strings.TrimPrefix(e.Type.String(), "TYPE_")}
	step := e.Step
	if step == "" {
		step = strings.TrimPrefix(e.GetOperation().GetState().String(), "OPERATION_STATE_")
	}
	for _, p := range []string{step, e.TransactionHash, e.Detail} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// watchOnce reads one WatchOperation stream: the last Operation seen (or nil) and the stream's
// error, if any. It stops at WAITING_FOR_INPUT (the caller supplies the values) and at the end.
func watchOnce(ctx context.Context, client v1.OrchestratorClient, id string) (*v1.Operation, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream when we stop early
	stream, err := client.WatchOperation(ctx, &v1.WatchOperationRequest{OperationId: id})
	if err != nil {
		return nil, err
	}
	var last *v1.Operation
	for {
		e, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return last, nil
			}
			return last, err
		}
		logf("%s", describe(e))
		last = e.Operation
		if last.GetState() == v1.OperationState_OPERATION_STATE_WAITING_FOR_INPUT {
			return last, nil
		}
	}
}

// follow follows the operation to a terminal state; it supplies the request's env values once if
// the operation waits for them (the orchestrator restarted before encrypting them).
func follow(ctx context.Context, client v1.OrchestratorClient, op *v1.Operation, req *v1.DeployCvmRequest) (*v1.Operation, error) {
	supplied := false
	delay := 250 * time.Millisecond
	for {
		last, err := watchOnce(ctx, client, op.Id)
		if last != nil {
			op = last
		}
		if terminal(op.State) {
			return op, nil
		}
		if op.State == v1.OperationState_OPERATION_STATE_WAITING_FOR_INPUT {
			if supplied {
				return nil, fmt.Errorf("operation %s waits for input again: %s", op.Id, op.GetInputRequest().GetReason())
			}
			logf("the orchestrator lost the env values (%s); sending %v again", op.GetInputRequest().GetReason(),
				op.GetInputRequest().GetEnvKeys())
			supply := &v1.SupplyEnvVarsRequest{
				// Derived from the deploy's request id, so that a rerun of this client supplies idempotently.
				RequestId:   truncate(req.RequestId, 121) + ":supply",
				OperationId: op.Id,
				EnvVars:     req.EnvVars,
			}
			if op, err = withRetry(ctx, "SupplyEnvVars "+op.Id, 0, func(ctx context.Context) (*v1.Operation, error) {
				return client.SupplyEnvVars(ctx, supply)
			}); err != nil {
				return nil, err
			}
			supplied = true
			continue
		}
		code := status.Code(err)
		if ctx.Err() != nil {
			return op, errTimedOut
		}
		if err != nil && !retryable(ctx, err) {
			return nil, rpcError("WatchOperation "+op.Id, err)
		}
		reason := "stream ended"
		if err != nil {
			reason = codeName(code) + ": " + status.Convert(err).Message()
		}
		logf("lost the watch of %s (%s); reconnecting in %v", op.Id, reason, delay)
		if !sleep(ctx, delay) {
			return op, errTimedOut
		}
		delay = nextDelay(delay)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
