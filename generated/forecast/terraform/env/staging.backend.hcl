# terraform init -reconfigure -backend-config=env/staging.backend.hcl
bucket = "acme-demand-staging-tf-state"
prefix = "mlopsgen/demand/staging"
