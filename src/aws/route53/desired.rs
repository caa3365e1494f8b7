//! The records and health checks a GlobalApi asks for (pure).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::RoutingPolicy;
use crate::aws::Observed;
use crate::aws::acm::certificate::ValidationRecord;
use crate::aws::apigateway::model::RegionEndpoint;
use crate::target::Target;

use super::CLOUDFRONT_ZONE_ID;
use super::ownership::owner_record;
use super::record::{
    Failover, HealthCheck, Record, RecordKey, RecordValue, Routing, normalize_name,
};

/// What the services before Route 53 produced, each part known, absent or
/// unknown (its read failed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route53Inputs {
    /// By region: the custom domain API Gateway made there. A region
    /// missing from the map is absent.
    pub endpoints: BTreeMap<String, Observed<RegionEndpoint>>,
    /// The distribution's own name, e.g. `d111111abcdef8.cloudfront.net`.
    pub cloudfront_domain: Observed<String>,
    pub validation_records: Observed<Vec<ValidationRecord>>,
    /// The distribution may still use a name the spec left (it is deploying,
    /// or stays on its old origin): the records of names left stay.
    pub hold_left_names: bool,
}

impl Route53Inputs {
    /// Inputs whose every part was read: these endpoints, this distribution
    /// name (if any), these validation records.
    pub fn known(
        endpoints: Vec<RegionEndpoint>,
        cloudfront_domain: Option<String>,
        validation_records: Vec<ValidationRecord>,
    ) -> Self {
        Self {
            endpoints: endpoints
                .into_iter()
                .map(|e| (e.region.clone(), Observed::Known(e)))
                .collect(),
            cloudfront_domain: Observed::from_option(cloudfront_domain),
            validation_records: Observed::Known(validation_records),
            hold_left_names: false,
        }
    }

    /// The region's endpoint, when it is known.
    pub fn endpoint(&self, region: &str) -> Option<&RegionEndpoint> {
        self.endpoints.get(region).and_then(Observed::known)
    }
}

/// A record that stays as AWS has it in this pass, because what it would be
/// made from is not known: a region whose API could not be read, a
/// distribution that could not be read, validation records of a region
/// whose certificates could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordHold {
    /// Exactly this record.
    Key(RecordKey),
    /// Every record of this type (at names we own).
    Type(&'static str),
}

impl RecordHold {
    pub fn holds(&self, record: &Record) -> bool {
        match self {
            RecordHold::Key(key) => record.key == *key,
            RecordHold::Type(record_type) => record.key.record_type == *record_type,
        }
    }
}

/// One health check per region whose REST API exists.
pub fn health_checks(target: &Target, inputs: &Route53Inputs) -> Vec<HealthCheck> {
    let api = &target.spec.api;
    target
        .regions()
        .filter_map(|region| inputs.endpoint(&region.name))
        .map(|endpoint| HealthCheck {
            region: endpoint.region.clone(),
            fqdn: execute_api_host(&endpoint.rest_api_id, &endpoint.region),
            resource_path: format!("/{}{}", api.stage_name, api.health_check.path),
            request_interval: api.health_check.interval_seconds as i32,
            failure_threshold: api.health_check.failure_threshold as i32,
        })
        .collect()
}

/// The spec's regions whose endpoint is not known in this pass: their
/// health checks stay as they are. DNS for a region goes only when the spec
/// removes or drains it, never because a read failed.
pub(crate) fn held_regions(target: &Target, inputs: &Route53Inputs) -> BTreeSet<String> {
    target
        .regions()
        .filter(|region| inputs.endpoint(&region.name).is_none())
        .map(|region| region.name.clone())
        .collect()
}

/// The records that stay as they are in this pass (see [`RecordHold`]).
pub fn holds(target: &Target, inputs: &Route53Inputs) -> Vec<RecordHold> {
    let origin = normalize_name(&target.origin_domain());
    let mut holds: Vec<RecordHold> = target
        .serving_regions()
        .iter()
        .filter(|r| inputs.endpoint(&r.name).is_none())
        .map(|r| {
            RecordHold::Key(RecordKey {
                name: origin.clone(),
                record_type: "A".into(),
                set_identifier: Some(set_identifier(target, &r.name)),
            })
        })
        .collect();
    if target.edge_enabled() && !inputs.cloudfront_domain.is_known() {
        for record_type in ["A", "AAAA"] {
            holds.push(RecordHold::Key(RecordKey {
                name: normalize_name(&target.spec.domain),
                record_type: record_type.into(),
                set_identifier: None,
            }));
        }
    }
    if !inputs.validation_records.is_known() {
        holds.push(RecordHold::Type("CNAME"));
    }
    holds
}

/// The set identifier of a region's record: the region, then the first
/// characters of the owner's uid, so that two GlobalApis sharing a zone never
/// share an identifier (moto deletes by identifier alone).
pub fn set_identifier(target: &Target, region: &str) -> String {
    format!("{region}-{}", target.short_uid())
}

/// The region's own API Gateway host name.
pub(crate) fn execute_api_host(rest_api_id: &str, region: &str) -> String {
    format!("{rest_api_id}.execute-api.{region}.amazonaws.com")
}

/// Every record the GlobalApi owns, ownership TXT records included.
///
/// `health_check_ids` maps region to health check id; a region without one
/// (not created yet) gets no health check reference.
/// `held` are observed records that stay as they are (see [`holds`]); they
/// keep their names' ownership records.
pub fn records(
    target: &Target,
    inputs: &Route53Inputs,
    health_check_ids: &BTreeMap<String, String>,
    held: &[Record],
) -> Vec<Record> {
    let ttl = i64::from(target.spec.routing.ttl_seconds);
    let mut records = origin_records(target, inputs, health_check_ids);
    if let (true, Observed::Known(cloudfront)) = (target.edge_enabled(), &inputs.cloudfront_domain)
    {
        records.extend(edge_records(target, cloudfront));
    }
    let validation: BTreeSet<&ValidationRecord> = inputs
        .validation_records
        .known()
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    records.extend(validation.into_iter().map(|v| Record {
        key: RecordKey {
            name: normalize_name(&v.name),
            record_type: "CNAME".into(),
            set_identifier: None,
        },
        routing: Routing::Simple,
        health_check_id: None,
        value: RecordValue::Values {
            ttl,
            values: vec![normalize_name(&v.value)],
        },
    }));
    for record in held {
        if !records.iter().any(|r| r.key == record.key) {
            records.push(record.clone());
        }
    }
    let names: BTreeSet<String> = records.iter().map(|r| r.key.name.clone()).collect();
    records.extend(names.iter().map(|name| owner_record(target, name, ttl)));
    records
}

/// The origin name's latency or failover alias per serving region that has
/// its custom domain, each with its region's health check.
fn origin_records(
    target: &Target,
    inputs: &Route53Inputs,
    health_check_ids: &BTreeMap<String, String>,
) -> Vec<Record> {
    let origin = normalize_name(&target.origin_domain());
    let mut records = Vec::new();
    for (index, region) in target.serving_regions().iter().enumerate() {
        let Some(endpoint) = inputs.endpoint(&region.name) else {
            continue;
        };
        let routing = match target.spec.routing.policy {
            RoutingPolicy::Latency => Routing::Latency {
                region: region.name.clone(),
            },
            RoutingPolicy::Failover if index == 0 => Routing::Failover(Failover::Primary),
            RoutingPolicy::Failover => Routing::Failover(Failover::Secondary),
        };
        records.push(Record {
            key: RecordKey {
                name: origin.clone(),
                record_type: "A".into(),
                set_identifier: Some(set_identifier(target, &region.name)),
            },
            routing,
            health_check_id: health_check_ids.get(&region.name).cloned(),
            value: RecordValue::Alias {
                zone_id: endpoint.regional_zone_id.clone(),
                dns_name: normalize_name(&endpoint.regional_domain_name),
                evaluate_target_health: true,
            },
        });
    }
    records
}

/// The public name's A and AAAA aliases to the distribution.
fn edge_records(target: &Target, cloudfront: &str) -> Vec<Record> {
    ["A", "AAAA"]
        .into_iter()
        .map(|record_type| Record {
            key: RecordKey {
                name: normalize_name(&target.spec.domain),
                record_type: record_type.into(),
                set_identifier: None,
            },
            routing: Routing::Simple,
            health_check_id: None,
            value: RecordValue::Alias {
                zone_id: CLOUDFRONT_ZONE_ID.into(),
                dns_name: normalize_name(cloudfront),
                evaluate_target_health: false,
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::fixtures::{FAILOVER, LATENCY, target};

    fn endpoints(regions: &[&str]) -> Vec<RegionEndpoint> {
        regions
            .iter()
            .map(|r| RegionEndpoint {
                region: (*r).into(),
                rest_api_id: format!("api-{r}"),
                regional_domain_name: format!("d-{r}.execute-api.{r}.amazonaws.com"),
                regional_zone_id: format!("Z-{r}"),
            })
            .collect()
    }

    fn ids() -> BTreeMap<String, String> {
        [("us-east-1", "hc-1"), ("eu-west-1", "hc-2")]
            .into_iter()
            .map(|(r, id)| (r.to_owned(), id.to_owned()))
            .collect()
    }

    #[test]
    fn latency_writes_one_alias_per_region_plus_edge_and_owners() {
        let t = target(LATENCY);
        let inputs = Route53Inputs::known(
            endpoints(&["us-east-1", "eu-west-1"]),
            Some("d123.cloudfront.net".into()),
            vec![ValidationRecord {
                name: "_abc.api.example.com.".into(),
                value: "_xyz.acm-validations.aws.".into(),
            }],
        );
        let records = records(&t, &inputs, &ids(), &[]);
        let keys: Vec<String> = records.iter().map(|r| r.key.to_string()).collect();
        assert_eq!(
            keys,
            [
                "origin.api.example.com A us-east-1-0b1c2d3e",
                "origin.api.example.com A eu-west-1-0b1c2d3e",
                "api.example.com A",
                "api.example.com AAAA",
                "_abc.api.example.com CNAME",
                "_globalapi._abc.api.example.com TXT",
                "_globalapi.api.example.com TXT",
                "_globalapi.origin.api.example.com TXT",
            ]
        );
        assert_eq!(
            records[0].routing,
            Routing::Latency {
                region: "us-east-1".into()
            }
        );
        assert_eq!(records[0].health_check_id.as_deref(), Some("hc-1"));
        assert_eq!(
            records[0].value,
            RecordValue::Alias {
                zone_id: "Z-us-east-1".into(),
                dns_name: "d-us-east-1.execute-api.us-east-1.amazonaws.com".into(),
                evaluate_target_health: true
            }
        );
    }

    #[test]
    fn latency_maintenance_removes_the_region_record() {
        let mut t = target(LATENCY);
        t.spec.regions[0].maintenance = true;
        let inputs = Route53Inputs::known(endpoints(&["us-east-1", "eu-west-1"]), None, vec![]);
        let records = records(&t, &inputs, &ids(), &[]);
        let aliases: Vec<String> = records
            .iter()
            .filter(|r| r.key.record_type == "A")
            .map(|r| r.key.to_string())
            .collect();
        assert_eq!(aliases, ["origin.api.example.com A eu-west-1-0b1c2d3e"]);
    }

    #[test]
    fn failover_primary_follows_spec_and_maintenance() {
        let t = target(FAILOVER);
        let inputs = Route53Inputs::known(endpoints(&["us-east-1", "eu-west-1"]), None, vec![]);
        let roles = |t: &Target| -> Vec<(String, Routing)> {
            records(t, &inputs, &ids(), &[])
                .into_iter()
                .filter(|r| r.key.record_type == "A")
                .map(|r| (r.key.set_identifier.clone().unwrap_or_default(), r.routing))
                .collect()
        };
        assert_eq!(
            roles(&t),
            [
                (
                    "eu-west-1-0b1c2d3e".to_owned(),
                    Routing::Failover(Failover::Primary)
                ),
                (
                    "us-east-1-0b1c2d3e".to_owned(),
                    Routing::Failover(Failover::Secondary)
                ),
            ]
        );
        let mut drained = t.clone();
        drained.spec.regions[1].maintenance = true; // eu-west-1, the primary
        assert_eq!(
            roles(&drained),
            [(
                "us-east-1-0b1c2d3e".to_owned(),
                Routing::Failover(Failover::Primary)
            )]
        );
    }

    #[test]
    fn health_checks_probe_each_regions_own_endpoint() {
        let t = target(LATENCY);
        let checks = health_checks(
            &t,
            &Route53Inputs::known(endpoints(&["eu-west-1"]), None, vec![]),
        );
        assert_eq!(
            checks,
            [HealthCheck {
                region: "eu-west-1".into(),
                fqdn: "api-eu-west-1.execute-api.eu-west-1.amazonaws.com".into(),
                resource_path: "/v1/health".into(),
                request_interval: 30,
                failure_threshold: 3,
            }]
        );
    }

    #[test]
    fn unknown_parts_hold_their_records_and_absent_spec_regions_hold_too() {
        let t = target(LATENCY);
        let mut inputs = Route53Inputs::known(endpoints(&["us-east-1"]), None, vec![]);
        inputs.endpoints.insert(
            "eu-west-1".into(),
            Observed::Unknown("apigateway GetRestApis: AccessDeniedException: no".into()),
        );
        inputs.cloudfront_domain = Observed::Unknown("cloudfront: Throttling".into());
        inputs.validation_records = Observed::Unknown("acm: 503".into());
        assert_eq!(
            holds(&t, &inputs),
            [
                RecordHold::Key(RecordKey {
                    name: "origin.api.example.com".into(),
                    record_type: "A".into(),
                    set_identifier: Some("eu-west-1-0b1c2d3e".into()),
                }),
                RecordHold::Key(RecordKey {
                    name: "api.example.com".into(),
                    record_type: "A".into(),
                    set_identifier: None,
                }),
                RecordHold::Key(RecordKey {
                    name: "api.example.com".into(),
                    record_type: "AAAA".into(),
                    set_identifier: None,
                }),
                RecordHold::Type("CNAME"),
            ]
        );
        assert_eq!(
            held_regions(&t, &inputs),
            BTreeSet::from(["eu-west-1".to_owned()])
        );
        // A region in maintenance is drained whatever its endpoint.
        let mut drained = t.clone();
        drained.spec.regions[1].maintenance = true;
        assert_eq!(holds(&drained, &inputs).len(), 3);
    }

    #[test]
    fn held_records_stay_with_their_owner_records() {
        let t = target(LATENCY);
        let inputs = Route53Inputs::known(endpoints(&["us-east-1"]), None, vec![]);
        let held = Record {
            key: RecordKey {
                name: "origin.api.example.com".into(),
                record_type: "A".into(),
                set_identifier: Some(set_identifier(&t, "eu-west-1")),
            },
            routing: Routing::Latency {
                region: "eu-west-1".into(),
            },
            health_check_id: Some("hc-2".into()),
            value: RecordValue::Alias {
                zone_id: "Z-eu-west-1".into(),
                dns_name: "d-old.execute-api.eu-west-1.amazonaws.com".into(),
                evaluate_target_health: true,
            },
        };
        let records = records(&t, &inputs, &ids(), std::slice::from_ref(&held));
        assert!(records.contains(&held));
        assert!(
            records
                .iter()
                .any(|r| r.key.name == "_globalapi.origin.api.example.com")
        );
    }
}
