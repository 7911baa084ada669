output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "router_instance_ids" {
  description = "Router instances, in `azs` order."
  value       = aws_instance.router[*].id
}

output "router_private_ips" {
  description = "Routers' private IPs (where peers' remote checks reach them), in `azs` order."
  value       = aws_instance.router[*].private_ip
}

output "router_public_ips" {
  description = "Routers' public IPs (NAT egress addresses), in `azs` order."
  value       = aws_instance.router[*].public_ip
}

output "router_eni_ids" {
  description = "Routers' primary network interfaces (what managed routes point at), in `azs` order."
  value       = aws_instance.router[*].primary_network_interface_id
}

output "private_route_table_ids" {
  description = "The managed private route tables, in `azs` order."
  value       = aws_route_table.private[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, in `azs` order."
  value       = aws_subnet.private[*].id
}

output "awsnycast_config" {
  description = "The /etc/awsnycast.yaml every router gets."
  value       = local.config
}

output "iam_policy" {
  description = "The routers' IAM policy (the one in the project README)."
  value       = jsonencode(local.daemon_policy)
}

output "user_data" {
  description = "The routers' boot script."
  value       = local.user_data
}
