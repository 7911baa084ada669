//! The Terraform example (`terraform/`), for real against moto: offline `init` from the
//! provider mirror, `validate`, `apply`; then two daemons run with the identities of the
//! instances Terraform created and the very `/etc/awsnycast.yaml` its user data writes,
//! converge, fail over and fail back; then `destroy`. Needs root (network namespaces hold
//! the routers' private IPs), Terraform and the provider mirror, like CI has.

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use support::daemon::Daemon;
use support::imds::{FakeImds, InstanceMetadata};
use support::moto::Moto;
use support::netns::Host;
use support::scenario::{self, PORT, SETTLED, Service};
use support::terraform::{self as tf, Workspace};
use support::vpc;

const ANYCAST: &str = "192.168.1.1/32";
const DEFAULT: &str = "0.0.0.0/0";

/// The example's variables for this run: moto's dummy binary URL and checks that stay on
/// this machine (tests/terraform/moto.tfvars), and a VPC range no other test routes.
fn var_args() -> Vec<String> {
    let vars = support::repo().join("tests/terraform/moto.tfvars");
    vec![
        format!("-var-file={}", vars.display()),
        "-var=vpc_cidr=10.30.0.0/16".into(),
        r#"-var=public_subnet_cidrs=["10.30.0.0/24","10.30.1.0/24"]"#.into(),
        r#"-var=private_subnet_cidrs=["10.30.10.0/24","10.30.11.0/24"]"#.into(),
        format!("-var=region={}", vpc::REGION),
        format!(r#"-var=azs=["{}","{}"]"#, vpc::AZS[0], vpc::AZS[1]),
    ]
}

fn with_vars<'a>(args: &[&'a str], vars: &'a [String]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(vars.iter().map(String::as_str));
    all
}

/// The JSON policy in README's "IAM policy" section, with its placeholders filled in.
fn readme_policy(account: &str, vpc_id: &str) -> serde_json::Value {
    let readme = std::fs::read_to_string(support::repo().join("README.md")).expect("README.md");
    let section = readme
        .split("## IAM policy")
        .nth(1)
        .expect("README has an \"IAM policy\" section");
    let json = section
        .split("```json")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a ```json block in README's IAM policy section");
    let filled = json
        .replace("REGION", vpc::REGION)
        .replace("ACCOUNT", account)
        .replace("VPC_ID", vpc_id);
    serde_json::from_str(&filled).expect("README's IAM policy is valid JSON")
}

/// A router as the test runs it: its identity from EC2, its private IP in a namespace with
/// the anycast service (a web server on PORT), a fake IMDS and a daemon.
struct Router {
    meta: InstanceMetadata,
    eni: String,
    service: Service,
    imds: FakeImds,
}

async fn router(ec2: &aws_sdk_ec2::Client, instance_id: &str) -> Router {
    let out = ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .expect("describe the router instance");
    let instance = out.reservations()[0].instances()[0].clone();
    let nic = instance.network_interfaces()[0].clone();
    // What the example promises of a router instance.
    assert_eq!(
        instance.source_dest_check(),
        Some(false),
        "{instance_id}: source/destination check"
    );
    assert!(
        instance
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .is_some_and(|arn| arn.ends_with("instance-profile/awsnycast-router")),
        "{instance_id}: instance profile {:?}",
        instance.iam_instance_profile()
    );
    assert_eq!(
        instance.metadata_options().and_then(|m| m.http_tokens()),
        Some(&aws_sdk_ec2::types::HttpTokensState::Required),
        "{instance_id}: IMDSv2 required"
    );
    let meta = InstanceMetadata {
        instance_id: instance_id.to_owned(),
        az: instance
            .placement()
            .and_then(|p| p.availability_zone())
            .expect("placement")
            .to_owned(),
        region: vpc::REGION.to_owned(),
        local_ipv4: instance.private_ip_address().expect("private ip").to_owned(),
        mac: nic.mac_address().expect("mac").to_owned(),
        subnet_id: instance.subnet_id().expect("subnet").to_owned(),
        vpc_id: instance.vpc_id().expect("vpc").to_owned(),
    };
    let ip: Ipv4Addr = meta.local_ipv4.parse().expect("an IPv4 private ip");
    let host = Host::new();
    host.add_address(ip);
    let service = Service::start(host, ip);
    let imds = FakeImds::start(&meta);
    Router {
        eni: nic.network_interface_id().expect("eni").to_owned(),
        meta,
        service,
        imds,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_example_applies_converges_fails_over_and_destroys() {
    let fmt = std::process::Command::new("terraform")
        .args(["fmt", "-check", "-recursive", "-diff"])
        .current_dir(support::repo().join("terraform"))
        .output()
        .expect("run terraform fmt (is Terraform installed?)");
    assert!(
        fmt.status.success(),
        "terraform/ is not `terraform fmt` clean:\n{}",
        support::text(&fmt).0
    );

    let moto = Moto::start();
    let ws = Workspace::new(&moto.url()).unwrap_or_else(|e| panic!("{e}"));
    let vars = var_args();
    ws.run(&["init", "-input=false", "-no-color"])
        .unwrap_or_else(|e| panic!("{e}"));
    ws.run(&["validate", "-no-color"])
        .unwrap_or_else(|e| panic!("{e}"));
    ws.run(&with_vars(
        &["apply", "-auto-approve", "-input=false", "-no-color"],
        &vars,
    ))
    .unwrap_or_else(|e| panic!("{e}"));

    let outputs = ws.outputs().unwrap_or_else(|e| panic!("{e}"));
    let get = |name: &str| tf::strings(&outputs, name).unwrap_or_else(|e| panic!("{e}"));
    let instances = get("router_instance_ids");
    let tables = get("private_route_table_ids");
    let enis = get("router_eni_ids");
    let vpc_id = tf::string(&outputs, "vpc_id").unwrap_or_else(|e| panic!("{e}"));
    let config = tf::string(&outputs, "awsnycast_config").unwrap_or_else(|e| panic!("{e}"));
    let user_data = tf::string(&outputs, "user_data").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((instances.len(), tables.len(), enis.len()), (2, 2, 2));
    assert!(
        config.contains(&format!("port: {PORT}")),
        "moto.tfvars points the anycast check at the test's service port {PORT}:\n{config}"
    );

    // The role's policy is the README's, and the boot script is valid shell that writes
    // exactly the config the daemons below run.
    let policy: serde_json::Value =
        serde_json::from_str(&tf::string(&outputs, "iam_policy").unwrap_or_else(|e| panic!("{e}")))
            .expect("iam_policy is JSON");
    assert_eq!(policy, readme_policy("123456789012", &vpc_id));
    assert!(
        user_data.contains(config.trim_end()),
        "user data writes the config"
    );
    let script = ws.dir.path().join("user-data.sh");
    std::fs::write(&script, &user_data).expect("write user data");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash -n");
    assert!(syntax.status.success(), "user data: {}", support::text(&syntax).1);

    let ec2 = vpc::client(&moto.url());
    let mut routers = Vec::new();
    for id in &instances {
        routers.push(router(&ec2, id).await);
    }

    // The example's other shapes render valid configs too (checked with the daemon's own
    // -check, with router 0's identity), and "nothing to manage" is refused at plan time.
    for (variant, managed) in [
        ("-var=nat=false", "192.168.1.1/32"),
        ("-var=anycast_cidr=", "0.0.0.0/0"),
    ] {
        let rendered = ws
            .evaluate("local.config", &with_vars(&[variant], &vars))
            .unwrap_or_else(|e| panic!("{e}"));
        let file = ws.dir.path().join("variant.yaml");
        std::fs::write(&file, &rendered).expect("write variant");
        let check = support::awsnycast()
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", routers[0].imds.url())
            .args(["-check", "-f"])
            .arg(&file)
            .output()
            .expect("awsnycast -check");
        let (stdout, stderr) = support::text(&check);
        assert!(check.status.success(), "{variant}:\n{rendered}\n{stdout}{stderr}");
        assert!(stdout.contains(managed), "{variant}: {stdout}");
    }
    let refused = ws
        .command(&with_vars(
            &[
                "plan",
                "-input=false",
                "-no-color",
                "-var=nat=false",
                "-var=anycast_cidr=",
            ],
            &vars,
        ))
        .output()
        .expect("terraform plan");
    let (stdout, stderr) = support::text(&refused);
    assert!(
        !refused.status.success() && stderr.contains("would manage no route"),
        "{stdout}{stderr}"
    );

    for (i, r) in routers.iter().enumerate() {
        assert_eq!(r.eni, enis[i], "router {i}'s interface");
        assert_eq!(r.meta.az, vpc::AZS[i]);
    }
    let started = std::time::Instant::now();
    while !routers.iter().all(|r| r.service.up()) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the services did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let config_file = ws.dir.path().join("awsnycast.yaml");
    std::fs::write(&config_file, &config).expect("write config");
    let mut daemons: Vec<Daemon> = routers
        .iter()
        .map(|r| Daemon::start(&moto.url(), &r.imds, &config_file, &[]))
        .collect();

    let story = async {
        let step = |t: usize, cidr: &'static str, r: usize| (tables[t].clone(), cidr, enis[r].clone());
        // Each AZ's router serves its own AZ: NAT and anycast.
        for (t, cidr, eni) in [
            step(0, DEFAULT, 0),
            step(0, ANYCAST, 0),
            step(1, DEFAULT, 1),
            step(1, ANYCAST, 1),
        ] {
            scenario::until_route(&ec2, &t, cidr, &eni, SETTLED, &mut daemons).await?;
        }
        // The routes the daemons wrote are not drift to Terraform.
        let plan = ws
            .command(&with_vars(
                &["plan", "-detailed-exitcode", "-input=false", "-no-color"],
                &vars,
            ))
            .output()
            .map_err(|e| e.to_string())?;
        if plan.status.code() != Some(0) {
            return Err(format!(
                "terraform plan after the daemons wrote routes wants changes:\n{}",
                support::text(&plan).0
            ));
        }

        // The anycast service on router 0 fails: router 1 takes the anycast route in AZ 0's
        // table; the NAT route (its check still passes) stays.
        routers[0].service.stop();
        let (t, cidr, eni) = step(0, ANYCAST, 1);
        scenario::until_route(&ec2, &t, cidr, &eni, SETTLED, &mut daemons).await?;
        if scenario::target(&ec2, &tables[0], DEFAULT).await?.as_deref() != Some(enis[0].as_str()) {
            return Err("the NAT route moved although its check passes".into());
        }

        // It recovers: the route fails back.
        routers[0].service.restart();
        let (t, cidr, eni) = step(0, ANYCAST, 0);
        scenario::until_route(&ec2, &t, cidr, &eni, SETTLED, &mut daemons).await?;

        // Router 0's instance dies: stopped in EC2, daemon gone, host unreachable. Router 1
        // takes both of AZ 0's routes.
        daemons[0].kill();
        routers[0].service.host.link_down();
        ec2.stop_instances()
            .instance_ids(&instances[0])
            .send()
            .await
            .map_err(|e| format!("stop instance: {e}"))?;
        for (t, cidr, eni) in [step(0, DEFAULT, 1), step(0, ANYCAST, 1)] {
            scenario::until_route(&ec2, &t, cidr, &eni, SETTLED, &mut daemons[1..]).await?;
        }
        Ok::<(), String>(())
    };
    if let Err(e) = story.await {
        panic!("{}", scenario::with_logs(e, &daemons));
    }
    assert_eq!(daemons[1].terminate(), Some(0));

    ws.run(&with_vars(
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
        &vars,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let left = ec2
        .describe_vpcs()
        .send()
        .await
        .expect("describe vpcs")
        .vpcs()
        .iter()
        .any(|v| v.vpc_id() == Some(vpc_id.as_str()));
    assert!(!left, "terraform destroy left the VPC {vpc_id}");
    let instances_left = ec2
        .describe_instances()
        .instance_ids(&instances[1])
        .send()
        .await
        .expect("describe instances");
    let state = instances_left.reservations()[0].instances()[0]
        .state()
        .and_then(|s| s.name())
        .cloned();
    assert_eq!(
        state,
        Some(aws_sdk_ec2::types::InstanceStateName::Terminated),
        "terraform destroy terminates the routers"
    );
}
