//! The router check: routes must point at a network interface that forwards traffic for
//! other addresses, i.e. one with source/destination checking disabled.

use aws_sdk_ec2::types as sdk;

use super::client::{Ec2, Ec2Error};
use crate::routes::decide::Me;

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
    #[error("instance {0} was not found in EC2 (is AWS_REGION right?)")]
    NotFound(String),
    #[error(
        "instance {instance} cannot route: source/destination checking is enabled on {enis}; disable it with \
         `aws ec2 modify-instance-attribute --instance-id {instance} --no-source-dest-check` \
         (or on one interface: `aws ec2 modify-network-interface-attribute --network-interface-id ENI --no-source-dest-check`)"
    )]
    SourceDestCheckEnabled { instance: String, enis: String },
}

impl Ec2 {
    /// Finds the interface of `instance_id` that routes should target.
    pub async fn router_interface(&self, instance_id: &str) -> Result<Me, RouterError> {
        let out = self
            .call("DescribeInstances", || {
                self.sdk.describe_instances().instance_ids(instance_id).send()
            })
            .await?;
        let instance = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
            .ok_or_else(|| RouterError::NotFound(instance_id.to_owned()))?;
        choose_interface(instance).map(|eni_id| Me {
            instance_id: instance_id.to_owned(),
            eni_id,
        })
    }
}

/// The routing interface: the lowest-numbered one with source/destination checking off.
/// The instance-level attribute stands for the primary interface.
pub fn choose_interface(instance: &sdk::Instance) -> Result<String, RouterError> {
    let id = instance.instance_id().unwrap_or("?").to_owned();
    let mut candidates: Vec<(i32, String)> = Vec::new();
    let mut all = Vec::new();
    for iface in instance.network_interfaces() {
        let Some(eni) = iface.network_interface_id() else {
            continue;
        };
        let index = iface
            .attachment()
            .and_then(|a| a.device_index())
            .unwrap_or(i32::MAX);
        all.push(eni.to_owned());
        let off = iface.source_dest_check() == Some(false)
            || (index == 0 && instance.source_dest_check() == Some(false));
        if off {
            candidates.push((index, eni.to_owned()));
        }
    }
    candidates.sort();
    match candidates.into_iter().next() {
        Some((_, eni)) => Ok(eni),
        None => Err(RouterError::SourceDestCheckEnabled {
            instance: id,
            enis: if all.is_empty() {
                "its interfaces".into()
            } else {
                all.join(", ")
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(eni: &str, index: i32, check: Option<bool>) -> sdk::InstanceNetworkInterface {
        sdk::InstanceNetworkInterface::builder()
            .network_interface_id(eni)
            .set_source_dest_check(check)
            .attachment(
                sdk::InstanceNetworkInterfaceAttachment::builder()
                    .device_index(index)
                    .build(),
            )
            .build()
    }

    #[test]
    fn picks_the_forwarding_interface() {
        let two = sdk::Instance::builder()
            .instance_id("i-1")
            .network_interfaces(iface("eni-0", 0, Some(true)))
            .network_interfaces(iface("eni-1", 1, Some(false)))
            .build();
        assert_eq!(choose_interface(&two).expect("eni-1"), "eni-1");

        let by_instance_attribute = sdk::Instance::builder()
            .instance_id("i-1")
            .source_dest_check(false)
            .network_interfaces(iface("eni-0", 0, None))
            .build();
        assert_eq!(choose_interface(&by_instance_attribute).expect("eni-0"), "eni-0");

        let checking = sdk::Instance::builder()
            .instance_id("i-1")
            .network_interfaces(iface("eni-0", 0, Some(true)))
            .build();
        let err = choose_interface(&checking)
            .expect_err("no routing interface")
            .to_string();
        assert!(
            err.contains("i-1") && err.contains("eni-0") && err.contains("--no-source-dest-check"),
            "{err}"
        );
        assert!(choose_interface(&sdk::Instance::builder().build()).is_err());
    }
}
