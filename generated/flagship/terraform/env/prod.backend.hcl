# terraform init -reconfigure -backend-config=env/prod.backend.hcl
bucket = "acme-churn-tf-state-prod"
prefix = "mlopsgen/churn/prod"
