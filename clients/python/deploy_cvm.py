#!/usr/bin/python3
"""Deploys a CVM through the orchestrator and follows the operation to its end.

An example client of onchainkms.orchestrator.v1 in Python (python3-grpcio, stubs from
clients/python/generate.sh on PYTHONPATH). It sends DeployCvm, follows the operation with the
WatchOperation stream (reconnecting while the orchestrator restarts), answers WAITING_FOR_INPUT by
sending its env values again with SupplyEnvVars (as kmsctl does), and prints the final Operation
as one line of proto3 JSON on stdout; progress goes to stderr.

  PYTHONPATH=clients/python/gen /usr/bin/python3 clients/python/deploy_cvm.py \
      --address=unix:/run/onchain-kms/orchestrator.sock --name=my-app-1 \
      --compose-file=docker-compose.yml --kms-type=BASE --env-file=app.env

Over TCP the channel is TLS: --ca-file (else the system roots), --cert-file/--key-file for a
client certificate, --token-file for a bearer token ("authorization: Bearer <token>").

Exit codes: 0 SUCCEEDED, 1 FAILED or CANCELLED, 2 usage or input file, 3 a gRPC error (its
status code and message are printed), 4 timed out (the operation goes on).
"""

import argparse
import sys
import time
import uuid

import grpc
from google.protobuf import json_format

from onchainkms.orchestrator.v1 import orchestrator_pb2 as pb
from onchainkms.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc

# Retried until the deadline: the orchestrator restarting. A call that reaches it while it shuts
# down can also end CANCELLED (we never cancel a call we still wait on). Every call here is
# idempotent (request_id) or read-only, so a retry never starts a second operation.
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
TERMINAL = {pb.OPERATION_STATE_SUCCEEDED, pb.OPERATION_STATE_FAILED, pb.OPERATION_STATE_CANCELLED}
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_RPC, EXIT_TIMEOUT = 0, 1, 2, 3, 4


class RpcError(Exception):
    """A call that failed for good: what we were doing and the gRPC status."""

    def __init__(self, doing, err):
        super().__init__(f"{doing}: {err.code().name}: {err.details()}")


class TimedOut(Exception):
    pass


def duration(text):
    """Seconds in a duration as Go and kmsctl write it: a number and a unit (s, m, h)."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"not a duration (like 90s, 10m): {text!r}") from None


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--address", required=True, help="unix:/path/orchestrator.sock or host:port (TLS)")
    p.add_argument("--ca-file", help="PEM CA bundle for the server certificate (TCP)")
    p.add_argument("--cert-file", help="PEM client certificate (mTLS)")
    p.add_argument("--key-file", help="PEM client private key (mTLS)")
    p.add_argument("--token-file", help="file holding a bearer token (TCP with TLS only)")
    p.add_argument("--name", required=True, help="CVM name")
    p.add_argument("--compose-file", required=True, help="docker-compose.yml to run")
    p.add_argument("--kms-type", default="BASE", choices=["BASE", "ETHEREUM", "PHALA"])
    p.add_argument("--kms-id", default="", help="KmsInstance.id; empty lets the API choose")
    p.add_argument("--env-file", help="KEY=VALUE lines ('#' comments); values are never printed")
    p.add_argument("--request-id", default="", help="idempotency key; default a fresh UUID")
    p.add_argument("--timeout", type=duration, default="10m", help="how long to follow the operation: 90s, 10m, 1h")
    return p.parse_args(argv)


def usage(text):
    log(f"deploy_cvm: {text}")
    sys.exit(EXIT_USAGE)


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        usage(f"cannot read {what} {path}: {e.strerror}")


def read_env_file(path):
    """KEY=VALUE lines; a malformed line is an error naming its number, never its value."""
    env = []
    text = read_file(path, "--env-file").decode("utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            usage(f"{path}:{n}: expected KEY=VALUE")
        env.append(pb.EnvVar(key=key.strip(), value=value))
    return env


def open_channel(args):
    options = [("grpc.max_receive_message_length", 64 << 20)]
    if args.address.startswith("unix:"):
        if args.token_file or args.cert_file:
            usage("--token-file and --cert-file need a TCP address (TLS)")
        return grpc.insecure_channel(args.address, options=options)
    roots = read_file(args.ca_file, "--ca-file") if args.ca_file else None
    key = read_file(args.key_file, "--key-file") if args.key_file else None
    chain = read_file(args.cert_file, "--cert-file") if args.cert_file else None
    creds = grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=chain)
    if args.token_file:
        token = read_file(args.token_file, "--token-file").decode().strip()
        creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(token))
    return grpc.secure_channel(args.address, creds, options=options)


def with_retry(doing, deadline, call, attempts=None):
    """Calls call(timeout) until it answers other than RETRYABLE, the deadline passes, or (if
    given) after `attempts` calls: the last error is then the answer."""
    delay, attempt = 0.25, 0
    while True:
        attempt += 1
        try:
            return call(max(0.1, deadline - time.monotonic()))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED and time.monotonic() >= deadline:
                raise TimedOut() from None
            if e.code() not in RETRYABLE or attempt == attempts:
                raise RpcError(doing, e) from None
            if time.monotonic() + delay >= deadline:
                raise TimedOut() from None
            log(f"{doing}: orchestrator unavailable ({e.code().name}: {e.details()}); retrying in {delay:.2f} s")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def log(text):
    print(text, file=sys.stderr, flush=True)


def describe(event):
    kind = pb.OperationEvent.Type.Name(event.type).removeprefix("TYPE_")
    state = pb.OperationState.Name(event.operation.state).removeprefix("OPERATION_STATE_")
    parts = [f"#{event.sequence}", kind, event.step or state, event.transaction_hash, event.detail]
    return " ".join(p for p in parts if p)


def watch_once(stub, op_id, deadline):
    """One WatchOperation stream: the last Operation seen (or None) and the stream's error, if any.
    Stops at WAITING_FOR_INPUT (the caller supplies the values) and at a terminal state."""
    last = None
    stream = stub.WatchOperation(pb.WatchOperationRequest(operation_id=op_id),
                                 timeout=max(0.1, deadline - time.monotonic()))
    try:
        for event in stream:
            log(describe(event))
            last = event.operation
            if last.state == pb.OPERATION_STATE_WAITING_FOR_INPUT:
                stream.cancel()
                break
        return last, None
    except grpc.RpcError as e:
        return last, e


def follow(stub, op, env_vars, request_id, deadline):
    """Follows the operation to a terminal state; supplies env_vars once if it waits for them."""
    supplied = False
    delay = 0.25
    while True:
        last, err = watch_once(stub, op.id, deadline)
        op = last or op
        if op.state in TERMINAL:
            return op
        if op.state == pb.OPERATION_STATE_WAITING_FOR_INPUT:
            if supplied:
                raise SystemExit(f"deploy_cvm: operation {op.id} waits for input again: {op.input_request.reason}")
            log(f"the orchestrator lost the env values ({op.input_request.reason}); "
                f"sending {list(op.input_request.env_keys)} again")
            # Derived from the deploy's request id, so that a rerun of this client supplies idempotently.
            supply = pb.SupplyEnvVarsRequest(request_id=request_id[:121] + ":supply", operation_id=op.id,
                                             env_vars=env_vars)
            op = with_retry(f"SupplyEnvVars {op.id}", deadline, lambda t: stub.SupplyEnvVars(supply, timeout=t))
            supplied = True
            continue
        if err is not None and err.code() not in RETRYABLE + (grpc.StatusCode.DEADLINE_EXCEEDED,):
            raise RpcError(f"WatchOperation {op.id}", err)
        if time.monotonic() + delay >= deadline:
            raise TimedOut()
        reason = f"{err.code().name}: {err.details()}" if err is not None else "stream ended"
        log(f"lost the watch of {op.id} ({reason}); reconnecting in {delay:.2f} s")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def main(argv):
    args = parse_args(argv)
    request = pb.DeployCvmRequest(
        request_id=args.request_id or str(uuid.uuid4()),
        name=args.name,
        compose=pb.AppCompose(docker_compose_file=read_file(args.compose_file, "--compose-file").decode()),
        kms_type=pb.KmsType.Value("KMS_TYPE_" + args.kms_type),
        kms_id=args.kms_id,
        env_vars=read_env_file(args.env_file) if args.env_file else [],
    )
    log(f"request id {request.request_id}")
    deadline = time.monotonic() + args.timeout
    op_id = None
    with open_channel(args) as channel:
        stub = pb_grpc.OrchestratorStub(channel)
        try:
            # 4 attempts, as kmsctl: a wrong address fails in ~2 s, a restart is ridden out.
            op = with_retry("DeployCvm", deadline, lambda t: stub.DeployCvm(request, timeout=t), attempts=4)
            op_id = op.id
            log(f"operation {op.id}")
            op = follow(stub, op, request.env_vars, request.request_id, deadline)
        except RpcError as e:
            log(f"deploy_cvm: {e}")
            return EXIT_RPC
        except TimedOut:
            log(f"deploy_cvm: timed out following operation {op_id or '(not started)'}; it goes on")
            return EXIT_TIMEOUT
    print(json_format.MessageToJson(op, indent=None, preserving_proto_field_name=True), flush=True)
    state = pb.OperationState.Name(op.state)
    if op.state != pb.OPERATION_STATE_SUCCEEDED:
        log(f"deploy_cvm: operation {op.id} {state}: {op.error.step}: {op.error.message}")
        return EXIT_FAILED
    log(f"{state}: cvm {op.deploy.cvm_id}, app {op.deploy.app_id}, compose hash {op.deploy.compose_hash}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
