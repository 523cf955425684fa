#!/usr/bin/env bash
# Prints the ConfigMap onchain-kms-config of onchain-kms.yaml (or, with --replicas, of
# replicas/onchain-kms-replicas.yaml) for one environment: orchestrator.textproto,
# signer.textproto, signer-policy.textproto. The paths, ports, uids and socket inside are the
# manifests' (keep them in step); what differs between environments comes from the flags.
# config.example.yaml is its output for the example values; tools/k8s-demo.sh runs it for the
# local chain and simulator.
#
#   deploy/k8s/config.sh --chain-id=N --rpc-url=URL --kms-address=0x.. --phala-base-url=URL \
#       --signer-key=0x.. --client-name=NAME --token-name=NAME [--replicas] > config.yaml
set -euo pipefail

chain_id="" rpc_url="" kms_address="" base_url="" key="" client_name="" token_name="" replicas=0
for arg in "$@"; do
  case "$arg" in
    --chain-id=*) chain_id=${arg#*=} ;;
    --rpc-url=*) rpc_url=${arg#*=} ;;
    --kms-address=*) kms_address=${arg#*=} ;;
    --phala-base-url=*) base_url=${arg#*=} ;;
    --signer-key=*) key=${arg#*=} ;;
    --client-name=*) client_name=${arg#*=} ;;
    --token-name=*) token_name=${arg#*=} ;;
    --replicas) replicas=1 ;;
    *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
for pair in chain_id:chain-id rpc_url:rpc-url kms_address:kms-address base_url:phala-base-url key:signer-key \
  client_name:client-name token_name:token-name; do
  v=${pair%%:*}
  [ -n "${!v}" ] || { echo "config.sh: --${pair#*:} is required" >&2; exit 2; }
done

# The state: SQLite files on the pod's volumes, or PostgreSQL shared by the replicas (the
# connection strings are Secrets).
if [ "$replicas" -eq 1 ]; then
  journal='journal { postgres { dsn_file: "/run/secrets/onchain-kms/orchestrator/journal.dsn" } }'
  record='anti_equivocation_postgres { dsn_file: "/run/secrets/onchain-kms/signer/record.dsn" }'
else
  journal='journal_path: "/var/lib/onchain-kms/orchestrator-journal.sqlite"'
  record='anti_equivocation_db_path: "/var/lib/onchain-kms/signer-equivocation.sqlite"'
fi

cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: onchain-kms-config
  labels: {app.kubernetes.io/name: onchain-kms}
data:
  orchestrator.textproto: |
    # proto-message: onchainkms.orchestrator.v1.OrchestratorConfig (deploy/k8s/config.sh)
    listen {
      tcp {
        address: "0.0.0.0:7443"
        tls {
          cert_file: "/run/secrets/onchain-kms/orchestrator/tls.crt"
          key_file: "/run/secrets/onchain-kms/orchestrator/tls.key"
          client_ca_file: "/run/secrets/onchain-kms/orchestrator/ca.crt"
          allowed_client_names: "$client_name"
        }
        bearer_tokens_file: "/run/secrets/onchain-kms/orchestrator/bearer-tokens"
      }
    }
    phala_cloud {
      base_url: "$base_url"
      api_key_file: "/run/secrets/onchain-kms/orchestrator/phala-cloud-api-key"
      request_timeout { seconds: 30 }
    }
    chains {
      chain_id: $chain_id
      kms_type: KMS_TYPE_BASE
      rpc_endpoints: "$rpc_url"
      max_fee_per_gas_wei: "100000000000"
      max_priority_fee_per_gas_wei: "10000000000"
      receipt_timeout { seconds: 120 }
    }
    signer { address: "unix:/run/onchain-kms/signer.sock" timeout { seconds: 10 } }
    default_signer_key_address: "$key"
    $journal
    metrics_port: 9103
    metrics_bind_address: "0.0.0.0"
    # The deployer's certificate and the CI token share one tenant; the probe's certificate
    # (not on allowed_client_names) only reaches grpc.health.v1.
    access {
      tenants {
        name: "deployers"
        members: ["cert:$client_name", "token:$token_name"]
        signer_keys { address: "$key" }
      }
    }
  signer.textproto: |
    # proto-message: onchainkms.signer.v1.SignerConfig (deploy/k8s/config.sh)
    # The socket is 0660 in the pods' group 10000; of that group only uid 10002 (the
    # orchestrator) is admitted (SO_PEERCRED), besides the signer's own uid.
    listen { unix { path: "/run/onchain-kms/signer.sock" mode: "0660" allowed_peer_uids: 10002 } }
    keystore_dir: "/run/secrets/onchain-kms/keystore"
    password { file: "/run/secrets/onchain-kms/signer/password" }
    policy_file: "/etc/onchain-kms/signer-policy.textproto"
    $record
    audit_log_path: "/var/lib/onchain-kms/signer-audit.jsonl"
    metrics_port: 9102
    metrics_bind_address: "0.0.0.0"
  signer-policy.textproto: |
    # proto-message: onchainkms.signer.v1.Policy (deploy/k8s/config.sh)
    chains {
      chain_id: $chain_id
      kms_contract_addresses: "$kms_address"
      any_app: true
      max_fee_per_gas_wei: "100000000000"
      max_priority_fee_per_gas_wei: "10000000000"
      max_gas_limit: 2000000
    }
    default_key_limits {
      rate_limit { requests_per_second: 10 burst: 20 }
      fee_budget_24h_wei: "1000000000000000000"
    }
    keys { address: "$key" }
    message_signing { enabled: false }
    callers {
      name: "orchestrator"
      identities: "uid:10002"
      keys: "$key"
      intents: [ INTENT_DEPLOY_AND_REGISTER_APP, INTENT_ADD_COMPOSE_HASH ]
    }
EOF
