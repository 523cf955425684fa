// Command deploy_cvm deploys a CVM through the orchestrator and follows the operation to its end.
//
// An example client of onchainkms.orchestrator.v1 in Go. It sends DeployCvm, follows the
// operation with the WatchOperation stream (reconnecting while the orchestrator restarts),
// answers WAITING_FOR_INPUT by sending its env values again with SupplyEnvVars (as kmsctl does),
// and prints the final Operation as one line of proto3 JSON on stdout; progress goes to stderr.
//
//	deploy_cvm --address=unix:/run/onchain-kms/orchestrator.sock --name=my-app-1 \
//	    --compose-file=docker-compose.yml --kms-type=BASE --env-file=app.env
//
// Over TCP the channel is TLS: --ca-file (else the system roots), --cert-file/--key-file for a
// client certificate, --token-file for a bearer token ("authorization: Bearer <token>").
//
// Exit codes: 0 SUCCEEDED, 1 FAILED or CANCELLED, 2 usage or input file, 3 a gRPC error (its
// status code and message are printed), 4 timed out (the operation goes on).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/onchain-kms/onchain-kms/clients/go/onchainkms/orchestrator/v1"
)

const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitRPC     = 3
	exitTimeout = 4
)

// errTimedOut: the --timeout passed before the operation ended (it goes on in the orchestrator).
var errTimedOut = errors.New("timed out")

type options struct {
	address, caFile, certFile, keyFile, tokenFile string
	name, composeFile, kmsType, kmsID, envFile    string
	requestID                                     string
	timeout                                       time.Duration
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.address, "address", "", "unix:/path/orchestrator.sock or host:port (TLS)")
	flag.StringVar(&o.caFile, "ca-file", "", "PEM CA bundle for the server certificate (TCP)")
	flag.StringVar(&o.certFile, "cert-file", "", "PEM client certificate (mTLS)")
	flag.StringVar(&o.keyFile, "key-file", "", "PEM client private key (mTLS)")
	flag.StringVar(&o.tokenFile, "token-file", "", "file holding a bearer token (TCP with TLS only)")
	flag.StringVar(&o.name, "name", "", "CVM name")
	flag.StringVar(&o.composeFile, "compose-file", "", "docker-compose.yml to run")
	flag.StringVar(&o.kmsType, "kms-type", "BASE", "BASE, ETHEREUM or PHALA")
	flag.StringVar(&o.kmsID, "kms-id", "", "KmsInstance.id; empty lets the API choose")
	flag.StringVar(&o.envFile, "env-file", "", "KEY=VALUE lines ('#' comments); values are never printed")
	flag.StringVar(&o.requestID, "request-id", "", "idempotency key; default a fresh random id")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long to follow the operation")
	flag.Parse()
	if o.address == "" || o.name == "" || o.composeFile == "" {
		usage("--address, --name and --compose-file are required")
	}
	return o
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func usage(text string) {
	logf("deploy_cvm: %s", text)
	os.Exit(exitUsage)
}

func readFile(path, what string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		usage(fmt.Sprintf("cannot read %s: %v", what, err))
	}
	return b
}

func buildRequest(o options) *v1.DeployCvmRequest {
	kms, ok := v1.KmsType_value["KMS_TYPE_"+o.kmsType]
	if !ok || kms == 0 {
		usage("--kms-type must be BASE, ETHEREUM or PHALA")
	}
	req := &v1.DeployCvmRequest{
		RequestId: o.requestID,
		Name:      o.name,
		Compose:   &v1.AppCompose{DockerComposeFile: string(readFile(o.composeFile, "--compose-file"))},
		KmsType:   v1.KmsType(kms),
		KmsId:     o.kmsID,
	}
	if req.RequestId == "" {
		req.RequestId = newRequestID()
	}
	if o.envFile != "" {
		env, err := parseEnvFile(o.envFile, readFile(o.envFile, "--env-file"))
		if err != nil {
			usage(err.Error())
		}
		req.EnvVars = env
	}
	return req
}

// retryable: the orchestrator restarting. A call that reaches it while it shuts down can also end
// CANCELLED (ctx, ours, is not done then). Every call here is idempotent (request_id) or
// read-only, so a retry never starts a second operation.
func retryable(ctx context.Context, err error) bool {
	code := status.Code(err)
	return code == codes.Unavailable || (code == codes.Canceled && ctx.Err() == nil)
}

// withRetry calls call until it answers other than retryable, ctx ends, or (if attempts > 0)
// after that many calls: the last error is then the answer.
func withRetry(ctx context.Context, doing string, attempts int, call func(context.Context) (*v1.Operation, error)) (*v1.Operation, error) {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		op, err := call(ctx)
		if err == nil {
			return op, nil
		}
		code := status.Code(err)
		if code == codes.DeadlineExceeded && ctx.Err() != nil {
			return nil, errTimedOut
		}
		if !retryable(ctx, err) || attempt == attempts {
			return nil, rpcError(doing, err)
		}
		logf("%s: orchestrator unavailable (%s: %s); retrying in %v", doing, codeName(code), status.Convert(err).Message(), delay)
		if !sleep(ctx, delay) {
			return nil, errTimedOut
		}
		delay = nextDelay(delay)
	}
}

func rpcError(doing string, err error) error {
	s := status.Convert(err)
	return fmt.Errorf("%s: %s: %s", doing, codeName(s.Code()), s.Message())
}

// codeName is the canonical upper-case name (e.g. FAILED_PRECONDITION), as the other clients print it.
func codeName(c codes.Code) string {
	names := map[codes.Code]string{
		codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
		codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
		codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
		codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
		codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL",
		codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
	}
	if n, ok := names[c]; ok {
		return n
	}
	return c.String()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func nextDelay(d time.Duration) time.Duration {
	if d *= 2; d > 2*time.Second {
		return 2 * time.Second
	}
	return d
}

func run(o options) int {
	req := buildRequest(o)
	logf("request id %s", req.RequestId)
	conn, err := dial(o)
	if err != nil {
		usage(err.Error())
	}
	defer conn.Close()
	client := v1.NewOrchestratorClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	// 4 attempts, as kmsctl: a wrong address fails in ~2 s, a restart is ridden out.
	op, err := withRetry(ctx, "DeployCvm", 4, func(ctx context.Context) (*v1.Operation, error) {
		return client.DeployCvm(ctx, req)
	})
	if err == nil {
		logf("operation %s", op.Id)
		op, err = follow(ctx, client, op, req)
	}
	if errors.Is(err, errTimedOut) {
		id := "(not started)"
		if op != nil {
			id = op.Id
		}
		logf("deploy_cvm: timed out following operation %s; it goes on", id)
		return exitTimeout
	}
	if err != nil {
		logf("deploy_cvm: %v", err)
		return exitRPC
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(op)
	if err != nil {
		logf("deploy_cvm: %v", err)
		return exitFailed
	}
	fmt.Println(string(out))
	if op.State != v1.OperationState_OPERATION_STATE_SUCCEEDED {
		logf("deploy_cvm: operation %s %s: %s: %s", op.Id, op.State, op.GetError().GetStep(), op.GetError().GetMessage())
		return exitFailed
	}
	d := op.GetDeploy()
	logf("%s: cvm %s, app %s, compose hash %s", op.State, d.GetCvmId(), d.GetAppId(), d.GetComposeHash())
	return exitOK
}

func main() {
	os.Exit(run(parseFlags()))
}
