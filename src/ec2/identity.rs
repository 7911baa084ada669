//! This instance's identity, read once at start from the instance metadata service (IMDSv2).
//!
//! Uses aws-config's IMDS client, so the standard `AWS_EC2_METADATA_SERVICE_ENDPOINT` and
//! `AWS_EC2_METADATA_DISABLED` settings apply; nothing here is test-specific.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use aws_config::imds;

/// Who and where this instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub instance_id: String,
    pub availability_zone: String,
    pub region: String,
    pub local_ipv4: Ipv4Addr,
    /// MAC of the primary network interface.
    pub mac: String,
    pub subnet_id: String,
    pub vpc_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "cannot read instance metadata (IMDSv2) {path}: {detail}; not on EC2? set AWS_EC2_METADATA_SERVICE_ENDPOINT"
    )]
    Unreachable { path: String, detail: String },
    #[error("instance metadata {path} returned {value:?}, which is not {expected}")]
    Malformed {
        path: String,
        value: String,
        expected: &'static str,
    },
}

impl Identity {
    /// Reads the identity from IMDS. Fails fast (a few seconds) when there is no IMDS.
    pub async fn from_imds() -> Result<Identity, IdentityError> {
        let client = imds::Client::builder()
            .max_attempts(2)
            .connect_timeout(Duration::from_secs(1))
            .read_timeout(Duration::from_secs(2))
            .build();
        let get = |path: String| {
            let client = &client;
            async move {
                client
                    .get(path.clone())
                    .await
                    .map(|v| String::from(v).trim().to_owned())
                    .map_err(|e| IdentityError::Unreachable {
                        path,
                        detail: super::error_chain(&e),
                    })
            }
        };
        let instance_id = get("/latest/meta-data/instance-id".into()).await?;
        let availability_zone = get("/latest/meta-data/placement/availability-zone".into()).await?;
        let region = match get("/latest/meta-data/placement/region".into()).await {
            Ok(r) if !r.is_empty() => r,
            // Older metadata services lack placement/region: the AZ minus its letter.
            _ => region_of_az(&availability_zone).ok_or_else(|| IdentityError::Malformed {
                path: "/latest/meta-data/placement/availability-zone".into(),
                value: availability_zone.clone(),
                expected: "an availability zone such as eu-west-1a",
            })?,
        };
        let ip_text = get("/latest/meta-data/local-ipv4".into()).await?;
        let local_ipv4 = ip_text.parse().map_err(|_| IdentityError::Malformed {
            path: "/latest/meta-data/local-ipv4".into(),
            value: ip_text.clone(),
            expected: "an IPv4 address",
        })?;
        let mac = get("/latest/meta-data/mac".into()).await?;
        let iface = format!("/latest/meta-data/network/interfaces/macs/{mac}");
        let subnet_id = get(format!("{iface}/subnet-id")).await?;
        let vpc_id = get(format!("{iface}/vpc-id")).await?;
        Ok(Identity {
            instance_id,
            availability_zone,
            region,
            local_ipv4,
            mac,
            subnet_id,
            vpc_id,
        })
    }

    /// The values config interpolation offers as `{{ name }}`.
    pub fn interpolation_vars(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("az".to_owned(), self.availability_zone.clone()),
            ("region".to_owned(), self.region.clone()),
            ("instance_id".to_owned(), self.instance_id.clone()),
            ("vpc_id".to_owned(), self.vpc_id.clone()),
            ("private_ip".to_owned(), self.local_ipv4.to_string()),
        ])
    }
}

/// `eu-west-1a` → `eu-west-1`; local-zone names such as `us-west-2-lax-1a` work too.
pub fn region_of_az(az: &str) -> Option<String> {
    let trimmed = az.trim_end_matches(|c: char| c.is_ascii_lowercase());
    (trimmed.len() < az.len() && trimmed.ends_with(|c: char| c.is_ascii_digit()))
        .then(|| trimmed.to_owned())
        .map(|r| {
            // Local and wavelength zones: region is the first three dash-separated parts.
            let parts: Vec<&str> = r.split('-').collect();
            if parts.len() > 3 { parts[..3].join("-") } else { r }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_azs() {
        assert_eq!(region_of_az("eu-west-1a").as_deref(), Some("eu-west-1"));
        assert_eq!(region_of_az("us-east-1f").as_deref(), Some("us-east-1"));
        assert_eq!(region_of_az("us-west-2-lax-1a").as_deref(), Some("us-west-2"));
        assert_eq!(region_of_az("eu-west-1"), None);
        assert_eq!(region_of_az(""), None);
    }
}
