package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// bearerToken sends "authorization: Bearer <token>" on every call, over TLS only.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return true }

// dial opens the channel: plaintext on a Unix socket (the server identifies us by our uid), TLS
// (with a client certificate and/or a bearer token) on TCP.
func dial(o options) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20))}
	if strings.HasPrefix(o.address, "unix:") {
		if o.tokenFile != "" || o.certFile != "" {
			return nil, errors.New("--token-file and --cert-file need a TCP address (TLS)")
		}
		// grpc.WithInsecure: Debian's grpc-go 1.33 predates credentials/insecure (1.34).
		return grpc.Dial(o.address, append(opts, grpc.WithInsecure())...)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(readFile(o.caFile, "--ca-file")) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate", o.caFile)
		}
		cfg.RootCAs = pool
	}
	if o.certFile != "" || o.keyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert-file/--key-file: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if o.tokenFile != "" {
		token := strings.TrimSpace(string(readFile(o.tokenFile, "--token-file")))
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(token)))
	}
	return grpc.Dial(o.address, opts...)
}
