# Two (or more) router instances, one per AZ, each running awsnycast with the same config.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

data "aws_ssm_parameter" "al2023" {
  count = var.ami_id == "" ? 1 : 0

  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.architecture}"
}

locals {
  ami_id = var.ami_id != "" ? var.ami_id : nonsensitive(data.aws_ssm_parameter.al2023[0].value)

  # The least-privilege policy from the project README: read what the decisions need, write
  # routes only in route tables of this VPC.
  daemon_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "Observe"
        Effect = "Allow"
        Action = [
          "ec2:DescribeRouteTables",
          "ec2:DescribeInstances",
          "ec2:DescribeInstanceStatus",
          "ec2:DescribeNetworkInterfaces",
        ]
        Resource = "*"
      },
      {
        Sid      = "ManageRoutesInOwnVpc"
        Effect   = "Allow"
        Action   = ["ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute"]
        Resource = "arn:${data.aws_partition.current.partition}:ec2:${var.region}:${data.aws_caller_identity.current.account_id}:route-table/*"
        Condition = {
          StringEquals = { "ec2:Vpc" = aws_vpc.this.arn }
        }
      },
    ]
  }

  config = templatefile("${path.module}/templates/awsnycast.yaml.tftpl", {
    name         = var.name
    nat          = var.nat
    nat_check_ip = var.nat_check_ip
    anycast_cidr = var.anycast_cidr
    anycast_port = var.anycast_port
  })

  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    awsnycast_url    = var.awsnycast_url
    awsnycast_sha256 = var.awsnycast_sha256
    config           = local.config
    nat              = var.nat
    vpc_cidr         = var.vpc_cidr
    anycast_cidr     = var.anycast_cidr
    extra_user_data  = var.extra_user_data
  })
}

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "router" {
  name               = "${var.name}-router"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
}

resource "aws_iam_role_policy" "daemon" {
  name   = "awsnycast"
  role   = aws_iam_role.router.id
  policy = jsonencode(local.daemon_policy)
}

resource "aws_iam_instance_profile" "router" {
  name = "${var.name}-router"
  role = aws_iam_role.router.name
}

resource "aws_instance" "router" {
  count = length(var.azs)

  ami                    = local.ami_id
  instance_type          = var.instance_type
  subnet_id              = aws_subnet.public[count.index].id
  vpc_security_group_ids = [aws_security_group.router.id]
  iam_instance_profile   = aws_iam_instance_profile.router.name
  key_name               = var.key_name

  # A router forwards packets that are neither from nor to itself.
  source_dest_check = false

  user_data                   = local.user_data
  user_data_replace_on_change = true

  # awsnycast reads its identity through IMDSv2 only.
  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  tags = { Name = "${var.name}-router-${var.azs[count.index]}" }

  lifecycle {
    precondition {
      condition     = var.nat || var.anycast_cidr != ""
      error_message = "The routers would manage no route: set nat = true, give an anycast_cidr, or both."
    }
  }
}
