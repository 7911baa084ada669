//! The test environment itself, end to end: moto's EC2 server started on a free port, the
//! README's VPC built in it through the SDK, and a fake IMDS presenting one of its instances.
//! The binary resolves `{{ az }}` / `{{ vpc_id }}` from that IMDS with only standard SDK
//! settings.

mod support;

use support::imds::FakeImds;
use support::moto::Moto;

#[tokio::test(flavor = "multi_thread")]
async fn check_resolves_identity_of_an_emulated_instance() {
    let moto = Moto::start();
    let ec2 = support::vpc::client(&moto.url());
    let vpc = support::vpc::build(&ec2, "env", 0).await;

    // The layout is what the README describes.
    let private_a = support::vpc::tables_tagged(&ec2, &vpc.vpc_id, "az", "eu-west-1a").await;
    assert_eq!(private_a, vec![vpc.private_tables[0].clone()]);
    assert_eq!(vpc.routers.len(), 2);
    assert_ne!(vpc.routers[0].az, vpc.routers[1].az);

    for (i, other) in [(0usize, "eu-west-1b"), (1, "eu-west-1a")] {
        let imds = FakeImds::start(&vpc.metadata(i));
        let config = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(
            config.path(),
            "routetables:\n  mine:\n    find:\n      type: and\n      config:\n        filters:\n          - {type: by_tag, config: {key: az, value: \"{{ az }}\"}}\n          - {type: by_tag, config: {key: vpc, value: \"{{ vpc_id }}\"}}\n    manage_routes:\n      - cidr: 0.0.0.0/0\n        instance: \"{{ instance_id }}\"\n",
        )
        .expect("write config");
        let out = support::awsnycast()
            .envs(support::vpc::daemon_env(&moto.url()))
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url())
            .args(["-check", "-f"])
            .arg(config.path())
            .output()
            .expect("run awsnycast");
        let (stdout, stderr) = support::text(&out);
        assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
        let az = &vpc.routers[i].az;
        assert!(stdout.contains(&format!("tag az = {az}")), "{stdout}");
        assert!(!stdout.contains(other), "{stdout}");
        assert!(stdout.contains(&format!("tag vpc = {}", vpc.vpc_id)), "{stdout}");
        assert!(
            stdout.contains(&format!("0.0.0.0/0 -> {}", vpc.routers[i].instance_id)),
            "{stdout}"
        );
        assert!(
            imds.gets.load(std::sync::atomic::Ordering::Relaxed) >= 5,
            "identity came from the fake IMDS"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_emulators_are_independent() {
    // Tests run in parallel, each with its own server: state never leaks between them.
    let (a, b) = (Moto::start(), Moto::start());
    let (ea, eb) = (support::vpc::client(&a.url()), support::vpc::client(&b.url()));
    let vpc = support::vpc::build(&ea, "only-in-a", 1).await;
    let in_b = eb.describe_vpcs().send().await.expect("describe vpcs");
    assert!(
        in_b.vpcs()
            .iter()
            .all(|v| v.vpc_id() != Some(vpc.vpc_id.as_str()))
    );
}
