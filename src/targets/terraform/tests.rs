//! Tests of the Terraform target.
