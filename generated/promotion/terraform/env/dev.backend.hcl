# terraform init -reconfigure -backend-config=env/dev.backend.hcl
bucket = "acme-relay-dev-tf-state"
prefix = "mlopsgen/relay/dev"
