# terraform init -reconfigure -backend-config=env/dev.backend.hcl
bucket = "acme-demand-dev-tf-state"
prefix = "mlopsgen/demand/dev"
