# terraform init -reconfigure -backend-config=env/dev.backend.hcl
prefix = "mlopsgen/relay/dev"
