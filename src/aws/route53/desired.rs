//! The records and health checks a GlobalApi asks for (pure).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::RoutingPolicy;
use crate::target::Target;

use super::CLOUDFRONT_ZONE_ID;
use super::ownership::owner_record;
use super::record::{
    Failover, HealthCheck, Record, RecordKey, RecordValue, Routing, normalize_name,
};

/// What API Gateway made in one region, as Route 53 needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionEndpoint {
    pub region: String,
    pub rest_api_id: String,
    /// The regional custom domain's own name, the alias target.
    pub regional_domain_name: String,
    pub regional_zone_id: String,
}

/// A DNS validation record ACM asks for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidationRecord {
    pub name: String,
    pub value: String,
}

/// What the services before Route 53 produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route53Inputs {
    pub endpoints: Vec<RegionEndpoint>,
    /// The distribution's own name, e.g. `d111111abcdef8.cloudfront.net`.
    pub cloudfront_domain: Option<String>,
    pub validation_records: Vec<ValidationRecord>,
}

/// One health check per region whose REST API exists.
pub fn health_checks(target: &Target, endpoints: &[RegionEndpoint]) -> Vec<HealthCheck> {
    let api = &target.spec.api;
    target
        .regions()
        .filter_map(|region| endpoints.iter().find(|e| e.region == region.name))
        .map(|endpoint| HealthCheck {
            region: endpoint.region.clone(),
            fqdn: execute_api_host(&endpoint.rest_api_id, &endpoint.region),
            resource_path: format!("/{}{}", api.stage_name, api.health_check.path),
            request_interval: api.health_check.interval_seconds as i32,
            failure_threshold: api.health_check.failure_threshold as i32,
        })
        .collect()
}

/// The set identifier of a region's record: the region, then the first
/// characters of the owner's uid, so that two GlobalApis sharing a zone never
/// share an identifier (moto deletes by identifier alone).
pub fn set_identifier(target: &Target, region: &str) -> String {
    let uid: String = target
        .uid
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!("{region}-{uid}")
}

/// The region's own API Gateway host name.
pub fn execute_api_host(rest_api_id: &str, region: &str) -> String {
    format!("{rest_api_id}.execute-api.{region}.amazonaws.com")
}

/// Every record the GlobalApi owns, ownership TXT records included.
///
/// `health_check_ids` maps region to health check id; a region without one
/// (not created yet) gets no health check reference.
pub fn records(
    target: &Target,
    inputs: &Route53Inputs,
    health_check_ids: &BTreeMap<String, String>,
) -> Vec<Record> {
    let ttl = i64::from(target.spec.routing.ttl_seconds);
    let origin = normalize_name(&target.origin_domain());
    let mut records = Vec::new();

    let serving = target.serving_regions();
    for (index, region) in serving.iter().enumerate() {
        let Some(endpoint) = inputs.endpoints.iter().find(|e| e.region == region.name) else {
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

    if let (true, Some(cloudfront)) = (target.edge_enabled(), &inputs.cloudfront_domain) {
        for record_type in ["A", "AAAA"] {
            records.push(Record {
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
            });
        }
    }

    let validation: BTreeSet<&ValidationRecord> = inputs.validation_records.iter().collect();
    for v in validation {
        records.push(Record {
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
        });
    }

    let names: BTreeSet<String> = records.iter().map(|r| r.key.name.clone()).collect();
    records.extend(names.iter().map(|name| owner_record(target, name, ttl)));
    records
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
        let inputs = Route53Inputs {
            endpoints: endpoints(&["us-east-1", "eu-west-1"]),
            cloudfront_domain: Some("d123.cloudfront.net".into()),
            validation_records: vec![ValidationRecord {
                name: "_abc.api.example.com.".into(),
                value: "_xyz.acm-validations.aws.".into(),
            }],
        };
        let records = records(&t, &inputs, &ids());
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
        let inputs = Route53Inputs {
            endpoints: endpoints(&["us-east-1", "eu-west-1"]),
            ..Default::default()
        };
        let records = records(&t, &inputs, &ids());
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
        let inputs = Route53Inputs {
            endpoints: endpoints(&["us-east-1", "eu-west-1"]),
            ..Default::default()
        };
        let roles = |t: &Target| -> Vec<(String, Routing)> {
            records(t, &inputs, &ids())
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
        let checks = health_checks(&t, &endpoints(&["eu-west-1"]));
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
}
