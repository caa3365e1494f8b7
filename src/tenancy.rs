//! The operator's own check of tenancy policies: the same rules as the
//! chart's ValidatingAdmissionPolicy, word for word in its messages, so that
//! a policy tightened after admission stops a GlobalApi before any AWS call.

use crate::api::{GlobalApiPolicy, GlobalApiPolicySpec, GlobalApiSpec};

/// Why the GlobalApis of `namespace` may not have `spec`, one line per
/// broken rule; empty when every policy allows it. No policy at all allows
/// nothing.
pub fn refusals(
    namespace: &str,
    policies: &[GlobalApiPolicy],
    spec: &GlobalApiSpec,
) -> Vec<String> {
    if policies.is_empty() {
        return vec![format!(
            "namespace {namespace} has no GlobalApiPolicy: with tenancy policies on, a GlobalApi needs one that allows it (written by the platform team)"
        )];
    }
    policies.iter().flat_map(|p| violations(p, spec)).collect()
}

/// The rules of one policy that `spec` breaks, as the admission policy
/// words them.
pub(crate) fn violations(policy: &GlobalApiPolicy, spec: &GlobalApiSpec) -> Vec<String> {
    let id = format!(
        "GlobalApiPolicy {}/{}",
        policy.metadata.namespace.as_deref().unwrap_or_default(),
        policy.metadata.name.as_deref().unwrap_or_default()
    );
    let rules: [Rule; 6] = [
        hosted_zone,
        domain_suffixes,
        regions,
        lambda_functions,
        backend_hosts,
        databases,
    ];
    let mut out = Vec::new();
    for rule in rules {
        rule(&id, &policy.spec, spec, &mut out);
    }
    out
}

/// One rule of a policy (named `id`): what `spec` breaks of it, pushed on `out`.
type Rule = fn(&str, &GlobalApiPolicySpec, &GlobalApiSpec, &mut Vec<String>);

/// `hostedZones`: the spec's zone, by name or id.
fn hosted_zone(id: &str, p: &GlobalApiPolicySpec, spec: &GlobalApiSpec, out: &mut Vec<String>) {
    let zone = spec
        .hosted_zone
        .name
        .as_deref()
        .or(spec.hosted_zone.id.as_deref())
        .unwrap_or_default();
    let zone_allowed = [&spec.hosted_zone.name, &spec.hosted_zone.id]
        .into_iter()
        .flatten()
        .any(|z| p.hosted_zones.contains(z));
    if !zone_allowed {
        out.push(format!(
            "spec.hostedZone: {zone} is not a hosted zone {id} allows (allowed: {})",
            listed(&p.hosted_zones)
        ));
    }
}

/// `domainSuffixes`: the domain and the edge's origin domain.
fn domain_suffixes(id: &str, p: &GlobalApiPolicySpec, spec: &GlobalApiSpec, out: &mut Vec<String>) {
    if let Some(suffixes) = &p.domain_suffixes {
        let names = [
            ("spec.domain", Some(&spec.domain)),
            (
                "spec.edge.originDomain",
                spec.edge.as_ref().and_then(|e| e.origin_domain.as_ref()),
            ),
        ];
        for (field, name) in names {
            if let Some(name) = name
                && !suffixes.iter().any(|s| under(name, s))
            {
                out.push(format!(
                    "{field}: {name} is not under a domain suffix {id} allows (allowed: {})",
                    listed(suffixes)
                ));
            }
        }
    }
}

/// `maxRegions` and `regions`.
fn regions(id: &str, p: &GlobalApiPolicySpec, spec: &GlobalApiSpec, out: &mut Vec<String>) {
    if let Some(max) = p.max_regions
        && spec.regions.len() > max as usize
    {
        out.push(format!(
            "spec.regions: {} regions, but {id} allows at most {max}",
            spec.regions.len()
        ));
    }
    if let Some(allowed) = &p.regions {
        let refused: Vec<&str> = spec
            .regions
            .iter()
            .map(|r| r.name.as_str())
            .filter(|n| !allowed.iter().any(|a| a == n))
            .collect();
        if !refused.is_empty() {
            out.push(format!(
                "spec.regions: {} not allowed by {id} (allowed: {})",
                refused.join(", "),
                listed(allowed)
            ));
        }
    }
}

/// `lambdaAccounts` and `lambdaFunctions`: regional backends and edge functions.
fn lambda_functions(
    id: &str,
    p: &GlobalApiPolicySpec,
    spec: &GlobalApiSpec,
    out: &mut Vec<String>,
) {
    let lambda_allowed = |arn: &str| {
        let account = arn.split(':').nth(4).unwrap_or_default();
        p.lambda_accounts.iter().any(|a| a == account)
            || p.lambda_functions.iter().any(|f| glob_matches(f, arn))
    };
    let lambda_tail = format!(
        "not allowed by {id} (lambdaAccounts: {}; lambdaFunctions: {})",
        listed(&p.lambda_accounts),
        listed(&p.lambda_functions)
    );
    let backends: Vec<String> = spec
        .regions
        .iter()
        .filter_map(|r| Some((r, r.backend.lambda_arn.as_deref()?)))
        .filter(|(_, arn)| !lambda_allowed(arn))
        .map(|(r, arn)| format!("{}={arn}", r.name))
        .collect();
    if !backends.is_empty() {
        out.push(format!(
            "spec.regions[].backend.lambdaArn: {} {lambda_tail}",
            backends.join(", ")
        ));
    }
    let edge_functions: Vec<&str> = spec
        .edge
        .iter()
        .flat_map(|e| &e.lambda_associations)
        .map(|a| a.arn.as_str())
        .filter(|arn| !lambda_allowed(arn))
        .collect();
    if !edge_functions.is_empty() {
        out.push(format!(
            "spec.edge.lambdaAssociations[].arn: {} {lambda_tail}",
            edge_functions.join(", ")
        ));
    }
}

/// `backendHosts`: the hosts of HTTP backends.
fn backend_hosts(id: &str, p: &GlobalApiPolicySpec, spec: &GlobalApiSpec, out: &mut Vec<String>) {
    let urls: Vec<String> = spec
        .regions
        .iter()
        .filter_map(|r| Some((r, r.backend.http_url.as_deref()?)))
        .filter(|(_, url)| {
            !p.backend_hosts
                .iter()
                .any(|h| glob_matches(h, &host_of(url)))
        })
        .map(|(r, url)| format!("{}={url}", r.name))
        .collect();
    if !urls.is_empty() {
        out.push(format!(
            "spec.regions[].backend.httpUrl: {} not allowed by {id} (backendHosts: {})",
            urls.join(", "),
            listed(&p.backend_hosts)
        ));
    }
}

/// `database`: whether DynamoDB tables and Aurora are allowed, and how much.
fn databases(id: &str, p: &GlobalApiPolicySpec, spec: &GlobalApiSpec, out: &mut Vec<String>) {
    let tables = spec
        .database
        .as_ref()
        .and_then(|d| d.dynamodb.as_ref())
        .map_or(0, |d| d.tables.len());
    if tables > 0 {
        match &p.database {
            None => out.push(format!("spec.database.dynamodb: {id} allows no database")),
            Some(allowance) => {
                let max = allowance.max_tables.unwrap_or(0);
                if tables > max as usize {
                    out.push(format!(
                        "spec.database.dynamodb.tables: {tables} tables, but {id} allows at most {max}"
                    ));
                }
            }
        }
    }
    if let Some(aurora) = spec.database.as_ref().and_then(|d| d.aurora.as_ref()) {
        match &p.database {
            None => out.push(format!("spec.database.aurora: {id} allows no database")),
            Some(allowance) => {
                if let Some(classes) = &allowance.instance_classes
                    && !classes.contains(&aurora.instance_class)
                {
                    out.push(format!(
                        "spec.database.aurora.instanceClass: {} is not allowed by {id} (allowed: {})",
                        aurora.instance_class,
                        listed(classes)
                    ));
                }
                if let Some(max) = allowance.max_instances_per_region
                    && aurora.instances_per_region > max
                {
                    out.push(format!(
                        "spec.database.aurora.instancesPerRegion: {}, but {id} allows at most {max}",
                        aurora.instances_per_region
                    ));
                }
            }
        }
    }
}

/// `name` is `suffix` or a name inside it.
fn under(name: &str, suffix: &str) -> bool {
    name == suffix || name.ends_with(&format!(".{suffix}"))
}

fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The host of an `https://` URL, as CEL's `url(u).getHostname()` gives it.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host.to_owned()
}

/// Whether `text` is all of `pattern`, where `*` stands for any run of
/// characters (the admission policy turns `*` into `.*` of a regular
/// expression, every other character standing for itself).
pub(crate) fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GlobalApiPolicySpec;
    use crate::target::fixtures::{LATENCY, target};

    fn policy(spec: GlobalApiPolicySpec) -> GlobalApiPolicy {
        let mut p = GlobalApiPolicy::new("team-a", spec);
        p.metadata.namespace = Some("apps".into());
        p
    }

    fn generous() -> GlobalApiPolicySpec {
        let t = target(LATENCY);
        GlobalApiPolicySpec {
            hosted_zones: vec![t.spec.hosted_zone.name.clone().unwrap_or_default()],
            lambda_accounts: vec!["123456789012".into()],
            backend_hosts: vec!["*".into()],
            ..Default::default()
        }
    }

    #[test]
    fn globs_match_whole_text() {
        assert!(glob_matches("*.example.com", "a.b.example.com"));
        assert!(!glob_matches("*.example.com", "example.com"));
        assert!(glob_matches(
            "arn:aws:lambda:*:1:function:team-a-*",
            "arn:aws:lambda:eu-west-1:1:function:team-a-x"
        ));
        assert!(!glob_matches(
            "arn:aws:lambda:*:1:function:team-a-*",
            "arn:aws:lambda:eu-west-1:2:function:team-a-x"
        ));
        assert!(glob_matches("a*b*c", "abxbc"));
        assert!(!glob_matches("a*b*c", "abxbcd"));
        assert!(glob_matches("**", ""));
    }

    #[test]
    fn hosts_come_out_of_urls() {
        assert_eq!(
            host_of("https://origin.example.com:8443/x?y"),
            "origin.example.com"
        );
        assert_eq!(host_of("https://user@h.example.com"), "h.example.com");
        assert_eq!(host_of("https://[::1]:443/"), "::1");
    }

    #[test]
    fn no_policy_allows_nothing() {
        let refused = refusals("apps", &[], &target(LATENCY).spec);
        assert_eq!(refused.len(), 1);
        assert!(refused[0].contains("namespace apps has no GlobalApiPolicy"));
    }

    #[test]
    fn a_generous_policy_allows_the_fixture() {
        let spec = target(LATENCY).spec;
        assert!(
            violations(&policy(generous()), &spec).is_empty(),
            "{:?}",
            violations(&policy(generous()), &spec)
        );
    }

    #[test]
    fn each_rule_names_its_field_and_the_policy() {
        let spec = target(LATENCY).spec;
        let cases: Vec<(&str, GlobalApiPolicySpec)> = vec![
            (
                "spec.hostedZone: ",
                GlobalApiPolicySpec {
                    hosted_zones: vec!["other.com".into()],
                    ..generous()
                },
            ),
            (
                "spec.domain: ",
                GlobalApiPolicySpec {
                    domain_suffixes: Some(vec!["team-b.example.net".into()]),
                    ..generous()
                },
            ),
            (
                "spec.regions: 2 regions",
                GlobalApiPolicySpec {
                    max_regions: Some(1),
                    ..generous()
                },
            ),
            (
                "spec.regions: ",
                GlobalApiPolicySpec {
                    regions: Some(vec!["ap-south-1".into()]),
                    ..generous()
                },
            ),
            (
                "spec.regions[].backend.lambdaArn: ",
                GlobalApiPolicySpec {
                    lambda_accounts: vec![],
                    ..generous()
                },
            ),
        ];
        for (field, rules) in cases {
            let found = violations(&policy(rules), &spec);
            assert_eq!(found.len(), 1, "{field}: {found:?}");
            assert!(found[0].starts_with(field), "{found:?}");
            assert!(
                found[0].contains("GlobalApiPolicy apps/team-a"),
                "{found:?}"
            );
        }
    }

    #[test]
    fn lambda_functions_allow_by_pattern() {
        let spec = target(LATENCY).spec;
        let arn = spec.regions[0]
            .backend
            .lambda_arn
            .clone()
            .unwrap_or_default();
        let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
        let by_pattern = GlobalApiPolicySpec {
            lambda_accounts: vec![],
            lambda_functions: vec![format!("arn:aws:lambda:*:{account}:function:*")],
            ..generous()
        };
        assert!(violations(&policy(by_pattern), &spec).is_empty());
    }
}
