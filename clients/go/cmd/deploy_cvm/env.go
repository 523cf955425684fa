package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	v1 "github.com/onchain-kms/onchain-kms/clients/go/onchainkms/orchestrator/v1"
)

// parseEnvFile reads KEY=VALUE lines ('#' starts a comment line); a malformed line is an error
// naming its number, never its value.
func parseEnvFile(path string, text []byte) ([]*v1.EnvVar, error) {
	var env []*v1.EnvVar
	for i, line := range strings.Split(strings.ReplaceAll(string(text), "\r\n", "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", path, i+1)
		}
		env = append(env, &v1.EnvVar{Key: strings.TrimSpace(key), Value: value})
	}
	return env, nil
}

// newRequestID is a random UUID (version 4), the request id the API suggests.
func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // the kernel's random source does not fail
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
