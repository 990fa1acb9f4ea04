# terraform init -reconfigure -backend-config=env/prod.backend.hcl
bucket = "acme-relay-prod-tf-state"
prefix = "mlopsgen/relay/prod"
