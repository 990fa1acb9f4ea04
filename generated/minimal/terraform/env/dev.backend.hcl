# terraform init -reconfigure -backend-config=env/dev.backend.hcl
bucket = "acme-demo-tf-state-dev"
prefix = "mlopsgen/demo/dev"
