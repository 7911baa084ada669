//! Builds the AWSnycast README's network in the EC2 emulator through the real SDK: one VPC,
//! two AZs, public and private subnets, a tagged private route table per AZ, and one
//! router instance per AZ with source/destination checking disabled.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::imds::InstanceMetadata;

pub const REGION: &str = "eu-west-1";
pub const AZS: [&str; 2] = ["eu-west-1a", "eu-west-1b"];

/// An SDK client for the emulator at `url`, with dummy credentials.
pub fn client(url: &str) -> Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    Client::from_conf(config)
}

/// Environment for a daemon process that should talk to the emulator at `url`: only the
/// standard SDK variables.
pub fn daemon_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_EC2", url.to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
    ]
}

#[derive(Debug, Clone)]
pub struct Router {
    pub instance_id: String,
    pub eni_id: String,
    pub private_ip: String,
    pub mac: String,
    pub subnet_id: String,
    pub az: String,
}

#[derive(Debug, Clone)]
pub struct Vpc {
    pub vpc_id: String,
    pub public_subnets: Vec<String>,
    pub private_subnets: Vec<String>,
    /// The private route table of each AZ, in `AZS` order.
    pub private_tables: Vec<String>,
    /// The router instance of each AZ, in `AZS` order.
    pub routers: Vec<Router>,
}

impl Vpc {
    /// IMDS metadata for router `i`.
    pub fn metadata(&self, i: usize) -> InstanceMetadata {
        let r = &self.routers[i];
        InstanceMetadata {
            instance_id: r.instance_id.clone(),
            az: r.az.clone(),
            region: REGION.to_owned(),
            local_ipv4: r.private_ip.clone(),
            mac: r.mac.clone(),
            subnet_id: r.subnet_id.clone(),
            vpc_id: self.vpc_id.clone(),
        }
    }
}

fn tags(kind: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(kind);
    for (k, v) in pairs {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    spec.build()
}

/// Builds the layout; `cidr` is the VPC block, e.g. "10.0.0.0/16" (octet 2 is varied for
/// subnets), `name` tags everything so several VPCs can coexist.
pub async fn build(ec2: &Client, name: &str, second_octet: u8) -> Vpc {
    let vpc = ec2
        .create_vpc()
        .cidr_block(format!("10.{second_octet}.0.0/16"))
        .tag_specifications(tags(ResourceType::Vpc, &[("Name", name)]))
        .send()
        .await
        .expect("create vpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_owned();

    let image_id = ec2
        .describe_images()
        .send()
        .await
        .expect("describe images")
        .images()
        .iter()
        .find_map(|i| i.image_id().map(str::to_owned))
        .expect("the emulator offers at least one image");

    let mut public_subnets = Vec::new();
    let mut private_subnets = Vec::new();
    let mut private_tables = Vec::new();
    let mut routers = Vec::new();
    for (i, az) in AZS.iter().enumerate() {
        let letter = &az[az.len() - 1..];
        let subnet = |cidr: String, label: String| {
            let vpc_id = vpc_id.clone();
            async move {
                ec2.create_subnet()
                    .vpc_id(vpc_id)
                    .cidr_block(cidr)
                    .availability_zone(*az)
                    .tag_specifications(tags(ResourceType::Subnet, &[("Name", &label)]))
                    .send()
                    .await
                    .expect("create subnet")
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .expect("subnet id")
                    .to_owned()
            }
        };
        let public = subnet(
            format!("10.{second_octet}.{i}.0/24"),
            format!("{name}-public-{letter}"),
        )
        .await;
        let private = subnet(
            format!("10.{second_octet}.{}.0/24", 10 + i),
            format!("{name}-private-{letter}"),
        )
        .await;

        let table = ec2
            .create_route_table()
            .vpc_id(&vpc_id)
            .tag_specifications(tags(
                ResourceType::RouteTable,
                &[
                    ("Name", &format!("{name}-private-{letter}")),
                    ("az", az),
                    ("type", "private"),
                ],
            ))
            .send()
            .await
            .expect("create route table")
            .route_table()
            .and_then(|t| t.route_table_id())
            .expect("route table id")
            .to_owned();
        ec2.associate_route_table()
            .route_table_id(&table)
            .subnet_id(&private)
            .send()
            .await
            .expect("associate route table");

        let run = ec2
            .run_instances()
            .image_id(&image_id)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .subnet_id(&public)
            .tag_specifications(tags(
                ResourceType::Instance,
                &[("Name", &format!("{name}-router-{letter}"))],
            ))
            .send()
            .await
            .expect("run instance");
        let instance = &run.instances()[0];
        let instance_id = instance.instance_id().expect("instance id").to_owned();
        let eni = &instance.network_interfaces()[0];
        let eni_id = eni.network_interface_id().expect("eni id").to_owned();
        ec2.modify_network_interface_attribute()
            .network_interface_id(&eni_id)
            .source_dest_check(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(false)
                    .build(),
            )
            .send()
            .await
            .expect("disable source/dest check");
        let described = ec2
            .describe_network_interfaces()
            .network_interface_ids(&eni_id)
            .send()
            .await
            .expect("describe eni");
        let iface = &described.network_interfaces()[0];
        routers.push(Router {
            instance_id,
            eni_id,
            private_ip: iface.private_ip_address().expect("private ip").to_owned(),
            mac: iface.mac_address().unwrap_or("02:00:00:00:00:01").to_owned(),
            subnet_id: public.clone(),
            az: (*az).to_owned(),
        });
        public_subnets.push(public);
        private_subnets.push(private);
        private_tables.push(table);
    }
    Vpc {
        vpc_id,
        public_subnets,
        private_subnets,
        private_tables,
        routers,
    }
}

/// A fresh emulator with the README's VPC built in it, and a client for it.
pub async fn emulated(name: &str) -> (super::moto::Moto, Client, Vpc) {
    let moto = super::moto::Moto::start();
    let ec2 = client(&moto.url());
    let vpc = build(&ec2, name, 0).await;
    (moto, ec2, vpc)
}

/// Route tables of a VPC whose tags match, for assertions.
pub async fn tables_tagged(ec2: &Client, vpc_id: &str, key: &str, value: &str) -> Vec<String> {
    ec2.describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .filters(Filter::builder().name(format!("tag:{key}")).values(value).build())
        .send()
        .await
        .expect("describe route tables")
        .route_tables()
        .iter()
        .filter_map(|t| t.route_table_id().map(str::to_owned))
        .collect()
}
