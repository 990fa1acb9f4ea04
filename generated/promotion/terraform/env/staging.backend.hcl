# terraform init -reconfigure -backend-config=env/staging.backend.hcl
prefix = "mlopsgen/relay/staging"
