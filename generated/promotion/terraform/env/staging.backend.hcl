# terraform init -reconfigure -backend-config=env/staging.backend.hcl
bucket = "acme-relay-staging-tf-state"
prefix = "mlopsgen/relay/staging"
