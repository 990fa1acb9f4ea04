# terraform init -reconfigure -backend-config=env/dev.backend.hcl
bucket = "acme-churn-tf-state-dev"
prefix = "mlopsgen/churn/dev"
