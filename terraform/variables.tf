variable "name" {
  description = "Prefix of every resource's Name tag, and the value of the `awsnycast` tag the daemons find their route tables by."
  type        = string
  default     = "awsnycast"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "azs" {
  description = "Availability zones, one router instance and one private route table per zone (at least two for failover)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]

  validation {
    condition     = length(var.azs) >= 2
    error_message = "Give at least two availability zones: a single router has nothing to fail over to."
  }
}

variable "vpc_cidr" {
  description = "The VPC's CIDR block."
  type        = string
  default     = "10.0.0.0/16"
}

variable "public_subnet_cidrs" {
  description = "One public subnet (where the routers live) per AZ, in `azs` order."
  type        = list(string)
  default     = ["10.0.0.0/24", "10.0.1.0/24"]
}

variable "private_subnet_cidrs" {
  description = "One private subnet (served by the routers) per AZ, in `azs` order."
  type        = list(string)
  default     = ["10.0.10.0/24", "10.0.11.0/24"]
}

variable "instance_type" {
  description = "Router instance type. t3.micro carries a few hundred Mbit/s of NAT; pick larger for more."
  type        = string
  default     = "t3.micro"
}

variable "ami_id" {
  description = "Router AMI; empty means the latest Amazon Linux 2023 for `architecture`, from AWS's public SSM parameter."
  type        = string
  default     = ""
}

variable "architecture" {
  description = "x86_64 or arm64: the AMI's and the awsnycast binary's architecture."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "key_name" {
  description = "EC2 key pair for SSH to the routers; null for none (use SSM Session Manager or EC2 Instance Connect)."
  type        = string
  default     = null
}

variable "ssh_cidrs" {
  description = "CIDR blocks allowed to SSH to the routers."
  type        = list(string)
  default     = []
}

variable "awsnycast_url" {
  description = "HTTPS URL the routers download the awsnycast binary from at boot (a release asset or an S3 object you host)."
  type        = string
}

variable "awsnycast_sha256" {
  description = "SHA-256 of that binary; the routers refuse to install anything else."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.awsnycast_sha256))
    error_message = "awsnycast_sha256 must be 64 lowercase hex digits (sha256sum's output)."
  }
}

variable "nat" {
  description = "Make the routers the private subnets' NAT: they manage 0.0.0.0/0 and masquerade the VPC's traffic."
  type        = bool
  default     = true
}

variable "nat_check_ip" {
  description = "Address the routers ping to decide their path to the Internet works (the NAT route's health check)."
  type        = string
  default     = "8.8.8.8"
}

variable "anycast_cidr" {
  description = "A /32 outside the VPC that the routers serve (for example an anycast DNS resolver); empty for none."
  type        = string
  default     = "192.168.1.1/32"
}

variable "anycast_port" {
  description = "TCP port of the service behind the anycast address; checked on each router's private IP, locally and by its peers."
  type        = number
  default     = 53
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "extra_user_data" {
  description = "Shell run at the end of the routers' boot script, e.g. to install the service behind the anycast address."
  type        = string
  default     = ""
}
