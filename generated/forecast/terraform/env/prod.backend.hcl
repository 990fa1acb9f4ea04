# terraform init -reconfigure -backend-config=env/prod.backend.hcl
bucket = "acme-demand-prod-tf-state"
prefix = "mlopsgen/demand/prod"
