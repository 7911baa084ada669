# Used by tests/terraform.rs only: copied beside the example's files (as an override file,
# so the example itself stays as an operator would use it) with @ENDPOINT@ replaced by the
# test's moto server. Everything the example calls goes there, with dummy credentials.
provider "aws" {
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true

  endpoints {
    ec2 = "@ENDPOINT@"
    iam = "@ENDPOINT@"
    ssm = "@ENDPOINT@"
    sts = "@ENDPOINT@"
  }
}
