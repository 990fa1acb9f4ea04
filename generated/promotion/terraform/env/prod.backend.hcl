# terraform init -reconfigure -backend-config=env/prod.backend.hcl
prefix = "mlopsgen/relay/prod"
