//! The global database as plain values, independent of the SDK's types, so
//! that desired and observed state compare with `==`.

use std::collections::BTreeMap;

pub use crate::aws::ownership::Ownership;

/// The status RDS reports for a cluster or instance that is ready.
pub(crate) const AVAILABLE: &str = "available";

/// The master user of the primary cluster; its password is kept by RDS in
/// Secrets Manager (`ManageMasterUserPassword`), never by the operator.
pub const MASTER_USERNAME: &str = "globalapi";

/// The part a regional cluster plays in the global database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The writer: created with the master user, joins first.
    Primary,
    /// A read-only replica in another region, created without credentials.
    Secondary,
}

impl Role {
    /// The change kind of a cluster in this role.
    pub fn kind(self) -> &'static str {
        match self {
            Role::Primary => "primary cluster",
            Role::Secondary => "secondary cluster",
        }
    }
}

/// The global cluster the spec asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredGlobalCluster {
    pub identifier: String,
    /// `aurora-postgresql` or `aurora-mysql`.
    pub engine: String,
    pub engine_version: String,
    pub deletion_protection: bool,
}

/// One DB instance of a regional cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredInstance {
    /// `<cluster>-<number>`.
    pub identifier: String,
    /// 1-based.
    pub number: u32,
    pub class: String,
}

/// One regional cluster with its instances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredCluster {
    pub region: String,
    pub identifier: String,
    /// The role it is created in when nothing exists yet.
    pub role: Role,
    pub deletion_protection: bool,
    pub instances: Vec<DesiredInstance>,
}

/// The whole global database the spec asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub global: DesiredGlobalCluster,
    pub primary_region: String,
    /// The primary region's cluster first, then the others in spec order.
    pub clusters: Vec<DesiredCluster>,
    pub skip_final_snapshot: bool,
    /// Global write forwarding on every cluster that is not the writer.
    pub write_forwarding: bool,
}

/// One member of a global cluster, as the global cluster lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub arn: String,
    /// From the ARN; `None` when the ARN is not a cluster ARN.
    pub region: Option<String>,
    pub cluster_identifier: Option<String>,
    pub is_writer: bool,
}

impl Member {
    /// The member from its ARN, `arn:aws:rds:<region>:<account>:cluster:<id>`.
    pub(crate) fn from_arn(arn: &str, is_writer: bool) -> Self {
        let parts: Vec<&str> = arn.splitn(7, ':').collect();
        let (region, cluster_identifier) = match parts.as_slice() {
            [_, _, "rds", region, _, "cluster", id] => {
                (Some((*region).to_owned()), Some((*id).to_owned()))
            }
            _ => (None, None),
        };
        Self {
            arn: arn.to_owned(),
            region,
            cluster_identifier,
            is_writer,
        }
    }
}

/// A global cluster found in AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedGlobalCluster {
    pub identifier: String,
    pub arn: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub deletion_protection: bool,
    pub members: Vec<Member>,
    /// From its own tags (AWS keeps them; the emulator drops them).
    pub ownership: Ownership,
}

impl ObservedGlobalCluster {
    /// The member that takes the writes.
    pub fn writer(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.is_writer)
    }

    /// The member that is cluster `identifier` of `region`.
    pub fn member(&self, region: &str, identifier: &str) -> Option<&Member> {
        self.members.iter().find(|m| {
            m.region.as_deref() == Some(region)
                && m.cluster_identifier.as_deref() == Some(identifier)
        })
    }
}

/// A DB instance found in one of our clusters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedInstance {
    pub identifier: String,
    pub class: String,
    pub status: String,
    pub ownership: Ownership,
}

/// A regional cluster found under one of our deterministic identifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedCluster {
    pub region: String,
    pub identifier: String,
    pub arn: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub deletion_protection: bool,
    /// The global cluster the cluster itself names (kept by the emulator
    /// even after removal; the global cluster's member list decides).
    pub global_cluster_identifier: Option<String>,
    pub endpoint: Option<String>,
    pub reader_endpoint: Option<String>,
    /// Unique per incarnation of the identifier; names the final snapshot.
    pub resource_id: Option<String>,
    pub master_user_secret_arn: Option<String>,
    /// Global write forwarding requested (`GlobalWriteForwardingRequested`).
    pub write_forwarding: bool,
    pub ownership: Ownership,
    pub instances: Vec<ObservedInstance>,
}

/// What one observation found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The global cluster named by the spec (or by our clusters), if it exists.
    pub global: Option<ObservedGlobalCluster>,
    /// region -> our cluster identifier's cluster there (`None`: absent).
    /// A region whose observation failed is missing: nothing is decided there.
    pub regions: BTreeMap<String, Option<ObservedCluster>>,
}

impl Observed {
    /// The clusters found, in region order.
    pub fn clusters(&self) -> impl Iterator<Item = &ObservedCluster> {
        self.regions.values().flatten()
    }

    /// The region of the global cluster's writer.
    pub fn writer_region(&self) -> Option<&str> {
        self.global
            .as_ref()
            .and_then(|g| g.writer())
            .and_then(|m| m.region.as_deref())
    }

    /// Whether `cluster` is listed as a member of the global cluster.
    pub(crate) fn is_member(&self, cluster: &ObservedCluster) -> bool {
        self.global
            .as_ref()
            .is_some_and(|g| g.member(&cluster.region, &cluster.identifier).is_some())
    }

    /// The role a found cluster plays: writer, reader, or (not a member)
    /// the one its region would have.
    pub(crate) fn role_of(&self, cluster: &ObservedCluster, primary_region: Option<&str>) -> Role {
        match self
            .global
            .as_ref()
            .and_then(|g| g.member(&cluster.region, &cluster.identifier))
        {
            Some(m) if m.is_writer => Role::Primary,
            Some(_) => Role::Secondary,
            None if Some(cluster.region.as_str()) == primary_region => Role::Primary,
            None => Role::Secondary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_arns_are_parsed() {
        let m = Member::from_arn(
            "arn:aws:rds:eu-west-1:123456789012:cluster:gapi-payments-exchange-eu-west-1",
            false,
        );
        assert_eq!(m.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            m.cluster_identifier.as_deref(),
            Some("gapi-payments-exchange-eu-west-1")
        );
        assert_eq!(Member::from_arn("nonsense", true).region, None);
    }
}
