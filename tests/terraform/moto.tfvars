# Variables for the test run against moto. The binary is never downloaded (moto runs no
# user data); the test runs the daemons itself with the config Terraform rendered.
awsnycast_url    = "https://example.invalid/awsnycast"
awsnycast_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
# Checks must stay on this machine: the NAT check pings loopback, the anycast service is
# the test's web server on each router's private IP (in a network namespace).
nat_check_ip = "127.0.0.1"
anycast_port = 8080
