//! The global database a GlobalApi asks for (pure), and the deterministic
//! identifiers of its clusters, instances and final snapshots.

use sha2::{Digest, Sha256};

use crate::api::{AuroraEngine, AuroraSpec};
use crate::target::Target;

use super::model::{Desired, DesiredCluster, DesiredGlobalCluster, DesiredInstance, Role};

/// RDS identifiers are at most 63 characters; a cluster's leaves room for
/// the `-<n>` of its instances (at most 15).
const MAX_CLUSTER_ID: usize = 60;

/// What RDS takes besides the spec: not another service's outputs (the
/// database depends on the spec alone) but what the last reconcile reported
/// in `status.database`. AWS offers no search for our clusters across
/// regions, and a cluster taken out of the global cluster is no longer
/// listed by it: these find, in later passes, a cluster on its way out of
/// a region the spec left and a global cluster whose database left the spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RdsInputs {
    /// The regions the last status listed an endpoint in.
    pub previous_regions: Vec<String>,
    /// The global cluster ARN the last status showed.
    pub previous_global_cluster_arn: Option<String>,
    /// The writer's region the last status showed.
    pub previous_writer_region: Option<String>,
    /// The region the `globalapi.io/failover-to` annotation names: it
    /// stands in for `primaryRegion`, so that the writer is not switched
    /// back after the failover.
    pub failover_to: Option<String>,
}

impl RdsInputs {
    /// The global cluster identifier of the remembered ARN,
    /// `arn:aws:rds::<account>:global-cluster:<id>`.
    pub(crate) fn previous_global_cluster(&self) -> Option<&str> {
        let arn = self.previous_global_cluster_arn.as_deref()?;
        let (head, id) = arn.rsplit_once(':')?;
        (head.ends_with(":global-cluster") && !id.is_empty()).then_some(id)
    }
}

/// The engine name RDS uses.
pub(crate) fn engine_name(engine: AuroraEngine) -> &'static str {
    match engine {
        AuroraEngine::AuroraPostgresql => "aurora-postgresql",
        AuroraEngine::AuroraMysql => "aurora-mysql",
    }
}

/// The spec's Aurora section, if any.
pub fn aurora(target: &Target) -> Option<&AuroraSpec> {
    target.spec.database.as_ref()?.aurora.as_ref()
}

/// The regional cluster's identifier: `gapi-<namespace>-<name>-<region>`,
/// lower case, letters, digits and single hyphens, at most 60 characters.
/// A stem cut short ends in a hash of the full one, so that two long names
/// sharing a prefix do not meet.
pub fn cluster_identifier(target: &Target, region: &str) -> String {
    let stem = clean(&target.resource_name(usize::MAX));
    let room = MAX_CLUSTER_ID.saturating_sub(region.len() + 1);
    let stem = if stem.len() <= room {
        stem
    } else {
        let hash = short_hash(&stem, 6);
        let mut cut: String = stem.chars().take(room.saturating_sub(7)).collect();
        cut = cut.trim_end_matches('-').to_owned();
        format!("{cut}-{hash}")
    };
    format!("{stem}-{}", clean(region))
}

/// The identifier of instance `number` (1-based) of `cluster`.
pub fn instance_identifier(cluster: &str, number: u32) -> String {
    format!("{cluster}-{number}")
}

/// The number of one of our instances from its identifier; `None` for an
/// identifier outside the scheme.
pub(crate) fn instance_number(cluster: &str, instance: &str) -> Option<u32> {
    let rest = instance.strip_prefix(cluster)?.strip_prefix('-')?;
    if rest.starts_with('0') {
        return None;
    }
    rest.parse().ok()
}

/// The final snapshot kept when a cluster is deleted:
/// `<cluster>-final-<hash>`, the hash of our uid and the cluster's resource
/// id, so that a retried delete names the same snapshot and a later
/// incarnation of the same identifier a new one.
pub fn final_snapshot_identifier(target: &Target, cluster: &str, resource_id: &str) -> String {
    let hash = short_hash(&format!("{}\n{cluster}\n{resource_id}", target.uid), 8);
    format!("{cluster}-final-{hash}")
}

/// The region a failover request names, when it is one of the spec's.
pub(crate) fn failover_region<'a>(target: &Target, inputs: &'a RdsInputs) -> Option<&'a str> {
    inputs
        .failover_to
        .as_deref()
        .filter(|r| target.spec.regions.iter().any(|s| s.name == *r))
}

/// The global database the spec asks for; `None` without `database.aurora`.
/// A failover request's region stands in for `primaryRegion`.
pub fn desired(target: &Target, inputs: &RdsInputs) -> Option<Desired> {
    let aurora = aurora(target)?;
    let primary = failover_region(target, inputs).unwrap_or(&aurora.primary_region);
    let global = DesiredGlobalCluster {
        identifier: aurora.global_cluster_identifier.clone(),
        engine: engine_name(aurora.engine).to_owned(),
        engine_version: aurora.engine_version.clone(),
        deletion_protection: aurora.deletion_protection,
    };
    let mut regions: Vec<&str> = vec![primary];
    regions.extend(
        target
            .regions()
            .map(|r| r.name.as_str())
            .filter(|r| *r != primary),
    );
    let clusters = regions
        .into_iter()
        .map(|region| {
            let identifier = cluster_identifier(target, region);
            DesiredCluster {
                region: region.to_owned(),
                role: if region == primary {
                    Role::Primary
                } else {
                    Role::Secondary
                },
                deletion_protection: aurora.deletion_protection,
                instances: (1..=aurora.instances_per_region)
                    .map(|number| DesiredInstance {
                        identifier: instance_identifier(&identifier, number),
                        number,
                        class: aurora.instance_class.clone(),
                    })
                    .collect(),
                identifier,
            }
        })
        .collect();
    Some(Desired {
        global,
        primary_region: primary.to_owned(),
        clusters,
        skip_final_snapshot: aurora.skip_final_snapshot,
        write_forwarding: aurora.write_forwarding,
    })
}

/// Lower case, letters and digits separated by single hyphens.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('-').to_owned()
}

fn short_hash(text: &str, len: usize) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..len].to_owned()
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::target::Target;
    use crate::target::fixtures::{LATENCY, target};

    /// The LATENCY fixture (us-east-1, eu-west-1) with a database whose
    /// primary is us-east-1; `extra` adds lines under `aurora:`.
    pub fn with_database(extra: &str) -> Target {
        target(&format!(
            "{LATENCY}database:\n  aurora:\n    globalClusterIdentifier: exchange\n    engine: aurora-postgresql\n    engineVersion: \"16.4\"\n    primaryRegion: us-east-1\n    instanceClass: db.r6g.large\n{extra}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::with_database;
    use super::*;
    use crate::target::fixtures::{LATENCY, target};

    #[test]
    fn identifiers_are_deterministic_and_valid() {
        let t = with_database("");
        assert_eq!(
            cluster_identifier(&t, "eu-west-1"),
            "gapi-payments-exchange-eu-west-1"
        );
        let mut long = t.clone();
        long.namespace = "a-very-long.namespace--with-dots".into();
        long.name = "AND-an-even-longer-name-for-the-api-object".into();
        let id = cluster_identifier(&long, "ap-southeast-1");
        assert!(id.len() <= 60, "{id} ({})", id.len());
        assert!(
            id.starts_with("gapi-a-very-long-namespace-with-dots-"),
            "{id}"
        );
        assert!(id.ends_with("-ap-southeast-1"), "{id}");
        assert!(!id.contains("--"), "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_eq!(id, cluster_identifier(&long, "ap-southeast-1"));
        let mut other = long.clone();
        other.name = "AND-an-even-longer-name-for-the-api-object-2".into();
        assert_ne!(id, cluster_identifier(&other, "ap-southeast-1"));
        assert!(instance_identifier(&id, 15).len() <= 63);
    }

    #[test]
    fn instance_numbers_round_trip() {
        let c = "gapi-payments-exchange-us-east-1";
        assert_eq!(instance_number(c, &instance_identifier(c, 12)), Some(12));
        assert_eq!(
            instance_number(c, "gapi-payments-exchange-us-east-1-x"),
            None
        );
        assert_eq!(
            instance_number(c, "gapi-payments-exchange-us-east-1-01"),
            None
        );
        assert_eq!(instance_number(c, "other-1"), None);
    }

    #[test]
    fn final_snapshots_differ_per_incarnation() {
        let t = with_database("");
        let c = "gapi-payments-exchange-us-east-1";
        let a = final_snapshot_identifier(&t, c, "cluster-AAA");
        assert_eq!(a, final_snapshot_identifier(&t, c, "cluster-AAA"));
        assert_ne!(a, final_snapshot_identifier(&t, c, "cluster-BBB"));
        assert!(a.starts_with("gapi-payments-exchange-us-east-1-final-"));
    }

    #[test]
    fn the_primary_region_comes_first_with_the_spec_counts() {
        let mut t = with_database("    instancesPerRegion: 2\n    deletionProtection: false\n");
        if let Some(aurora) = t.spec.database.as_mut().and_then(|d| d.aurora.as_mut()) {
            aurora.primary_region = "eu-west-1".into();
        }
        let d = desired(&t, &RdsInputs::default()).expect("database wanted");
        assert_eq!(d.global.engine, "aurora-postgresql");
        assert!(!d.global.deletion_protection);
        let regions: Vec<(&str, Role, usize)> = d
            .clusters
            .iter()
            .map(|c| (c.region.as_str(), c.role, c.instances.len()))
            .collect();
        assert_eq!(
            regions,
            [
                ("eu-west-1", Role::Primary, 2),
                ("us-east-1", Role::Secondary, 2)
            ]
        );
        assert_eq!(
            d.clusters[0].instances[1].identifier,
            "gapi-payments-exchange-eu-west-1-2"
        );
        assert_eq!(desired(&target(LATENCY), &RdsInputs::default()), None);
    }

    #[test]
    fn the_remembered_global_cluster_comes_from_its_arn() {
        let inputs = RdsInputs {
            previous_global_cluster_arn: Some(
                "arn:aws:rds::123456789012:global-cluster:exchange".into(),
            ),
            ..Default::default()
        };
        assert_eq!(inputs.previous_global_cluster(), Some("exchange"));
        let odd = RdsInputs {
            previous_global_cluster_arn: Some("arn:aws:rds:us-east-1:1:cluster:x".into()),
            ..Default::default()
        };
        assert_eq!(odd.previous_global_cluster(), None);
    }
}
